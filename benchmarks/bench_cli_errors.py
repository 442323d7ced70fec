"""How long `vts-nb` takes to answer a mistake: every kind of bad argument or input file of appendices a6 and a12,
each run as a user runs it (a fresh Python process), timed from start to exit.

    python benchmarks/bench_cli_errors.py                 # every case, 3 runs each (median and worst)
    python benchmarks/bench_cli_errors.py --repeats 1     # quicker

The cases that need no model are answered by the torch-free checks of `vts_nb.config` and `vts_nb.files`, before
torch is imported: the target is < 1 s for each of them, on this machine. The script says, for every case, whether
the process imported torch (an `atexit` probe), and checks the exit code (2) and that stderr is one line. The cases
that can only be answered with the model loaded (weights that do not fit, an index made with other weights, a timm
name) are timed too, in a second table, for comparison. Two baselines: `python -c pass` (the interpreter alone) and
`vts-nb --help`.

The fixtures (a run trained for one epoch on digits, forty PNG images, their index, edited copies, odd files) are made
once in a temporary folder by this process, which imports torch for that; the timed processes do not share it.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ("import atexit, os, sys; atexit.register(lambda: open(os.environ['VTS_PROBE'], 'w')"
         ".write(str('torch' in sys.modules))); from vts_nb.cli import main; sys.exit(main(sys.argv[1:]))")


def fixtures(tmp: Path) -> dict:
    "The folders and files the cases name (made with torch, in this process)."
    import numpy as np, torch
    from PIL import Image
    from sklearn.datasets import load_digits
    from safetensors.torch import save_file
    from vts_nb.config import RunConfig
    from vts_nb.run import train_run
    from vts_nb.cli import main
    from vts_nb.files import save_checkpoint, write_json
    from vts_nb.search import HammingIndex
    f = dict(run=tmp / "run", pngs=tmp / "pngs", idx=tmp / "digits.st", new=tmp / "new")
    model = train_run(RunConfig(epochs=1, eval_every=None), f["run"], progress=False).model
    digits = load_digits(); f["pngs"].mkdir()
    for i in range(40):
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize((32, 32)).save(
            f["pngs"] / f"{i:02d}.png")
    f["png"] = f["pngs"] / "00.png"
    assert main(["index", str(f["run"]), str(f["pngs"]), "--out", str(f["idx"])]) == 0

    def copy(name, config=None, split=None):
        folder = tmp / name
        shutil.copytree(f["run"], folder, ignore=shutil.ignore_patterns("checkpoint.pt"))
        for file, edit in (("config.json", config), ("split.json", split)):
            if edit: write_json(folder / file, json.loads((folder / file).read_text()) | edit)
        return folder
    split = json.loads((f["run"] / "split.json").read_text())
    db, q = split["database"], split["query"]
    f |= dict(repeated=copy("repeated", split=dict(database=db[:5] * 200 + db[1000:])),
              float_split=copy("float", split=dict(query=[q[0] + 0.5, *q[1:]])),
              other_split=copy("other", split=dict(name="cifar10@54000")),
              bad_option=copy("option", config=dict(options={"nope": 1})),
              bad_key=copy("key", config=dict(nope=1)), bad_loss=copy("loss", config=dict(loss="cqs")),
              bad_options=copy("options", config=dict(options=[1, 2])), int64=copy("int64"),
              shape=copy("shape"), stale=copy("stale"),
              train_in_db=copy("train_in_db", split=dict(train=[db[0], *split["train"][1:]])),
              fifo_history=copy("fifo_history"), device_plot=copy("device_plot"), not_a_lock=copy("lock"))
    (f["fifo_history"] / "history.json").unlink(); os.mkfifo(f["fifo_history"] / "history.json")
    (f["device_plot"] / "training.png").unlink(); (f["device_plot"] / "training.png").symlink_to("/dev/null")
    (f["not_a_lock"] / "run.lock").write_text("the user's notes")
    (tmp / "holiday.png").write_bytes(f["png"].read_bytes())
    save_file({k: (v * 100).long() for k, v in model.state_dict().items()}, f["int64"] / "model.safetensors")
    (f["shape"] / "model.safetensors").unlink()
    save_checkpoint(f["shape"] / "checkpoint.pt", model={"w": torch.zeros(3)}, loss={}, optimizer={}, epoch=0)
    good = torch.load(f["run"] / "checkpoint.pt", weights_only=True)
    fifty_one = [good["history"][0] | dict(epoch=e) for e in range(51)]
    for name, change in (("claims51", dict(epoch=50, history=fifty_one)), ("junk", dict(history=[{"epoch": 7}]))):
        f[name] = copy(name)                                   # unfinished: a checkpoint, no weights file
        (f[name] / "model.safetensors").unlink()
        save_checkpoint(f[name] / "checkpoint.pt", **(good | change))
    assert main(["index", str(f["stale"]), str(f["pngs"]), "--out", str(tmp / "stale.st")]) == 0
    with torch.no_grad():
        for p in model.parameters(): p.add_(1e-3)
    from vts_nb.files import save_weights
    save_weights(model, f["stale"] / "model.safetensors")
    f["foreign"] = tmp / "foreign"; f["foreign"].mkdir()
    write_json(f["foreign"] / "config.json", {"architectures": ["BertModel"]})
    (f["foreign"] / "model.safetensors").write_text("theirs")
    f["weights_only"] = tmp / "weights_only"; f["weights_only"].mkdir()
    (f["weights_only"] / "model.safetensors").write_text("theirs")
    os.mkfifo(tmp / "fifo.png"); (tmp / "null.png").symlink_to("/dev/null")
    f["fifo_dir"] = tmp / "fifo_dir"; shutil.copytree(f["pngs"], f["fifo_dir"]); os.mkfifo(f["fifo_dir"] / "x.png")
    (tmp / "a_file").write_text("not a folder"); (tmp / "bad.png").write_bytes(b"\x89PNG not really")
    raw = f["idx"].read_bytes(); n = int.from_bytes(raw[:8], "little")
    for name, meta in (("list_meta.st", "[1, 2]"), ("number_meta.st", "7")):
        h = json.loads(raw[8:8 + n]); h["__metadata__"]["meta"] = meta; b = json.dumps(h).encode()
        (tmp / name).write_bytes(len(b).to_bytes(8, "little") + b + raw[8 + n:])
    index = HammingIndex.load(f["idx"])
    HammingIndex(index.codes, index.names).save(tmp / "no_provenance.st")
    return f


def cases(f: dict, tmp: Path) -> tuple[list, list]:
    "(case class, argv) before torch, and those that need the model."
    run, png, idx, new = f["run"], f["png"], f["idx"], f["new"]
    before = [  # the mistakes of appendix a6, then the hostile inputs of appendix a12
        ("unknown objective", ("train", "--loss", "cqs", "--out", new)),
        ("unknown objective with --fresh", ("train", "--fresh", "--loss", "cqs", "--out", run)),
        ("--epochs 0", ("train", "--epochs", 0, "--out", new)),
        ("--eval-every not a number", ("train", "--eval-every", "often", "--out", new)),
        ("TransHash --groups 0", ("train", "--loss", "transhash", "--groups", 0, "--out", new)),
        ("--topk -5", ("train", "--topk", -5, "--out", new)),
        ("batch larger than the training set", ("train", "--batch-size", 1000, "--out", new)),
        ("CSQ with odd bits", ("train", "--bits", 15, "--out", new)),
        ("unknown dataset", ("train", "--dataset", "cifar100", "--out", new)),
        ("CIFAR-10 files missing", ("train", "--dataset", "cifar10", "--data-root", tmp / "no", "--out", new)),
        ("list files missing", ("train", "--dataset", "imagenet100", "--data-root", tmp / "no", "--out", new)),
        ("--out is a file", ("train", "--out", tmp / "a_file")),
        ("device name unknown", ("train", "--device", "gpu0", "--out", new)),
        ("the meta device", ("train", "--device", "meta", "--out", new)),
        ("pool for TransHash", ("train", "--loss", "transhash", "--pool", "cls", "--out", new)),
        ("unknown objective option", ("train", "--option", "nope=1", "--out", new)),
        ("--option without =", ("train", "--option", "lam", "--out", new)),
        ("--option of text", ("train", "--option", "lam=abc", "--out", new)),
        ("--option infinite", ("train", "--option", "lam=1e400", "--out", new)),
        ("--option a list", ("train", "--option", "lam=[1,2]", "--out", new)),
        ("--option null", ("train", "--option", "lam=null", "--out", new)),
        ("pretrained tiny ViT", ("train", "--pretrained", "--out", new)),
        ("--weights without --pretrained", ("train", "--weights", "w.npz", "--out", new)),
        ("another seed in a run folder", ("train", "--seed", 1, "--out", run)),
        ("faithful mode in a run folder", ("train", "--faithful", "--out", run)),
        ("another recipe in a run folder", ("train", "--recipe", "vts", "--out", run)),
        ("unknown recipe", ("train", "--recipe", "paper", "--out", new)),
        ("fp16 on the CPU", ("train", "--precision", "fp16", "--device", "cpu", "--out", new)),
        ("unknown precision", ("train", "--precision", "fp8", "--out", new)),
        ("--bits 1000000", ("train", "--bits", 1_000_000, "--out", new)),
        ("--img-size 4000", ("train", "--img-size", 4000, "--out", new)),
        ("--batch-size 0", ("train", "--batch-size", 0, "--out", new)),
        ("--weight-decay 1e38", ("train", "--weight-decay", "1e38", "--out", new)),
        ("--lr 1e38", ("train", "--lr", "1e38", "--out", new)),
        ("--ckpt-every 0", ("train", "--ckpt-every", 0, "--out", new)),
        ("--fresh on another project's folder", ("train", "--fresh", "--out", f["foreign"])),
        ("resume: a FIFO as history.json", ("train", "--epochs", 2, "--out", f["fifo_history"])),
        ("--fresh: a device as training.png", ("train", "--fresh", "--out", f["device_plot"])),
        ("a run.lock that is not a lock", ("train", "--out", f["not_a_lock"])),
        ("reproduce --workers 10^6", ("reproduce", "--workers", 10**6, "--out", new)),
        ("foreign weights in --out", ("train", "--out", f["weights_only"])),
        ("eval: not a run folder", ("eval", tmp)),
        ("eval --topk 0", ("eval", run, "--topk", 0)),
        ("eval: database repeated in split.json", ("eval", f["repeated"])),
        ("eval: non-integer split index", ("eval", f["float_split"])),
        ("eval: another dataset's split", ("eval", f["other_split"])),
        ("eval: a training image in the database", ("eval", f["train_in_db"])),
        ("eval: unknown option in config.json", ("eval", f["bad_option"])),
        ("eval: unknown key in config.json", ("eval", f["bad_key"])),
        ("eval: bad loss in config.json", ("eval", f["bad_loss"])),
        ("eval: bad options in config.json", ("eval", f["bad_options"])),
        ("index: no such image", ("index", run, tmp / "nothing.png", "--out", tmp / "i.st")),
        ("index: not an image", ("index", run, tmp / "bad.png", "--out", tmp / "i.st")),
        ("index: --out a folder", ("index", run, f["pngs"], "--out", tmp)),
        ("index: --out is an input", ("index", run, png, "--out", png)),
        ("index: --out the run's weights", ("index", run, f["pngs"], "--out", run / "model.safetensors")),
        ("index: --out a device", ("index", run, f["pngs"], "--out", tmp / "null.png")),
        ("index: --out not an index", ("index", run, f["pngs"], "--out", tmp / "a_file")),
        ("index: --batch-size 0", ("index", run, f["pngs"], "--out", tmp / "i.st", "--batch-size", 0)),
        ("index: a FIFO in the folder", ("index", run, f["fifo_dir"], "--out", tmp / "i.st")),
        ("search: not an index", ("search", tmp / "a_file", png)),
        ("search: -k 0", ("search", idx, png, "-k", 0)),
        ("search: index meta a list", ("search", tmp / "list_meta.st", png)),
        ("search: index meta a number", ("search", tmp / "number_meta.st", png)),
        ("search: index without provenance", ("search", tmp / "no_provenance.st", png)),
        ("search: a FIFO as the query", ("search", idx, tmp / "fifo.png")),
        ("search: a FIFO as --png", ("search", idx, png, "--png", tmp / "fifo.png")),
        ("search: --png a picture of the user's", ("search", idx, png, "--png", tmp / "holiday.png")),
    ]
    after = [  # only the model can answer these
        ("eval: int64 weights", ("eval", f["int64"])),
        ("eval: checkpoint of the wrong shape", ("eval", f["shape"])),
        ("eval: checkpoint claims epoch 51 of 1", ("eval", f["claims51"])),
        ("resume: checkpoint with junk history", ("train", "--out", f["junk"])),
        ("search: index made with other weights", ("search", tmp / "stale.st", png, "--png", tmp / "s.png")),
        ("a timm model that is not a ViT", ("train", "--backbone", "timm:resnet18", "--img-size", 64, "--out", new)),
        ("an unknown timm model", ("train", "--backbone", "timm:no_such_vit", "--out", new)),
    ]
    return before, after


def timed(argv, tmp: Path, repeats: int) -> dict:
    "Median and worst wall seconds of `vts-nb argv` in fresh processes, its exit code, lines, torch imported."
    walls, probe = [], tmp / "probe"
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", PROBE, *map(str, argv)], capture_output=True, text=True,
                           cwd=ROOT, env=os.environ | {"VTS_PROBE": str(probe)})
        walls.append(time.perf_counter() - t0)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return dict(median=statistics.median(walls), worst=max(walls), code=r.returncode, lines=len(lines),
                torch=probe.read_text() == "True", line=lines[-1] if lines else "")


def baseline(cmd, repeats: int) -> float:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter(); subprocess.run(cmd, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def table(title, rows, tmp):
    print(f"\n{title}\n{'case':42s} {'median s':>9s} {'worst s':>8s}  exit  lines  torch  first words")
    for name, t in rows:
        words = t["line"].replace(str(tmp), "tmp").split("error: ", 1)[-1][:60]
        print(f"{name:42s} {t['median']:9.2f} {t['worst']:8.2f}  {t['code']:4d}  {t['lines']:5d}  "
              f"{'yes' if t['torch'] else 'no':>5s}  {words}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="runs of each case [3]")
    args = p.parse_args()
    from vts_nb.files import RunLock
    load = os.getloadavg()[0]
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f} at start; Python "
          f"{platform.python_version()}; {args.repeats} run(s) a case")
    tmp = Path(tempfile.mkdtemp())
    try:
        f = fixtures(tmp)
        before, after = cases(f, tmp)
        print(f"# python -c pass: {baseline([sys.executable, '-c', 'pass'], args.repeats):.2f} s; "
              f"vts-nb --help: {baseline([sys.executable, '-c', PROBE, '--help'], args.repeats):.2f} s; "
              f"python -c 'import torch': {baseline([sys.executable, '-c', 'import torch'], args.repeats):.2f} s")
        rows = [(name, timed(argv, tmp, args.repeats)) for name, argv in before]
        with RunLock(f["run"]):                                # a run folder in use by this live process
            rows.append(("run folder in use", timed(("train", "--out", f["run"]), tmp, args.repeats)))
        table("Answered before torch is imported (target: < 1 s each)", rows, tmp)
        late = [(name, timed(argv, tmp, args.repeats)) for name, argv in after]
        table("Answered once the model is loaded (for comparison)", late, tmp)
        bad = [n for n, t in rows + late if t["code"] != 2 or t["lines"] != 1]
        worst = max(t["worst"] for _, t in rows)
        print(f"\n{len(rows)} case classes before torch: torch imported in "
              f"{sum(t['torch'] for _, t in rows)}, worst {worst:.2f} s, median of medians "
              f"{statistics.median(t['median'] for _, t in rows):.2f} s; all < 1 s: {worst < 1}")
        print(f"cases without exit code 2 and one line: {bad or 'none'}")
        print(f"# load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
