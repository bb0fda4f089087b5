from pathlib import Path

import click

from grader.commands import CourseContext, pass_course
from grader.course.i18n import counted
from grader.instructor.nbexport import NbExportError, export_course


AUDIENCE = "instructor"   # left out of the student bundle; English only


@click.command("nbgrader")
@click.option("--out", "out", required=True, type=click.Path(file_okay=True, path_type=Path),
              help="The nbgrader course root to write. It must be empty or new, unless --force.")
@click.option("--course-id", default=None, metavar="ID",
              help="nbgrader's course id (default: from the course title, e.g. attention-from-scratch).")
@click.option("--only", default=None, metavar="MODULES",
              help="Write only these modules' assignments (comma-separated names, e.g. 'rnn,lstm').")
@click.option("--force", is_flag=True,
              help="Write into a non-empty OUT: replaces nbgrader_config.py and source/<module>/ of the "
                   "modules written; the gradebook, releases and submissions are kept.")
@pass_course
def command(cc: CourseContext, out: Path, course_id: str | None, only: str | None, force: bool) -> None:
    """Write the course as an nbgrader course root: one assignment per module.

    \b
    OUT/nbgrader_config.py
        course id, root, timeout, feedback settings, the assignments (a comment)
    OUT/source/<module>/<module>.ipynb
        the module's intro; a read-only cell with its imports and helpers; per
        exercise its instructions, a solution cell (### BEGIN SOLUTION) and a
        locked test cell worth the exercise's points: the visible checks, and in
        ### BEGIN HIDDEN TESTS the hidden ones, which alone give the score when
        nbgrader grades, shared by the checks' weights as in `course grade`
        (nbgrader reads the cell's value as partial credit)
    OUT/source/<module>/grader/, suites/visible/
        what the test cells import (a student's Jupyter needs numpy and torch)
    OUT/source/<module>/<earlier>.py
        the reference solutions of the earlier modules it imports (masking ships
        attention.py): students of a later assignment can read them, so release
        the assignments in course order

    The capstone has no notebook (it has no file; it assembles the learner's
    modules): grade it with `course grade` or the Gradescope autograder.

    nbgrader runs the student's code in the same kernel as the checks: it is
    fine for honest students, but unlike `course grade` nothing isolates the
    checks from the code they grade.

    \b
    The instructor's workflow, in OUT (needs `pip install nbgrader`):
      nbgrader generate_assignment rnn   the student version in release/rnn/
                                         (no solutions, no hidden tests)
      nbgrader release_assignment rnn    hand it out through the exchange (or
                                         give students the folder release/rnn/)
      nbgrader collect rnn               fetch submissions into
                                         submitted/<student>/rnn/
      nbgrader autograde rnn             run every notebook; scores: gradebook.db
      nbgrader generate_feedback rnn     HTML feedback, hidden tests left out
      nbgrader return_feedback rnn       hand feedback back via the exchange
      nbgrader export                    grades.csv: student by assignment
    An assignment id may be a glob: nbgrader autograde "*" grades everything.

    \b
    Examples:
      course nbgrader --out nbcourse
      course nbgrader --out nbcourse --only rnn,lstm --course-id seq101
      course nbgrader --out nbcourse --force     after changing the course
    """
    try:
        summary = export_course(cc.course, out, course_id=course_id, only=only, force=force)
    except NbExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out / 'nbgrader_config.py'} (course id {summary.course_id})")
    width = max((len(a.module) for a in summary.assignments), default=0) * 2 + 16
    for assignment in summary.assignments:
        shipped = (f"; ships the reference of {', '.join(assignment.earlier_modules)}"
                   if assignment.earlier_modules else "")
        notebook = f"source/{assignment.module}/{assignment.module}.ipynb"
        click.echo(f"  {notebook:<{width}} {counted(assignment.exercises, 'exercise')}, "
                   f"{counted(assignment.points, 'point')}{shipped}")
    if summary.left_out:
        click.echo(f"left out: {', '.join(summary.left_out)} (a capstone has no notebook; grade it with "
                   "`course grade` or the Gradescope autograder)")
    if any(a.earlier_modules for a in summary.assignments):
        click.echo("note: an assignment ships the reference solutions of the earlier modules it imports; "
                   "release the assignments in course order")
    first = summary.assignments[0].module if summary.assignments else "rnn"
    click.echo(f"next: cd {out} && nbgrader generate_assignment {first}   (see `course nbgrader --help`)")
