"""How long `course check ID` takes for a learner, next to a bare `import torch`.

    python bench/check_speed.py [--rounds 3] [--exercises rnn.rnn_step_forward attention.softmax ...]

In a private copy of the course whose exercises/ hold the solutions, times
`python -m grader check ID` for each exercise and `python -c "import torch"`, taking
turns, ROUNDS times; prints each one's best and its ratio to the import (the issue's
target: 1.2), with the warm checker a first `course check` leaves running (the
learner's case) and without it (COURSE_WARM=0: every check imports torch itself).
Then, as `course watch` does after a save (its worker machinery already warm), the time
of checking each exercise again (the issue's target: 0.5 s).
Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["rnn.rnn_step_forward", "lstm.lstm_backward", "attention.softmax", "multihead.MultiHeadAttention",
           "transformer.EncoderLayer"]


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exercises", nargs="+", default=DEFAULT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy(ROOT / "course.toml", course)
        for folder in ("suites", "i18n"):
            shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "solutions", course / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
        check = [sys.executable, "-m", "grader", "check"]
        runs = {("import torch", ""): ([sys.executable, "-c", "import torch"], {})}
        for warm in ("1", "0"):
            runs.update({(ex, warm): ([*check, ex], {"COURSE_WARM": warm}) for ex in args.exercises})
        timed([*check, args.exercises[0]], course, {"COURSE_WARM": "1"})     # leaves the warm checker running
        best = {label: float("inf") for label in runs}
        try:
            for _ in range(args.rounds):
                for label, (cmd, env) in runs.items():
                    best[label] = min(best[label], timed(cmd, course, env))
        finally:
            stop_warm_checker(course)
        base = best[("import torch", "")]
        print(f"best of {args.rounds}; a bare `import torch` took {base:.2f} s")
        print(f"  {'course check':44} {'warm':>12} {'COURSE_WARM=0':>16}")
        for label in args.exercises:
            warm, cold = best[(label, "1")], best[(label, "0")]
            print(f"  {label:44} {warm:5.2f} s {warm / base:4.2f}x {cold:8.2f} s {cold / base:4.2f}x")
        print("checked again after a save, as `course watch` does (best of the rounds):")
        for label, seconds in watch_rechecks(course, args.exercises, args.rounds).items():
            print(f"  {label:45} {seconds:5.2f} s")


def stop_warm_checker(course: Path) -> None:
    """End the warm checker of the bench's course (it would leave after 15 idle minutes)."""
    sys.path.insert(0, str(ROOT))
    from grader.course.manifest import load_manifest
    from grader.learner import warm

    warm.stop(load_manifest(course / "course.toml"))


def watch_rechecks(course: Path, exercises: list[str], rounds: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from grader.engine.grading import GradingContext, LastingVerdicts, grade_in_order
    from grader.course.manifest import load_manifest

    manifest = load_manifest(course / "course.toml")
    folder = course / "exercises"
    ctx = GradingContext.for_course(manifest, kind="visible")
    verdicts = LastingVerdicts(manifest, folder)
    best = {}
    try:
        for exercise_id in exercises:
            exercise = manifest.exercise(exercise_id)
            grade_in_order(ctx, exercise, folder, verdicts.current())      # the first check, cold
            path = folder / f"{exercise.module}.py"
            for _ in range(rounds):
                path.write_text(path.read_text() + "\n")                  # a save
                start = time.perf_counter()
                grade_in_order(ctx, exercise, folder, verdicts.current())
                best[exercise_id] = min(best.get(exercise_id, float("inf")), time.perf_counter() - start)
    finally:
        ctx.close()
    return best


if __name__ == "__main__":
    main()
