"""Find the digits recipe of every objective by successive halving on the validation split (`digits:val`).

    python tools/sweep_recipes.py                       # runs/recipe_sweep; the same command again continues it
    python tools/sweep_recipes.py --workers 2 --out runs/recipe_sweep --log docs/digits_recipes/sweep.jsonl

The space (`vts_nb.reproduce.SWEEP_SPACE`), per objective: Adam learning rate in {3e-4, 1e-3, 3e-3} x two values of
one loss option; the tiny ViT, batch 32, seed 0, trained on `digits:val` (400 training images; 100 validation queries
carved from the training set, the 400 as the database) and scored there every 10 epochs, never on the real queries.

    rung 1: every trial, 32 bits, 10 epochs
    rung 2: the best 2 of each objective (by their best validation mAP so far) continue to 30 epochs
    rung 3: the best of those continues to 60 epochs
    rung 4: 120 epochs, if its validation mAP at 60 is more than 0.01 above every earlier evaluation

The recipe of an objective (`vts_nb.reproduce.choose_recipes`): that trial and its earliest evaluated epoch within
0.01 of its best validation mAP. Every finished trial is one line of the log; a killed sweep resumes
where it stopped (runs resume from their checkpoints, logged trials are skipped).

    python tools/sweep_recipes.py --seeds transhash     # the seeded extension (vts_nb.reproduce.SEED_SPACE)

runs each rate of `SEED_SPACE[loss]` with every seed of the table (each seed its own split and validation split) into
runs/recipe_sweep_seeds, copies the log to docs/digits_recipes/<loss>_seeds.jsonl and prints the recipe that
`choose_over_seeds` reads from it (the best mean over the seeds). Either way recipes.md is rewritten from the logs
(`logged_recipes`: the sweep's recipes, a seeded extension's in its objective's place).
"""
import argparse, json, shutil, sys, time
from pathlib import Path
from vts_nb.reproduce import (read_log, run_grid, cpu_slots, LOG, sweep_next, recipes_markdown,
                              SEED_SPACE, seed_trials, logged_recipes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/recipe_sweep", help="folder of the trial runs [runs/recipe_sweep]")
    p.add_argument("--log", default="docs/digits_recipes/sweep.jsonl",
                   help="copy of the trial log to commit; recipes.md (the chosen recipes) goes beside it")
    p.add_argument("--workers", type=int, default=2, help="trials at once, one CPU thread each [2]")
    p.add_argument("--seeds", metavar="LOSS", choices=sorted(SEED_SPACE),
                   help="run LOSS's seeded extension instead (runs/recipe_sweep_seeds, <log folder>/LOSS_seeds.jsonl)")
    args = p.parse_args(argv)
    out, t0 = Path(args.out), time.time()
    slots = cpu_slots(args.workers)
    if args.seeds:
        out, log = Path("runs/recipe_sweep_seeds"), Path(args.log).parent / f"{args.seeds}_seeds.jsonl"
        run_grid(seed_trials(args.seeds), out, slots=slots, log=lambda line: print(line, flush=True))
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / LOG, log)
    else:
        while configs := sweep_next(read_log(out / LOG)):        # each objective's next rung, until all are done
            run_grid(configs, out, slots=slots, log=lambda line: print(line, flush=True))
        log = Path(args.log)
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / LOG, log)
    recipes = logged_recipes(log.parent)
    (log.parent / "recipes.md").write_text(recipes_markdown(recipes))
    print(json.dumps(recipes, indent=1))
    print(f"{len(read_log(log))} trials in {log}; this call took {time.time() - t0:.0f} s")


if __name__ == "__main__": sys.exit(main())
