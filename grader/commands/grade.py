from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from grader.cli import CourseContext, pass_course
from grader.grading import GradingContext
from grader.report import write_grades_csv, write_results
from grader.submission import grade_submission, submission_name


@click.command("grade")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write <name>/results.json and grades.csv.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
              help="How many submissions to grade at a time (one core each).")
@click.option("--only", "only", default=None, metavar="PATTERN",
              help="Grade only exercises whose id matches this glob (e.g. 'rnn.*') or module name.")
@click.option("--time-limit", type=click.FloatRange(0.5, 3600), default=None,
              help="Seconds of learner code per exercise (default: from course.toml).")
@pass_course
def command(cc: CourseContext, submissions: tuple[Path, ...], out: Path, jobs: int, only: str | None,
            time_limit: float | None) -> None:
    """Grade SUBMISSIONS (folders or .zip files) against the hidden suites.

    Each submission is a copy of exercises/ (or a folder or zip holding one). It is
    graded exercise by exercise in separate worker processes, with the reference
    versions of the exercises each one builds on, so one bug costs one exercise.

    \b
    Writes  OUT/<name>/results.json   Gradescope format, feedback per exercise
            OUT/grades.csv            one row per submission, one column per exercise

    Exit status 0 when every submission was graded, whatever the scores.

    \b
    Example:  course grade examples/* --out grades --jobs 2
    """
    course = cc.course
    exercises = course.select(only)
    if not exercises:
        raise click.ClickException(f"no exercise matches {only!r}; `course list` shows them all")
    names = [submission_name(p) for p in submissions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise click.ClickException(f"two submissions share the name {duplicates[0]!r}; results would overwrite each other")
    ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
    console = Console(stderr=True)
    results = []
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("exercises"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("grade", total=len(submissions) * len(exercises))

        def one(path: Path):
            result = grade_submission(ctx, path, exercises, on_exercise=lambda *_: progress.advance(task))
            write_results(out, result)
            return result

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for result in pool.map(one, submissions):
                    results.append(result)
        finally:
            ctx.close()
    write_grades_csv(out, exercises, results)

    table = Table(title=f"{len(results)} submissions graded", title_justify="left")
    table.add_column("submission")
    table.add_column("score", justify="right")
    table.add_column("passed", justify="right")
    table.add_column("notes")
    for result in results:
        passed = sum(e.passed for e in result.exercises)
        table.add_row(result.name, f"{result.score:g}/{result.max_score:g}", f"{passed}/{len(result.exercises)}",
                      "; ".join(result.notes)[:80])
    Console().print(table)
    click.echo(f"wrote {out / 'grades.csv'} and {len(results)} results.json files under {out}")
