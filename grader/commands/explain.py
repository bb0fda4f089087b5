import click
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from grader.commands import CourseContext, pass_course, resolve_targets
from grader.course.i18n import exercise_text, module_text
from grader.learner.terminal import capstone_fields, exercise_file


AUDIENCE = "learner"   # in the student bundle, with --lang


@click.command("explain")
@click.argument("targets", metavar="[ID]...", nargs=-1)
@pass_course
def command(cc: CourseContext, targets: tuple[str, ...]) -> None:
    """Print the intro of a module or the instructions of an exercise, in your language.

    The stubs' docstrings in exercises/ are English; this prints the same texts in
    the language you chose (--lang, $COURSE_LANG or course.toml), with code,
    shapes and formulas unchanged. Without ID: the exercise you are on. An
    exercise's bare name will do when no other module has it (rnn_backward).

    \b
    course explain rnn                      the rnn module: the idea, the shapes
    course explain rnn.rnn_backward         what rnn_backward takes and returns
    course explain rnn_forward rnn_backward several, one after the other
    course explain attention --lang ko      in Korean
    """
    console = Console(highlight=False)
    for number, found in enumerate(resolve_targets(cc, targets, modules=True)):
        if number:
            console.print()
        _explain(console, cc, found)


def _explain(console: Console, cc: CourseContext, found) -> None:
    course = cc.course
    if isinstance(found, str):
        text = module_text(course, found, cc.lang)
        body = Text(text.intro) if text.intro else Text(cc.t("no_intro"), style="dim")
        console.rule(f"[bold]{found}[/]: {escape(text.title)}", align="left")
        console.print(body, soft_wrap=True)   # the terminal wraps: line structure and diagrams stay
        console.print()
        console.print(cc.t("explain_exercises"))
        state = cc.state
        exercises = course.module(found).exercises
        width = max(len(ex.id) for ex in exercises)
        for ex in exercises:
            mark = "[green]✓[/]" if ex.id in state.passed else " "
            console.print(f"  {mark} {ex.id:<{width}}  {escape(exercise_text(course, ex.id, cc.lang).title)}")
        console.print(cc.t("explain_module_next", id=course.module(found).exercises[0].id))
        return
    ex = found
    text = exercise_text(course, ex.id, cc.lang)
    body = Text(text.instructions) if text.instructions else Text(cc.t("no_instructions"), style="dim")
    where = cc.t("explain_where_capstone", **capstone_fields(cc, ex)) if ex.is_capstone else cc.t(
        "explain_where", file=exercise_file(cc, ex), name=ex.name)
    points = escape(cc.t("explain_points", points=ex.points))
    console.rule(f"[bold]{ex.id}[/]: {escape(text.title)} [dim]({points})[/]", align="left")
    console.print(where)
    console.print()
    console.print(body, soft_wrap=True)
    console.print()
    console.print(cc.t("explain_next", id=ex.id))
