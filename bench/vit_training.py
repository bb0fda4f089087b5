"""What vit_training's check costs, and how far it is from its bar.

    python bench/vit_training.py [--seeds 0 1 2 3 4] [--threads 1] [--no-init]

For each seed: the reference ViT trained with the grading run's configuration
(``grader.content.vit_task.GRADING``) on one torch thread, timed on the process's CPU clock and the
wall clock, with the held-out accuracy and cross-entropy the hidden checks measure. The
first run of the process also pays for warming torch up, as a grading worker does.
``--no-init`` leaves the constructor's weights (the reference's: pos_embed of 0.02 * randn)
in place instead of the grader's starting weights, to show what the grader's initialisation
buys. Figures, not assertions.
"""

from __future__ import annotations

import dataclasses

import torch

from training_task import options_and_reference, timed  # first: it puts the repository on sys.path

from grader.content import vit_task


def main() -> None:
    args, ref = options_and_reference(__doc__, "keep the constructor's initialisation", "_bench_vit")
    if args.no_init:
        vit_task.initialise = lambda model, seed: None
    grading = vit_task.GRADING
    print(f"grading run: {grading.image_size}x{grading.image_size} images, patches of {grading.patch_size}, "
          f"{grading.steps} steps of {grading.batch_size}, bar {vit_task.GRADING_THRESHOLD:.0%}, "
          f"{args.threads} thread(s), {'constructor' if args.no_init else 'grader'} initialisation")
    print(f"{'seed':>4} {'cpu s':>6} {'wall s':>6} {'held-out':>9} {'loss':>7}")
    cpu_times = []
    for seed in args.seeds:
        def train_and_measure(seed=seed):
            run = vit_task.train(ref, dataclasses.replace(grading, seed=seed))
            return run, vit_task.accuracy(run.model, run.dataset.test)

        (run, held_out), cpu, wall = timed(train_and_measure)
        images, labels = run.dataset.test
        with torch.no_grad():
            loss = torch.nn.functional.cross_entropy(run.model(images), labels).item()
        cpu_times.append(cpu)
        print(f"{seed:>4} {cpu:>6.2f} {wall:>6.2f} {held_out:>9.1%} {loss:>7.3f}")
    print(f"{'max':>4} {max(cpu_times):>6.2f}")


if __name__ == "__main__":
    main()
