"""Throughput and peak memory of VTS training steps and of encoding, fp32 with manual attention (the paper's
setup) against bf16 autocast with fused attention (SDPA), side by side in one run.

    python benchmarks/bench_train.py                  # VTS16 and VTS32 (64 bits, 'all'-token head), batch 32 and 64
    python benchmarks/bench_train.py --compile        # adds bf16 + SDPA + torch.compile
    python benchmarks/bench_train.py --quick          # CPU-sized: the tiny ViT at batch 8 and 16, VTS32 at batch 8, 5 steps

A *training step* is what `vts_nb.train.train_epoch` does per batch: forward, CSQ loss (64 bits, 10 classes),
backward, Adam step. *Encoding* is the eval-mode forward of `encode_batches`, under `torch.inference_mode`, and the
sign. Models are `vts_nb.model.hash_model(name, bits=64)` with random weights (nothing is downloaded; the weights do
not change the speed). The input is a synthetic CIFAR-shaped uint8 batch (B, 3, 32, 32) brought to the model's size
(224 px) and normalised by `model.preprocess`, as the data path does, once before timing: the figures are the
model's, without data loading.

Modes (one row each, per model and batch size):
- `fp32-eager`: float32, every `vts_nb.attention.Attention` with `fused=False` (softmax(QK^T/sqrt(d))V by hand).
- `fp32-sdpa`: float32, `fused=True` (`F.scaled_dot_product_attention`): what SDPA alone gives.
- `bf16-sdpa`: `torch.autocast(dtype=torch.bfloat16)` around the forward, `fused=True`; loss in float32.
- `bf16-sdpa-compile` (with `--compile`): the same with `torch.compile(model)`; compile time is in the warm-up.

Each configuration runs in a fresh subprocess, so peak memory is its own: on CUDA `torch.cuda.max_memory_allocated`
(tensors only), on CPU the process's peak resident set size (`resource.getrusage`, everything the process holds,
including the ~0.3-0.5 GB of Python and torch itself; encoding is measured first, as the peak can only grow). Throughput is images per second over `--steps` timed
steps after `--warmup` untimed ones (CUDA synchronised before reading the clock). Ratios are against `fp32-eager`
for the same model and batch size.
"""
import argparse, json, os, platform, resource, subprocess, sys, time

import torch

MODES = ("fp32-eager", "fp32-sdpa", "bf16-sdpa")
MODELS = {  # name: (hash_model backbone, extra hash_model arguments)
    "vts16": ("vts16", {}),
    "vts32": ("vts32", {}),
    "tiny16": ("vit_tiny", dict(img_size=224, patch_size=16)),    # dim 64, depth 2, 14x14 patches: a CPU stand-in
}


def set_fused(model, fused: bool) -> int:
    "Switch every `vts_nb.attention.Attention` of `model` to fused (SDPA) or manual attention; returns how many."
    from vts_nb.attention import Attention
    mods = [m for m in model.modules() if isinstance(m, Attention)]
    for m in mods: m.fused = fused
    return len(mods)


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def measure(model_name: str, batch: int, mode: str, steps: int, warmup: int, device: str) -> dict:
    "One configuration, in this process: images/s and peak memory of training steps, then of encoding."
    from vts_nb.model import hash_model, encode
    from vts_nb.losses.csq import CSQLoss
    device = torch.device(device)
    torch.manual_seed(0)
    backbone, kw = MODELS[model_name]
    model = hash_model(backbone, bits=64, **kw).to(device)
    n_attn = set_fused(model, fused=mode != "fp32-eager")
    assert n_attn == len(model.backbone.blocks), (n_attn, len(model.backbone.blocks))
    loss = CSQLoss(64, 10, 5000).to(device)
    opt = torch.optim.Adam([*model.parameters(), *loss.parameters()], lr=1e-5)
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8, generator=g)   # CIFAR-shaped
    x = model.preprocess(raw).to(device)                        # (B, 3, 224, 224), resized on the CPU as the data path does
    y = torch.nn.functional.one_hot(torch.arange(batch) % 10, 10).float().to(device)
    idx = torch.arange(batch, device=device)
    bf16 = mode.startswith("bf16")
    net = torch.compile(model) if mode.endswith("compile") else model
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def train_step():
        with autocast(): u = net(x)                                   # (B, 64)
        l = loss(u.float(), y, idx)
        opt.zero_grad(set_to_none=True); l.backward(); opt.step()
        return l

    def encode_step():
        with torch.inference_mode(), autocast(): return encode(net(x))

    out = dict(model=model_name, batch=batch, mode=mode, device=device.type, img=tuple(x.shape[-2:]))
    for what, step, train in (("encode", encode_step, False), ("train", train_step, True)):   # CPU peak RSS only grows
        model.train(train)
        if device.type == "cuda": torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup): r = step()
        sync(device); t = time.perf_counter()
        for _ in range(steps): r = step()
        sync(device); dt = time.perf_counter() - t
        if train: assert torch.isfinite(r), f"non-finite loss {r}"
        else: assert r.shape == (batch, 64) and bool((r.abs() == 1).all())
        out[f"{what}_img_s"] = batch * steps / dt
        out[f"{what}_peak_gb"] = (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda"
                                  else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)   # KiB -> GiB
    return out


