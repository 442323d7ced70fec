"""Check the rules of the course path (CI runs this; `python tools/check_course.py [-v]`).

Core lessons are `nbs/NN_name.ipynb`, read in numeric order; appendices are `nbs/aN_name.ipynb`. For every core lesson:
- it opens with an "Open in Colab" badge (first markdown cell) and an install cell (first code cell);
- it uses no module exported by a later core lesson, nor an appendix module that itself needs one (imports checked
  transitively through the library);
- it has at most 35 cells, and its exported cells are small (median at most 10 lines, directives not counted);
- it ends with 2-4 exercises, each a markdown cell `### Exercise N`, a hidden solution cell and a check that asserts;
- `#| gpu` cells check for CUDA and print a skip line; `#| net` cells catch the offline error and print it;
- it is committed with its outputs (tools/run_lessons.py), and every decimal number in its prose (outside `code` and
  $maths$) appears in a printed output or in the source of a `#| slow` cell that asserts it.
All notebooks together stay under 10 MB.
"""
import json, re, statistics, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, LIB = ROOT / "nbs", ROOT / "vts_nb"
MAX_CELLS, MAX_MEDIAN, MAX_MB, EXERCISES = 35, 10, 10, range(2, 5)
CORE, APPENDIX = re.compile(r"\d\d_[a-z0-9_]+\.ipynb"), re.compile(r"a\d+_[a-z0-9_]+\.ipynb")
IMPORT = re.compile(r"^\s*(?:from\s+vts_nb\.([\w.]+)\s+import|import\s+vts_nb\.([\w.]+)|from\s+vts_nb\s+import\s+([\w, ]+))", re.M)
DIRECTIVE = re.compile(r"^\s*#\|\s*(\S+)(.*)$", re.M)

def src(cell) -> str: return "".join(cell["source"])
def flags(cell) -> dict: return {m[1]: m[2].strip() for m in DIRECTIVE.finditer(src(cell))}
def repo_url() -> str: return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]

def exported_module(nb) -> str | None:
    for c in nb["cells"]:
        if c["cell_type"] == "code" and "default_exp" in flags(c): return flags(c)["default_exp"]

def imported_modules(code: str) -> set[str]:
    mods = set()
    for a, b, names in IMPORT.findall(code):
        if a or b: mods.add(a or b)
        else: mods.update(n.strip() for n in names.split(",") if n.strip())
    return mods

def library_deps() -> dict[str, set[str]]:
    "Module -> the vts_nb modules it imports (relative or absolute), from the generated library."
    deps = {}
    for f in LIB.rglob("*.py"):
        mod = ".".join(f.relative_to(LIB).with_suffix("").parts)
        pkg = mod.split(".")[:-1]
        found = set()
        for dots, name in re.findall(r"^\s*from\s+(\.+)([\w.]*)\s+import", f.read_text(), re.M):
            base = pkg[:len(pkg) - (len(dots) - 1)]
            found.add(".".join([*base, name] if name else base))
        found |= imported_modules(f.read_text())
        deps[mod] = {d for d in found if d and d != mod}
    return deps

def lesson_position(mod, owner, deps, seen=None) -> int:
    "The core lesson after which `mod` can be used: its own if a core lesson exports it, else the latest it needs."
    seen = seen if seen is not None else set()
    if mod in seen: return -1
    seen.add(mod)
    nb = owner.get(mod)
    if nb and CORE.fullmatch(nb): return int(nb[:2])
    return max([lesson_position(d, owner, deps, seen) for d in deps.get(mod, ())], default=-1)

def prose_numbers(text: str) -> set[str]:
    text = re.sub(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|§\s?[\d.]+|<[^>]*>", " ", text, flags=re.S)
    return set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text))

def output_text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if "text" in o: out.append("".join(o["text"]))
        for k in ("text/plain", "text/markdown", "text/html"):
            if k in o.get("data", {}): out.append("".join(o["data"][k]))
    return "\n".join(out)

