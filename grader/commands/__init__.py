"""One module per `course` subcommand, and what they all share: the context a command
gets (:class:`CourseContext`: the course, the learner's language and state) and how a
text on the command line becomes the exercises it names.

Each command module declares ``AUDIENCE``: ``"learner"`` (shipped in the student bundle,
and taking ``--lang`` after its name) or ``"instructor"`` (left out of the bundle,
English only). The CLI (:mod:`grader.cli`) and the release
(:mod:`grader.instructor.release`) both read this one declaration. The CLI imports the
command modules; they never import it, nor each other.
"""

from __future__ import annotations

from pathlib import Path

import click

from grader.course.i18n import LANGS, Count, message, resolve_lang
from grader.course.manifest import Course, Exercise, ManifestError, find_course_root, load_manifest
from grader.learner.state import LearnerState, NewerStateError, StateError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent

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


# ---------------------------------------------------------------- what a text on the command line names

def resolve_target(cc: CourseContext, text: str | None, modules: bool = False) -> Exercise | str:
    """The exercise (or, with ``modules``, the module name) the learner means by ``text``:
    an id, a module, or an exercise's bare name (``rnn_forward``); nothing given: the
    exercise they are on; a module, without ``modules``: its first exercise not passed yet.
    An unknown id is an error that suggests the closest ones."""
    course = cc.course
    if text is None:
        nxt = cc.state.next_exercise(course)
        if nxt is None:
            raise click.ClickException(cc.t("course_done_plain"))
        return nxt
    found = course.lookup(text)
    if found is None:
        raise unknown_target(cc, text)
    if isinstance(found, Exercise):
        return found
    if modules:
        return found.name
    return next((ex for ex in found.exercises if ex.id not in cc.state.passed), found.exercises[0])


def resolve_targets(cc: CourseContext, texts: tuple[str, ...], modules: bool = False) -> list[Exercise | str]:
    """`resolve_target` for each of ``texts``, each exercise or module once, in the order
    given; none: the exercise the learner is on. Every text is checked before anything
    is done."""
    if not texts:
        return [resolve_target(cc, None, modules)]
    return list(dict.fromkeys(resolve_target(cc, text, modules) for text in texts))


def select_targets(cc: CourseContext, texts: tuple[str, ...]) -> list[Exercise]:
    """The exercises ``texts`` mean, in course order: ids, bare names, modules, globs
    ('lstm.*_backward'), several in one text separated by commas; none: every exercise.
    A name that matches nothing is an error that suggests the closest ones."""
    course = cc.course
    parts = [part.strip() for text in texts for part in text.split(",") if part.strip()]
    if not parts:
        return course.exercises
    wanted: set[str] = set()
    for part in parts:
        if any(c in part for c in "*?["):
            found = course.select(part)
            if not found:
                raise click.ClickException(cc.t("no_match", pattern=part))
        else:
            named = course.lookup(part)
            if named is None:
                raise unknown_target(cc, part)
            found = [named] if isinstance(named, Exercise) else named.exercises
        wanted.update(ex.id for ex in found)
    return [ex for ex in course.exercises if ex.id in wanted]


def unknown_target(cc: CourseContext, text: str) -> click.ClickException:
    """The error for an id that names nothing: the closest ids, else where they are listed."""
    close = cc.course.close_matches(text)
    suggestion = cc.t("did_you_mean", ids=", ".join(close)) if close else cc.t("see_list")
    return click.ClickException(cc.t("unknown_id", id=text, suggestion=suggestion))
