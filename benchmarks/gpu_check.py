"""One command for a lent GPU: every CUDA path of vts-nb, run, timed and checked, the results under OUT.

    . .whl/bootstrap.sh && python3 benchmarks/gpu_check.py 2>&1 | tee "$OUT/log.txt"   # on the GPU machine
    python3 benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check      # on a CPU: every step up to its CUDA calls
    python3 benchmarks/gpu_check.py --only probe,resume                  # some of the steps

The wheels are the ones `../shared/device/prepare-wheels.sh` prepares: vts_nb is imported from this tree through
PYTHONPATH and every tool is called as `python3 ...` (no console scripts). Steps, in order, each with a time limit
(the whole run stops starting steps after 8 minutes, and each step's limit is cut to what is left of them, so the
correctness checks come first and the notebooks last):

1. probe — on the GPU: host syncs counted in training steps (`torch.cuda.set_sync_debug_mode`), the evaluation batch
   that free memory allows for VTS16 and encoding 2,048 CIFAR-shaped images with it, the checkpoint write speed
   (VTS16 with Adam's state), an fp16 forward of VTS16 (finite? how far from the fp32 one: the split-K GEMM of the
   151,296-wide head), the diagnostics and an in-memory dataset on CUDA.
2. resume — `vts-nb train --device cuda --precision bf16` (VTS32, digits at 224 px) killed after its second
   checkpoint (of 3) and run again; its history and mAP compared with an uninterrupted run.
3. fp16 — `vts-nb train --precision fp16`: the loss scaler's skipped steps recorded, its state in the checkpoint,
   and the run resumed with more epochs.
4. reproduce — `vts-nb reproduce --gpus 0`: a grid of two cells, each a subprocess on GPU 0.
5. bench_train — `benchmarks/bench_train.py`: VTS16 and VTS32 at batch 32 and 64, fp32 eager against bf16 fused;
   then VTS16 at batch 32 with `torch.compile`.
6. bench_eval — `benchmarks/bench_eval.py --no-big`: its GPU column, mAP of 1,000 x 54,000 codes on CUDA.
7. nbdev_gpu — `nbdev-test --flags gpu` on the notebooks that have `#| gpu` cells.

With `--dry-run` (CPU, CI) the same steps run as far as a CPU takes them: the probe and the resume test on the CPU
with the tiny ViT (a CPU resume must match bit for bit), bench_train and bench_eval on CPU-sized inputs, the
notebooks listed, and fp16 and `--gpus` refused with their one-line errors. OUT holds summary.json (per step:
passed, seconds, figures), gpu_check.log (every command and its output), bench_train.md and bench_eval.md; run
folders go to a scratch folder (`--work`), not OUT. Exit code 0 if every step passed.
"""
import argparse, atexit, json, os, re, shlex, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("probe", "resume", "fp16", "reproduce", "bench_train", "bench_eval", "nbdev_gpu")
LIMITS = dict(probe=90, bench_train=210, bench_eval=60, nbdev_gpu=180, resume=120, fp16=60, reproduce=90)  # s
BUDGET = 480                       # s: no step starts after it, and none runs past it
MIN_STEP = 15                      # s: a step with less than this left of the budget is not started
CLI = [sys.executable, "-c", "import sys; from vts_nb.cli import main; sys.exit(main(sys.argv[1:]))"]


class Check:
    "The run's state: where it writes, the log, the figures of every step."
    def __init__(self, out: Path, work: Path, dry: bool):
        self.out, self.work, self.dry, self.t0 = out, work, dry, time.time()
        self.log_path, self.summary = out / "gpu_check.log", dict(dry_run=dry, steps={})
        self.env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                                 "PYTHONUNBUFFERED": "1"}
        self.deadline = None                                    # of the step that is running

    def log(self, text: str):
        print(text, flush=True)
        with open(self.log_path, "a") as f: f.write(text + "\n")

    def run(self, cmd, name: str, timeout: float | None = None, expect: int = 0, cwd=ROOT) -> str:
        "Run `cmd` (its own process group, killed whole on timeout); its output, or an AssertionError."
        timeout = min(timeout or 1e9, max(1., self.deadline - time.time()))
        self.log(f"$ {shlex.join(map(str, cmd))}")
        p = subprocess.Popen(list(map(str, cmd)), cwd=cwd, env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try: out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL); out, _ = p.communicate()
            self.log(out); raise AssertionError(f"{name}: still running after {timeout:.0f} s (killed)")
        self.log(out.rstrip())
        assert p.returncode == expect, f"{name}: exit code {p.returncode}, expected {expect}: {last_line(out)}"
        return out


