import click
from rich.console import Console
from rich.table import Table

from grader.cli import CourseContext, pass_course
from grader.state import LearnerState


@click.command("list")
@pass_course
def command(cc: CourseContext) -> None:
    """List the modules and exercises in course order, with points and your status."""
    course = cc.course
    state = LearnerState(course.root)
    table = Table(title=f"{course.title} {course.version}", title_justify="left")
    table.add_column("exercise")
    table.add_column("what")
    table.add_column("points", justify="right")
    table.add_column("status")
    for module in course.modules:
        table.add_section()
        for ex in module.exercises:
            status = "[green]✓ done[/]" if ex.id in state.passed else ("[red]✗ failing[/]" if ex.id in state.failed else "")
            table.add_row(ex.id, ex.title, f"{ex.points:g}", status)
    Console().print(table)
