import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.cli import CourseContext, pass_course
from grader.i18n import exercise_text, module_text


@click.command("list")
@pass_course
def command(cc: CourseContext) -> None:
    """List the modules and exercises in course order, with points and your status.

    `course explain ID` prints the instructions of one of them.
    """
    course = cc.course
    state = cc.state
    table = Table(title=f"{course.title} {course.version}", title_justify="left")
    for key, justify in (("col_exercise", "left"), ("col_what", "left"), ("col_points", "right"),
                         ("col_status", "left")):
        table.add_column(cc.t(key), justify=justify)
    done, failing = cc.t("status_done"), cc.t("status_failing")
    for module in course.modules:
        table.add_section()
        table.add_row(f"[bold]{module.name}[/]", f"[bold]{escape(module_text(course, module.name, cc.lang).title)}[/]",
                      "", "")
        for ex in module.exercises:
            status = f"[green]{done}[/]" if ex.id in state.passed else (
                f"[red]{failing}[/]" if ex.id in state.failed else "")
            table.add_row(ex.id, escape(exercise_text(course, ex.id, cc.lang).title), f"{ex.points:g}", status)
    Console().print(table)