def check_lesson(path: Path, nb, owner, deps, url) -> list[str]:
    cells, errs = nb["cells"], []
    md = [c for c in cells if c["cell_type"] == "markdown"]
    code = [c for c in cells if c["cell_type"] == "code"]
    badge = f"colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/nbs/{path.name}"
    if not md or badge not in src(md[0]): errs.append(f"first markdown cell lacks the Colab badge ({badge})")
    if not code or not ('find_spec("vts_nb")' in src(code[0]) and url in src(code[0])):
        errs.append("first code cell is not the install cell (find_spec(\"vts_nb\") ... pip install from the repository)")
    if len(cells) > MAX_CELLS: errs.append(f"{len(cells)} cells > {MAX_CELLS}")
    sizes = [len([l for l in src(c).splitlines() if l.strip() and not DIRECTIVE.match(l)])
             for c in code if "export" in flags(c) or "exports" in flags(c)]
    if sizes and statistics.median(sizes) > MAX_MEDIAN:
        errs.append(f"exported cells have a median of {statistics.median(sizes)} lines > {MAX_MEDIAN} ({sizes})")
    n = int(path.name[:2])
    for mod in sorted(imported_modules("\n".join(src(c) for c in code))):
        if mod not in owner: errs.append(f"imports vts_nb.{mod}, which no notebook exports"); continue
        pos = lesson_position(mod, owner, deps)
        if pos > n: errs.append(f"uses vts_nb.{mod} ({owner[mod]}), which needs lesson {pos:02d}, taught later")
    for c in code:
        f, s = flags(c), src(c)
        if "gpu" in f and not ("torch.cuda.is_available()" in s and "print(" in s):
            errs.append(f"a #| gpu cell does not check torch.cuda.is_available() and print a skip line: {s[:60]!r}")
        if "net" in f and "except" not in s: errs.append(f"a #| net cell does not catch the offline error: {s[:60]!r}")
    errs += check_exercises(cells)
    if not any(c.get("outputs") for c in code): errs.append("no outputs committed (run tools/run_lessons.py)")
    printed = "\n".join(output_text(c) for c in code) + "\n".join(src(c) for c in code if "slow" in flags(c))
    for c in md:
        missing = sorted(x for x in prose_numbers(src(c)) if x not in printed)
        if missing: errs.append(f"prose numbers no cell prints: {', '.join(missing)} (in {src(c)[:50]!r}...)")
    return errs

def check_exercises(cells) -> list[str]:
    heads = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and src(c).lstrip().startswith("## Exercises")]
    if not heads: return ["no '## Exercises' section"]
    ex = [i for i, c in enumerate(cells) if i > heads[0] and c["cell_type"] == "markdown"
          and re.match(r"###\s+Exercise\s+\d", src(c).lstrip())]
    errs = [] if len(ex) in EXERCISES else [f"{len(ex)} exercises (want 2-4)"]
    for k, i in enumerate(ex):
        block = cells[i + 1:(ex[k + 1] if k + 1 < len(ex) else len(cells))]
        hidden = [c for c in block if c["cell_type"] == "code" and c["metadata"].get("jupyter", {}).get("source_hidden")]
        checks = [c for c in block if c["cell_type"] == "code" and not c["metadata"].get("jupyter", {}).get("source_hidden")
                  and re.search(r"\bassert\w*\b|\btest_\w+\(", src(c))]
        if not hidden: errs.append(f"{src(cells[i]).splitlines()[0]}: no hidden solution cell")
        if not checks: errs.append(f"{src(cells[i]).splitlines()[0]}: no visible check cell that asserts")
    return errs

def main(verbose: bool = False) -> int:
    paths = sorted(p for p in NBS.glob("*.ipynb"))
    nbs = {p.name: json.loads(p.read_text()) for p in paths}
    errs = {p: [] for p in nbs}
    for name in nbs:
        if name != "index.ipynb" and not (CORE.fullmatch(name) or APPENDIX.fullmatch(name)):
            errs[name].append("name is neither a core lesson (NN_name) nor an appendix (aN_name)")
    owner = {m: name for name, nb in nbs.items() if (m := exported_module(nb))}
    deps, url = library_deps(), repo_url()
    core = [p for p in paths if CORE.fullmatch(p.name)]
    for p in core: errs[p.name] += check_lesson(p, nbs[p.name], owner, deps, url)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    bad = {k: v for k, v in errs.items() if v}
    for name, es in bad.items():
        for e in es: print(f"{name}: {e}")
    if mb > MAX_MB: print(f"the notebooks take {mb:.1f} MB > {MAX_MB} MB")
    if verbose or not bad:
        print(f"{len(core)} core lessons, {len(paths) - len(core) - 1} appendices, {mb:.1f} MB of notebooks: "
              f"{'all rules hold' if not bad and mb <= MAX_MB else f'{sum(map(len, bad.values()))} problem(s)'}")
    return 1 if bad or mb > MAX_MB else 0

if __name__ == "__main__": sys.exit(main("-v" in sys.argv))
