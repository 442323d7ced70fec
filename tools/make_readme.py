"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto; this needs nothing).
Markdown cells are copied; code cells become ```python blocks; cells starting with `#|` (hide, export, flags) are left out.
Links written for nbs/ are rewritten for the repository root: `](02_vit.ipynb)` -> `](nbs/02_vit.ipynb)`, `](../docs/x)` -> `](docs/x)`.
A line `<!-- include: docs/x.md -->` is replaced by that file (a results table written by a command), so README shows it as committed.
A line `<!-- course map -->` becomes two tables, the core lessons and the appendices, from each notebook's title and summary
line, its module, and its Run All time in docs/lesson_times.json (written by tools/run_lessons.py).
The course's map picture, docs/course_map.png, is the committed output of the cell of lesson 00 that starts with
`# The course map` (tools/run_lessons.py draws it); it is written here so that a Run All never writes a tracked file."""
import base64, json, re
from pathlib import Path
from check_course import exported_module       # tools/: which module a notebook exports, read one way

root = Path(__file__).resolve().parent.parent

def notebook_order(path: Path) -> tuple:
    "Core lessons by number, then appendices by number: a2 before a10."
    m = re.match(r"(a?)(\d+)_", path.name)
    return (bool(m[1]), int(m[2])) if m else (True, 10**6)

def course_map() -> str:
    times = json.loads((root / "docs" / "lesson_times.json").read_text())
    core = ["| lesson | what it teaches | module | Run All, CPU |", "|---|---|---|---|"]
    appendix = ["| appendix | what it holds | module |", "|---|---|---|"]
    for nb in sorted((root / "nbs").glob("*.ipynb"), key=notebook_order):
        if nb.name == "index.ipynb": continue
        cells = json.loads(nb.read_text())["cells"]
        head = "".join(cells[0]["source"])
        title, summary = re.search(r"^# (.+)$", head, re.M)[1], re.search(r"^> (.+)$", head, re.M)[1]
        module = f"`vts_nb.{exp}`" if (exp := exported_module({"cells": cells})) else "—"
        row = f"| [{nb.stem}](nbs/{nb.name}) {title} | {summary} | {module} |"
        if nb.name[0].isdigit(): core.append(f"{row} {times['seconds'].get(nb.name, '?')} s |")
        else: appendix.append(row)
    threads = sorted(set(times.get("threads", {}).values()))
    used = (f"{'–'.join(map(str, threads))} torch thread{'s' * (threads != [1])}" if threads else "threads not recorded")
    return ("\n".join(core) + "\n\nRun All times (the cells; a fresh kernel adds about 10 s to start and import PyTorch): "
            f"tools/run_lessons.py on {times['measured_on']}, {used} (a lesson's first cell uses every core, or "
            "OMP_NUM_THREADS when it is set).\n\n" + "\n".join(appendix))
def write_course_map_picture(lesson: str = "00_patch_embedding.ipynb", marker: str = "# The course map"):
    "docs/course_map.png from the committed figure of the cell of `lesson` whose source starts with `marker`."
    cells = json.loads((root / "nbs" / lesson).read_text())["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(marker))
    png = next(o["data"]["image/png"] for o in cell["outputs"] if "image/png" in o.get("data", {}))
    (root / "docs" / "course_map.png").write_bytes(base64.b64decode("".join(png)))

write_course_map_picture()
cells = json.loads((root / "nbs" / "index.ipynb").read_text())["cells"]
parts = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->"]
for c in cells:
    src = "".join(c["source"]).strip()
    if not src or src.startswith("#|"): continue
    if c["cell_type"] == "markdown":
        src = src.replace("<!-- course map -->", course_map())
        src = re.sub(r"<!-- include: (\S+) -->", lambda m: (root / m[1]).read_text().strip(), src)   # committed results
        parts.append(re.sub(r"\]\((\w[^)/]*\.ipynb)\)", r"](nbs/\1)", src).replace("](../", "]("))
    else: parts.append(f"```python\n{src}\n```")
(root / "README.md").write_text("\n\n".join(parts) + "\n")
