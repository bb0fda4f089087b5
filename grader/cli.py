"""`course`: the command line. Thin commands; the work happens in the modules they call."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import click

from grader import __version__, commands
from grader.commands import LANG_HELP, CourseContext, lang_option
from grader.course.i18n import LANGS
from grader.isolation.fast_exit import exit_without_teardown


class CommandFolder(click.Group):
    """The subcommands are the modules of ``grader/commands``, one each, named after the
    file (``list_.py`` is ``list``): a command is added by adding its file, and the student
    release, which leaves out the instructors' files, simply has fewer. A module is
    imported when its command runs, or when help lists them all, so `course check` does
    not pay for the imports of `course nbgrader`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_command_modules()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            module = _command_modules().get(name)
            if module is not None:
                self.add_command(_load(module))
        return self.commands.get(name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:   # "did you mean" among every command, not the loaded
            raise click.exceptions.NoSuchCommand(args[0], possibilities=self.list_commands(ctx), ctx=ctx) from exc


def _command_modules() -> dict[str, str]:
    """Command name -> the module of ``grader/commands`` that defines it."""
    return {info.name.rstrip("_"): f"grader.commands.{info.name}" for info in pkgutil.iter_modules(commands.__path__)}


def _load(module_name: str) -> click.Command:
    module = importlib.import_module(module_name)
    command = module.command
    # the instructors' commands speak English and take no --lang of their own
    if module.AUDIENCE == "learner" and not any(p.name == "lang" for p in command.params):
        lang_option(command)
    return command


def all_commands() -> dict[str, click.Command]:
    """Every command, each module imported."""
    context = click.Context(main)
    return {name: main.get_command(context, name) for name in main.list_commands(context)}


@click.group(cls=CommandFolder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             invoke_without_command=True)
@click.option("--course", "course_root", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("COURSE_ROOT"),
              help="The course folder (the one with course.toml). Default: $COURSE_ROOT, else the nearest one above here.")
@click.option("--lang", type=click.Choice(LANGS, case_sensitive=False), default=None, help=LANG_HELP)
@click.version_option(__version__, prog_name="course")
@click.pass_context
def main(ctx: click.Context, course_root: Path | None, lang: str | None) -> None:
    """Attention from scratch: from RNN backprop through time to a working Transformer.

    \b
    Learners:     course             where you are and what to do next
                  course list        what there is to do
                  course explain ID  the instructions of a module or an exercise
                  course check       run the checks on your exercises/
                  course hint ID     the next hint for an exercise
                  course watch       check at every save; move on when it passes
                  course progress    how far you are
                  course show all    pictures of the ideas, drawn with your code
                  course notebook M  module M as a Jupyter notebook
                  course capstone    train the Transformer made of your modules
    Instructors:  course grade SUBMISSION... --out DIR
                  course release / gradescope / nbgrader --out ...
    Developers:   course sync [--check]
                  course dev check   every cheap consistency rule, in seconds
    (The student release has the learners' commands only.)

    \b
    In Korean (한국어):  course hint ID --lang ko   or   export COURSE_LANG=ko
    Technical terms keep their English beside the Korean; what the checks
    themselves print (their titles, "got ... expected ...") stays English.
    """
    ctx.obj = CourseContext(course_root.resolve() if course_root else None, lang.lower() if lang else None)
    if ctx.invoked_subcommand is None:
        from grader.commands.progress import show_overview  # the group's own default

        show_overview(ctx.obj)


def run(prog_name: str = "course") -> None:
    """The `course` command as a process runs it: :func:`main`, then an exit that skips
    the interpreter's teardown. With torch imported that teardown takes ~0.2 s of every
    `course check`, and frees nothing the OS would not; the exit handlers still run."""
    try:
        main(prog_name=prog_name)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    exit_without_teardown(code)
