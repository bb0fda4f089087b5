"""`course notebook MODULE`: one module of the course as a Jupyter notebook.

The notebook holds the module's intro, a setup cell, then for each exercise its
instructions, a code cell holding the learner's current code of it (from
``exercises/<module>.py``) and a check cell, and last the pictures of the module's topics
(:mod:`grader.learner.show`). This file picks the cells; :mod:`grader.course.notebook_cells`
makes them and writes the notebook.

The second half of this file runs inside the notebook's kernel (:class:`NotebookSession`,
made by the setup cell): a check cell runs the exercise's visible checks in the kernel,
against the definitions of the notebook for its own module and the learner's
``exercises/`` for the others, and prints ✓/✗ with the feedback; it never raises, so a
notebook full of stubs still runs from top to bottom. There is no worker and no time
limit here: the kernel is the learner's own, and Jupyter's interrupt button stops a loop.
Grading still reads ``exercises/<module>.py`` only.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course.i18n import exercise_text, message, module_text
from grader.course.manifest import Course, Exercise, Module
from grader.course.notebook_cells import (code_cell, docstring_markdown, escape_markdown, make_notebook,
                                          markdown_cell, write_notebook)
from grader.course.source import definition_source, make_stubs, module_docstring_lines

if TYPE_CHECKING:
    from nbformat import NotebookNode


class NotebookError(ValueError):
    """The notebook cannot be built; the message says why."""


# ---------------------------------------------------------------- the module's source

def module_source(course: Course, module: str, reference: bool) -> tuple[str, Path]:
    """The text of the file the code cells come from: the learner's ``exercises/<module>.py``,
    or with ``reference`` the solution without its region markers."""
    folder = course.root / ("solutions" if reference else "exercises")
    path = folder / f"{module}.py"
    if not path.is_file():
        advice = ("the reference notebook needs solutions/" if reference
                  else "exercises/ holds your code: restore the file from your copy of the course")
        raise NotebookError(f"{path} does not exist ({advice})")
    source = path.read_text(encoding="utf-8")
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{path} has a syntax error at line {exc.lineno}: {exc.msg}. Fix it first "
                            "(`course check` shows it too).") from None
    if reference:
        names = frozenset(ex.name for ex in course.module(module).exercises)
        source = make_stubs(source, module, keep=names, filename=str(path))
    return source, path


def module_preamble(source: str, exercise_names: set[str]) -> str:
    """What the module holds besides its docstring and its exercises: the imports and
    the helpers it gives the learner (lstm's ``sigmoid``), in file order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    docstring_end = module_docstring_lines(source)
    text, previous = "", None
    for node in tree.body:
        if node.end_lineno <= docstring_end:
            continue                                  # the module docstring is the intro cell
        if getattr(node, "name", None) in exercise_names:
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        part = "\n".join(lines[first - 1:node.end_lineno])
        imports = (ast.Import, ast.ImportFrom)
        together = isinstance(node, imports) and isinstance(previous, imports)   # imports stay in one block
        text = part if not text else text + ("\n" if together else "\n\n\n") + part
        previous = node
    return text


# ---------------------------------------------------------------- building

def module_notebook(course: Course, module: str, lang: str = "en", reference: bool = False,
                    where: Path | None = None) -> NotebookNode:
    """The notebook of ``module``, to be written to the folder ``where``."""
    try:
        info = course.module(module)
    except KeyError:
        known = ", ".join(m.name for m in course.modules)
        raise NotebookError(f"no module {module!r} in course.toml (modules: {known})") from None
    folder_name = "solutions" if reference else "exercises"
    source = "" if info.is_capstone else module_source(course, module, reference)[0]
    cells = [_intro_cell(course, module, lang)]
    cells += _setup_cells(course, info, source, folder_name, lang, where)
    for exercise in info.exercises:
        cells += _exercise_cells(course, exercise, source, folder_name, lang, info.is_capstone)
    cells += _picture_cells(module, lang)
    return make_notebook(cells)


def _code(code: str) -> NotebookNode:
    """A code cell of ``code`` without the blank lines around it."""
    return code_cell(code.strip("\n"))


def _intro_cell(course: Course, module: str, lang: str) -> NotebookNode:
    text = module_text(course, module, lang)
    intro = text.intro
    first, _, rest = intro.partition("\n")
    if first.strip().rstrip(".").lower() == text.title.strip().rstrip(".").lower():
        intro = rest                                  # the docstring's summary line repeats the title
    return markdown_cell(f"# {escape_markdown(text.title)}\n\n{docstring_markdown(intro.strip(chr(10)))}")


def _setup_cells(course: Course, info: Module, source: str, folder_name: str, lang: str,
                 where: Path | None) -> list[NotebookNode]:
    """What the setup does, said; then the setup cell, with the module's imports and helpers."""
    notes = message("notebook_setup", lang, folder=f"{folder_name}/")
    if not info.is_capstone:
        notes += "\n\n" + message("notebook_grading", lang, file=f"exercises/{info.name}.py")
    setup = [
        "from grader.learner.notebook import NotebookSession",
        "",
        f"session = NotebookSession(globals(), module={info.name!r}, modules_from={folder_name!r}, lang={lang!r},",
        f"                          course_root={_root_from(course, where)!r})",
        "check, show = session.check, session.show",
    ]
    if not info.is_capstone:
        preamble = module_preamble(source, {ex.name for ex in info.exercises})
        if preamble:
            setup += ["", preamble]
    return [markdown_cell(f"## {message('notebook_setup_title', lang)}\n\n{notes}"), _code("\n".join(setup))]


def _exercise_cells(course: Course, exercise: Exercise, source: str, folder_name: str, lang: str,
                    capstone: bool) -> list[NotebookNode]:
    """The instructions, the learner's code (a capstone has none) and the check cell."""
    words = exercise_text(course, exercise.id, lang)
    points = message("notebook_points", lang, points=exercise.points)
    heading = f"## {escape_markdown(words.title)}\n\n`{exercise.id}` · {points}"
    cells = [markdown_cell(f"{heading}\n\n{docstring_markdown(words.instructions)}")]
    if capstone:
        cells.append(markdown_cell(message("notebook_nothing_to_write", lang, folder=f"{folder_name}/")))
    else:
        code = definition_source(source, exercise.name, closing_comments=True)
        if code is None:
            shown_file = f"exercises/{exercise.module}.py"
            code = "# " + message("notebook_missing_definition", lang, name=exercise.name, file=shown_file)
        cells.append(_code(code))
    return cells + [_code(f"check({exercise.name!r})")]


def _picture_cells(module: str, lang: str) -> list[NotebookNode]:
    from grader.content.topics import topics_for_module

    topics = topics_for_module(module)
    if not topics:
        return []
    said = markdown_cell(f"## {message('notebook_pictures_title', lang)}\n\n{message('notebook_pictures', lang)}")
    return [said] + [_code(f"show({topic.name!r})") for topic in topics]


def _root_from(course: Course, where: Path | None) -> str:
    """The course folder as the notebook's setup cell names it: relative to the folder the
    notebook is written to (a kernel starts there), so that the notebook names no absolute
    path and still works when the course folder moves or is shared as a whole."""
    if where is None:
        return "."
    return Path(os.path.relpath(course.root.resolve(), Path(where).resolve())).as_posix()


def build_notebook(course: Course, module: str, out: Path, lang: str = "en", reference: bool = False) -> Path:
    """Write the notebook of ``module`` to ``out`` (.ipynb), for the python3 kernel."""
    out = Path(out)
    return write_notebook(out, module_notebook(course, module, lang, reference, where=out.parent))


# ---------------------------------------------------------------- in the kernel

class _NotebookModule:
    """The notebook's own module: its names, looked up in the kernel's globals when asked
    (so a cell run again replaces the definition the checks see)."""

    def __init__(self, namespace: dict, name: str, lang: str):
        self._namespace = namespace
        self._name = name
        self._lang = lang

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._namespace[name]
        except KeyError:
            raise AttributeError(message("notebook_not_defined", self._lang, name=name)) from None


class NotebookStudent:
    """What the checks call ``student``: the notebook's module, the other course modules
    imported from the folder on ``sys.path``, and ``fixtures`` as the grader's worker
    offers them (fixtures that assemble modules get these)."""

    def __init__(self, namespace: dict, module: str, module_names: list[str], lang: str = "en"):
        self._own = _NotebookModule(namespace, module, lang)
        self._module = module
        self._names = set(module_names)

    @property
    def fixtures(self):
        from grader.engine.check_runner import FixturesFor

        return FixturesFor(self)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == self._module:
            return self._own
        if name in self._names:
            return importlib.import_module(name)
        raise AttributeError(f"no course module {name!r}")


class NotebookSession:
    """Made by the setup cell: ``session.check(name)`` and ``session.show(topic)``."""

    def __init__(self, namespace: dict, module: str, modules_from: str = "exercises", lang: str = "en",
                 course_root: str | None = None):
        from grader.course.manifest import find_course_root, load_manifest

        # course_root is relative to the notebook's folder, where the kernel starts
        root = find_course_root(Path.cwd()) or (Path(course_root).resolve() if course_root else None)
        if root is None or not (root / "course.toml").is_file():
            raise RuntimeError("no course.toml in this folder or above it, nor at "
                               f"{course_root}: open the notebook inside the course folder")
        self.course: Course = load_manifest(root / "course.toml")
        self.module = module
        self.lang = lang
        folder = str((self.course.root / modules_from).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)       # the modules import each other by plain name
        self.student = NotebookStudent(namespace, module, self.course.module_names, lang)
        from grader.engine.check_runner import one_torch_thread
        from grader.engine.grading import Suites

        if self.course.uses_torch:
            import torch  # noqa: F401 - loaded now, so that it runs on one thread from the start
        one_torch_thread()
        self._suites = Suites(self.course.root / "suites" / "visible")

    # -- checks

    def _exercise_id(self, name: str) -> str:
        return name if "." in name else f"{self.module}.{name}"

    def run_checks(self, exercise_id: str) -> list[tuple[str, bool, str]]:
        """(title, passed, feedback) of each visible check of the exercise."""
        from grader.engine.check_runner import run_checks

        outcomes = run_checks(exercise_id, self._suites.checks_for(exercise_id), _KernelEnvironment(self.student))
        return [(outcome.title, outcome.passed, outcome.feedback) for outcome in outcomes]

    def check(self, name: str) -> None:
        """Run the visible checks of exercise ``name`` and print ✓/✗ with the feedback."""
        from grader.checks import CheckOutcome
        from grader.engine.results import ExerciseResult, Status, result_view

        exercise_id = self._exercise_id(name)
        outcomes = self.run_checks(exercise_id)
        if not outcomes:
            print(message("notebook_no_checks", self.lang, id=exercise_id))
            return
        # no points are shown here, so weights and scores do not matter
        checks = [CheckOutcome(title, 1.0, ok, feedback) for title, ok, feedback in outcomes]
        view = result_view(ExerciseResult(exercise_id, "", 0.0, 0.0, checks=checks))
        mark = "✓" if view.status is Status.PASSED else "✗"
        print(message("notebook_check_summary", self.lang, mark=mark, id=exercise_id,
                      passed=view.checks_passed, total=view.checks_total))
        for check in view.checks or ():
            print(f"    {'✓' if check.passed else '✗'} {check.title}")
            for line in check.feedback.splitlines():
                print(f"        {line}")
        if view.hints_apply:
            print(message("notebook_hint", self.lang, id=exercise_id))

    def first_failing(self, exercise_ids) -> str | None:
        return next((ex for ex in exercise_ids if not all(ok for _, ok, _ in self.run_checks(ex))), None)

    # -- pictures

    def show(self, topic: str) -> None:
        """Draw a picture of :mod:`grader.content.topics` inline, with this notebook's code
        where the exercises it needs pass their checks, and say which."""
        from IPython.display import Image, display

        from grader.content.topics import TOPICS
        from grader.learner import show as pictures

        chosen = TOPICS[topic]
        pictures.one_thread()

        def blocker(exercise_ids):
            failing = self.first_failing(exercise_ids)
            return None if failing is None else message("show_reason_failing", self.lang, exercise=failing)

        with tempfile.TemporaryDirectory(prefix="course-notebook-") as tmp:
            picture = pictures.make_picture(self.course, chosen, Path(tmp), blocker, lambda _: self.student,
                                            self.lang)
            if picture.path is not None:
                display(Image(data=picture.path.read_bytes(), format="png"))
        source = picture.source(self.lang)
        if picture.path is None:
            source = message("show_missing", self.lang, topic=topic, reason=picture.reason,
                                  shipped=pictures.SHIPPED)
        print(message("notebook_picture", self.lang, topic=topic, source=source))
        print(message(chosen.caption, self.lang))


class _KernelEnvironment:
    """Visible checks in the notebook's kernel: the learner's code raises here, in this process."""

    def __init__(self, student: NotebookStudent):
        self.given = {"student": student}

    def before_check(self) -> None:
        pass

    def failed(self, message: str) -> str:
        return message

    def raised(self, error: Exception) -> str:
        return _raised(error)


def _raised(exc: BaseException) -> str:
    """An exception from the learner's code, with the line of theirs it came from."""
    from grader.learner.show import learner_frame

    text = f"raised {type(exc).__name__}: {exc}"
    frame = None if isinstance(exc, NotImplementedError) else learner_frame(exc)  # a stub's message says it all
    if frame is not None:
        text += f"\n  in {frame.name}, line {frame.lineno}: {(frame.line or '').strip()}"
    return text
