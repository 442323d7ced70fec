"""The student's copy of the course: every notebook of nbs/ with the exercise solutions removed.

    python tools/student_copy.py student                 # write student/*.ipynb (open it with `jupyter lab student/`)
    python tools/student_copy.py student --run           # CI: also run the core lessons' copies to the end

A solution cell is a hidden code cell (metadata `jupyter.source_hidden`) whose first line is `# Solution` (the
layout nbs/a10_exercises.ipynb describes and tools/check_course.py checks); everything else is copied as it is, with
its committed outputs. A folder beside nbs/ (such as `student/` in the repository, which git ignores) keeps the
lessons' relative paths (`../docs/...`) working.

`--run` executes the copy of every core lesson as nbdev-test does (the cells flagged with the `tst_flags` of
pyproject.toml, `slow gpu net`, and `#| eval: false` cells are skipped), in the copy's folder, and fails unless every
lesson runs to the end with no error and every exercise's check cell prints "not done yet": the proof that no later
cell needs a solution, and that a stub is never taken for an answer.
"""
import argparse, json, multiprocessing, os, re, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
CORE = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")
NOT_DONE = "not done yet"

def is_solution(cell) -> bool:
    "A hidden code cell whose first line is `# Solution`."
    return (cell["cell_type"] == "code" and cell["metadata"].get("jupyter", {}).get("source_hidden", False)
            and "".join(cell["source"]).lstrip().startswith("# Solution"))

def student_notebook(nb: dict) -> tuple[dict, int]:
    "`nb` without its solution cells, and how many were removed."
    kept = [c for c in nb["cells"] if not is_solution(c)]
    return {**nb, "cells": kept}, len(nb["cells"]) - len(kept)

def write_copy(out: Path, names=None) -> dict[str, int]:
    "Write the student's copy of the notebooks `names` (default: every notebook of nbs/) to `out`; solutions removed."
    if out.resolve() == NBS.resolve(): raise SystemExit("student_copy.py: OUT_DIR must not be nbs/ itself; choose another folder.")
    paths = [NBS / n for n in names] if names else sorted(NBS.glob("*.ipynb"))
    out.mkdir(parents=True, exist_ok=True)
    removed = {}
    for p in paths:
        nb, removed[p.name] = student_notebook(json.loads(p.read_text()))
        tmp = out / f".{p.name}.tmp"
        tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, out / p.name)                                 # atomic: a half-written copy never stays
    return removed

def exercise_checks(cells) -> list[tuple[str, dict]]:
    "(title, check cell) for each `### Exercise N`: the first visible code cell after the stub that calls check_exercise."
    found, title = [], None
    for c in cells:
        s = "".join(c["source"])
        if c["cell_type"] == "markdown" and re.match(r"###\s+Exercise\s+\d", s.lstrip()): title = s.splitlines()[0]
        elif title and c["cell_type"] == "code" and "check_exercise(" in s and "raise NotImplementedError" not in s:
            found.append((title, c)); title = None
    return found

def cell_text(cell) -> str:
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell.get("outputs", []))

def run_copy(path: Path) -> tuple[str, list[str], float]:
    "Run one copied lesson as nbdev-test does; (name, problems, seconds)."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.test import nb_test_cells
    flags = get_config().tst_flags
    flags = flags.split() if isinstance(flags, str) else list(flags)
    start, problems = time.time(), []
    keep = {c.id for c in nb_test_cells(path, flags)}
    nb = NBProcessor(path, rm_directives=False, process=True).nb
    shell = CaptureShell(path)
    try:
        with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=lambda c: c.id not in keep)
    except Exception as e:
        return path.name, [f"stops with {type(e).__name__}: {str(e)[-500:]}"], time.time() - start
    for title, check in exercise_checks(nb.cells):
        if check.id not in keep: continue                             # a flagged check: nbdev-test skips it too
        if NOT_DONE not in cell_text(check): problems.append(f"{title}: the check does not say {NOT_DONE!r} "
                                                             f"({cell_text(check).strip()[:120]!r})")
    return path.name, problems, time.time() - start

def run_all(lessons: list[Path], n_workers: int) -> int:
    "Run the copied core lessons, `n_workers` at a time (a process each, as nbdev-test does); 1 if any fails."
    import student_copy                                               # workers find run_copy by its module
    sys.path.insert(0, str(ROOT))
    if n_workers <= 1: results = [run_copy(p) for p in lessons]
    else:
        with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(student_copy.run_copy, lessons))
    bad = 0
    for name, problems, seconds in results:
        print(f"{name}: {'ran to the end' if not problems else 'FAILED'} ({seconds:.0f} s)")
        for p in problems: print(f"  {p}")
        bad += bool(problems)
    print(f"student's copy: {len(lessons) - bad} of {len(lessons)} core lessons run to the end, every exercise "
          f"{NOT_DONE!r}" if not bad else f"student's copy: {bad} lesson(s) failed")
    return 1 if bad else 0

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the student's copy of the notebooks: solution cells removed.")
    ap.add_argument("out", type=Path, help="folder to write the copies to (e.g. student, beside nbs/)")
    ap.add_argument("notebooks", nargs="*", help="notebook names in nbs/ (default: all)")
    ap.add_argument("--run", action="store_true", help="run the core lessons' copies to the end (CI)")
    ap.add_argument("--n-workers", type=int, default=2, help="lessons run at once with --run (default 2)")
    a = ap.parse_args(argv)
    if missing := [n for n in a.notebooks if not (NBS / n).exists()]:
        print(f"student_copy.py: no such notebook in nbs/: {', '.join(missing)}", file=sys.stderr); return 2
    removed = write_copy(a.out, a.notebooks)
    print(f"{len(removed)} notebooks -> {a.out}/, {sum(removed.values())} solution cells removed", flush=True)
    lessons = [a.out / n for n in sorted(removed) if CORE.fullmatch(n)]
    return run_all(lessons, a.n_workers) if a.run else 0

if __name__ == "__main__": sys.exit(main())
