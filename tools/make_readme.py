"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto; this needs nothing).
Markdown cells are copied; code cells become ```python blocks; cells starting with `#|` (hide, export, flags) are left out."""
import json
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cells = json.loads((root / "nbs" / "index.ipynb").read_text())["cells"]
parts = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->"]
for c in cells:
    src = "".join(c["source"]).strip()
    if not src or src.startswith("#|"): continue
    parts.append(src if c["cell_type"] == "markdown" else f"```python\n{src}\n```")
(root / "README.md").write_text("\n\n".join(parts) + "\n")
