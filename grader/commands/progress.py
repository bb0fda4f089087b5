"""`course progress`, and `course` alone (the overview): where the learner is, what next.

Both read the state that `course check` and `course watch` record in .course/state.json.
The learner's other commands share the helpers here: which exercise an id (or nothing)
means, and where an exercise is written, as the learner would type it.
"""

import time

import click
from rich.console import Console
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table

from grader.commands import CourseContext, pass_course
from grader.course.i18n import exercise_text, module_text
from grader.course.manifest import Exercise
from grader.learner.terminal import capstone_fields, exercise_file, next_exercise_line


AUDIENCE = "learner"   # in the student bundle, with --lang


def bar(done: float, total: float, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def next_step_lines(cc: CourseContext, exercise: Exercise) -> list[str]:
    """What to do for ``exercise``: read, write, check, and where help is."""
    keys = ("todo_read", "todo_capstone" if exercise.is_capstone else "todo_write", "todo_check",
            "todo_hint", "todo_watch")
    fields = capstone_fields(cc, exercise) if exercise.is_capstone else {}
    return [cc.t(key, id=exercise.id, file=exercise_file(cc, exercise), name=exercise.name, **fields) for key in keys]


@click.command("progress")
@pass_course
def command(cc: CourseContext) -> None:
    """How far you are: a bar per module, points, hints used, and what to do next.

    Progress is what `course check` (or `course watch`) last saw, kept in
    .course/state.json beside course.toml: reinstalling the course keeps it.
    """
    course = cc.course
    state = cc.state
    console = Console(highlight=False)
    table = Table(box=None, show_header=True, pad_edge=False, header_style="bold")
    widths = {"col_module": max(len(m.name) for m in course.modules), "col_progress": 12,
              "col_exercises": 5, "col_points": 7, "col_hints": 3}
    for key in widths:
        header = cc.t(key)
        table.add_column(header, no_wrap=True, min_width=max(cell_len(header), widths[key]),
                         justify="right" if key in ("col_exercises", "col_points", "col_hints") else "left")
    earned = 0.0
    hints_total = 0
    for module in course.modules:
        done = [ex for ex in module.exercises if ex.id in state.passed]
        points = sum(ex.points for ex in done)
        earned += points
        hints = sum(state.hints_shown.get(ex.id, 0) for ex in module.exercises)
        hints_total += hints
        colour = "green" if len(done) == len(module.exercises) else "cyan"
        table.add_row(module.name, f"[{colour}]{bar(len(done), len(module.exercises), 12)}[/]",
                      f"{len(done)}/{len(module.exercises)}",
                      f"{points:g}/{sum(ex.points for ex in module.exercises):g}",
                      str(hints) if hints else "")
    console.print(table)
    console.print()
    console.print(cc.t("progress_total", points=earned, total=course.total_points,
                       done=len(state.passed.keys() & {ex.id for ex in course.exercises}),
                       exercises=len(course.exercises), hints=hints_total))
    console.print(next_exercise_line(cc, "progress_next", "course_done"))


def show_overview(cc: CourseContext) -> None:
    """`course` with no command: a greeting the first time, where the learner is (module,
    next exercise, the course's bar) and the commands for the next step."""
    course = cc.course
    state = cc.state
    console = Console(highlight=False)
    console.print(f"[bold]{escape(course.title)}[/] {escape(course.version)}")
    if state.is_new:
        console.print()
        console.print(cc.t("welcome"))
        state.greeted = time.time()
        state.save()
    ids = {ex.id for ex in course.exercises}
    done = len(state.passed.keys() & ids)
    earned = sum(ex.points for ex in course.exercises if ex.id in state.passed)
    console.print()
    console.print(cc.t("overview_progress", bar=bar(done, len(ids), 30), done=done, exercises=len(ids),
                       points=f"{earned:g}", total=f"{course.total_points:g}"))
    nxt = state.next_exercise(course)
    if nxt is None:
        console.print(cc.t("course_done"))
        return
    module = course.module(nxt.module)
    module_done = sum(ex.id in state.passed for ex in module.exercises)
    console.print(cc.t("overview_module", module=module.name,
                       title=escape(module_text(course, module.name, cc.lang).title),
                       done=module_done, exercises=len(module.exercises)))
    status = cc.t("overview_failing") if nxt.id in state.failed else ""
    console.print(cc.t("overview_next", id=nxt.id, title=escape(exercise_text(course, nxt.id, cc.lang).title),
                       status=status))
    console.print()
    console.print(cc.t("overview_todo"))
    for line in next_step_lines(cc, nxt):
        console.print(f"  {line}")


