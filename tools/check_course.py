"""Check the rules of the course path (CI runs this; `python tools/check_course.py [-v]`).

Core lessons are `nbs/NN_name.ipynb`, read in numeric order; appendices are `nbs/aN_name.ipynb`. Every notebook's first
code cell is the install cell, which also sets torch's thread count (every core, or OMP_NUM_THREADS). For every core
lesson:
- it opens with an "Open in Colab" badge (first markdown cell);
- it uses no module exported by a later core lesson, nor an appendix module that itself needs one (imports checked
  transitively through the library);
- it has at most 40 cells, no code cell longer than 30 lines, no code line of 100 characters or more, and its exported
  cells are small (median at most 10 lines, directives not counted);
- it ends with a `## Recap` of three points (what was built, what was measured, what comes next), then `## Exercises`:
  2-4 of them, each a markdown cell `### Exercise N`, a stub (`raise NotImplementedError`), a visible check cell that
  calls `check_exercise(...)`, then the hidden solution cell (first line `# Solution`) that calls
  `check_exercise(..., must_pass=True, wrong=[...])` with at least one wrong answer;
- its prose uses the notation table of nbs/index.ipynb: no retired symbol that can be told from the maths (`$K$`,
  `$d_e$`, `$N+1$` tokens, `\operatorname{sign}`);
- `#| gpu` cells check for CUDA and print a skip line; `#| net` cells catch the offline error and print it;
- it is committed with its outputs (tools/run_lessons.py), and every decimal number in its prose (outside `code` and
  $maths$) appears in a printed output or in the source of a `#| slow` cell that asserts it.
nbs/index.ipynb holds the notation table (a row for every symbol of NOTATION). All notebooks together stay under 10 MB.
With -v, the code lines of 100 characters or more in the appendices are counted too (reported, not an error).
"""
import json, re, statistics, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, LIB = ROOT / "nbs", ROOT / "vts_nb"
MAX_CELLS, MAX_CELL_LINES, MAX_LINE, MAX_MEDIAN, MAX_MB, EXERCISES = 40, 30, 99, 10, 10, range(2, 5)
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


# The notation table of nbs/index.ipynb: the first column of a row starts with each of these.
NOTATION = ["$q$", "$B$", "$C$", "$N$", "$M$", "$Q$", "$k$", "$u", "$h", "$b", "$d_H", "$s_{ij}", "$P$", "$p$", "$D$"]
# Symbols the course no longer uses, as they can be told from the maths of a lesson's prose: (pattern, why).
RETIRED = [(re.compile(r"(?<![\\\w{_])K(?![\w])"),
            "$K$ is retired (bits are $q$, classes $C$, top-k $k$); say \"the paper's $K$ is our $q$\" once if needed"),
           (re.compile(r"d_e\b|d_\{e\}"), "$d_e$ is retired: the token width is $D$"),
           (re.compile(r"N\s*\+\s*1"), "$N+1$ tokens are retired: $P$ patches, $P+1$ tokens ($N$ is the training set)"),
           (re.compile(r"\\(?:operatorname|mathrm|text)\{sign\}"), "write $\\operatorname{sgn}$, as the notation table")]
PAPER_SAYS = re.compile(r"(paper|papers|reference)(’s|'s)?( writes| calls it| uses)?\W*$", re.I)   # its letters

def maths_spans(text: str):
    "(maths, text before it) for every $...$ and $$...$$ of a markdown cell, outside code."
    text = re.sub(r"```.*?```|`[^`]*`", " ", text, flags=re.S)
    for m in re.finditer(r"\$\$.*?\$\$|\$[^$]*\$", text, flags=re.S): yield m[0], text[max(0, m.start() - 40):m.start()]

def retired_symbols(md_cells) -> list[str]:
    "One line per retired symbol a lesson's maths still uses: how many times, and the first place."
    found = {}
    for c in md_cells:
        for maths, before in maths_spans(src(c)):
            for pat, why in RETIRED:
                if pat.search(maths) and not (len(maths) <= 10 and PAPER_SAYS.search(before)):
                    found.setdefault(why, []).append(maths)
    return [f"notation: {why}: {len(m)} time(s), first in {m[0][:40]!r}" for why, m in found.items()]

