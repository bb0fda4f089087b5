import click
from rich.console import Console
from rich.markup import escape

from grader.commands import CourseContext, pass_course, resolve_targets
from grader.course.i18n import exercise_text
from grader.learner.terminal import show_hint


AUDIENCE = "learner"   # in the student bundle, with --lang


@click.command("hint")
@click.argument("exercises", metavar="[ID]...", nargs=-1)
@click.option("--level", type=int, default=None, help="Show this hint level (1 = the gentlest).")
@click.option("--reset", is_flag=True, help="Forget which hints were shown for this exercise.")
@pass_course
def command(cc: CourseContext, exercises: tuple[str, ...], level: int | None, reset: bool) -> None:
    """Show the next hint for ID, such as rnn.rnn_forward (default: the one you are on).

    Each call shows one level more than the last; each level is more specific.
    The last one is close to pseudo-code. Try the exercise between hints. ID may
    be a module (its first exercise you have not passed) or an exercise's bare
    name when no other module has it; several IDs show a hint for each.

    \b
    course hint rnn.rnn_forward             the next level
    course hint rnn.rnn_forward --level 1   the first one again
    course hint rnn_forward rnn_backward    one hint for each
    course hint rnn.rnn_forward --lang ko   in Korean (or: export COURSE_LANG=ko)
    """
    course = cc.course
    state = cc.state
    console = Console(highlight=False)
    targets = []
    for found in resolve_targets(cc, exercises, modules=True):
        if isinstance(found, str):      # a module: the exercise of it to work on, unless it is done
            left = [ex for ex in course.module(found).exercises if ex.id not in state.passed]
            targets.append(left[0] if left else found)
        else:
            targets.append(found)
    for ex in targets:
        if level is not None and not isinstance(ex, str) and not 1 <= level <= len(ex.hints):
            raise click.BadParameter(cc.t("hint_level_range", id=ex.id, total=len(ex.hints)), param_hint="--level")
    for ex in targets:
        if isinstance(ex, str):
            _module_done(console, cc, ex)
        elif reset:
            state.hints_shown.pop(ex.id, None)
            state.save()
            console.print(cc.t("hint_reset", id=ex.id))
        else:
            if not exercises:
                console.print(cc.t("hint_for_current", id=ex.id))
            shown = show_hint(console, cc, ex.id, level)
            if shown < len(ex.hints):
                console.print(cc.t("hint_more", id=ex.id, next=shown + 1))
            else:
                console.print(cc.t("hint_last"))


def _module_done(console: Console, cc: CourseContext, module: str) -> None:
    """`course hint MODULE` when every exercise of it passes: no hint, but what is next."""
    nxt = cc.state.next_exercise(cc.course)
    if nxt is None:
        console.print(cc.t("hint_module_done_course_done", module=module))
        return
    title = exercise_text(cc.course, nxt.id, cc.lang).title
    console.print(cc.t("hint_module_done", module=module, id=nxt.id, title=escape(title)))
