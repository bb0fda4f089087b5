"""What seq2seq_training's check costs, and how far it is from its bar.

    python bench/seq2seq_training.py [--seeds 0 1 2 3 4] [--threads 1] [--no-init]

For each seed: the reference seq2seq module trained with the grading run's configuration
(``grader.content.bottleneck.GRADING``) on one torch thread, timed on the process's CPU clock and
the wall clock, and the held-out exact-match accuracy the hidden check measures, for the
attention model and for the bottleneck's plain decoder. ``--no-init`` leaves the
constructors' weights (PyTorch's defaults) in place instead of the grader's starting
weights, to show what the grader's initialisation buys. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.content import bottleneck  # noqa: E402
from grader.course.manifest import load_manifest  # noqa: E402
from grader.course.namespace import ModuleNamespace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-init", action="store_true", help="keep PyTorch's default initialisation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    course = load_manifest(ROOT / "course.toml")
    ref = ModuleNamespace(ROOT / "solutions", course.module_names, alias="_bench_seq2seq")
    if args.no_init:
        bottleneck.initialise = lambda encoder, decoder, seed: None
    print(f"grading run: strings of {bottleneck.GRADING.min_digits}-{bottleneck.GRADING.max_digits} digits, "
          f"{bottleneck.GRADING.steps} steps of {bottleneck.GRADING.batch_size}, bar "
          f"{bottleneck.GRADING_THRESHOLD:.0%}, {args.threads} thread(s), "
          f"{'PyTorch default' if args.no_init else 'grader'} initialisation")
    print(f"{'model':<10} {'seed':>4} {'cpu s':>6} {'wall s':>6} {'held-out':>9}")
    for attention in (True, False):
        cpu_times = []
        for seed in args.seeds:
            config = dataclasses.replace(bottleneck.GRADING, seed=seed, attention=attention)
            cpu, wall = time.process_time(), time.perf_counter()
            run = bottleneck.train(ref, config)
            held_out = bottleneck.accuracy(ref, run.encoder, run.decoder, run.dataset.test)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            cpu_times.append(cpu)
            print(f"{'attention' if attention else 'plain':<10} {seed:>4} {cpu:>6.2f} {wall:>6.2f} {held_out:>9.1%}")
        print(f"{'':<10} {'max':>4} {max(cpu_times):>6.2f}")


if __name__ == "__main__":
    main()
