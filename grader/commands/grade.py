import re
import shlex
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.commands import CourseContext, pass_course
from grader.course.i18n import Count, counted
from grader.course.manifest import Course
from grader.engine.grading import ATTEMPTS
from grader.instructor.class_grading import grade_class
from grader.instructor.cluster import ClusterError, connect, disconnect, grade_on_cluster
from grader.instructor.feedback import clean_text
from grader.instructor.gradebook import Gradebook
from grader.instructor.insights import class_insights, summary_lines, write_insights
from grader.instructor.report import SIMILARITY_HTML, remove_leftovers, write_class_pictures, write_grades_csv
from grader.instructor.similarity import THRESHOLD as SIMILARITY_THRESHOLD
from grader.instructor.similarity import SimilarityUnavailable, copydetect_present, find_similar
from grader.instructor.similarity import summary_lines as similarity_lines
from grader.instructor.submission import SubmissionResult, given_name, name_refusal, submission_name

AUDIENCE = "instructor"   # left out of the student bundle; English only


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@click.command("grade")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The gradebook folder: <name>/results.json, feedback, grades.csv, charts. Grading "
                   "again into the same folder grades only what is missing or changed.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
              help="How many submissions to grade at a time, each in a grading process of its own (one core each).")
@click.option("--only", "only", default=None, metavar="PATTERN",
              help="Grade only exercises whose id matches this glob (e.g. 'rnn.*') or module name.")
@click.option("--force", is_flag=True,
              help="Grade the selected exercises of the given submissions again, even if OUT holds "
                   "results for the same files.")
@click.option("--time-limit", type=click.FloatRange(0.5, 3600), default=None,
              help="CPU seconds of learner code per exercise (default: from course.toml); start-up "
                   "and the checks' own work are not counted. An exercise with a limit of its own in "
                   "course.toml (the capstone trains a model) keeps it.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Grade on a Dask cluster: the scheduler's address (tcp://host:8786), or local:N for N "
                   "worker processes here. Every worker needs this course installed. Replaces --jobs.")
@click.option("--similarity", is_flag=True,
              help="Also compare the submissions' code, file by file, stubs excluded (copydetect): the pairs "
                   "most alike are printed and OUT/similarity.html shows them side by side.")
