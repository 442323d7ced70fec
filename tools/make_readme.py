"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto; this needs nothing).
Markdown cells are copied; code cells become ```python blocks; cells starting with `#|` (hide, export, flags) are left out.
Links written for nbs/ are rewritten for the repository root: `](02_vit.ipynb)` -> `](nbs/02_vit.ipynb)`, `](../docs/x)` -> `](docs/x)`.
A line `<!-- include: docs/x.md -->` is replaced by that file (a results table written by a command), so README shows it as committed."""
import json, re
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cells = json.loads((root / "nbs" / "index.ipynb").read_text())["cells"]
parts = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->"]
for c in cells:
    src = "".join(c["source"]).strip()
    if not src or src.startswith("#|"): continue
    if c["cell_type"] == "markdown":
        src = re.sub(r"<!-- include: (\S+) -->", lambda m: (root / m[1]).read_text().strip(), src)   # committed results
        parts.append(re.sub(r"\]\((\w[^)/]*\.ipynb)\)", r"](nbs/\1)", src).replace("](../", "]("))
    else: parts.append(f"```python\n{src}\n```")
(root / "README.md").write_text("\n\n".join(parts) + "\n")
