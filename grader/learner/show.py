"""`course show`: pictures of the ideas of the course, drawn with the learner's own code.

Each topic is computed with the learner's modules when the exercises it needs pass their
visible checks, and with the reference otherwise; :class:`Picture` says which, and why.
"Pass" is decided the way ``course check`` decides it (:class:`VisibleChecks`: a sandboxed
worker per exercise), or, in a notebook, by running the checks in the kernel
(:mod:`grader.learner.notebook`). The reference is ``solutions/`` when the course has it; a
student's release has no solutions, so there the reference is the PNG shipped in
``pictures/reference/<topic>.png``, which :func:`write_reference_pictures` renders.

The learner's code draws in this process, under a time limit (SIGALRM), not in a worker:
it has already passed its checks in a worker, so what is left to guard against is a slow
or endless loop on the picture's (larger) inputs, which the alarm interrupts, and an
exception, which falls back to the reference. A worker would cost a torch import per
picture (1.3 s), and the pictures need the learner's torch objects themselves (a
``MultiHeadAttention`` and the weights it keeps, a trained model), which a worker could
only hand back as plain data. This is also how ``course capstone`` runs the learner's
modules, and how a notebook kernel runs them anyway.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from grader.content.topics import Report, Topic, course_topics, needed_exercises, needed_modules
from grader.course.i18n import message
from grader.course.manifest import Course
from grader.course.namespace import ModuleNamespace
from grader.engine.check_runner import one_torch_thread

SHIPPED = Path("pictures") / "reference"     # under the course root, in a student's release

class PictureTimeout(BaseException):
    """The learner's code ran out of time (a BaseException, so ``except Exception`` in
    the learner's code does not swallow it)."""


# ---------------------------------------------------------------- deciding and drawing

@dataclass
class Picture:
    topic: str
    path: Path | None        # None: no picture could be written
    yours: bool
    reason: str = ""         # why the reference was used

    def source(self, lang: str = "en") -> str:
        return message("show_yours", lang) if self.yours else message("show_reference", lang, reason=self.reason)


class VisibleChecks:
    """The visible checks of exercises, run as ``course check`` runs them (a sandboxed
    worker each, on ``folder``); each verdict is remembered for the rest of the run."""

    def __init__(self, course: Course, folder: Path):
        self.course = course
        self.folder = Path(folder)
        self.verdicts: dict[str, bool] = {}
        self._context = None

    def passes(self, exercise_id: str) -> bool:
        if exercise_id not in self.verdicts:
            from grader.engine.grading import GradingContext, grade_in_order

            if self._context is None:
                self._context = GradingContext.for_course(self.course, kind="visible")
            grade_in_order(self._context, self.course.exercise(exercise_id), self.folder, self.verdicts)
        return self.verdicts[exercise_id]

    def first_failing(self, exercise_ids: Sequence[str]) -> str | None:
        return next((exercise_id for exercise_id in exercise_ids if not self.passes(exercise_id)), None)

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`PictureTimeout` in this thread after ``seconds`` (a no-op outside the
    main thread, where signals cannot be received, or without SIGALRM)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise PictureTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_GRADER_DIR = str(Path(__file__).resolve().parent.parent)   # the grader package
_LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The last frame of the traceback in the learner's code: outside the grader, the
    libraries and the course's check suites."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(_GRADER_DIR) and not frame.filename.startswith(_LIBRARY_DIRS)
              and "/suites/" not in frame.filename]
    return frames[-1] if frames else None


def _where(exc: BaseException) -> str:
    frame = learner_frame(exc)
    if frame is None:
        return ""
    return f" (at {Path(frame.filename).name}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()})"


def draw_learner(topic: Topic, modules, path: Path, lang: str = "en", report: Report | None = None) -> str | None:
    """Draw ``topic`` with the learner's ``modules``; None when it worked, else why not."""
    try:
        with time_limit(topic.time_limit):
            topic.draw(modules, path, lang, yours=True, report=report)
    except PictureTimeout:
        return message("show_reason_timeout", lang, seconds=topic.time_limit)
    except Exception as exc:  # the learner's code broke on the picture's inputs
        error = f"{type(exc).__name__}: {exc}".strip()
        return message("show_reason_raised", lang, error=error, where=_where(exc))
    return None


_references: dict[Path, ModuleNamespace] = {}


def reference_modules(course: Course) -> ModuleNamespace | None:
    """The reference modules (``solutions/``), or None in a student's release."""
    folder = (course.root / "solutions").resolve()
    if not folder.is_dir():
        return None
    if folder not in _references:
        _references[folder] = ModuleNamespace(folder, course.module_names, f"_show_reference_{len(_references)}")
    return _references[folder]


def draw_reference(course: Course, topic: Topic, path: Path, reason: str, lang: str = "en",
                   report: Report | None = None) -> Picture:
    """The reference picture: drawn with ``solutions/``, or copied from what the release
    ships (``pictures/reference/<lang>/`` for a language other than English)."""
    reference = reference_modules(course)
    if reference is not None:
        topic.draw(reference, path, lang, yours=False, report=report)
        return Picture(topic.name, path, False, reason)
    shipped = course.root / SHIPPED / f"{topic.name}.png"
    translated = course.root / SHIPPED / lang / f"{topic.name}.png"
    if lang != "en" and translated.is_file():
        shipped = translated
    if shipped.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, path)
        return Picture(topic.name, path, False, reason)
    return Picture(topic.name, None, False, reason)


