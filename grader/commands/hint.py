import difflib

import click
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel

from grader.cli import CourseContext, pass_course
from grader.state import LearnerState


@click.command("hint")
@click.argument("exercise")
@click.option("--level", type=int, default=None, help="Show this hint level (1 = the gentlest).")
@click.option("--reset", is_flag=True, help="Forget which hints were shown for this exercise.")
@pass_course
def command(cc: CourseContext, exercise: str, level: int | None, reset: bool) -> None:
    """Show the next hint for EXERCISE, such as rnn.rnn_forward.

    Each call shows one level more than the last; each level is more specific.
    The last one is close to pseudo-code. Try the exercise between hints.
    """
    course = cc.course
    ids = [ex.id for ex in course.exercises]
    if exercise not in ids:
        close = difflib.get_close_matches(exercise, ids, n=3, cutoff=0.5)
        suggestion = f" Did you mean {', '.join(close)}?" if close else " `course list` shows them all."
        raise click.ClickException(f"no exercise {exercise!r}.{suggestion}")
    ex = course.exercise(exercise)
    state = LearnerState(course.root)
    if reset:
        state.hints_shown.pop(exercise, None)
        state.save()
        click.echo(f"hints for {exercise} reset")
        return
    shown = state.hints_shown.get(exercise, 0)
    if level is None:
        level = min(shown + 1, len(ex.hints))
    if not 1 <= level <= len(ex.hints):
        raise click.BadParameter(f"{exercise} has hint levels 1 to {len(ex.hints)}", param_hint="--level")
    state.hints_shown[exercise] = max(shown, level)
    state.save()
    console = Console()
    console.print(Panel(Markdown(ex.hints[level - 1]), title=f"{exercise}: hint {level} of {len(ex.hints)}",
                        title_align="left"))
    if level < len(ex.hints):
        console.print(f"Still stuck? `course hint {exercise}` again shows hint {level + 1}.")
    else:
        console.print("That was the last hint.")
