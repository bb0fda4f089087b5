import click
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.commands import CourseContext, pass_course
from grader.course.i18n import exercise_text, module_text


AUDIENCE = "learner"   # in the student bundle, with --lang


@click.command("list")
@pass_course
def command(cc: CourseContext) -> None:
    """List the modules and exercises in course order, with points and your status.

    `course explain ID` prints the instructions of one of them.
    """
    course = cc.course
    state = cc.state
    # ids are what learners type: never cut, never wrapped; a title too long for the
    # terminal is cut instead (`course explain ID` shows it whole)
    table = Table(title=f"{course.title} {course.version}", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    done, failing = cc.t("status_done"), cc.t("status_failing")
    id_width = max(cell_len(text) for text in [*(ex.id for ex in course.exercises), *(m.name for m in course.modules)])
    points_width = max(cell_len(cc.t("col_points")), *(len(f"{ex.points:g}") for ex in course.exercises))
    status_width = max(cell_len(text) for text in (cc.t("col_status"), done, failing))
    console = Console()
    # four columns: three separators, each a space after a space of padding
    what_width = max(12, console.width - id_width - points_width - status_width - 3 * 2)
    table.add_column(cc.t("col_exercise"), no_wrap=True, min_width=id_width)
    table.add_column(cc.t("col_what"), no_wrap=True, overflow="ellipsis", max_width=what_width)
    table.add_column(cc.t("col_points"), justify="right", no_wrap=True, min_width=points_width)
    table.add_column(cc.t("col_status"), no_wrap=True, min_width=status_width)
    for module in course.modules:
        table.add_section()
        table.add_row(f"[bold]{module.name}[/]", f"[bold]{escape(module_text(course, module.name, cc.lang).title)}[/]",
                      "", "")
        for ex in module.exercises:
            status = f"[green]{done}[/]" if ex.id in state.passed else (
                f"[red]{failing}[/]" if ex.id in state.failed else "")
            table.add_row(ex.id, escape(exercise_text(course, ex.id, cc.lang).title), f"{ex.points:g}", status)
    console.print(table)