def last_line(text: str) -> str: return (text.strip().splitlines() or ["no output"])[-1][:300]


def train_cmd(folder: Path, *args) -> list:
    return [*CLI, "train", *args, "--out", folder, "--quiet"]


# ---------------------------------------------------------------------------------------------------------- probe
def probe(device: str, work: Path) -> dict:
    "The GPU-only checks that need no tool around them; runs in its own process (`--probe DEVICE`)."
    import torch, warnings
    from vts_nb.data import TensorImageDataset, ResizeNormalize, digits_split
    from vts_nb.model import hash_model
    from vts_nb.losses.csq import CSQLoss
    from vts_nb.train import fit, encode_dataset, seed_everything
    from vts_nb.training_internals import resolve_precision, encode_batch_size, save_training, run_identity
    from vts_nb.diagnostics import code_stats, show_attention
    from vts_nb.vit import set_fused_attention
    cuda, r = device == "cuda", {}
    dev = torch.device(device)
    r["torch"], r["device"] = torch.__version__, torch.cuda.get_device_name(0) if cuda else "cpu"
    r["auto_precision"] = resolve_precision("auto", dev)
    r["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32

    # host syncs in training steps: epoch 1 checks the loss's input values on its first batch, epoch 2 likewise
    split = digits_split(seed=0)
    seed_everything(0)
    m, l = hash_model("vit_tiny", bits=16), CSQLoss(16, 10, len(split.train))
    steps = 2 * (len(split.train) // 32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if cuda: torch.cuda.set_sync_debug_mode("warn")
        try: h = fit(m, l, split, epochs=2, device=dev, precision=r["auto_precision"], progress=False)
        finally:
            if cuda: torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message).lower()]
    r["train_steps"], r["host_syncs"] = steps, len(syncs) if cuda else None
    r["host_syncs_per_step"] = round(len(syncs) / steps, 2) if cuda else None
    r["sync_kinds"] = sorted({s.split("\n")[0][:80] for s in syncs})[:8]
    assert all(x["loss"] == x["loss"] for x in h), h                     # finite losses

    # evaluation batches sized by free memory, and encoding with them (random weights: the sizes are the same)
    name = "vts16" if cuda else "vit_tiny"
    big = hash_model(name, bits=64).to(dev)
    size = big.img_size
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (2048, 3, 32, 32), dtype=torch.uint8, generator=g)          # CIFAR-shaped
    db = TensorImageDataset(raw, torch.eye(10)[torch.arange(2048) % 10], ResizeNormalize(size), cache_mb=0)
    for precision, fused in (("fp32", False), (r["auto_precision"], True)):
        set_fused_attention(big, fused)                                  # the paper's manual attention first
        bs = encode_batch_size(big, db, dev, precision)
        if cuda: torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter(); codes, labels = encode_dataset(big, db, bs, dev, precision=precision)
        if cuda: torch.cuda.synchronize()
        key = f"encode_{precision}_{'fused' if fused else 'manual'}"
        r[key] = dict(batch=bs, images_per_s=round(len(db) / (time.perf_counter() - t)),
                      peak_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None)
        assert codes.shape == (2048, 64) and bool((codes.abs() == 1).all())
    ds_dev = db.to(dev)
    assert ds_dev.transform.mean.device.type == dev.type, "the normalisation statistics stayed behind"

    # checkpoint write speed: the model, Adam's two moments (one step makes them), as save_training writes them
    opt = torch.optim.Adam(big.parameters(), lr=1e-5)
    x = ds_dev.batch(torch.arange(8, device=dev))[0]
    big.train(); big(x).float().pow(2).mean().backward(); opt.step(); opt.zero_grad(set_to_none=True)
    loss = CSQLoss(64, 10, 2048)
    scaler = torch.amp.GradScaler(dev.type, enabled=False)
    t = time.perf_counter()
    save_training(work / "probe.pt", big, loss, opt, scaler, 0, [], run_identity(big, loss, split))
    gb = (work / "probe.pt").stat().st_size / 1e9
    r["checkpoint"] = dict(model=name, gb=round(gb, 2), seconds=round(time.perf_counter() - t, 2),
                           gb_per_s=round(gb / (time.perf_counter() - t), 2))
    (work / "probe.pt").unlink()

    # fp16 forward of VTS16 (random weights): finite outputs, and how far from 65,504 the largest is
    if cuda:
        big.eval()
        with torch.no_grad():
            u32 = big(x)
            with torch.autocast("cuda", dtype=torch.float16): u = big(x).float()
        r["fp16_forward"] = dict(finite=bool(u.isfinite().all()), max_abs_u=float(u.abs().max()),
                                 rel_err_vs_fp32=float((u - u32).norm() / u32.norm()),
                                 sign_agreement=float(((u >= 0) == (u32 >= 0)).float().mean()))
        assert r["fp16_forward"]["finite"]

    # the diagnostics take tensors on the device
    s = code_stats(codes.to(dev), labels.to(dev), {"u": torch.randn(64, 64, device=dev)})
    tiny = m.to(dev).eval()
    fig = show_attention(tiny, split.query.batch(torch.arange(4))[0].to(dev), split.norm)
    r["diagnostics_on_device"] = bool(fig is not None and 0 <= s["threshold"] <= 64)
    return r


