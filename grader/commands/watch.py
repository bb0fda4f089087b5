import signal
import sys
import threading

import click
from rich.console import Console
from rich.markup import escape

from grader.commands import CourseContext, pass_course, resolve_target
from grader.engine.grading import GradingContext, LastingVerdicts, grade_in_order
from grader.learner.watch import fd_line_reader, live_events, watch


AUDIENCE = "learner"   # in the student bundle, with --lang


def _stdin_reader():
    """Lines from standard input; none at all when there is no standard input."""
    try:
        return fd_line_reader(sys.stdin.fileno())
    except (AttributeError, ValueError, OSError):
        return lambda: ""


@click.command("watch")
@click.argument("exercise", metavar="[ID]", required=False)
@pass_course
def command(cc: CourseContext, exercise: str | None) -> None:
    """Check an exercise every time you save, and move on when it passes.

    Runs the visible checks of ID (an exercise, or a module: its first exercise
    you have not passed), else of the exercise you are on, now and whenever a .py
    file in exercises/ is saved, and shows the result as `course check` does.
    When it passes, it is recorded and the next exercise is checked. When it
    fails, type h and Enter for the next hint, Enter alone to check again, and
    q and Enter (or Ctrl-C) to stop.

    \b
    course watch                      the exercise you are on, then the next ...
    course watch rnn.rnn_backward     start from this one
    course --lang ko watch            messages and hints in Korean
    """
    course = cc.course
    state = cc.state
    if exercise is None and state.next_exercise(course) is None:
        click.echo(cc.t("course_done_plain"))
        return
    start = resolve_target(cc, exercise, modules=True)
    if isinstance(start, str):   # a module: its first exercise not passed yet, else its first
        exercises = course.module(start).exercises
        start = next((ex for ex in exercises if ex.id not in state.passed), exercises[0])
    folder = course.root / "exercises"
    if not folder.is_dir():
        raise click.ClickException(cc.t("no_exercises_folder", folder=folder))
    console = Console(highlight=False)
    stop = threading.Event()
    ctx = None
    try:
        ctx = GradingContext.for_course(course, kind="visible")
        ctx.start_early(start)
        verdicts = LastingVerdicts(course, folder)

        def run_checks(ex):
            with console.status(escape(cc.t("checking", id=ex.id))):
                return grade_in_order(ctx, ex, folder, verdicts.current())

        events = live_events(folder, _stdin_reader(), stop)
        watch(cc, console, events, run_checks, start)
    except KeyboardInterrupt:   # before the loop started: still a clean goodbye
        click.echo(cc.t("watch_goodbye"))
    finally:
        stop.set()
        # a second Ctrl-C while the workers are being stopped would leave a traceback
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if ctx is not None:
                ctx.close()
        finally:
            signal.signal(signal.SIGINT, previous)
