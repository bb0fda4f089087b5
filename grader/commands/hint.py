import click
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from grader.cli import CourseContext, pass_course
from grader.commands.progress import resolve_target
from grader.i18n import exercise_text


def show_hint(console: Console, cc: CourseContext, exercise_id: str, level: int | None = None) -> int:
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


@click.command("hint")
@click.argument("exercise", required=False)
@click.option("--level", type=int, default=None, help="Show this hint level (1 = the gentlest).")
@click.option("--reset", is_flag=True, help="Forget which hints were shown for this exercise.")
@pass_course
def command(cc: CourseContext, exercise: str | None, level: int | None, reset: bool) -> None:
    """Show the next hint for EXERCISE, such as rnn.rnn_forward (default: the one you are on).

    Each call shows one level more than the last; each level is more specific.
    The last one is close to pseudo-code. Try the exercise between hints.

    \b
    course hint rnn.rnn_forward             the next level
    course hint rnn.rnn_forward --level 1   the first one again
    course --lang ko hint rnn.rnn_forward   in Korean (or: export COURSE_LANG=ko)
    """
    ex = resolve_target(cc, exercise)
    state = cc.state
    if reset:
        state.hints_shown.pop(ex.id, None)
        state.save()
        click.echo(cc.t("hint_reset", id=ex.id))
        return
    total = len(ex.hints)
    if level is not None and not 1 <= level <= total:
        raise click.BadParameter(cc.t("hint_level_range", id=ex.id, total=total), param_hint="--level")
    console = Console(highlight=False)
    if exercise is None:
        console.print(cc.t("hint_for_current", id=ex.id))
    shown = show_hint(console, cc, ex.id, level)
    if shown < total:
        console.print(cc.t("hint_more", id=ex.id, next=shown + 1))
    else:
        console.print(cc.t("hint_last"))
