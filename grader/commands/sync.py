import click

from grader.cli import CourseContext, pass_course
from grader.sync import find_drift, write_stubs


@click.command("sync")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; fail if exercises/ differs from what solutions/ generates.")
@pass_course
def command(cc: CourseContext, check_only: bool) -> None:
    """Regenerate the stubs in exercises/ from solutions/.

    solutions/ is the one source of truth: each region between `# BEGIN SOLUTION`
    and `# END SOLUTION` becomes a `raise NotImplementedError` that points at
    `course hint`. Never edit exercises/ by hand; CI runs `course sync --check`.
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
        written = write_stubs(course)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path.relative_to(course.root)}")
    if not written:
        click.echo("exercises/ was already up to date")
