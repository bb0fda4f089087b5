"""What grading writes: Gradescope ``results.json`` per submission and ``grades.csv``."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from grader.manifest import Exercise
from grader.submission import SubmissionResult


def results_json(result: SubmissionResult) -> dict:
    """The Gradescope autograder format: ``score``, ``execution_time``, ``tests[]``."""
    summary = [f"{result.score:g}/{result.max_score:g} points"]
    summary += result.notes
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 2),
        "output": "\n".join(summary),
        "tests": [
            {
                "name": ex.id,
                "score": ex.score,
                "max_score": ex.max_score,
                "status": "passed" if ex.passed else "failed",
                "output": ex.feedback(),
                "visibility": "visible",
            }
            for ex in result.exercises
        ],
    }


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_results(out: Path, result: SubmissionResult) -> Path:
    path = Path(out) / result.name / "results.json"
    _write_atomically(path, json.dumps(results_json(result), indent=2, ensure_ascii=False) + "\n")
    return path


def write_grades_csv(out: Path, exercises: list[Exercise], results: list[SubmissionResult]) -> Path:
    """One row per submission, one column per graded exercise (course order), and the total."""
    ids = [ex.id for ex in exercises]
    path = Path(out) / "grades.csv"
    rows = []
    for result in sorted(results, key=lambda r: r.name):
        scores = {ex.id: ex.score for ex in result.exercises}
        rows.append([result.name] + [f"{scores[i]:g}" if i in scores else "" for i in ids] + [f"{result.score:g}"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission"] + ids + ["total"])
    writer.writerows(rows)
    _write_atomically(path, buffer.getvalue())
    return path
