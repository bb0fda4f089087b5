import click
from rich.console import Console

from grader.cli import CourseContext, pass_course
from grader.state import LearnerState


def bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


@click.command("progress")
@pass_course
def command(cc: CourseContext) -> None:
    """How far you are: a bar per module, points so far, and what to do next.

    Progress is what `course check` last saw, kept in .course/state.json.
    """
    course = cc.course
    state = LearnerState(course.root)
    console = Console()
    earned = 0.0
    width = max(len(m.name) for m in course.modules)
    for module in course.modules:
        done = [ex for ex in module.exercises if ex.id in state.passed]
        earned += sum(ex.points for ex in done)
        colour = "green" if len(done) == len(module.exercises) else "cyan"
        console.print(f"{module.name:<{width}}  [{colour}]{bar(len(done), len(module.exercises))}[/] "
                      f"{len(done)}/{len(module.exercises)}  {module.title}")
    console.print(f"\n{earned:g} of {course.total_points:g} points")
    nxt = state.next_exercise(course)
    if nxt:
        console.print(f"Next: [bold]{nxt.id}[/] ({nxt.title}) in exercises/{nxt.module}.py, "
                      f"then `course check {nxt.id}`.")
    else:
        console.print("[green]Every exercise passes. Well done![/]")
