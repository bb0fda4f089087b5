import click
from rich.console import Console
from rich.markup import escape

from grader.checks import shown_title
from grader.cli import CourseContext, pass_course
from grader.grading import ExerciseResult, GradingContext, grade_in_order, stand_in_note
from grader.commands.progress import exercise_file, is_capstone, select_targets
from grader.i18n import exercise_text
from grader.manifest import Exercise


def print_result(console: Console, cc: CourseContext, result: ExerciseResult) -> None:
    """One exercise's outcome, as `course check` and `course watch` show it.

    The checks' own words (their titles, "got ... expected ...") come from suites/ and
    stay English in every language; only the frame around them is translated."""
    done = sum(c.passed for c in result.checks)
    counts = cc.t("check_counts", passed=done, total=len(result.checks))
    if result.passed:
        console.print(f"[green]✓[/] {result.id}  [dim]{escape(counts)}[/]")
        return
    console.print(f"[red]✗[/] {result.id}  [dim]{escape(counts)}[/]")
    if result.blocked_by:
        console.print("    [red]" + escape(cc.t("check_blocked", names=", ".join(result.blocked_by),
                                                first=result.blocked_by[0])) + "[/]")
    elif result.problem:
        console.print(f"    [red]{escape(result.problem)}[/]")
    if result.stood_in:
        console.print(f"    [yellow]{escape(stand_in_note(result.stood_in))}[/]")
    for outcome in result.checks:
        if outcome.passed:
            console.print(f"    [green]✓[/] {escape(shown_title(outcome, result.checks))}")
        else:
            console.print(f"    [red]✗ {escape(outcome.title)}[/]")
            for line in outcome.feedback.splitlines():
                console.print(f"        {escape(line)}")


def select_or_fail(cc: CourseContext, patterns: tuple[str, ...]) -> list[Exercise]:
    """What `course check ID...` means (every exercise without ID); an unknown ID is an
    error that suggests the closest ones."""
    return select_targets(cc, patterns)


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
    """
    course = cc.course
    selected = select_or_fail(cc, exercises)
    folder = course.root / "exercises"
    if not folder.is_dir():
        raise click.ClickException(cc.t("no_exercises_folder", folder=folder))
    cc.state        # an unreadable state file is reported (and set aside) before any check runs
    # one exercise runs a worker or two: a warm-up would cost more than it saves
    ctx = GradingContext.for_course(course, kind="visible", warm_up=len(selected) > 1)
    ctx.start_early(selected[0])
    console = Console(highlight=False)
    failing = []
    verdicts: dict[str, bool] = {}      # what passes so far, as grading would find it
    try:
        for ex in selected:
            with console.status(escape(cc.t("checking", id=ex.id))):
                result = grade_in_order(ctx, ex, folder, verdicts)
            state = cc.reload_state()       # as it is on disk now: another terminal may have shown a hint
            if result.graded:   # the grader's own failure says nothing of the learner's code
                state.record_check(ex.id, result.passed)
                state.save()
            print_result(console, cc, result)
            if not result.passed:
                # what blocks it is what to fix first
                failing.append(course.exercise(result.blocked_by[0]) if result.blocked_by else ex)
                if not keep_going and len(selected) > 1:
                    break
    finally:
        ctx.close()
    console.print()
    if failing:
        first = failing[0]
        key = "check_next_capstone" if is_capstone(cc, first) else "check_next_fix"
        console.print(cc.t(key, name=first.name, file=exercise_file(cc, first), id=first.id))
        raise SystemExit(1)
    nxt = state.next_exercise(course)
    if nxt:
        title = exercise_text(course, nxt.id, cc.lang).title
        console.print(cc.t("check_all_pass_next", id=nxt.id, title=escape(title), file=exercise_file(cc, nxt)))
    else:
        console.print(cc.t("check_course_done"))
