"""`course notebook MODULE`: one module of the course as a Jupyter notebook.

The notebook is written as a py:percent text and converted with jupytext: the module's
intro, a setup cell, then for each exercise its instructions, a code cell holding the
learner's current code of it (from ``exercises/<module>.py``) and a check cell, and last
the pictures of the module's topics (:mod:`grader.learner.show`).

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
import re
import sys
import tempfile
from pathlib import Path

from grader.course.i18n import exercise_text, message, module_text
from grader.course.manifest import Course
from grader.course.source import definition_source, make_stubs


class NotebookError(ValueError):
    """The notebook cannot be built; the message says why."""


# ---------------------------------------------------------------- docstrings as Markdown

_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d+[.)])\s")
_SETEXT = re.compile(r"^ {0,3}(-+|=+)\s*$")


def _escape(line: str) -> str:
    """A line of prose with the characters Markdown would read as formatting escaped
    (``__init__`` stays ``__init__``, ``<pad>`` is not an HTML tag); backticks are kept,
    they mean code in the docstrings too."""
    pieces = re.split(r"(`[^`]+`)", line)          # code spans (odd pieces) stay as they are
    for index in range(0, len(pieces), 2):
        pieces[index] = re.sub(r"([\\*_~])", r"\\\1", pieces[index]).replace("<", "&lt;")
    return re.sub(r"^(\s*)([#>+])", r"\1\\\2", "".join(pieces))


def docstring_markdown(text: str) -> str:
    """A docstring (prose, indented formulas and tables, lists, underlined headings) as
    Markdown that shows the same thing: a block indented by 4 or more after a line of
    prose becomes a code block (Markdown would otherwise run it into the paragraph),
    continuation lines of list items stay prose, and prose is escaped."""
    out: list[str] = []
    previous = "blank"              # blank | prose | list | code
    for raw in text.expandtabs(4).splitlines():
        indent = len(raw) - len(raw.lstrip(" "))
        if not raw.strip():
            out.append("")
            previous = "blank" if previous != "code" else "code-blank"
        elif indent >= 4 and previous in ("blank", "code", "code-blank", "prose"):
            if previous == "prose":
                out.append("")
            out.append(raw)
            previous = "code"
        elif indent >= 4 and previous == "list":
            out.append(_escape(raw))
        elif _SETEXT.match(raw) and previous == "prose":
            out.append(raw)
            previous = "blank"
        else:
            out.append(_escape(raw))
            previous = "list" if _LIST_ITEM.match(raw) else "prose"
    return "\n".join(out).strip("\n")


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
    text, previous = "", None
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
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

def _markdown_cell(text: str) -> str:
    body = "\n".join(f"# {line}" if line else "#" for line in text.splitlines())
    return f"# %% [markdown]\n{body}\n"


def _code_cell(code: str) -> str:
    return f"# %%\n{code.strip(chr(10))}\n"


def notebook_text(course: Course, module: str, lang: str = "en", reference: bool = False,
                  where: Path | None = None) -> str:
    """The py:percent text of the notebook of ``module``."""
    from grader.content.topics import topics_for_module

    try:
        info = course.module(module)
    except KeyError:
        known = ", ".join(m.name for m in course.modules)
        raise NotebookError(f"no module {module!r} in course.toml (modules: {known})") from None
    capstone = info.is_capstone
    folder_name = "solutions" if reference else "exercises"
    source = "" if capstone else module_source(course, module, reference)[0]
    shown_file = f"exercises/{module}.py"
    text = module_text(course, module, lang)

    intro = text.intro
    first, _, rest = intro.partition("\n")
    if first.strip().rstrip(".").lower() == text.title.strip().rstrip(".").lower():
        intro = rest                                  # the docstring's summary line repeats the title
    cells = [_markdown_cell(f"# {_escape(text.title)}\n\n{docstring_markdown(intro.strip(chr(10)))}")]
    setup_notes = message("notebook_setup", lang, folder=f"{folder_name}/")
    if not capstone:
        setup_notes += "\n\n" + message("notebook_grading", lang, file=shown_file)
    cells.append(_markdown_cell(f"## {message('notebook_setup_title', lang)}\n\n{setup_notes}"))
    setup = [
        "from grader.learner.notebook import NotebookSession",
        "",
        f"session = NotebookSession(globals(), module={module!r}, modules_from={folder_name!r}, lang={lang!r},",
        f"                          course_root={_root_from(course, where)!r})",
        "check, show = session.check, session.show",
    ]
    if not capstone:
        preamble = module_preamble(source, {ex.name for ex in info.exercises})
        if preamble:
            setup += ["", preamble]
    cells.append(_code_cell("\n".join(setup)))

    for exercise in info.exercises:
        words = exercise_text(course, exercise.id, lang)
        points = message("notebook_points", lang, points=exercise.points)
        heading = f"## {_escape(words.title)}\n\n`{exercise.id}` · {points}"
        cells.append(_markdown_cell(f"{heading}\n\n{docstring_markdown(words.instructions)}"))
        if capstone:
            cells.append(_markdown_cell(message("notebook_nothing_to_write", lang, folder=f"{folder_name}/")))
        else:
            code = definition_source(source, exercise.name)
            if code is None:
                code = "# " + message("notebook_missing_definition", lang, name=exercise.name, file=shown_file)
            cells.append(_code_cell(code))
        cells.append(_code_cell(f"check({exercise.name!r})"))

    topics = topics_for_module(module)
    if topics:
        cells.append(_markdown_cell(f"## {message('notebook_pictures_title', lang)}\n\n"
                                    f"{message('notebook_pictures', lang)}"))
        cells.extend(_code_cell(f"show({topic.name!r})") for topic in topics)
    return "\n".join(cells)


def _root_from(course: Course, where: Path | None) -> str:
    """The course folder as the notebook's setup cell names it: relative to the folder the
    notebook is written to (a kernel starts there), so that the notebook names no absolute
    path and still works when the course folder moves or is shared as a whole."""
    if where is None:
        return "."
    return Path(os.path.relpath(course.root.resolve(), Path(where).resolve())).as_posix()


def build_notebook(course: Course, module: str, out: Path, lang: str = "en", reference: bool = False) -> Path:
    """Write the notebook of ``module`` to ``out`` (.ipynb), for the python3 kernel."""
    import jupytext

    out = Path(out)
    notebook = jupytext.reads(notebook_text(course, module, lang, reference, where=out.parent), fmt="py:percent")
    notebook.metadata.pop("jupytext", None)          # a plain notebook, not one paired with a script
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    out.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, out, fmt="ipynb")
    return out


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