class LearnerModules:
    """The learner's modules that a topic needs, each topic loaded afresh from a private
    copy of just those files and the course modules they import, so that a broken module
    the picture does not use cannot stop it."""

    def __init__(self, course: Course, folder: Path):
        self.course = course
        self.folder = Path(folder)
        self._tmp = tempfile.TemporaryDirectory(prefix="course-show-")
        self._count = 0

    def for_topic(self, topic: Topic) -> ModuleNamespace:
        self._count += 1
        copy = Path(self._tmp.name) / f"{topic.name}-{self._count}"
        copy.mkdir()
        for module in imported_closure(self.folder, needed_modules(topic), self.course.module_names):
            shutil.copyfile(self.folder / f"{module}.py", copy / f"{module}.py")
        return ModuleNamespace(copy, self.course.module_names, f"_show_learner_{id(self)}_{self._count}")

    def close(self) -> None:
        self._tmp.cleanup()


def imported_closure(folder: Path, modules: Sequence[str], course_modules: Sequence[str]) -> list[str]:
    """``modules`` and the course modules they import, directly or not, that exist in
    ``folder`` (read with ``ast``; a file that does not parse imports nothing)."""
    import ast

    found: list[str] = []
    pending = list(modules)
    while pending:
        module = pending.pop(0)
        path = Path(folder) / f"{module}.py"
        if module in found or not path.is_file():
            continue
        found.append(module)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            pending += [name.split(".")[0] for name in names if name.split(".")[0] in course_modules]
    return found


Blocker = Callable[[Sequence[str]], "str | None"]


def make_picture(course: Course, topic: Topic, out_dir: Path, blocker: Blocker, learner: Callable[[Topic], object],
                 lang: str = "en", on_start: Callable[[str, Topic], None] = lambda stage, topic: None,
                 report: Report | None = None) -> Picture:
    """``out_dir/<topic>.png``, with the learner's code if nothing blocks it, else with the
    reference. ``blocker(exercise_ids)`` says why the learner's code cannot draw it (the
    first of those exercises that fails its checks), or None; ``learner(topic)`` gives
    the learner's modules; ``on_start("checking" | "drawing", topic)`` reports progress,
    and ``report`` what a topic that trains measures (nothing by default)."""
    path = Path(out_dir) / f"{topic.name}.png"
    on_start("checking", topic)
    reason = blocker(needed_exercises(course, topic))
    on_start("drawing", topic)
    if reason is None:
        reason = draw_learner(topic, learner(topic), path, lang, report)
        if reason is None:
            return Picture(topic.name, path, True)
    return draw_reference(course, topic, path, reason, lang, report)


def show(course: Course, topics: Sequence[Topic], out_dir: Path, lang: str = "en",
         on_start: Callable[[str, Topic], None] = lambda stage, topic: None,
         report: Report | None = None) -> list[Picture]:
    """The pictures of ``topics``, with the learner's exercises/ where they pass their
    visible checks (each exercise checked at most once in the run). A topic that trains
    shows its progress and figures through ``report`` (`course show` passes a
    :class:`TerminalReport`; by default, nothing is shown)."""
    folder = course.root / "exercises"
    checks = VisibleChecks(course, folder)
    learner = LearnerModules(course, folder)
    def blocker(exercise_ids: Sequence[str]) -> str | None:
        if not folder.is_dir():
            return message("show_reason_no_folder", lang)
        failing = checks.first_failing(exercise_ids)
        return None if failing is None else message("show_reason_failing", lang, exercise=failing)

    try:
        return [make_picture(course, topic, out_dir, blocker, learner.for_topic, lang, on_start, report)
                for topic in topics]
    finally:
        checks.close()
        learner.close()


def write_reference_pictures(course: Course, out_dir: Path) -> list[Path]:
    """Every topic drawn with the reference (``solutions/``) as ``out_dir/<topic>.png``, and
    in every other language as ``out_dir/<lang>/<topic>.png`` (computed once: the capstone
    trains a model): what a student's release ships for ``course show`` to fall back on.
    Returns the English ones."""
    from grader.course.i18n import DEFAULT_LANG, LANGS

    reference = reference_modules(course)
    if reference is None:
        raise FileNotFoundError(f"{course.root / 'solutions'} does not exist: the reference pictures need it")
    one_thread()
    written = []
    for topic in course_topics(course):
        found = topic.compute(reference)
        written.append(topic.render(found, Path(out_dir) / f"{topic.name}.png", DEFAULT_LANG, False))
        for lang in LANGS:
            if lang != DEFAULT_LANG:
                topic.render(found, Path(out_dir) / lang / f"{topic.name}.png", lang, False)
    return written


def one_thread() -> None:
    """Small models train fastest on one thread; a second core busy elsewhere would make
    every step wait (see ``course capstone --threads``)."""
    import torch  # noqa: F401 - loaded now, so that it runs on one thread from the start

    one_torch_thread()
