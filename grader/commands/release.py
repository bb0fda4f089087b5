from pathlib import Path

import click
from rich.console import Console

from grader.commands import CourseContext, pass_course
from grader.course.i18n import counted
from grader.instructor.release import ReleaseError, build_release


AUDIENCE = "instructor"   # left out of the student bundle; English only


@click.command("release")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the bundle to (refused if it is not empty, unless --force).")
@click.option("--force", is_flag=True, help="Replace --out if it already holds something.")
@pass_course
def command(cc: CourseContext, out: Path, force: bool) -> None:
    """Write the student bundle: what learners get, and nothing they must not have.

    \b
    course release --out build/student
    cd build/student && git init && git add . && git commit -m "First commit"
    # learners: pip install -e . -c constraints.txt && course

    The bundle holds the stubs (exercises/), the visible checks, course.toml without
    grading details, the instructions and hints in every language, the reference
    pictures of `course show`, and the learner's commands (list, check, hint,
    progress, capstone, watch, show, notebook, ...). It holds no reference solution
    and no hidden check: before anything is written, the bundle is scanned for every
    line of every solution region and the name of every hidden check, and a bundle
    with either is refused.
    """
    course = cc.course
    console = Console(highlight=False)
    try:
        with console.status("building the release ...") as status:
            build_release(course, out, force=force, on_step=lambda name: status.update(f"release: {name} ..."))
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from None
    files = sum(1 for p in out.rglob("*") if p.is_file())
    console.print(f"wrote {out}: {counted(files, 'file')}, {counted(len(course.exercises), 'exercise')} in "
                  f"{counted(len(course.modules), 'module')}; no solution line, no hidden check name.")
