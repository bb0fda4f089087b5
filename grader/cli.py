"""`course`: the command line. Thin commands; the work happens in the modules they call."""

from __future__ import annotations

import os
from pathlib import Path

import click

from grader import __version__
from grader.course.i18n import LANGS, Count, message, resolve_lang
from grader.course.manifest import Course, ManifestError, find_course_root, load_manifest
from grader.learner.state import LearnerState, NewerStateError, StateError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent

# What `course` says outside a course when it has not even its messages (a non-editable
# install puts grader/ alone in site-packages, without i18n/): the English of no_course.
NO_COURSE = ("no course here: course.toml is not in this folder or above it. Run `course` inside the "
             "course folder (cd into it), or say where it is with --course DIR or export COURSE_ROOT=DIR")

class CourseContext:
    """Shared by the commands: where the course is (loaded on first use), the learner's
    language and the learner's state."""

    def __init__(self, root: Path | None, lang: str | None = None):
        self.explicit_root = root
        self.explicit_lang = lang
        self._course: Course | None = None
        self._lang: str | None = None
        self._state = None

    @property
    def course(self) -> Course:
        if self._course is None:
            root = self.explicit_root or find_course_root(Path.cwd())
            if root is None and (PACKAGE_ROOT / "course.toml").is_file():
                root = PACKAGE_ROOT
            if root is None:
                try:
                    said = message("no_course", self._lang_without_course())
                except (RuntimeError, KeyError):    # no i18n/ beside the package, and no course to read it from
                    said = NO_COURSE
                raise click.ClickException(said)
            try:
                self._course = load_manifest(Path(root) / "course.toml")
            except ManifestError as exc:
                raise click.ClickException(str(exc)) from None
        return self._course

    @property
    def lang(self) -> str:
        """--lang, else $COURSE_LANG, else course.toml's default_lang, else English."""
        if self._lang is None:
            try:
                course = self.course
            except click.ClickException:
                course = None   # no course (yet): its error is still worth saying in the learner's language
            try:
                self._lang = resolve_lang(course, self.explicit_lang)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
        return self._lang

    def t(self, key: str, /, **fields) -> str:
        """The message ``key`` in the learner's language; its numbers can choose their
        words (`Count`)."""
        fields = {name: Count(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
                  for name, value in fields.items()}
        return message(key, self.lang, **fields)

    def choose_lang(self, lang: str | None) -> None:
        """``--lang`` given after a command's name: it counts as given before it."""
        if lang:
            self.explicit_lang = lang.lower()
            self._lang = None

    def _lang_without_course(self) -> str:
        """For the one message said before there is a course: --lang or $COURSE_LANG."""
        try:
            return resolve_lang(None, self.explicit_lang)
        except ValueError:
            return "en"

    @property
    def state(self) -> LearnerState:
        """The learner's state, read once per command; says so when an unreadable file
        had to be put aside."""
        if self._state is None:
            try:
                self._state = LearnerState(self.course.root)
            except NewerStateError as exc:
                raise click.ClickException(self.t("state_newer", reason=str(exc))) from None
            except StateError as exc:
                raise click.ClickException(self.t("state_unusable", reason=str(exc))) from None
            if self._state.set_aside is not None:
                click.echo(self.t("state_set_aside", path=self._state.set_aside), err=True)
        return self._state

    def reload_state(self) -> LearnerState:
        """The state as it is on disk now (another terminal may have run `course hint`)."""
        self._state = None
        return self.state


pass_course = click.make_pass_decorator(CourseContext)

LANG_HELP = "Language of instructions, hints and messages. Default: $COURSE_LANG, else default_lang in course.toml, else en."


def _take_lang(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    cc = ctx.find_object(CourseContext)
    if cc is not None:
        cc.choose_lang(value)


# `course hint ID --lang ko` as well as `course --lang ko hint ID`: every learner's command
# gets this option when it is registered (unless it has a --lang of its own).
lang_option = click.option("--lang", type=click.Choice(LANGS, case_sensitive=False), default=None,
                           expose_value=False, callback=_take_lang, help=LANG_HELP)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
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
                  course watch       check again at every save; move on when it passes
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
        from grader.commands.progress import show_overview

        show_overview(ctx.obj)


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
            command = module.command
            # the instructors' commands speak English and take no --lang of their own
            if module.AUDIENCE == "learner" and not any(p.name == "lang" for p in command.params):
                lang_option(command)
            main.add_command(command)


_register()
