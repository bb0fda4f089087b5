"""What grading writes.

Per submission (``OUT/<name>/``): Gradescope ``results.json`` (feedback in Markdown),
``feedback.md`` and ``feedback.html``. Per class (``OUT/``): ``grades.csv``,
``scores_histogram.png``, ``pass_rates.png``, and ``insights.md``/``insights.csv``
(:mod:`grader.instructor.insights`). Everything but the timing fields
(``execution_time``) depends only on the results, in a fixed order, so a resumed run
writes the same bytes as an uninterrupted one.

Whatever a submission put in its results is made safe where it is written: every text file
is valid UTF-8 (:func:`grader.instructor.feedback.clean_text`), feedback is bounded and keeps no line of a
reference solution (:func:`grader.instructor.feedback.bounded_submission`), and no cell of ``grades.csv``
can be read as a formula (:func:`csv_cell`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course.i18n import counted
from grader.course.manifest import Course, Exercise
from grader.instructor.feedback import (SolutionLines, bounded_submission, clean_text, exercise_markdown, md_text,
                             submission_html, submission_markdown)

if TYPE_CHECKING:  # grader.instructor.submission imports this module
    from grader.instructor.submission import SubmissionResult

GRADES_CSV = "grades.csv"
SCORES_HISTOGRAM = "scores_histogram.png"
PASS_RATES = "pass_rates.png"
INSIGHTS_MD = "insights.md"       # grader.instructor.insights: what the class got wrong
INSIGHTS_CSV = "insights.csv"
SIMILARITY_HTML = "similarity.html"   # grader.instructor.similarity, with --similarity
# what the gradebook writes in OUT beside the submissions' folders: no submission may take these names
CLASS_FILES = (GRADES_CSV, SCORES_HISTOGRAM, PASS_RATES, INSIGHTS_MD, INSIGHTS_CSV, SIMILARITY_HTML)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TMP_SUFFIX = ".tmp"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def results_json(result: SubmissionResult, course: Course | None = None) -> dict:
    """The Gradescope autograder format: ``score``, ``execution_time``, ``tests[]``; every
    ``output`` is Markdown (``output_format`` for the top-level one, ``test_output_format``
    and each test's ``output_format`` for the tests')."""
    summary = [f"**{result.score:g}/{result.max_score:g} points**"]
    summary += [f"- {md_text(note)}" for note in result.notes]
    return {
        "score": result.score,
        "execution_time": round(result.seconds, 2),
        "output": "\n\n".join(summary),
        "output_format": "md",
        "test_output_format": "md",
        "tests": [
            {
                "name": ex.id,
                "score": ex.score,
                "max_score": ex.max_score,
                "status": "passed" if ex.passed else "failed",
                "output": exercise_markdown(ex, course),
                "output_format": "md",
                "visibility": "visible",
            }
            for ex in result.exercises
        ],
    }


def write_atomically(path: Path, text: str | bytes) -> None:
    """Readers see the old file or the new one, never half of one, even if we are killed.
    Text is written as valid UTF-8, whatever a submission put in it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(clean_text(text).encode("utf-8") if isinstance(text, str) else text)
        os.chmod(tmp, 0o666 & ~_UMASK)     # mkstemp makes it private; these files are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_write_atomically = write_atomically


def remove_leftovers(folder: Path) -> None:
    """Half-written files of a run that was killed while writing."""
    if Path(folder).is_dir():
        for path in Path(folder).glob(f".*{TMP_SUFFIX}"):
            if path.is_file() and not path.is_symlink():   # only what write_atomically leaves
                path.unlink(missing_ok=True)


def write_results(out: Path, result: SubmissionResult, course: Course | None = None) -> Path:
    """``OUT/<name>/results.json``, ``feedback.md`` and ``feedback.html``, from the
    submission's results bounded as a whole (see :func:`grader.instructor.feedback.bounded_submission`)."""
    exercises, notes = bounded_submission(result.exercises, result.notes, SolutionLines.of(course))
    result = dataclasses.replace(result, exercises=exercises, notes=notes)
    folder = Path(out) / result.name
    path = folder / "results.json"
    write_atomically(path, json.dumps(results_json(result, course), indent=2, ensure_ascii=False) + "\n")
    write_atomically(folder / "feedback.md", submission_markdown(result.name, result.exercises, result.notes, course))
    write_atomically(folder / "feedback.html", submission_html(result.name, result.exercises, result.notes, course))
    return path


def grades_columns(exercises: list[Exercise], results: list[SubmissionResult]) -> list[str]:
    """The exercises that have a result in any row, in course order."""
    graded = {ex.id for result in results for ex in result.exercises}
    return [ex.id for ex in exercises if ex.id in graded]


def csv_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet reads as a formula (OWASP's rule: a leading ``=``,
    ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` before it), in valid UTF-8."""
    text = clean_text(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_grades_csv(out: Path, exercises: list[Exercise], results: list[SubmissionResult]) -> Path:
    """One row per submission (by name), one column per exercise that has a result
    (course order, among ``exercises``), and the total of the row."""
    ids = grades_columns(exercises, results)
    path = Path(out) / GRADES_CSV
    rows = []
    for result in sorted(results, key=lambda r: r.name):
        scores = {ex.id: ex.score for ex in result.exercises}
        rows.append([result.name] + [f"{scores[i]:g}" if i in scores else "" for i in ids] + [f"{result.score:g}"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(cell) for cell in ["submission"] + ids + ["total"]])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    write_atomically(path, buffer.getvalue())
    return path


def pass_rates(exercises: list[Exercise], results: list[SubmissionResult]) -> list[tuple[str, float, int]]:
    """Per exercise with a result (course order): the fraction of the submissions graded on
    it that passed it, and how many were graded on it."""
    rates = []
    for exercise_id in grades_columns(exercises, results):
        outcomes = [ex.passed for r in results for ex in r.exercises if ex.id == exercise_id]
        rates.append((exercise_id, sum(outcomes) / len(outcomes), len(outcomes)))
    return rates


def write_class_pictures(out: Path, course: Course, results: list[SubmissionResult]) -> list[Path]:
    """``scores_histogram.png`` (total scores) and ``pass_rates.png`` (per exercise), for a
    class of two or more. Of one submission (a Gradescope run grades one) they show nothing
    its results do not, and drawing them costs 0.8 s; older ones are removed then."""
    if len(results) < 2:
        for name in (SCORES_HISTOGRAM, PASS_RATES):
            (Path(out) / name).unlink(missing_ok=True)
        return []
    from grader.content.pictures import pass_rate_chart, score_histogram

    results = sorted(results, key=lambda r: r.name)
    max_score = max(r.max_score for r in results)
    rates = pass_rates(course.exercises, results)
    return [
        score_histogram([r.score for r in results], max_score, Path(out) / SCORES_HISTOGRAM,
                        title=f"{course.title}: total scores of {counted(len(results), 'submission')}"),
        pass_rate_chart([i for i, _, _ in rates], [rate for _, rate, _ in rates], Path(out) / PASS_RATES,
                        title="Fraction of submissions that passed each exercise"),
    ]
