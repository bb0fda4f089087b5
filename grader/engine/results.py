"""One exercise's result, and the view of it that every feedback format shows.

:class:`ExerciseResult` is what grading found. :func:`result_view` decides, once for every
format, what feedback says about it: passed, not passed or not written yet, the counts,
the problem (and whether it is an excerpt of the learner's file), the stand-in note, each
check by its shown title, whether hints apply. A renderer (plain text here; the terminal's
in :mod:`grader.commands.check`; Markdown and HTML in :mod:`grader.instructor.feedback`; a notebook's
check cell) only maps that view to its markup.

This module imports only :mod:`grader.checks`: the nbgrader runtime and the notebook build
views inside a Jupyter kernel, and an nbgrader release ships every grader module they import.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from grader.checks import NOT_WRITTEN, CheckOutcome, shown_title, stand_in_note

NOT_RUN = "not run"             # a check's feedback when it never ran the learner's code


@dataclass
class ExerciseResult:
    id: str
    title: str
    max_score: float
    score: float
    checks: list[CheckOutcome] = field(default_factory=list)
    problem: str = ""           # a reason that applies to the whole exercise
    seconds: float = 0.0
    grader_fault: str = ""      # the grader could not grade it: no score, never stored
    stood_in: list[str] = field(default_factory=list)     # reference pieces used in place of the learner's
    blocked_by: list[str] = field(default_factory=list)   # failing pieces nothing could stand in for
    not_written: bool = False   # still the stub it was handed out as: one line says so, its checks fail
    failed_file: str = ""       # the learner's file that could not be imported (``problem`` shows where)
    raised_in: str = ""         # another learner file in which each error the checks met was raised

    @property
    def passed(self) -> bool:
        return not self.problem and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def graded(self) -> bool:
        return not self.grader_fault

    @property
    def checks_ran(self) -> bool:
        """Whether any check ran the learner's code of this exercise: when none did, the
        ``problem`` alone says why, and the checks need not be listed one by one."""
        return not self.not_written and any(c.passed or c.feedback != NOT_RUN for c in self.checks)

    @property
    def attempted(self) -> bool:
        """Whether the learner's own code of this exercise ran and fell short: only then
        are its hints worth showing (not for a stub, a file that does not import, a missing
        module or a broken zip, a piece blocked by another)."""
        return self.checks_ran and not (self.failed_file or self.grader_fault or self.blocked_by)

    def feedback(self) -> str:
        """The feedback as plain text."""
        return plain_text(result_view(self))


def result_to_dict(result: ExerciseResult) -> dict:
    """``result`` as plain data (JSON): how a result is stored, and how it crosses from
    a cluster worker or a warm checker."""
    return dataclasses.asdict(result)


def result_from_dict(data: dict) -> ExerciseResult:
    """The result that :func:`result_to_dict` made ``data`` of."""
    data = dict(data)
    data["checks"] = [CheckOutcome(**check) for check in data.get("checks", [])]
    return ExerciseResult(**data)


class Status(enum.Enum):
    """Where an exercise stands, as feedback says it."""

    PASSED = "passed"
    NOT_PASSED = "not passed"
    NOT_WRITTEN = "not written"


@dataclass(frozen=True)
class CheckLine:
    """One check as feedback lists it."""

    passed: bool
    title: str                  # as shown: a passed property waiting for values says so
    feedback: str


@dataclass(frozen=True)
class ResultView:
    """What feedback says about one exercise, whatever its format."""

    exercise_id: str
    status: Status
    checks_passed: int
    checks_total: int
    score: float
    max_score: float
    problem: str                        # "" when nothing applies to the whole exercise
    problem_is_excerpt: bool            # lines of the learner's file: keep each in its columns
    blocked_by: tuple[str, ...]         # for a renderer that words the blocking problem itself
    stand_in_note: str | None
    checks: tuple[CheckLine, ...] | None    # None: no check ran the learner's code
    hints_apply: bool

    def summary(self, counted: str = "checks") -> str:
        """The counts as one phrase, ``counted`` naming what was counted."""
        points = f"{self.score:g}/{self.max_score:g} points"
        if self.status is Status.NOT_WRITTEN:
            return f"{NOT_WRITTEN}, {points}"
        return f"{self.checks_passed}/{self.checks_total} {counted} passed, {points}"


def result_view(result: ExerciseResult) -> ResultView:
    """The view of ``result`` every format renders.

    Quiet where there is little to say: an exercise not written yet is its status alone;
    one whose checks never ran (its file does not import, it is blocked) is its problem,
    with no check listed; hints only for an exercise whose own code ran and fell short."""
    if result.not_written:
        status = Status.NOT_WRITTEN
    else:
        status = Status.PASSED if result.passed else Status.NOT_PASSED
    checks = None
    if result.checks_ran:
        checks = tuple(CheckLine(c.passed, shown_title(c, result.checks), c.feedback) for c in result.checks)
    return ResultView(
        exercise_id=result.id,
        status=status,
        checks_passed=sum(c.passed for c in result.checks),
        checks_total=len(result.checks),
        score=result.score,
        max_score=result.max_score,
        problem=result.problem,
        # an import error shows the learner's line with a caret under the fault
        problem_is_excerpt=bool(result.failed_file) and "\n" in result.problem,
        blocked_by=tuple(result.blocked_by),
        stand_in_note=stand_in_note(result.stood_in) if result.stood_in and result.checks_ran else None,
        checks=checks,
        hints_apply=result.attempted and not result.passed,
    )


def plain_text(view: ResultView, counted: str = "checks", aside: str = "", hint: bool = True) -> str:
    """``view`` as plain text. ``counted`` names what was counted and ``aside`` follows the
    counts; ``hint``: where hints apply, a last line points at `course hint`."""
    if view.status is Status.NOT_WRITTEN:
        return f"{view.exercise_id}: {view.summary()}"
    lines = [f"{view.exercise_id}: {view.summary(counted)}{aside}"]
    if view.problem:
        lines.append(view.problem)
    if view.stand_in_note:
        lines.append(view.stand_in_note)
    for check in view.checks or ():
        lines.append(("✓ " if check.passed else "✗ ") + check.title)
        lines.extend("    " + line for line in check.feedback.splitlines())
    if hint and view.hints_apply:
        lines.append(f"Hint: `course hint {view.exercise_id}`")
    return "\n".join(lines)