# ---------------------------------------------------------------------------------------------------------- steps
def step_probe(c: Check) -> dict:
    out = c.run([sys.executable, __file__, "--probe", "cpu" if c.dry else "cuda", "--work", c.work], "probe")
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def step_bench_train(c: Check) -> dict:
    script = ROOT / "benchmarks" / "bench_train.py"
    if c.dry:
        runs = [[script, "--device", "cpu", "--models", "tiny16", "--batch", "4", "--steps", "1", "--warmup", "0",
                 "--modes", "fp32-eager", "bf16-sdpa"]]
    else:
        runs = [[script, "--models", "vts16", "vts32", "--batch", "32", "64", "--modes", "fp32-eager", "bf16-sdpa",
                 "--steps", "10", "--warmup", "3"],
                [script, "--models", "vts16", "--batch", "32", "--modes", "bf16-sdpa", "--compile", "--steps", "10",
                 "--warmup", "3"]]
    tables, failed = [], []
    for args in runs:
        out = c.run([sys.executable, *args], "bench_train", LIMITS["bench_train"] / len(runs))
        tables.append(f"```\npython3 {' '.join(str(a).replace(str(ROOT) + '/', '') for a in args)}\n```\n\n{out}")
        failed += [l for l in out.splitlines() if "failed:" in l]
    (c.out / "bench_train.md").write_text("\n".join(tables))
    assert not failed, f"bench_train: {len(failed)} configuration(s) failed: {failed[0][:200]}"
    rows = [l.split("|") for t in tables for l in t.splitlines() if l.startswith("| ") and "img/s" not in l]
    return {f"{r[1].strip()} b{r[2].strip()} {r[3].strip()}": dict(train_img_s=r[4].strip(), x_eager=r[5].strip())
            for r in rows if len(r) > 6}


def step_bench_eval(c: Check) -> dict:
    args = ["--no-big"] + (["--queries", "50", "--db", "2000", "--bits", "16", "--repeat", "1"] if c.dry else [])
    out = c.run([sys.executable, ROOT / "benchmarks" / "bench_eval.py", *args], "bench_eval", LIMITS["bench_eval"])
    (c.out / "bench_eval.md").write_text(f"```\npython3 benchmarks/bench_eval.py {' '.join(args)}\n```\n\n{out}")
    rows = [l.split("|") for l in out.splitlines() if l.startswith("| ") and "×" in l and "queries" not in l]
    gpu = {f"{r[1].strip()} {r[2].strip()} bits": r[10].strip() for r in rows if len(r) > 10}
    assert rows, "bench_eval printed no table"
    assert c.dry or all(v != "n/a" for v in gpu.values()), f"bench_eval: no GPU column ({gpu})"
    return dict(ours_on_gpu=gpu)


def gpu_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if '"#| gpu' in p.read_text())


def nbdev_test_cmd(**options) -> list:
    "nbdev-test as `python3 -c`, its options passed as keywords: under `-c` it has no command line to parse."
    return [sys.executable, "-c", f"import sys; from nbdev.test import nbdev_test; sys.exit(nbdev_test(**{options!r}))"]