def run_one(args, model, batch, mode) -> dict:
    "`measure` in a fresh Python process (its own peak memory); the error message instead if it fails."
    cmd = [sys.executable, __file__, "--one", json.dumps([model, batch, mode]), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--device", args.device]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["failed"])[-1]
        return dict(model=model, batch=batch, mode=mode, error=last[:120])
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_ratio(a, b): return f"{a / b:.2f}×" if a and b else "n/a"


def table(rows, device):
    mem = "peak GPU memory (GiB)" if device == "cuda" else "peak RSS (GiB)"
    print(f"| model | batch | mode | train img/s | × fp32-eager | train {mem} | × | encode img/s | × fp32-eager "
          f"| encode {mem} | × |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}
    for r in rows:
        key = (r["model"], r["batch"])
        if "error" in r:
            print(f"| {r['model']} | {r['batch']} | {r['mode']} | failed: {r['error']} |||||||| "); continue
        if r["mode"] == "fp32-eager": base[key] = r
        b = base.get(key, {})
        print(f"| {r['model']} | {r['batch']} | {r['mode']} | {r['train_img_s']:.3g} | "
              f"{fmt_ratio(r['train_img_s'], b.get('train_img_s'))} | {r['train_peak_gb']:.2f} | "
              f"{fmt_ratio(r['train_peak_gb'], b.get('train_peak_gb'))} | {r['encode_img_s']:.3g} | "
              f"{fmt_ratio(r['encode_img_s'], b.get('encode_img_s'))} | {r['encode_peak_gb']:.2f} | "
              f"{fmt_ratio(r['encode_peak_gb'], b.get('encode_peak_gb'))} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=None, help="default: vts16 vts32 (--quick: tiny16 vts32)")
    p.add_argument("--batch", type=int, nargs="+", default=None, help="default: 32 64 (--quick: 8 16, ViT-B at 8 only)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 20; --quick: 5)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; --quick: 1)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--compile", action="store_true", help="add bf16-sdpa-compile (torch.compile; compile time is in the warm-up)")
    p.add_argument("--quick", action="store_true", help="CPU-sized run: tiny16 at batch 8 and 16, vts32 at batch 8, 5 steps")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--one", help=argparse.SUPPRESS)                       # internal: one configuration, JSON out
    args = p.parse_args()
    q = args.quick
    args.steps = args.steps or (5 if q else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if q else 5)
    if args.one:
        print(json.dumps(measure(*json.loads(args.one), args.steps, args.warmup, args.device))); return
    models = args.models or (["tiny16", "vts32"] if q else ["vts16", "vts32"])
    batches = args.batch or ([8, 16] if q else [32, 64])
    modes = list(args.modes) + (["bf16-sdpa-compile"] if args.compile else [])
    if "fp32-eager" not in modes: modes.insert(0, "fp32-eager")          # the baseline of every ratio
    dev = args.device
    gpu = torch.cuda.get_device_name(0) if dev == "cuda" else "none"
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {dev} ({gpu}); "
          f"TF32 matmul {torch.backends.cuda.matmul.allow_tf32}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"# {args.steps} timed steps after {args.warmup} warm-up steps per configuration; models {models}, batches {batches}")
    t0, rows = time.perf_counter(), []
    small = q and not args.batch                                          # --quick: ViT-B at the smallest batch only
    for m in models:
        for b in batches:
            if small and m != "tiny16" and b > min(batches): continue
            for mode in modes: rows.append(run_one(args, m, b, mode))
    print(); table(rows, dev); print()
    print(f"# total {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
