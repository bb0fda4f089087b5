"""Does a busy machine cost correct code points? The reference, graded under contention.

    python bench/busy_machine.py [--loops 6] [--time-limit 0.5] [--against REV]

Starts LOOPS busy loops (a shared lab server; this machine has 2 cores), then grades a
copy of solutions/ with `course grade --time-limit LIMIT`, capstone left out, and prints
its score, the exercises that lost points, and the seconds it took. With --against, the
grader of git revision REV (checked out beside this one) grades the same copy in the
same conditions first, for a side-by-side figure. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grade(tree: Path, copy: Path, out: Path, time_limit: float, only: str) -> tuple[float, float, list[str], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "--course", str(tree), "grade", str(copy),
                           "--out", str(out), "--only", only, "--time-limit", str(time_limit)],
                          cwd=tree, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"course grade failed ({done.returncode}):\n{done.stderr[-2000:]}")
    results = json.loads((out / copy.name / "results.json").read_text())
    lost = [t["name"].split()[0] for t in results["tests"] if t["score"] < t["max_score"]]
    return results["score"], sum(t["max_score"] for t in results["tests"]), lost, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=6)
    parser.add_argument("--time-limit", type=float, default=0.5)
    parser.add_argument("--against", metavar="REV")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader.course.manifest import load_manifest

    course = load_manifest(ROOT / "course.toml")
    only = ",".join(ex.id for ex in course.exercises if not ex.is_capstone)
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as tmp:
        tmp = Path(tmp)
        copy = tmp / "reference"
        shutil.copytree(ROOT / "solutions", copy, ignore=shutil.ignore_patterns("__pycache__"))
        trees = {"this tree": ROOT}
        if args.against:
            other = tmp / "other"
            subprocess.run(["git", "worktree", "add", "--detach", "--force", str(other), args.against],
                           cwd=ROOT, check=True, capture_output=True)
            trees = {args.against: other, **trees}
        loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.loops)]
        try:
            time.sleep(1)
            print(f"{args.loops} busy loops on {os.cpu_count()} cores; the reference graded with "
                  f"--time-limit {args.time_limit:g} (capstone left out)")
            for index, (label, tree) in enumerate(trees.items()):
                score, top, lost, seconds = grade(tree, copy, tmp / f"out-{index}", args.time_limit, only)
                print(f"  {label:12} {score:6.2f}/{top:g} points in {seconds:5.1f} s"
                      + (f"; lost points: {', '.join(lost)}" if lost else ""), flush=True)
        finally:
            for loop in loops:
                loop.kill()
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "other")], cwd=ROOT,
                               capture_output=True)


if __name__ == "__main__":
    main()
