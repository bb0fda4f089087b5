"""`course`: the command line. Thin commands; the work happens in the modules they call."""

from __future__ import annotations

import os
from pathlib import Path

import click

from grader import __version__
from grader.manifest import Course, ManifestError, load_manifest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def find_course_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "course.toml").is_file():
            return folder
    return None


class CourseContext:
    """Shared by the commands: where the course is, loaded on first use."""

    def __init__(self, root: Path | None):
        self.explicit_root = root
        self._course: Course | None = None

    @property
    def course(self) -> Course:
        if self._course is None:
            root = self.explicit_root or find_course_root(Path.cwd())
            if root is None and (PACKAGE_ROOT / "course.toml").is_file():
                root = PACKAGE_ROOT
            if root is None:
                raise click.ClickException("no course.toml here or above; run inside the course folder or pass --course DIR")
            try:
                self._course = load_manifest(Path(root) / "course.toml")
            except ManifestError as exc:
                raise click.ClickException(str(exc)) from None
        return self._course


pass_course = click.make_pass_decorator(CourseContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--course", "course_root", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("COURSE_ROOT"),
              help="The course folder (the one with course.toml). Default: $COURSE_ROOT, else the nearest one above here.")
@click.version_option(__version__, prog_name="course")
@click.pass_context
def main(ctx: click.Context, course_root: Path | None) -> None:
    """Attention from scratch: from RNN backprop through time to a working Transformer.

    \b
    Learners:     course list        what there is to do
                  course check       run the checks on your exercises/
                  course hint ID     the next hint for an exercise
                  course progress    how far you are
                  course capstone    train the Transformer made of your modules
    Instructors:  course grade SUBMISSION... --out DIR
    Developers:   course sync [--check]
    """
    ctx.obj = CourseContext(course_root.resolve() if course_root else None)


def _register() -> None:
    """Every module of ``grader/commands`` that defines ``command`` is a subcommand, so a
    command is added by adding its file (and the student release, which leaves out the
    instructors' command files, simply has fewer)."""
    import importlib
    import pkgutil

    from grader import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"grader.commands.{info.name}")
        if hasattr(module, "command"):
            main.add_command(module.command)


_register()
