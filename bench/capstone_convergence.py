"""Steps and seconds for the reference Transformer to reach 99% on the capstone task.

    python bench/capstone_convergence.py [--seeds 0 1 2] [--threads 1] [--quick]

For each seed: the `course capstone` run (or, with --quick, the grading run) with the
reference modules, stopped at the first validation measurement (every 100 steps) of at
least 99%; prints the steps, the seconds, and the exact-sequence accuracy on the
held-out test strings at that point. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import capstone  # noqa: E402
from grader.manifest import load_manifest  # noqa: E402
from grader.modules import ModuleNamespace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="the grading run instead of `course capstone`'s")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    course = load_manifest(ROOT / "course.toml")
    ref = ModuleNamespace(ROOT / "solutions", course.module_names, "_reference")
    base = capstone.GRADING if args.quick else capstone.CapstoneConfig()
    print(f"{'grading' if args.quick else 'course capstone'} run, {args.threads} threads; "
          f"stop at validation >= 99% (checked every {base.eval_every} steps, at most {base.steps})")
    seconds, steps = [], []
    for seed in args.seeds:
        config = dataclasses.replace(base, seed=seed, stop_at=0.99)
        run = capstone.train(ref, config)
        test = capstone.accuracy(ref, run.model, run.dataset.test)
        reached = run.steps_to_target is not None
        print(f"seed {seed}: {'reached' if reached else 'did NOT reach'} 99% at step {run.steps}, "
              f"{run.seconds:.1f} s, held-out test accuracy {test:.4f}")
        seconds.append(run.seconds)
        steps.append(run.steps)
    print(f"median: {statistics.median(steps):.0f} steps, {statistics.median(seconds):.1f} s")


if __name__ == "__main__":
    main()
