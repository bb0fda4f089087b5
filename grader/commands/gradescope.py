from pathlib import Path

import click

from grader.commands import CourseContext, pass_course
from grader.course.i18n import counted
from grader.instructor.gradescope import VISIBILITIES, AutograderError, build_autograder


AUDIENCE = "instructor"   # left out of the student bundle; English only


@click.command("gradescope")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write, e.g. autograder.zip.")
@click.option("--only", "only", default=None, metavar="PATTERN",
              help="Grade only exercises whose id matches this glob (e.g. 'rnn.*'), or a module name; "
                   "several separated by commas. Default: the whole course.")
@click.option("--time-limit", type=click.FloatRange(0.5, 3600), default=None,
              help="Seconds per exercise, instead of course.toml's (an exercise with a limit of its own "
                   "keeps it).")
@click.option("--visibility", type=click.Choice(VISIBILITIES), default="visible", show_default=True,
              help="When learners see their results on Gradescope.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@pass_course
def command(cc: CourseContext, out: Path, only: str | None, time_limit: float | None, visibility: str,
            force: bool) -> None:
    """Build a Gradescope autograder: a zip to upload to a Programming Assignment.

    The zip holds setup.sh and run_autograder at its top level, and the course
    source grading needs (course.toml, the grader, the reference solutions, the
    hidden suites: never tests or stubs). Gradescope runs setup.sh once to install
    the course (torch from its CPU wheels), then run_autograder for every
    submission: it grades /autograder/submission exactly as `course grade` does
    and writes results.json with one test per exercise, its Markdown feedback
    included. Learners upload their module files (rnn.py, ...), their exercises/
    folder, or one .zip of either.

    \b
    On Gradescope:
      1. Create a Programming Assignment worth the points this command prints.
      2. Configure Autograder: upload the zip (Ubuntu base image: setup.sh
         installs Python 3.11 if the image has nothing newer). Grading the
         whole course took 32 s on a 2-core machine and held up to 0.9 GB
         (torch in the grader, its fork server and a worker): give the
         container more than 1 GB of memory.
      3. Test Autograder with a copy of solutions/ (full marks) and of
         exercises/ (zero) before learners submit.

    \b
    Examples:
      course gradescope --out autograder.zip           the whole course
      course gradescope --out rnn.zip --only 'rnn.*'   one assignment per module
      course gradescope --out late.zip --only rnn --visibility after_due_date
      course gradescope --out autograder.zip --force   rebuild after a change
    """
    try:
        built = build_autograder(cc.course, out, only=only, time_limit=time_limit, visibility=visibility,
                                 force=force)
    except AutograderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {built.path} ({built.size / 1024:.0f} KiB, {counted(built.files, 'file')}): "
               f"{counted(len(built.exercises), 'exercise')} of {', '.join(built.modules)}, "
               f"{counted(built.points, 'point')}")
    click.echo(f"on Gradescope: a Programming Assignment worth {counted(built.points, 'point')}; upload {built.path.name} "
               "under Configure Autograder")