def check_notation_table(nb) -> list[str]:
    "The index's notation table: a markdown cell with a '## Notation' heading and a table row for each symbol."
    cell = next((src(c) for c in nb["cells"] if c["cell_type"] == "markdown" and re.search(r"^##\s+Notation", src(c), re.M)), None)
    if cell is None: return ["no '## Notation' section with the course's notation table"]
    firsts = [l.split("|")[1].strip() for l in cell.splitlines() if l.startswith("|") and l.count("|") >= 3]
    missing = [s for s in NOTATION if not any(f.startswith(s) for f in firsts)]
    return [f"the notation table has no row for {', '.join(missing)}"] if missing else []

def install_cell_errors(nb, url) -> list[str]:
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not code: return []
    s = src(code[0])
    errs = [] if 'find_spec("vts_nb")' in s and url in s else [
        "first code cell is not the install cell (find_spec(\"vts_nb\") ... pip install from the repository)"]
    if not ("set_num_threads" in s and "OMP_NUM_THREADS" in s):
        errs.append("the install cell does not set torch's thread count (every core, or OMP_NUM_THREADS)")
    return errs

def long_lines(code_cells) -> list[str]: return [l for c in code_cells for l in src(c).splitlines() if len(l) > MAX_LINE]

def check_lesson(path: Path, nb, owner, deps, url) -> list[str]:
    cells, errs = nb["cells"], []
    md = [c for c in cells if c["cell_type"] == "markdown"]
    code = [c for c in cells if c["cell_type"] == "code"]
    badge = f"colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/nbs/{path.name}"
    if not md or badge not in src(md[0]): errs.append(f"first markdown cell lacks the Colab badge ({badge})")
    if len(cells) > MAX_CELLS: errs.append(f"{len(cells)} cells > {MAX_CELLS}")
    for c in code:
        if (n := len(src(c).rstrip().splitlines())) > MAX_CELL_LINES:
            errs.append(f"a code cell of {n} lines > {MAX_CELL_LINES}: {src(c)[:50]!r}")
    if (n := len(long_lines(code))): errs.append(f"{n} code line(s) of {MAX_LINE + 1} characters or more, e.g. "
                                                 f"{long_lines(code)[0].strip()[:60]!r}")
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
    errs += check_recap(cells) + check_exercises(cells) + retired_symbols(md)
    if not any(c.get("outputs") for c in code): errs.append("no outputs committed (run tools/run_lessons.py)")
    printed = "\n".join(output_text(c) for c in code) + "\n".join(src(c) for c in code if "slow" in flags(c))
    for c in md:
        missing = sorted(x for x in prose_numbers(src(c)) if x not in printed)
        if missing: errs.append(f"prose numbers no cell prints: {', '.join(missing)} (in {src(c)[:50]!r}...)")
    return errs

def is_heading(cell, pattern) -> bool: return cell["cell_type"] == "markdown" and re.match(pattern, src(cell).lstrip())
def hidden(cell) -> bool: return bool(cell["metadata"].get("jupyter", {}).get("source_hidden"))

def check_recap(cells) -> list[str]:
    "A `## Recap` of three points is the last section before `## Exercises`."
    ex = next((i for i, c in enumerate(cells) if is_heading(c, r"##\s+Exercises")), len(cells))
    heads = [i for i, c in enumerate(cells[:ex]) if is_heading(c, r"##\s")]
    if not heads or not is_heading(cells[heads[-1]], r"##\s+Recap"):
        return ["no '## Recap' section right before the exercises (three points: built, measured, next)"]
    points = re.findall(r"^\s*[-*]\s", src(cells[heads[-1]]), re.M)
    return [] if len(points) == 3 else [f"the recap has {len(points)} points (want 3: built, measured, next)"]

