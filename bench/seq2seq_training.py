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

import dataclasses

from training_task import options_and_reference, timed  # first: it puts the repository on sys.path

from grader.content import bottleneck


def main() -> None:
    args, ref = options_and_reference(__doc__, "keep PyTorch's default initialisation", "_bench_seq2seq")
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
            def train_and_measure(seed=seed, attention=attention):
                run = bottleneck.train(ref, dataclasses.replace(bottleneck.GRADING, seed=seed, attention=attention))
                return bottleneck.accuracy(ref, run.encoder, run.decoder, run.dataset.test)

            held_out, cpu, wall = timed(train_and_measure)
            cpu_times.append(cpu)
            print(f"{'attention' if attention else 'plain':<10} {seed:>4} {cpu:>6.2f} {wall:>6.2f} {held_out:>9.1%}")
        print(f"{'':<10} {'max':>4} {max(cpu_times):>6.2f}")


if __name__ == "__main__":
    main()