def step_nbdev_gpu(c: Check) -> dict:
    nbs = gpu_notebooks()
    assert nbs, "no notebook has #| gpu cells"
    regex = "^(" + "|".join(re.escape(p.name) for p in nbs) + ")$"
    if c.dry:                      # the runner starts and takes its options: a pattern no notebook matches
        out = c.run(nbdev_test_cmd(flags="gpu", file_re="^no notebook$"), "nbdev_gpu (the runner)", 60)
        assert "No files were eligible" in out, f"nbdev_test ignored its options: {last_line(out)}"
        c.log(f"dry run: would run nbdev_test(flags='gpu', file_re={regex!r})")
        return dict(notebooks=[p.name for p in nbs], ran=False)
    c.run(nbdev_test_cmd(flags="gpu", n_workers=len(nbs), timing=True, cell_timing_min=5., file_re=regex),
          "nbdev_gpu", LIMITS["nbdev_gpu"])                      # a worker a notebook: 16 cores, one GPU
    return dict(notebooks=[p.name for p in nbs], ran=True)


def killed_after(c: Check, cmd: list, ckpt: Path, writes: int, timeout: float) -> bool:
    "Start `cmd`, SIGKILL it once `ckpt` has been written `writes` times; True if it was killed, False if it ended."
    c.log(f"$ {shlex.join(map(str, cmd))}   # killed after checkpoint {writes}")
    p = subprocess.Popen(list(map(str, cmd)), cwd=ROOT, env=c.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    seen, last, end = 0, None, min(time.time() + timeout, c.deadline)
    while p.poll() is None and time.time() < end:
        try: st = ckpt.stat(); now = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError: now = None
        if now is not None and now != last: seen, last = seen + 1, now
        if seen >= writes: break
        time.sleep(0.02)
    ended = p.poll() is not None
    if not ended: os.killpg(p.pid, signal.SIGKILL)
    c.log(p.communicate()[0].decode().rstrip())
    assert time.time() < end or ended, "resume: the run did not write its checkpoints in time"
    return not ended


def run_record(folder: Path) -> dict:
    return dict(history=json.loads((folder / "history.json").read_text()),
                metrics=json.loads((folder / "metrics.json").read_text()))


def step_resume(c: Check) -> dict:
    dev, args = ("cpu", ["--precision", "fp32"]) if c.dry else ("cuda", ["--precision", "bf16", "--backbone", "vts32",
                                                                         "--bits", "64", "--lr", "1e-4"])
    args = [*args, "--device", dev, "--epochs", "3", "--eval-every", "2"]
    straight, killed = c.work / "straight", c.work / "killed"
    c.run(train_cmd(straight, *args), "resume (uninterrupted)", LIMITS["resume"] / 2)
    assert killed_after(c, train_cmd(killed, *args), killed / "checkpoint.pt", 2, LIMITS["resume"] / 3), \
        "resume: the run finished before it could be killed"
    out = c.run(train_cmd(killed, *args), "resume (the same command again)", LIMITS["resume"] / 3)
    assert "resuming" in out, "resume: the second run did not resume"
    a, b = run_record(straight), run_record(killed)
    loss_diff = max(abs(x["loss"] - y["loss"]) for x, y in zip(a["history"], b["history"]))
    map_diff = abs(a["metrics"]["mAP"] - b["metrics"]["mAP"])
    r = dict(device=dev, epochs=len(b["history"]), max_loss_diff=loss_diff, map_diff=map_diff,
             map=b["metrics"]["mAP"], precision=sorted({h.get("precision", "?") for h in b["history"]}))
    assert len(b["history"]) == len(a["history"]) == 3, r
    if c.dry: assert loss_diff == 0 and map_diff == 0, f"resume on the CPU is not bit for bit: {r}"
    else: assert loss_diff < 1e-2 and map_diff < 0.05, f"resume: the resumed run differs: {r}"
    return r


def step_fp16(c: Check) -> dict:
    folder = c.work / "fp16"
    if c.dry:
        out = c.run(train_cmd(folder, "--device", "cpu", "--precision", "fp16", "--epochs", "1"), "fp16", 60, expect=2)
        assert "needs a CUDA GPU" in out
        return dict(refused_on_cpu=last_line(out))
    c.run(train_cmd(folder, "--device", "cuda", "--precision", "fp16", "--epochs", "3", "--eval-every", "end"),
          "fp16", LIMITS["fp16"] / 2)
    import torch
    state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["scaler"].get("scale"), f"fp16: no loss scaler state in the checkpoint ({state['scaler']})"
    c.run(train_cmd(folder, "--device", "cuda", "--precision", "fp16", "--epochs", "4", "--eval-every", "end"),
          "fp16 resumed", LIMITS["fp16"] / 2)
    h = run_record(folder)
    assert len(h["history"]) == 4 and all("skipped_steps" in x for x in h["history"]), h["history"]
    return dict(scale=state["scaler"]["scale"], skipped_steps=[x["skipped_steps"] for x in h["history"]],
                map=h["metrics"]["mAP"])


def step_reproduce(c: Check) -> dict:
    grid = [*CLI, "reproduce", "--losses", "csq,dpn", "--bits", "16", "--epochs", "2", "--out", c.work / "grid"]
    if c.dry:
        out = c.run([*grid, "--gpus", "0"], "reproduce", 60, expect=2)
        assert "no CUDA GPU" in out
        lines = c.run([*grid, "--print-commands"], "reproduce --print-commands", 60).strip().splitlines()
        assert len(lines) == 2, lines
        return dict(refused_on_cpu=last_line(out), commands=len(lines))
    out = c.run([*grid, "--gpus", "0", "--quiet"], "reproduce", LIMITS["reproduce"])
    records = [json.loads(l) for l in (c.work / "grid" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 and {r["device"] for r in records} == {"cuda"}, records
    return {r["cell"]: dict(mAP=r["mAP"], gpu=r["gpu"], wall_s=r["wall_s"]) for r in records}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="on a CPU: every step up to its CUDA calls")
    p.add_argument("--out", default=os.environ.get("OUT", "gpu_check_out"), help="results [$OUT or gpu_check_out]")
    p.add_argument("--work", help="scratch folder for the runs [a temporary folder]")
    p.add_argument("--only", help=f"comma-separated steps of {','.join(STEPS)}")
    p.add_argument("--probe", help=argparse.SUPPRESS)             # internal: the probe step, in its own process
    a = p.parse_args()
    if a.probe: print(json.dumps(probe(a.probe, Path(a.work)))); return 0
    steps = a.only.split(",") if a.only else list(STEPS)
    if bad := [s for s in steps if s not in STEPS]: p.error(f"unknown step {bad[0]!r}; the steps are {', '.join(STEPS)}")
    import torch
    if not a.dry_run and not torch.cuda.is_available(): p.error("no CUDA GPU here: run it with --dry-run")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    work = Path(a.work or tempfile.mkdtemp(prefix="gpu_check_")); work.mkdir(parents=True, exist_ok=True)
    if not a.work: atexit.register(shutil.rmtree, work, ignore_errors=True)      # the runs' checkpoints: GBs
    c = Check(out, work, a.dry_run)
    c.log(f"# gpu_check{' --dry-run' if a.dry_run else ''}: torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}; out {out}, work {work}")
    for name in steps:
        t, left = time.time(), c.t0 + BUDGET - time.time()
        if left < MIN_STEP and not a.dry_run:
            c.summary["steps"][name] = dict(passed=False, error=f"not run: the {BUDGET} s budget was spent")
            c.log(f"\n## {name}: not run, {left:.0f} s left of the {BUDGET} s budget"); continue
        c.log(f"\n## {name}")
        c.deadline = t + (3 * LIMITS[name] if a.dry_run else min(LIMITS[name], left))   # CPU: no budget
        try: res = dict(passed=True, figures=globals()[f"step_{name}"](c))
        except Exception as e: res = dict(passed=False, error=f"{type(e).__name__}: {e}")
        res["seconds"] = round(time.time() - t, 1)
        c.summary["steps"][name] = res
        c.log(f"{name}: {'passed' if res['passed'] else 'FAILED: ' + res['error']} ({res['seconds']} s)")
        (out / "summary.json").write_text(json.dumps(c.summary, indent=1, default=str))
    failed = [n for n, r in c.summary["steps"].items() if not r["passed"]]
    c.log(f"\n# {len(steps) - len(failed)} of {len(steps)} steps passed in {time.time() - c.t0:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else "") + f"; summary in {out / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