def check_exercise_block(title, block) -> list[str]:
    "Stub -> visible check -> hidden solution that proves itself and rejects a wrong answer."
    code = [c for c in block if c["cell_type"] == "code"]
    stub = next((k for k, c in enumerate(code) if not hidden(c) and "raise NotImplementedError" in src(c)), None)
    check = next((k for k, c in enumerate(code) if not hidden(c) and "check_exercise(" in src(c)
                  and "raise NotImplementedError" not in src(c)), None)
    sol = next((k for k, c in enumerate(code) if src(c).lstrip().startswith("# Solution")), None)
    errs = []
    if stub is None or stub != 0: errs.append("its first code cell is not a stub that raises NotImplementedError")
    if check is None: errs.append("no visible check cell that calls check_exercise(...)")
    if sol is None: errs.append("no solution cell (first line '# Solution')")
    else:
        s = code[sol]
        if not (hidden(s) and s["metadata"].get("cellView") == "form"):
            errs.append("the solution cell is not hidden (metadata cellView: form, jupyter.source_hidden)")
        if not re.search(r"check_exercise\(.*must_pass\s*=\s*True", src(s), re.S):
            errs.append("the solution cell does not call check_exercise(..., must_pass=True)")
        if not re.search(r"wrong\s*=\s*[\[(]\s*[^\])\s]", src(s)): errs.append("the solution cell has no wrong=[...] answer")
        if check is not None and sol < check: errs.append("the solution comes before the check")
    return [f"{title}: " + "; ".join(errs)] if errs else []

def check_exercises(cells) -> list[str]:
    heads = [i for i, c in enumerate(cells) if is_heading(c, r"##\s+Exercises")]
    if not heads: return ["no '## Exercises' section"]
    ex = [i for i, c in enumerate(cells) if i > heads[0] and is_heading(c, r"###\s+Exercise\s+\d")]
    errs = [] if len(ex) in EXERCISES else [f"{len(ex)} exercises (want 2-4)"]
    for k, i in enumerate(ex):
        errs += check_exercise_block(src(cells[i]).splitlines()[0].strip(), cells[i + 1:(ex[k + 1] if k + 1 < len(ex) else len(cells))])
    return errs

def main(verbose: bool = False) -> int:
    paths = sorted(p for p in NBS.glob("*.ipynb"))
    nbs = {p.name: json.loads(p.read_text()) for p in paths}
    errs = {p: [] for p in nbs}
    url = repo_url()
    for name, nb in nbs.items():
        if name != "index.ipynb" and not (CORE.fullmatch(name) or APPENDIX.fullmatch(name)):
            errs[name].append("name is neither a core lesson (NN_name) nor an appendix (aN_name)")
        errs[name] += install_cell_errors(nb, url)
    if "index.ipynb" in nbs: errs["index.ipynb"] += check_notation_table(nbs["index.ipynb"])
    else: errs["index.ipynb"] = ["nbs/index.ipynb is missing"]
    owner = {m: name for name, nb in nbs.items() if (m := exported_module(nb))}
    deps = library_deps()
    core = [p for p in paths if CORE.fullmatch(p.name)]
    for p in core: errs[p.name] += check_lesson(p, nbs[p.name], owner, deps, url)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    bad = {k: v for k, v in errs.items() if v}
    for name, es in bad.items():
        for e in es: print(f"{name}: {e}")
    if mb > MAX_MB: print(f"the notebooks take {mb:.1f} MB > {MAX_MB} MB")
    if verbose:
        appendix = {n: len(long_lines([c for c in nb["cells"] if c["cell_type"] == "code"]))
                    for n, nb in nbs.items() if APPENDIX.fullmatch(n)}
        print(f"appendices: {sum(appendix.values())} code line(s) of {MAX_LINE + 1} characters or more"
              + (" (" + ", ".join(f"{n} {k}" for n, k in appendix.items() if k) + ")" if any(appendix.values()) else ""))
    if verbose or not bad:
        print(f"{len(core)} core lessons, {len(paths) - len(core) - 1} appendices, {mb:.1f} MB of notebooks: "
              f"{'all rules hold' if not bad and mb <= MAX_MB else f'{sum(map(len, bad.values()))} problem(s)'}")
    return 1 if bad or mb > MAX_MB else 0

if __name__ == "__main__": sys.exit(main("-v" in sys.argv))
