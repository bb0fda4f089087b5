"""How long `course show bottleneck` takes, and what its picture measures.

    python bench/show_bottleneck.py [--seeds 2 0 1] [--threads 1] [--lang en] [--no-command]

Prints
  1. `python -m grader show bottleneck` run as a learner runs it (a subprocess: the torch
     import, the visible checks of the exercises it needs, the two training runs, the
     PNG), its wall and CPU seconds;
  2. the same picture drawn in this process with solutions/ standing in for the learner's
     code (the path of a learner whose checks pass), wall and CPU seconds;
  3. for each seed, the picture's runs (:data:`grader.content.bottleneck.SHOW` at that seed): the
     held-out exact-match accuracy of both decoders by source length, and for how many
     output digits of the alignment's string the attention's argmax is the mirror source
     position (or the one just after it).
Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(out: Path, lang: str) -> tuple[float, float, int]:
    """Wall and CPU seconds of the command, and its exit code."""
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "show", "bottleneck", "--out", str(out), "--lang", lang],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
    return wall, children_cpu() - cpu, done.returncode


def mirrored(found) -> tuple[int, int, int]:
    """Output digits whose strongest source position is the mirror one, the one just after
    it, and all output digits."""
    length = len(found.source)
    strongest = found.weights.argmax(dim=1).tolist()[:length]
    exact = sum(column == length - 1 - row for row, column in enumerate(strongest))
    after = sum(column == length - row for row, column in enumerate(strongest))
    return exact, after, len(strongest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the picture's own seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in this process (the command uses 1)")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--no-command", action="store_true", help="skip timing the command in a subprocess")
    args = parser.parse_args()

    import torch

    from grader.content import bottleneck, topics
    from grader.learner import show
    from grader.course.manifest import load_manifest

    torch.set_num_threads(args.threads)
    course = load_manifest(ROOT / "course.toml")
    reference = show.reference_modules(course)
    topic = topics.TOPICS["bottleneck"]
    print(f"cores: {os.cpu_count()}, torch threads here: {torch.get_num_threads()}")

    with tempfile.TemporaryDirectory(prefix="bench-show-bottleneck-") as tmp:
        tmp = Path(tmp)
        if not args.no_command:
            wall, cpu, code = command(tmp / "command", args.lang)
            print(f"course show bottleneck --lang {args.lang}: {wall:.1f} s wall, {cpu:.1f} s CPU, exit {code}")

        cpu, start = time.process_time(), time.perf_counter()
        picture = show.make_picture(course, topic, tmp / "yours", lambda ids: None, lambda _: reference, args.lang)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"drawn as a learner whose checks pass (solutions/ as exercises/): {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"yours={picture.yours}")

    for seed in args.seeds or [bottleneck.SHOW.seed]:
        config = dataclasses.replace(bottleneck.SHOW, seed=seed)
        start = time.perf_counter()
        found = bottleneck.sweep(reference, config)
        seconds = time.perf_counter() - start
        exact, after, digits = mirrored(found)
        print(f"\nseed {seed}: {config.min_digits}-{config.max_digits} digits, {config.steps} steps, {seconds:.1f} s "
              f"(Decoder {found.seconds['Decoder']:.1f} s, AttentionDecoder {found.seconds['AttentionDecoder']:.1f} s)")
        print(f"{'digits':>6} {'strings':>8} {'Decoder':>9} {'AttentionDecoder':>17}")
        for i, length in enumerate(found.lengths):
            print(f"{length:>6} {found.counts[i]:>8} {found.accuracy['Decoder'][i]:>9.1%} "
                  f"{found.accuracy['AttentionDecoder'][i]:>17.1%}")
        print(f"alignment of one {len(found.source)}-digit string: the argmax is the mirror position for {exact} "
              f"of {digits} output digits, the position just after it for {after}")


if __name__ == "__main__":
    main()
