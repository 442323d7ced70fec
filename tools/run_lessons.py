"""Run notebooks top to bottom, as Run All does, and save them with their outputs in nbdev-clean form.

    python tools/run_lessons.py                      # every core lesson (nbs/NN_*.ipynb)
    python tools/run_lessons.py nbs/03_digits.ipynb  # just these

Every cell runs, `#| slow`, `#| gpu` and `#| net` ones too (on a machine without a GPU or internet those print a
skip line), so a lesson that passes here also passes Run All in JupyterLab. A cell that raises stops that notebook,
leaves the file untouched, and the script exits with status 1.

The time of each lesson goes to docs/lesson_times.json (README's course map): it is the Run All a student does, with
the torch thread count the lesson's first cell sets (every core; OMP_NUM_THREADS if the shell sets it), recorded
beside the time.
"""
import base64, io, json, os, sys, time
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
from pathlib import Path
import torch
from PIL import Image
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.clean import clean_nb
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parent.parent
MAX_WIDTH = 900                      # px; figures are drawn at the inline backend's resolution, then shrunk to this

def shrink_png(data: str) -> str:
    "A base64 PNG at most MAX_WIDTH wide with a 256-colour palette, if that is smaller (figures stay readable)."
    img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    if img.width > MAX_WIDTH: img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.quantize(256).save(buf, "PNG", optimize=True)
    small = base64.b64encode(buf.getvalue()).decode()
    return small if len(small) < len(data) else data

def shrink_figures(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                out["data"]["image/png"] = shrink_png("".join(out["data"]["image/png"]))
                out.get("metadata", {}).pop("image/png", None)          # its width/height described the old image

def run_lesson(path: Path) -> float:
    "Execute `path` in its folder; on success write it back with outputs, cleaned. Returns the seconds it took."
    nb, start, cwd = read_nb(path), time.time(), os.getcwd()
    os.chdir(path.parent)
    try:
        shell = CaptureShell(path)
        shell.run_all(nb, exc_stop=True)
    finally: os.chdir(cwd)
    shrink_figures(nb)
    cfg = get_config()
    clean_nb(nb, allowed_metadata_keys=cfg.get("allowed_metadata_keys"),
             allowed_cell_metadata_keys=cfg.get("allowed_cell_metadata_keys"))
    write_nb(nb, path)
    return time.time() - start

def record_time(name: str, seconds: float, threads: int):
    "Keep each lesson's Run All time and torch thread count in docs/lesson_times.json (README's course map)."
    path = ROOT / "docs" / "lesson_times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    times["measured_on"] = f"{os.cpu_count()} CPU cores, {gpu}"
    times.setdefault("seconds", {})[name] = round(seconds)
    times.setdefault("threads", {})[name] = threads
    path.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")

def main(paths) -> int:
    paths = [Path(p).resolve() for p in paths] or sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb"))
    failed = []
    for p in paths:
        try:
            seconds = run_lesson(p)                  # the kernel is this process: torch.get_num_threads() is
            print(f"{p.name}: {seconds:.0f} s ({torch.get_num_threads()} threads)", flush=True)   # what cell 1 set
            record_time(p.name, seconds, torch.get_num_threads())
        except Exception as e:
            print(f"{p.name}: FAILED: {type(e).__name__}: {str(e)[-2000:]}", flush=True); failed.append(p.name)
    if failed: print("failed:", ", ".join(failed))
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
