import click
from rich.console import Console
from rich.markup import escape

from grader.commands import CourseContext, pass_course, select_targets
from grader.course.manifest import Exercise
from grader.engine.grading import ExerciseResult
from grader.learner import warm
from grader.learner.terminal import capstone_fields, exercise_file, next_exercise_line, print_result, shown_path


AUDIENCE = "learner"   # in the student bundle, with --lang


def next_step(cc: CourseContext, exercise: Exercise, result: ExerciseResult) -> str:
    """What to do about the first failing ``exercise`` (the one that blocks the checked one,
    if any): it points at the file that failed, which is not always the exercise's own."""
    if result.failed_file and not result.blocked_by:
        file = shown_path(cc, cc.course.root / "exercises" / result.failed_file)
        return cc.t("check_next_import", file=file, id=result.id)
    if exercise.is_capstone:
        return cc.t("check_next_capstone", id=exercise.id, **capstone_fields(cc, exercise))
    if result.raised_in and not result.blocked_by:
        raised_in = shown_path(cc, cc.course.root / "exercises" / result.raised_in)
        return cc.t("check_next_raised_in", raised_in=raised_in, name=exercise.name,
                    file=exercise_file(cc, exercise), id=exercise.id)
    key = "check_next_write" if result.not_written and not result.blocked_by else "check_next_fix"
    return cc.t(key, name=exercise.name, file=exercise_file(cc, exercise), id=exercise.id)


@click.command("check")
@click.argument("exercises", metavar="[ID]...", nargs=-1)
@click.option("--all", "keep_going", is_flag=True, help="Go on after the first failing exercise.")
@pass_course
def command(cc: CourseContext, exercises: tuple[str, ...], keep_going: bool) -> None:
    """Run the visible checks on your exercises/.

    \b
    course check                    every exercise, up to the first that fails
    course check rnn.rnn_forward    one exercise (rnn_forward alone will do)
    course check rnn                one module
    course check rnn_forward lstm   several, checked in course order
    course check 'lstm.*_backward'  a glob over exercise ids
    course check --all              every exercise, failing or not

    Your code runs in a separate process with a time limit, as in grading. The
    hidden checks used for grades test more cases than these: passing here is a
    good sign, not a promise. To check again on every save: `course watch`.

    The first check leaves a warm checker running in the background (torch
    imported once, not once per check), which later checks use and which
    leaves after 15 idle minutes. COURSE_WARM=0 checks in this process alone.
    """
    course = cc.course
    selected = select_targets(cc, exercises)    # an unknown ID fails, suggesting the closest
    folder = course.root / "exercises"
    if not folder.is_dir():
        raise click.ClickException(cc.t("no_exercises_folder", folder=folder))
    cc.state        # an unreadable state file is reported (and set aside) before any check runs
    checks = warm.checker(course, selected[0], many=len(selected) > 1)
    console = Console(highlight=False)
    failing = []
    verdicts: dict[str, bool] = {}      # what passes so far, as grading would find it
    try:
        for ex in selected:
            with console.status(escape(cc.t("checking", id=ex.id))):
                result = checks.check(ex, folder, verdicts)
            state = cc.reload_state()       # as it is on disk now: another terminal may have shown a hint
            if result.graded:   # the grader's own failure says nothing of the learner's code
                state.record_check(ex.id, result.passed)
                state.save()
            print_result(console, cc, result)
            if not result.passed:
                # what blocks it is what to fix first
                failing.append((course.exercise(result.blocked_by[0]) if result.blocked_by else ex, result))
                if not keep_going and len(selected) > 1:
                    break
    finally:
        checks.close()
    console.print()
    if failing:
        console.print(next_step(cc, *failing[0]))
        raise SystemExit(1)
    console.print(next_exercise_line(cc, "check_all_pass_next", "check_course_done"))
