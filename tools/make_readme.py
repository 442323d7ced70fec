"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto; this needs nothing).
Markdown cells are copied; code cells become ```python blocks; cells starting with `#|` (hide, export, flags) are left out.
Links written for nbs/ are rewritten for the repository root: `](02_vit.ipynb)` -> `](nbs/02_vit.ipynb)`, `](../docs/x)` -> `](docs/x)`.
A line `<!-- include: docs/x.md -->` is replaced by that file (a results table written by a command), so README shows it as committed.
A line `<!-- course map -->` becomes two tables, the core lessons and the appendices, from each notebook's title and summary
line, its module, and its Run All time in docs/lesson_times.json (written by tools/run_lessons.py)."""
import json, re
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
    return "\n".join(core) + f"\n\nRun All times (the cells; a fresh kernel adds about 10 s to start and import PyTorch): tools/run_lessons.py on {times['measured_on']}.\n\n" + "\n".join(appendix)
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
