import click

from grader.commands import CourseContext, pass_course
from grader.course.sync import find_drift, write_stubs


AUDIENCE = "instructor"   # left out of the student bundle; English only


@click.command("sync")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; fail if the stubs in exercises/ (as committed, for a file that holds "
                   "your work) differ from what solutions/ generates.")
@click.option("--force", is_flag=True,
              help="Replace files that hold your own work too, after copying them to .course/backup/.")
@pass_course
def command(cc: CourseContext, check_only: bool, force: bool) -> None:
    """Regenerate the stubs in exercises/ from solutions/ (for course developers).

    solutions/ is the one source of truth: each region between `# BEGIN SOLUTION`
    and `# END SOLUTION` becomes a `raise NotImplementedError` that points at
    `course hint`. CI runs `course sync --check`.

    A file in exercises/ where some exercise is no longer its stub holds a
    learner's work: it is never overwritten, unless with --force, which copies it
    to .course/backup/<time>/ first.
    """
    course = cc.course
    try:
        if check_only:
            drift = find_drift(course)
            if drift:
                for item in drift:
                    click.echo(f"{item.path.relative_to(course.root)}: {item.reason}", err=True)
                raise click.ClickException("exercises/ is out of date; run `course sync`")
            click.echo("exercises/ matches solutions/")
            return
        result = write_stubs(course, force=force)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for path in result.written:
        click.echo(f"wrote {path.relative_to(course.root)}")
    if result.backup is not None:
        click.echo(f"your own versions of those files are in {result.backup.relative_to(course.root)}/")
    if result.kept:
        names = ", ".join(str(p.relative_to(course.root)) for p in result.kept)
        click.echo(f"left alone, since they hold your own work: {names}; `course sync --force` replaces "
                   "them too, after copying them to .course/backup/", err=True)
    if not result.written and not result.kept:
        click.echo("exercises/ was already up to date")
