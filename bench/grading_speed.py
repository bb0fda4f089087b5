"""How long grading takes per submission, next to plain pytest on the same checks.

    python bench/grading_speed.py [--copies 20] [--jobs 2]

Makes COPIES copies of solutions/ and, in the same run, times
  1. `course grade COPIES --jobs JOBS` (isolated workers, reference substitution), and
  2. plain pytest per submission (`pytest suites/hidden --submission COPY`), JOBS at a time,
     the way a conventional autograder runs the same checks in-process, without isolation
     (on one torch thread each, as the grader's checks run),
and, for scale, a bare `python -c "import torch"` and `python -c "import numpy"`.
Prints seconds per submission. Figures, not assertions: machines are noisy.

A grading process pays once for its start (torch imported, its fork server warmed, the
reference work that `reference_once` keeps): a class of hundreds hardly feels it, a
benchmark of twenty does. So JOBS copies are also graded alone first, and the figure for
each further submission, (all - those) / (COPIES - JOBS), is printed too.

The capstones (training runs of their own, about 2 s each) are left out of both, as the target
for class-scale grading leaves them out; `--with-capstone` puts them back in.

    python bench/grading_speed.py --against REV [--rounds 2]

grades the same copies with the grader of git revision REV (checked out beside this one)
and with this one, taking turns, and prints each one's best and their ratio: the cost of a
change, measured side by side on a noisy machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode not in (0,):
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--with-capstone", action="store_true")
    parser.add_argument("--against", metavar="REV", help="compare `course grade` with the grader of git revision REV")
    parser.add_argument("--rounds", type=int, default=2, help="with --against: turns each grader takes")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader.course.manifest import load_manifest

    course = load_manifest(ROOT / "course.toml")
    capstones = [m.name for m in course.modules if m.is_capstone]
    only = [] if args.with_capstone else ["--only", ",".join(course.module_names)]
    ignore = [] if args.with_capstone else [f"--ignore=suites/hidden/test_{name}.py" for name in capstones]

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        copies = []
        for i in range(args.copies):
            copy = tmp / f"student{i:03d}"
            shutil.copytree(ROOT / "solutions", copy, ignore=shutil.ignore_patterns("__pycache__"))
            copies.append(copy)

        if args.against:
            compare(args.against, args.rounds, copies, tmp, args.jobs, only)
            return
        def grade_copies(some: list[Path], out: str) -> float:
            return timed(lambda: run([sys.executable, "-m", "grader", "grade", *map(str, some),
                                      "--out", str(tmp / out), "--jobs", str(args.jobs), *only]))

        start = grade_copies(copies[: args.jobs], "out-start")      # one per grading process
        grade = grade_copies(copies, "out")

        # one torch thread, as the grader's checks and workers have: two processes with a
        # thread per core each would spin on each other's cores and double the baseline
        one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}

        def pytest_one(copy: Path) -> None:
            run([sys.executable, "-m", "pytest", "suites/hidden", "--submission", str(copy),
                 "-q", "-p", "no:cacheprovider", *ignore], env=one_thread)

        def pytest_all() -> None:
            with ThreadPoolExecutor(args.jobs) as pool:
                list(pool.map(pytest_one, copies))

        baseline = timed(pytest_all)
        import_torch = min(timed(lambda: run([sys.executable, "-c", "import torch"])) for _ in range(3))
        import_numpy = min(timed(lambda: run([sys.executable, "-c", "import numpy"])) for _ in range(3))

    n = args.copies
    scope = "the whole course" if args.with_capstone else "every exercise but the capstones"
    print(f"{n} copies of solutions/, --jobs {args.jobs}, {scope}, same run")
    print(f"  course grade            {grade / n:6.3f} s per submission  ({grade:.1f} s total)")
    if n > args.jobs:
        further = (grade - start) / (n - args.jobs)
        print(f"    each after the first {args.jobs} {further:6.3f} s  ({further / import_torch:.2f} torch imports; "
              f"the first {args.jobs} alone: {start:.1f} s)")
    print(f"  pytest per submission   {baseline / n:6.3f} s per submission  ({baseline:.1f} s total)")
    print(f"  ratio grade / pytest    {grade / baseline:6.2f}")
    print(f"  python -c 'import torch' {import_torch:6.3f} s   python -c 'import numpy' {import_numpy:6.3f} s")


def compare(revision: str, rounds: int, copies: list[Path], tmp: Path, jobs: int, only: list[str]) -> None:
    """This grader and revision's, taking turns on the same copies, each from an empty --out."""
    other = tmp / "other"
    run(["git", "worktree", "add", "--detach", "--force", str(other), revision])
    try:
        trees = {revision: other, "this tree": ROOT}
        best = {label: float("inf") for label in trees}
        for turn in range(rounds):
            for label, tree in trees.items():
                out = tmp / f"out-{turn}-{len(label)}"
                seconds = timed(lambda: run_in(tree, [sys.executable, "-m", "grader", "--course", str(tree), "grade",
                                                      *map(str, copies), "--out", str(out), "--jobs", str(jobs),
                                                      *only]))
                best[label] = min(best[label], seconds / len(copies))
                print(f"  turn {turn + 1}  {label:12} {seconds / len(copies):6.3f} s per submission", flush=True)
        print(f"{len(copies)} copies of solutions/, --jobs {jobs}, best of {rounds} turns each")
        print(f"  {revision:12} {best[revision]:6.3f} s per submission")
        print(f"  this tree    {best['this tree']:6.3f} s per submission")
        print(f"  ratio this / {revision}  {best['this tree'] / best[revision]:5.2f}")
    finally:
        run(["git", "worktree", "remove", "--force", str(other)])


def run_in(tree: Path, cmd: list[str]) -> None:
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


if __name__ == "__main__":
    main()
