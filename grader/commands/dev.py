import time

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.commands import CourseContext, pass_course

AUDIENCE = "instructor"   # left out of the student bundle; English only

# The summary is read in a terminal or a CI log: it never needs more.
WIDTH = 80


@click.group("dev")
def command() -> None:
    """Tools for course developers (not in the student release).

    \b
    course dev check   every cheap consistency rule, in seconds
    """


@command.command("check")
@pass_course
def check(cc: CourseContext) -> None:
    """Check every rule a new or changed exercise must keep, in seconds.

    It runs no course code and grades nothing: it reads course.toml, solutions/,
    exercises/, suites/, tests/variants/ and i18n/, and for each problem says
    which file to edit and what to add there. It exits with 1 on any problem.

    \b
    What an exercise needs, edited by hand:
      course.toml                 name, title, points, hints (each more specific)
      solutions/<module>.py       the reference, between # BEGIN/END SOLUTION
      suites/hidden/test_*.py     at least 3 @check("<module>.<exercise>")
      suites/visible/test_*.py    at least 1, named unlike every hidden check
      tests/variants/<module>.py  at least 3 WRONG and 1 RIGHT variant
      i18n/ko/<module>.toml       Korean title, instructions, every hint level
    Then `course sync` writes exercises/ and docs/api.md, and
    `python -m grader.course.translations stamp ko <module>` records the English
    that the Korean was translated from.

    \b
    The loop: course dev check (seconds), make test-fast (under 2 minutes),
    then make test (every test: grades every variant, trains the models).
    """
    from grader.instructor.devcheck import check_course, manifest_failed

    started = time.monotonic()
    try:
        course = cc.course
    except click.ClickException as exc:
        outcomes = manifest_failed(exc.format_message())
    else:
        outcomes = check_course(course)
    seconds = time.monotonic() - started

    console = Console(highlight=False, width=min(WIDTH, Console().width))
    summary = Table.grid(padding=(0, 1))
    for _ in range(3):
        summary.add_column(no_wrap=True)
    for outcome in outcomes:
        if outcome.problems:
            count = len(outcome.problems)
            summary.add_row("[red]✗[/]", outcome.rule.name, f"[red]{count} problem{'s' if count > 1 else ''}[/]")
        else:
            summary.add_row("[green]✓[/]", outcome.rule.name, escape(outcome.rule.demands))
    console.print(summary)

    problems = [problem for outcome in outcomes for problem in outcome.problems]
    if not problems:
        console.print(f"[green]all {len(outcomes)} rules hold[/] ({seconds:.1f} s)")
        return
    console.print()
    for problem in problems:    # the file first; what to do under it, indented even when wrapped
        console.print(Text(problem.path, style="bold"))
        console.print(Padding(Text(problem.fix), (0, 0, 0, 2), expand=False))
    console.print(f"[red]{len(problems)} problem{'s' if len(problems) > 1 else ''}[/]; "
                  "fix them, then run `course dev check` again.")
    raise SystemExit(1)
