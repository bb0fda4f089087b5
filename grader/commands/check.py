import click
from rich.console import Console
from rich.markup import escape

from grader.cli import CourseContext, pass_course
from grader.grading import GradingContext, grade_exercise
from grader.state import LearnerState


@click.command("check")
@click.argument("exercise", required=False)
@click.option("--all", "keep_going", is_flag=True, help="Go on after the first failing exercise.")
@pass_course
def command(cc: CourseContext, exercise: str | None, keep_going: bool) -> None:
    """Run the visible checks on your exercises/.

    \b
    course check                    every exercise in course order, up to the first that fails
    course check rnn.rnn_forward    one exercise
    course check rnn                one module
    course check 'lstm.*_backward'  a glob over exercise ids

    Your code runs in a separate process with a time limit, as in grading. The
    hidden checks used for grades test more cases than these: passing here is a
    good sign, not a promise.
    """
    course = cc.course
    selected = course.select(exercise)
    if not selected:
        raise click.ClickException(f"no exercise matches {exercise!r}; `course list` shows them all")
    folder = course.root / "exercises"
    if not folder.is_dir():
        raise click.ClickException(f"{folder} does not exist; run `course sync` to create the stubs")
    ctx = GradingContext.for_course(course, kind="visible")
    state = LearnerState(course.root)
    console = Console(highlight=False)
    failing = []
    for ex in selected:
        with console.status(f"checking {ex.id} ..."):
            result = grade_exercise(ctx, ex, folder)
        state.record_check(ex.id, result.passed)
        state.save()
        done = sum(c.passed for c in result.checks)
        if result.passed:
            console.print(f"[green]✓[/] {ex.id}  [dim]{done}/{len(result.checks)} checks[/]")
            continue
        failing.append(ex)
        console.print(f"[red]✗[/] {ex.id}  [dim]{done}/{len(result.checks)} checks[/]")
        if result.problem:
            console.print(f"    [red]{escape(result.problem)}[/]")
        for outcome in result.checks:
            if outcome.passed:
                console.print(f"    [green]✓[/] {escape(outcome.title)}")
            else:
                console.print(f"    [red]✗ {escape(outcome.title)}[/]")
                for line in outcome.feedback.splitlines():
                    console.print(f"        {escape(line)}")
        if not keep_going and len(selected) > 1:
            break
    ctx.close()
    console.print()
    if failing:
        first = failing[0]
        console.print(f"Next: fix [bold]{first.name}[/] in exercises/{first.module}.py and run "
                      f"`course check {first.id}`. Stuck? `course hint {first.id}`.")
        raise SystemExit(1)
    nxt = state.next_exercise(course)
    if nxt:
        console.print(f"[green]All checked exercises pass.[/] Next: [bold]{nxt.id}[/] ({nxt.title}) "
                      f"in exercises/{nxt.module}.py.")
    else:
        console.print("[green]Every exercise of the course passes.[/]")
