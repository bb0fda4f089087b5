"""What a class got wrong: for every hidden check, how many submissions failed it.

A check counts among the submissions that attempted its exercise (their own code ran
and was judged: see ``ExerciseResult.attempted``); an exercise left as its stub, a file
that does not import or a piece blocked by another is a different story, counted apart
as "not attempted". Most failed first, so the top of the list is what to revisit in
class. Each line carries one representative message: the line of the failures' feedback
that says what is wrong, the most common one (numbers aside; ties: the submission first by
name), cut to a readable length.

Written beside the grades as ``insights.md`` (for reading) and ``insights.csv`` (for a
spreadsheet), from the results alone, in a fixed order: a resumed run writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course.i18n import counted
from grader.course.manifest import Course
from grader.instructor.feedback import clean_text, md_text
from grader.instructor.report import INSIGHTS_CSV, INSIGHTS_MD, csv_cell, write_atomically

if TYPE_CHECKING:  # grader.instructor.submission imports grader.instructor.report
    from grader.instructor.submission import SubmissionResult

MESSAGE_CHARS = 160


@dataclass(frozen=True)
class CheckInsight:
    exercise_id: str
    title: str
    failed: int             # submissions that attempted the exercise and failed this check
    attempted: int          # submissions that attempted the exercise
    example: str            # the most common message of the failures

    @property
    def rate(self) -> float:
        return self.failed / self.attempted if self.attempted else 0.0


@dataclass(frozen=True)
class ExerciseReach:
    exercise_id: str
    graded: int             # submissions graded on the exercise
    attempted: int          # of those, the ones whose own code ran and was judged
    passed: int


_CALL_LINES = ("called ", "returned ", "raised ")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _message(text: str) -> str:
    """The line of a check's feedback that says what is wrong: the first one that does
    not only describe the call (``called ...``, ``returned ...``), cut to a readable length."""
    lines = [part.strip() for part in clean_text(text).splitlines() if part.strip()]
    line = next((part for part in lines if not part.startswith(_CALL_LINES)), lines[0] if lines else "")
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1].rstrip() + "…"


def _shape(message: str) -> str:
    """What a message says whatever the numbers in it: failures alike are counted together."""
    return _NUMBER.sub("#", message)


def class_insights(course: Course, results: list[SubmissionResult]) -> tuple[list[CheckInsight], list[ExerciseReach]]:
    """Every hidden check failed by some submission, most failed first (then course order
    and the suite's order), and per exercise how many attempted and passed it."""
    order = {ex.id: index for index, ex in enumerate(course.exercises)}
    results = sorted(results, key=lambda r: r.name)
    failures: dict[tuple[str, str], list[str]] = {}
    check_order: dict[tuple[str, str], int] = {}
    attempted: Counter = Counter()
    graded: Counter = Counter()
    passed: Counter = Counter()
    for result in results:
        for exercise in result.exercises:
            if exercise.id not in order or not exercise.graded:
                continue
            graded[exercise.id] += 1
            passed[exercise.id] += exercise.passed
            if not exercise.attempted and not exercise.passed:
                continue
            attempted[exercise.id] += 1
            for index, outcome in enumerate(exercise.checks):
                key = (exercise.id, outcome.title)
                check_order.setdefault(key, index)
                if not outcome.passed:
                    failures.setdefault(key, []).append(_message(outcome.feedback))
    insights = []
    for (exercise_id, title), messages in failures.items():
        shapes = [_shape(m) for m in messages]
        counts = Counter(shapes)
        common = max(counts, key=lambda s: (counts[s], -shapes.index(s)))     # most common; ties: first seen
        example = messages[shapes.index(common)]
        insights.append(CheckInsight(exercise_id, title, len(messages), attempted[exercise_id], example))
    insights.sort(key=lambda i: (-i.failed, -i.rate, order[i.exercise_id], check_order[(i.exercise_id, i.title)]))
    reach = [ExerciseReach(ex_id, graded[ex_id], attempted[ex_id], passed[ex_id])
             for ex_id in sorted(graded, key=order.__getitem__)]
    return insights, reach


def insights_markdown(course: Course, insights: list[CheckInsight], reach: list[ExerciseReach]) -> str:
    lines = [f"# {md_text(course.title)}: what the class got wrong", "",
             "Each hidden check that some submission failed, most failed first. A check counts among the "
             "submissions that attempted its exercise (their own code ran); the table at the end says how many "
             "did not.", ""]
    if not insights:
        lines += ["No check failed in any attempted exercise.", ""]
    for insight in insights:
        lines += [f"## {insight.failed} of {insight.attempted} · `{insight.exercise_id}`",
                  "", f"**{md_text(insight.title)}**", "", f"> {md_text(insight.example)}", ""]
    lines += ["## Reach of each exercise", "", "| exercise | graded | attempted | passed |", "|---|---:|---:|---:|"]
    lines += [f"| `{r.exercise_id}` | {r.graded} | {r.attempted} | {r.passed} |" for r in reach]
    return "\n".join(lines) + "\n"


def insights_csv(insights: list[CheckInsight]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["exercise", "check", "failed", "attempted", "example"])
    for i in insights:
        cells = (i.exercise_id, i.title, str(i.failed), str(i.attempted), i.example)
        writer.writerow([csv_cell(cell) for cell in cells])
    return buffer.getvalue()


def write_insights(out: Path, course: Course, results: list[SubmissionResult]) -> list[Path]:
    """``insights.md`` and ``insights.csv`` in ``out``."""
    insights, reach = class_insights(course, results)
    md, table = Path(out) / INSIGHTS_MD, Path(out) / INSIGHTS_CSV
    write_atomically(md, insights_markdown(course, insights, reach))
    write_atomically(table, insights_csv(insights))
    return [md, table]


def summary_lines(insights: list[CheckInsight], count: int = 5, width: int = 80) -> list[str]:
    """The ``count`` most failed checks, one line each, for the terminal."""
    lines = []
    for i in insights[:count]:
        head = f"{i.failed:>3}/{i.attempted:<3} {i.exercise_id}: "
        room = max(10, width - len(head))
        title = i.title if len(i.title) <= room else i.title[: room - 1] + "…"
        lines.append(head + title)
    if len(insights) > count:
        lines.append(f"        … and {counted(len(insights) - count, 'more check')}")
    return lines