@pass_course
def command(cc: CourseContext, submissions: tuple[Path, ...], out: Path, jobs: int, only: str | None,
            force: bool, time_limit: float | None, scheduler: str | None, similarity: bool) -> None:
    """Grade SUBMISSIONS (folders or .zip files) against the hidden suites.

    Each submission is a copy of exercises/ (or a folder or zip holding one). It is
    graded exercise by exercise in separate worker processes, with the reference
    versions of the exercises each one builds on, so one bug costs one exercise.

    \b
    Writes, under OUT:
      <name>/results.json   Gradescope format, Markdown feedback per exercise
      <name>/feedback.md    the same feedback to hand out, with the first hint
      <name>/feedback.html  of each failed exercise (never test code)
      grades.csv            one row per submission, one column per exercise
      scores_histogram.png  total scores of the class, and per exercise the
      pass_rates.png        fraction that passed (for two submissions or more)
      insights.md           what the class got wrong: every hidden check, most
      insights.csv          failed first, with a representative message
      similarity.html       with --similarity: pairs of submissions whose code
                            is unusually alike, side by side

    OUT is a gradebook that nothing is lost from. Each result is saved (in
    OUT/<name>/.grading.json) as soon as it is known, keyed by the submission's
    files, the exercise, the course (course.toml, hidden suites, solutions), the
    grader's version and --time-limit. Running the same command again, after a
    crash, Ctrl-C or a kill, grades only what has no result yet; a submission
    whose files changed is graded again (its old results are dropped); an
    unchanged one is not. A submission's results.json and row of grades.csv hold
    every exercise it has a valid result for in OUT, from any run.

    A submission is never graded over the gradebook's own files: one whose name is
    empty, starts with a dot, or is grades.csv, scores_histogram.png or
    pass_rates.png is not graded; it gets a note and zeros under refused_<name>.
    Whatever one submission holds, and whatever goes wrong while it is graded, costs
    only that submission (with a note); the batch goes on.

    Exit status 0 when every submission was graded, whatever the scores; 1 when
    the grader could not run some exercise for reasons of its own (a worker that
    would not start, three times): nothing is stored for it, and the same command
    again grades what is missing.

    \b
    Examples:
      course grade examples/class/* --out grades --jobs 2
          grade a class (again: resumes a killed run; a no-op if done)
      course grade late/bob.zip --out grades
          add or update one submission
      course grade subs/* --out grades --only 'lstm.*'
          some exercises (globs, commas)
      course grade subs/ann --out grades --only rnn --force
          grade these again anyway
    """
    course = cc.course
    exercises = course.select(only)
    if not exercises:
        raise click.ClickException(f"no exercise matches {only!r}; `course list` shows them all")
    if similarity:
        try:
            copydetect_present()
        except SimilarityUnavailable as exc:      # said before grading, not after an hour of it
            raise click.ClickException(str(exc)) from None
    names = [submission_name(p) for p in submissions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise click.ClickException(f"two submissions share the name {duplicates[0]!r}; results would overwrite each other")
    book = Gradebook(out, course, time_limit=time_limit, force=force)
    client = None
    if scheduler:
        try:
            client = connect(scheduler)
        except ClusterError as exc:
            raise click.ClickException(str(exc)) from None
    console = Console(stderr=True)
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("exercises"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    finished = 0

    def one_more() -> None:
        nonlocal finished
        finished += 1
        progress.advance(task)

    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("grade", total=len(submissions) * len(exercises))
            if client is not None:
                results = grade_on_cluster(client, course, list(submissions), exercises, book, time_limit,
                                           on_exercise=one_more)
            else:
                results = grade_class(course, list(submissions), exercises, book, jobs, time_limit,
                                      on_exercise=one_more)
    except KeyboardInterrupt:
        _interrupted(cc, finished, len(submissions) * len(exercises), submissions, out, jobs, only, force,
                     time_limit, scheduler)
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if client is not None:
            disconnect(client)

    remove_leftovers(out)
    records = book.records()
    everyone = _class_results(records, results)
    write_grades_csv(out, course.exercises, everyone)
    pictures = write_class_pictures(out, course, everyone)
    write_insights(out, course, everyone)
    _print_summary(course, results, everyone, len(exercises))
    stale = [r for r in records if r.stale() and r.name not in set(names)]
    if stale:
        n = Count(len(stale))
        click.echo(f"note: {counted(n.n, 'submission')} in {out} {n:holds|hold} results of another version of "
                   f"the course or grader, left out of grades.csv (e.g. {clean_text(stale[0].name)}); grade "
                   f"{n:it|them} again into {out}", err=True)
    refused = [path for path in submissions if name_refusal(given_name(path))]
    if refused:
        n = Count(len(refused))
        click.echo(f"note: {counted(n.n, 'submission')} {n:was|were} not graded for {n:its name|their names} "
                   f"(e.g. {clean_text(str(refused[0]))}, under {clean_text(submission_name(refused[0]))}); "
                   f"rename {n:it|them} and grade {n:it|them} again", err=True)
    drawn = "".join(f"{picture.name}, " for picture in pictures)
    click.echo(f"wrote {out / 'grades.csv'} ({counted(len(everyone), 'submission')}), {len(results)} results.json, "
               f"feedback.md and feedback.html files, {drawn}and insights.md (what the class got wrong) under {out}")
    if similarity:
        _report_similarity(course, submissions, out)
    _fail_if_incomplete(results)


def _report_similarity(course: Course, submissions: tuple[Path, ...], out: Path) -> None:
    click.echo(f"comparing the code of {counted(len(submissions), 'submission')} (stubs excluded) ...", err=True)
    pairs = find_similar(course, list(submissions), out)
    if pairs:
        click.echo(f"{counted(len(pairs), 'pair')} of submissions with files alike above "
                   f"{SIMILARITY_THRESHOLD:.0%} (alike is not copied: read them side by side):")
        for line in similarity_lines(pairs, len(course.module_names)):
            click.echo("  " + terminal_text(line))
    else:
        click.echo(f"no two submissions have a file alike above {SIMILARITY_THRESHOLD:.0%}")
    click.echo(f"wrote {out / SIMILARITY_HTML}")


def _interrupted(cc: CourseContext, finished: int, total: int, submissions: tuple[Path, ...], out: Path,
                 jobs: int, only: str | None, force: bool, time_limit: float | None, scheduler: str | None) -> None:
    """Ctrl-C: what is kept (every result is stored as soon as it is known) and the command
    that grades the rest; exit status 130, as for any program stopped by Ctrl-C."""
    command = ["course"]
    if cc.explicit_root is not None:
        command += ["--course", str(cc.explicit_root)]
    command += ["grade", *map(str, submissions), "--out", str(out)]
    if scheduler:
        command += ["--scheduler", scheduler]
    elif jobs != 1:
        command += ["--jobs", str(jobs)]
    if only:
        command += ["--only", only]
    if force:
        command += ["--force"]
    if time_limit is not None:
        command += ["--time-limit", f"{time_limit:g}"]
    again = ("To grade them all again, as --force asks, run the same command (without --force it would "
             "grade only what has no result, keeping the earlier results of the rest):" if force else
             "To grade what is missing, and only that, run the same command again:")
    click.echo(f"\nInterrupted. {finished} of {counted(total, 'exercise result')} of this run are saved in {out}, "
               "each stored as soon as it was known; the ones being graded when you pressed Ctrl-C are not. "
               f"{again}\n  {shlex.join(command)}", err=True)
    raise SystemExit(130)


def _fail_if_incomplete(results: list[SubmissionResult]) -> None:
    """Exercises the grader could not grade are not scores: say which, and exit 1."""
    missing = [(r.name, exercise, fault) for r in results for exercise, fault in r.not_graded.items()]
    if not missing:
        return
    name, exercise, fault = missing[0]
    click.echo(f"incomplete: {counted(len(missing), 'exercise result')} could not be made, for the grader's reasons "
               f"(tried {ATTEMPTS} times), e.g. {terminal_text(name)} {exercise}: {clean_text(fault)}. "
               "Nothing is stored for them and they are not in grades.csv: run the same command again "
               "to grade what is missing.", err=True)
    raise SystemExit(1)


def _class_results(records, results: list[SubmissionResult]) -> list[SubmissionResult]:
    """Everyone in the gradebook with a result, by record; a submission of this run whose
    grading failed before anything was stored is there too, with its zeros and note."""
    everyone = {r.name: SubmissionResult(r.name, r.results(), r.notes) for r in records}
    everyone = {name: r for name, r in everyone.items() if r.exercises}
    for result in results:
        if result.name not in everyone and result.exercises:
            everyone[result.name] = result
    return list(everyone.values())


def terminal_text(text: str) -> str:
    """Text from a submission as Rich shows it: itself, never markup or control codes."""
    return escape(_CONTROL.sub(" ", clean_text(text)))


def _print_summary(course: Course, results: list[SubmissionResult], everyone: list[SubmissionResult],
                   per_submission: int) -> None:
    reused = sum(r.reused for r in results)
    table = Table(title=f"{counted(len(results), 'submission')} graded", title_justify="left")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("passed", justify="right")
    table.add_column("notes")
    for result in results:
        passed = sum(e.passed for e in result.exercises)
        table.add_row(terminal_text(result.name), f"{result.score:g}/{result.max_score:g}",
                      f"{passed}/{len(result.exercises)}", terminal_text("; ".join(result.notes)[:80]))
    console = Console()
    console.print(table)
    total = len(results) * per_submission
    click.echo(f"exercise results: {total - reused} graded now, {reused} reused from earlier runs")
    if everyone:
        mean = sum(r.score for r in everyone) / len(everyone)
        top = max(r.max_score for r in everyone)
        click.echo(f"class mean: {mean:.2f}/{top:g} over {counted(len(everyone), 'submission')} in the gradebook")
        modules = Table(title="pass rate per module (whole gradebook)", title_justify="left")
        modules.add_column("module")
        modules.add_column("pass rate", justify="right")
        modules.add_column("exercises passed", justify="right")
        for module in course.modules:
            ids = {ex.id for ex in module.exercises}
            outcomes = [ex.passed for r in everyone for ex in r.exercises if ex.id in ids]
            if outcomes:
                modules.add_row(module.name, f"{sum(outcomes) / len(outcomes):.0%}", f"{sum(outcomes)}/{len(outcomes)}")
        console.print(modules)
        insights, _ = class_insights(course, everyone)
        if insights:
            click.echo("most failed checks (failed/attempted), the whole list in insights.md:")
            for line in summary_lines(insights):
                click.echo("  " + terminal_text(line))
