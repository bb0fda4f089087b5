"""Steps and seconds for the reference Transformer to reach 99% on the capstone task.

    python bench/capstone_convergence.py [--seeds 0 1 2] [--threads 1] [--quick]

For each seed: the `course capstone` run (or, with --quick, the grading run) with the
reference modules. Prints the step and the seconds at which validation accuracy (measured
every `eval_every` steps) first reached 99%, where the run stopped (`course capstone`
stops once every validation string comes out right), and the exact-sequence accuracy on
the held-out test strings at the end: the figure `course capstone` prints. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.content import capstone  # noqa: E402
from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.namespace import ModuleNamespace  # noqa: E402


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
    print(f"{'grading' if args.quick else 'course capstone'} run, {args.threads} threads, validation every "
          f"{base.eval_every} steps, at most {base.steps} steps")
    to_99 = []
    for seed in args.seeds:
        config = dataclasses.replace(base, seed=seed)
        started = time.perf_counter()
        first: list[tuple[int, float]] = []

        def progress(step, loss, val):
            if val is not None and val >= 0.99 and not first:
                first.append((step, time.perf_counter() - started))

        run = capstone.train(ref, config, progress)
        test = capstone.accuracy(ref, run.model, run.dataset.test)
        reached = f"99% at step {first[0][0]} ({first[0][1]:.1f} s)" if first else "never 99%"
        print(f"seed {seed}: validation {reached}; stopped at step {run.steps} ({run.seconds:.1f} s); "
              f"held-out test accuracy {test:.4f}")
        if first:
            to_99.append(first[0])
    if to_99:
        print(f"median to 99%: {statistics.median(s for s, _ in to_99):.0f} steps, "
              f"{statistics.median(t for _, t in to_99):.1f} s")


if __name__ == "__main__":
    main()
