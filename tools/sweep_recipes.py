"""Find the digits recipe of every objective by successive halving on the validation split (`digits:val`).

    python tools/sweep_recipes.py                       # runs/recipe_sweep; the same command again continues it
    python tools/sweep_recipes.py --workers 2 --out runs/recipe_sweep --log docs/digits_recipes/sweep.jsonl

The space, per objective: Adam learning rate in {3e-4, 1e-3, 3e-3} x two values of one loss option (`SPACE`), the
tiny ViT, batch 32, seed 0, trained on `digits:val` (400 training images; 100 validation queries carved from the
training set, the other 400 as the database) and scored there every 10 epochs, never on the real queries.

    rung 1: every configuration, 32 bits, 10 epochs
    rung 2: the best 2 of each objective (by best validation mAP so far) continue to 30 epochs
    rung 3: those 2 at 16, 32 and 64 bits, 90 epochs (the 32-bit run continues); an objective whose mean validation
            mAP is still highest at its last evaluation continues to 180 epochs

The recipe of an objective: the configuration and the evaluated epoch with the highest mean validation mAP over the
three code lengths in the last rung (`vts_nb.reproduce.choose_recipes`). Every finished trial is one line of the
log; a killed sweep resumes where it stopped (runs resume from their checkpoints, logged trials are skipped).
"""
import argparse, json, shutil, sys, time
from pathlib import Path
from vts_nb.reproduce import read_log, run_grid, LOG, SWEEP_SPACE, sweep_rung, choose_recipes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/recipe_sweep", help="folder of the trial runs [runs/recipe_sweep]")
    p.add_argument("--log", default="docs/digits_recipes/sweep.jsonl", help="copy of the trial log to commit")
    p.add_argument("--workers", type=int, default=2, help="trials at once, one CPU thread each [2]")
    args = p.parse_args(argv)
    out, t0 = Path(args.out), time.time()
    slots = [dict(env={"OMP_NUM_THREADS": "1"}, device="cpu", gpu="cpu") for _ in range(args.workers)]
    for rung in (1, 2, 3, 4):
        configs = sweep_rung(rung, read_log(out / LOG))
        if not configs: continue
        print(f"rung {rung}: {len(configs)} trials", flush=True)
        run_grid(configs, out, slots=slots, log=lambda line: print(line, flush=True))
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / LOG, args.log)
    print(json.dumps(choose_recipes(read_log(args.log)), indent=1))
    print(f"sweep: {len(read_log(args.log))} trials in the log; this call took {time.time() - t0:.0f} s")


if __name__ == "__main__": sys.exit(main())
