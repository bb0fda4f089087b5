"""What the learner's terminal commands show: results, hints and paths as typed.

`course check`, `course watch`, `course hint`, `course progress` and `course explain`
print through these, so that one exercise reads the same in each. ``cc`` is the
commands' context (:class:`grader.commands.CourseContext`): the course, the learner's
language and state, and the translated messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from grader.course.i18n import exercise_text
from grader.course.manifest import Course, Exercise
from grader.engine.results import ExerciseResult, Status, result_view
from grader.learner.state import LearnerState


class LearnerContext(Protocol):
    """What these need of the commands' context."""

    course: Course
    lang: str
    state: LearnerState

    def t(self, key: str, **fields) -> str:
        """The message ``key`` in the learner's language."""


def shown_path(cc: LearnerContext, path: Path) -> str:
    """``path`` as the learner would type it: relative to where they are when that is
    inside the course (``../exercises/rnn.py`` from a subfolder), else from the course root."""
    root = cc.course.root.resolve()
    here = Path.cwd().resolve()
    if here == root or root in here.parents:
        return os.path.relpath(path, here)
    return str(Path(path).resolve().relative_to(root))


def exercise_file(cc: LearnerContext, exercise: Exercise) -> str:
    return shown_path(cc, cc.course.root / "exercises" / f"{exercise.module}.py")


def capstone_fields(cc: LearnerContext, exercise: Exercise) -> dict:
    """What the messages about a capstone exercise name: the command that runs it and the
    modules it runs."""
    module = cc.course.module(exercise.module)
    return {"command": module.try_with, "modules": ", ".join(module.assembles)}


def print_result(console: Console, cc: LearnerContext, result: ExerciseResult) -> None:
    """One exercise's outcome, as `course check` and `course watch` show it.

    The checks' own words (their titles, "got ... expected ...") come from suites/ and
    stay English in every language; only the frame around them is translated. An
    exercise not written yet is one line; one whose checks never ran (its file does not
    import, it is blocked) is its reason, once, not once per check; a passed one is its
    counts alone."""
    view = result_view(result)
    if view.status is Status.NOT_WRITTEN:
        console.print(f"[red]✗[/] {view.exercise_id}  [dim]{escape(cc.t('check_not_written'))}[/]")
        return
    counts = cc.t("check_counts", passed=view.checks_passed, total=view.checks_total)
    if view.status is Status.PASSED:
        console.print(f"[green]✓[/] {view.exercise_id}  [dim]{escape(counts)}[/]")
        return
    console.print(f"[red]✗[/] {view.exercise_id}  [dim]{escape(counts)}[/]")
    if view.blocked_by:
        console.print("    [red]" + escape(cc.t("check_blocked", names=", ".join(view.blocked_by),
                                                first=view.blocked_by[0])) + "[/]")
    elif view.problem:
        first, *rest = view.problem.splitlines()
        console.print(f"    [red]{escape(first)}[/]")
        for line in rest:       # an excerpt of the learner's file: its caret must stay in its column
            console.print(f"    {escape(line)}", overflow="ignore", crop=False, soft_wrap=True)
    if view.stand_in_note:
        console.print(f"    [yellow]{escape(view.stand_in_note)}[/]")
    for check in view.checks or ():
        if check.passed:
            console.print(f"    [green]✓[/] {escape(check.title)}")
        else:
            console.print(f"    [red]✗ {escape(check.title)}[/]")
            for line in check.feedback.splitlines():
                console.print(f"        {escape(line)}")


def show_hint(console: Console, cc: LearnerContext, exercise_id: str, level: int | None = None) -> int:
    """Show hint ``level`` of ``exercise_id`` (default: one more than last time), remember
    it in the state, and return the level shown."""
    hints = exercise_text(cc.course, exercise_id, cc.lang).hints
    state = cc.state
    shown = state.hints_shown.get(exercise_id, 0)
    if level is None:
        level = min(shown + 1, len(hints))
    state.hints_shown[exercise_id] = max(shown, level)
    state.save()
    # plain text, not Markdown: the pseudo-code hints hold f*prev_c and __init__
    console.print(Panel(Text(hints[level - 1]), title=cc.t("hint_title", id=exercise_id, level=level,
                                                                total=len(hints)),
                        title_align="left"))
    return level


def next_exercise_line(cc: LearnerContext, next_key: str, done_key: str) -> str:
    """Where the learner goes next (message ``next_key``), or that the course is done."""
    course = cc.course
    nxt = cc.state.next_exercise(course)
    if nxt is None:
        return cc.t(done_key)
    title = exercise_text(course, nxt.id, cc.lang).title
    return cc.t(next_key, id=nxt.id, title=escape(title), file=exercise_file(cc, nxt))
