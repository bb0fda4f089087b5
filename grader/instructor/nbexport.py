"""`course nbgrader`: the course as an nbgrader course root, one assignment per module.

For every module that is a file (the capstone is not: it only assembles the others), the
assignment ``source/<module>/`` holds ``<module>.ipynb`` and its supporting files:

- the notebook: the module's intro (its docstring) as Markdown; a read-only cell with the
  module's code outside the exercises (imports, helpers, constants); then, per exercise in
  course order, its instructions (title, points, the definition's docstring), a solution
  cell (the definition, each solution region between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``) and a locked test cell worth the exercise's points, which runs the
  visible checks and, in its ``### BEGIN HIDDEN TESTS`` region, the hidden ones
  (:mod:`grader.instructor.nbgrader_support.runner` says how, and how the score is shared);
- what the test cells import, so a release runs with numpy and torch alone: the
  ``grader/`` modules the checks are written in, ``grader/instructor/nbgrader_support/``, and the
  visible suite ``suites/visible/test_<module>.py``;
- the reference ``.py`` of every earlier module the module needs (``from masking import
  masked_softmax``). Students of a later assignment can read them: release in course order.

The hidden suite and the module's own reference never become files: they are text inside
the hidden region of the notebook's first test cell, which ``nbgrader generate_assignment``
removes from the release and ``nbgrader autograde`` puts back.

Everything is derived from ``course.toml``, the solutions and the suites: a new module
becomes an assignment with nothing written by hand.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course.i18n import counted
from grader.course.manifest import Course, Exercise, Module
from grader.course.notebook_cells import (code_cell, docstring_markdown, escape_markdown, make_notebook,
                                          markdown_cell, write_notebook)
from grader.course.source import definition_spans, find_regions, make_stubs, module_docstring_lines

if TYPE_CHECKING:
    from nbformat import NotebookNode

PACKAGE = Path(__file__).resolve().parent.parent     # grader/
SUPPORT = "instructor.nbgrader_support"

# nbgrader acts on any line that contains one of these (ClearSolutions, ClearHiddenTests,
# ClearMarkScheme, InstantiateTests), whatever the cell: text we embed must not contain them.
NBGRADER_DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                       "BEGIN MARK SCHEME", "END MARK SCHEME", "AUTOTEST")
SCHEMA_VERSION = 3          # nbgrader 0.9's cell metadata schema
CELL_TIMEOUT = 30           # seconds per cell when nbgrader executes a notebook (checks take ~1 s)


SHIPPED_INIT = '''"""The part of the course's grader that the test cells of this notebook use: the
checks' vocabulary and the runner of a test cell (written by `course nbgrader`)."""

__version__ = "{version}"
'''


class NbExportError(ValueError):
    """The course cannot be written as an nbgrader course; the message says why."""


@dataclass
class Assignment:
    module: str
    exercises: int
    points: float
    earlier_modules: list[str]          # reference files shipped with it


@dataclass
class ExportSummary:
    root: Path
    course_id: str
    assignments: list[Assignment]
    left_out: list[str]                 # capstone modules: no notebook


# ---------------------------------------------------------------- the whole course


def default_course_id(course: Course) -> str:
    return re.sub(r"[^a-z0-9]+", "-", course.title.lower()).strip("-") or "course"


def exportable_modules(course: Course) -> list[str]:
    return list(course.module_names)


def left_out_modules(course: Course) -> list[str]:
    return [m.name for m in course.modules if m.name not in course.module_names]


def select_modules(course: Course, only: str | None) -> list[str]:
    """The modules named in ``only`` (comma-separated), in course order; all by default."""
    names = exportable_modules(course)
    if not only:
        return names
    asked = [part.strip() for part in only.split(",") if part.strip()]
    for name in asked:
        if name in left_out_modules(course):
            raise NbExportError(f"{name} is a capstone: it has no file and no notebook; grade it with "
                                "`course grade` or the Gradescope autograder")
        if name not in names:
            raise NbExportError(f"no module {name!r}; the modules are {', '.join(names)}")
    return [name for name in names if name in asked]


def export_course(course: Course, out: Path, *, course_id: str | None = None, only: str | None = None,
                  force: bool = False) -> ExportSummary:
    """Write the nbgrader course root ``out``. A non-empty ``out`` needs ``force``: then the
    selected ``source/<module>/`` folders and ``nbgrader_config.py`` are replaced, and
    everything else (the gradebook, releases, submissions) is left alone."""
    out = Path(out)
    course_id = course_id or default_course_id(course)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", course_id):
        raise NbExportError(f"course id {course_id!r}: use letters, digits, - and _ only")
    modules = select_modules(course, only)
    if out.exists() and not out.is_dir():
        raise NbExportError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise NbExportError(f"{out} is not empty; pass --force to write into it (it replaces source/<module>/ "
                            "of the modules written and nbgrader_config.py, and keeps everything else)")
    # build everything first, so that a course error writes nothing
    built = {name: build_assignment(course, name) for name in modules}
    assignments = []
    for name, (notebook, files) in built.items():
        folder = out / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        write_notebook(folder / f"{name}.ipynb", notebook)
        for relative, text in files.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        module = course.module(name)
        assignments.append(Assignment(name, len(module.exercises), sum(e.points for e in module.exercises),
                                      earlier_modules(course, name)))
    present = [name for name in exportable_modules(course) if (out / "source" / name / f"{name}.ipynb").is_file()]
    (out / "nbgrader_config.py").write_text(config_text(course, course_id, present), encoding="utf-8")
    return ExportSummary(out, course_id, assignments, left_out_modules(course))


def config_text(course: Course, course_id: str, assignments: list[str]) -> str:
    listing = "\n".join(
        f"#   {name:<16} {counted(len(course.module(name).exercises), 'exercise'):<12} "
        f"{_points(sum(e.points for e in course.module(name).exercises))}"
        for name in assignments)
    return f'''"""nbgrader configuration of {course.title}, written by `course nbgrader`.

Run the nbgrader commands in this folder (the course root). Writing it again with
`course nbgrader --force` replaces this file and source/, and keeps the gradebook.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (given by nbgrader)

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The assignments, one per module, in course order (release them in this order: an
# assignment ships the reference solutions of the earlier modules it imports):
{listing}

# A test cell runs every check of one exercise in the notebook's kernel: about a second
# at most; the limit stops a student's endless loop.
c.Execute.timeout = {CELL_TIMEOUT}

# The first test cell's hidden region holds the hidden checks and the module's reference
# solution; nbgrader's feedback shows test cells as graded, so clear hidden regions there too.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
'''


# ---------------------------------------------------------------- one assignment


def build_assignment(course: Course, name: str) -> tuple[NotebookNode, dict[str, str]]:
    """The notebook (nbformat 4) and the supporting files (relative path -> text)."""
    module = course.module(name)
    solution = _read(course.root / "solutions" / f"{name}.py")
    hidden = course.root / "suites" / "hidden" / f"test_{name}.py"
    visible = course.root / "suites" / "visible" / f"test_{name}.py"
    hidden_source = _read(hidden)
    visible_source = visible.read_text(encoding="utf-8") if visible.is_file() else None
    _check_hidden_suite(module, hidden_source)
    files: dict[str, str] = {}
    for earlier in earlier_modules(course, name):
        files[f"{earlier}.py"] = reference_source(course, earlier)
    files.update(grader_files(course, name))
    visible_path = None
    if visible_source is not None:
        visible_path = f"suites/visible/test_{name}.py"
        files[visible_path] = visible_source
    notebook = build_notebook(course, module, solution, hidden_source, visible_path)
    return notebook, files


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NbExportError(f"{path} is missing") from None


def _check_hidden_suite(module: Module, source: str) -> None:
    ids = set(re.findall(r"""@check\(\s*["']([\w.]+)["']""", source))
    missing = [ex.id for ex in module.exercises if ex.id not in ids]
    if missing:
        raise NbExportError(f"suites/hidden/test_{module.name}.py has no check of {', '.join(missing)}")


def reference_source(course: Course, name: str) -> str:
    """A solution file with its regions filled in and their markers gone."""
    source = _read(course.root / "solutions" / f"{name}.py")
    owners = frozenset(region.exercise for region in find_regions(source, f"solutions/{name}.py"))
    return make_stubs(source, name, keep=owners, filename=f"solutions/{name}.py")


def _course_imports(source: str, names: set[str]) -> set[str]:
    """Course modules that ``source`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & names


def earlier_modules(course: Course, name: str) -> list[str]:
    """The earlier modules an assignment needs as files, in course order: those its
    solution imports, those its suites reach as ``student.<m>`` or ``ref.<m>``, and what
    they import in turn."""
    names = set(course.module_names)
    root = course.root
    start = _course_imports(_read(root / "solutions" / f"{name}.py"), names)
    for kind in ("hidden", "visible"):
        suite = root / "suites" / kind / f"test_{name}.py"
        if suite.is_file():
            start |= set(re.findall(r"\b(?:student|ref)\.(\w+)", suite.read_text(encoding="utf-8"))) & names
    needed: set[str] = set()
    stack = sorted(start - {name})
    while stack:
        module = stack.pop()
        if module in needed:
            continue
        needed.add(module)
        stack.extend(_course_imports(_read(root / "solutions" / f"{module}.py"), names) - needed - {name})
    order = course.module_names
    later = [m for m in needed if order.index(m) > order.index(name)]
    if later:
        verb = "comes" if len(later) == 1 else "come"
        raise NbExportError(f"{name} needs {', '.join(sorted(later))}, which {verb} later in the course")
    return [m for m in order if m in needed]


def _grader_imports(source: str) -> set[str]:
    """``grader`` modules that ``source`` imports, by dotted name under ``grader``
    (``grader.engine.results`` -> ``engine.results``; ``from grader.engine import results``
    -> ``engine.results``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name.removeprefix("grader.") for a in node.names if a.name.startswith("grader."))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module != "grader" and not node.module.startswith("grader."):
                continue
            package = node.module.removeprefix("grader").lstrip(".")
            for alias in node.names:
                dotted = f"{package}.{alias.name}" if package else alias.name
                # a module of a package, or a name defined in the module imported from
                found.add(dotted if _module_path(dotted).is_file() else package)
    return found - {""}


def _module_path(dotted: str) -> Path:
    return PACKAGE / (dotted.replace(".", "/") + ".py")


def grader_files(course: Course, name: str) -> dict[str, str]:
    """The part of the ``grader`` package the test cells need (relative path -> text):
    ``grader/instructor/nbgrader_support/`` and every grader module it and the module's suites
    import, directly or not. The package's own ``__init__`` is one of its own (the real one
    may grow imports of modules that are not shipped); a subpackage's holds only its docstring."""
    files = {"grader/__init__.py": SHIPPED_INIT.format(version=course.version)}
    sources = []
    support = PACKAGE / SUPPORT.replace(".", "/")
    for path in sorted(support.glob("*.py")):
        files[f"grader/{SUPPORT.replace('.', '/')}/{path.name}"] = path.read_text(encoding="utf-8")
        sources.append(path.read_text(encoding="utf-8"))
    for parent in support.relative_to(PACKAGE).parents:
        if parent.parts:
            files[f"grader/{parent.as_posix()}/__init__.py"] = (PACKAGE / parent / "__init__.py").read_text(
                encoding="utf-8")
    for kind in ("hidden", "visible"):
        suite = course.root / "suites" / kind / f"test_{name}.py"
        if suite.is_file():
            sources.append(suite.read_text(encoding="utf-8"))
    wanted = set().union(*(_grader_imports(s) for s in sources))
    done: set[str] = set()
    while wanted:
        module = wanted.pop()
        done.add(module)
        if module == SUPPORT or module.startswith(SUPPORT + "."):
            continue
        path = _module_path(module)
        if not path.is_file():
            raise NbExportError(f"the checks of {name} import grader.{module}, which is not a module file")
        relative = path.relative_to(PACKAGE.parent).as_posix()
        files[relative] = path.read_text(encoding="utf-8")
        for parent in path.relative_to(PACKAGE).parents:    # the subpackages on the way
            if parent.parts:
                files[f"grader/{parent.as_posix()}/__init__.py"] = (PACKAGE / parent / "__init__.py").read_text(
                    encoding="utf-8")
        wanted |= _grader_imports(files[relative]) - done
    return dict(sorted(files.items()))


# ---------------------------------------------------------------- the notebook


def build_notebook(course: Course, module: Module, solution: str, hidden_suite: str,
                   visible_path: str | None) -> NotebookNode:
    filename = f"solutions/{module.name}.py"
    names = [ex.name for ex in module.exercises]
    spans = {name: span for name, span in definition_spans(solution).items() if name in names}
    missing = [n for n in names if n not in spans]
    if missing:
        raise NbExportError(f"{filename} has no top-level definition of {', '.join(missing)}")
    regions = find_regions(solution, filename)
    without_region = [n for n in names if not any(r.exercise == n for r in regions)]
    if without_region:
        raise NbExportError(f"{filename}: {', '.join(without_region)} has no solution region")
    lines = solution.splitlines()
    tree = ast.parse(solution)
    intro = ast.get_docstring(tree) or ""

    # the module's lines outside the exercises, cut where an exercise sits
    taken = sorted(spans.values())
    outside: list[tuple[int, list[str]]] = []      # (first line, lines) of each stretch
    cursor = module_docstring_lines(solution)
    for lo, hi in taken:
        outside.append((cursor, lines[cursor:lo]))
        cursor = hi + 1
    outside.append((cursor, lines[cursor:]))
    stretches = [(start, _trim_blank(chunk)) for start, chunk in outside]
    stretches = [(start, chunk) for start, chunk in stretches if chunk]

    cells = [_markdown(f"{module.name}-intro", _intro_markdown(course, module, intro))]
    emitted: set[int] = set()

    def code_before(line: int) -> None:
        for index, (start, chunk) in enumerate(stretches):
            if start < line and index not in emitted:
                emitted.add(index)
                cells.append(_code(f"{module.name}-given-{len(emitted)}", "\n".join(chunk), locked=True))

    for number, exercise in enumerate(module.exercises, start=1):
        lo, hi = spans[exercise.name]
        code_before(lo)
        definition = "\n".join(lines[lo:hi + 1])
        node = next(n for n in tree.body if getattr(n, "name", None) == exercise.name)
        cells.append(_markdown(f"{exercise.module}-{exercise.name}-instructions",
                               _exercise_markdown(number, exercise, ast.get_docstring(node) or "")))
        cells.append(_code(f"{exercise.module}-{exercise.name}-solution", _solution_cell(definition), solution=True))
        tests = _test_cell(course, exercise, visible_path,
                           load=(module.name, hidden_suite, reference_source(course, module.name)) if number == 1
                           else None)
        cells.append(_code(f"{exercise.module}-{exercise.name}-tests", tests, grade=exercise.points))
    code_before(len(lines) + 1)
    for cell in cells:
        _refuse_delimiters(cell, module.name)
    return make_notebook(cells)


def _trim_blank(chunk: list[str]) -> list[str]:
    start, end = 0, len(chunk)
    while start < end and not chunk[start].strip():
        start += 1
    while end > start and not chunk[end - 1].strip():
        end -= 1
    return chunk[start:end]


def _solution_cell(definition: str) -> str:
    """The definition with nbgrader's markers in place of the course's."""
    out = []
    for line in definition.splitlines():
        stripped = line.strip()
        if stripped in ("# BEGIN SOLUTION", "# END SOLUTION"):
            line = line[:len(line) - len(line.lstrip())] + "##" + stripped      # "### BEGIN SOLUTION"
        out.append(line)
    return "\n".join(out)


def stand_ins_of(course: Course, exercise: Exercise) -> dict[str, list[str]]:
    """What ``exercise`` builds on in its own module, in course order, each with what it
    builds on there: the runtime judges them earlier pieces first, as ``course grade``
    does. Earlier modules need nothing: they are the reference's files."""
    def in_module(exercise_id: str) -> list[str]:
        return [dep.split(".")[1] for dep in course.builds_on_all(exercise_id) if dep.split(".")[0] == exercise.module]

    return {name: in_module(f"{exercise.module}.{name}") for name in in_module(exercise.id)}


def _test_cell(course: Course, exercise: Exercise, visible_path: str | None, load: tuple[str, str, str] | None) -> str:
    stand_ins = stand_ins_of(course, exercise)
    lines = [
        f"# Tests of {exercise.id} ({_points(exercise.points)}). Run the cells above first.",
        "# Shown here: the checks of `course check`; grading runs hidden checks, which decide the score.",
        "from grader.instructor.nbgrader_support import ExerciseTests",
        "",
        f"_tests = ExerciseTests({exercise.id!r}, points={exercise.points:g}, namespace=globals(),",
        *_forbidden_argument(exercise.forbidden),
    ]
    if visible_path:
        lines.append(f"_tests.visible({visible_path!r})")
    lines.append("### BEGIN HIDDEN TESTS")
    if load is not None:
        module, suite, reference = load
        lines += [
            "from grader.instructor.nbgrader_support import load_hidden",
            "",
            f"load_hidden({module!r}, suite={python_literal(suite)},",
            f"reference={python_literal(reference)})",
            "",
        ]
    lines.append(f"_tests.hidden({exercise.module!r}, stand_ins={stand_ins!r})")
    lines.append("### END HIDDEN TESTS")
    lines.append("_tests.run()")
    return "\n".join(lines)


def _forbidden_argument(forbidden: tuple[str, ...]) -> list[str]:
    """The ``forbidden=[...]`` argument, one name a line when they are many."""
    indent = " " * len("_tests = ExerciseTests(")
    one_line = f"{indent}forbidden={list(forbidden)!r})"
    if len(one_line) <= 100:
        return [one_line]
    return [f"{indent}forbidden=["] + [f"{indent}    {name!r}," for name in forbidden] + [f"{indent}])"]


def python_literal(text: str) -> str:
    """``text`` as a triple-quoted Python literal that still reads like the source, with
    every nbgrader delimiter spelled with an escape so nbgrader never acts on it."""
    body = text.replace("\\", "\\\\").replace("\r", "\\r")
    # a quote followed by a quote or by the end is escaped: no three in a row, none last
    body = re.sub(r'"(?="|$)', r'\\"', body)
    for phrase in NBGRADER_DELIMITERS:
        body = body.replace(phrase, phrase[:-1] + "\\x%02x" % ord(phrase[-1]))
    literal = f'"""{body}"""'
    if ast.literal_eval(literal) != text:      # pragma: no cover - a bug here must not ship
        raise NbExportError("could not write a text as a Python literal")
    return literal


def _refuse_delimiters(cell: dict, module: str) -> None:
    source = cell["source"]
    if cell["metadata"]["nbgrader"].get("solution"):
        source = source.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")
    if cell["metadata"]["nbgrader"].get("grade"):
        source = source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", "")
    for phrase in NBGRADER_DELIMITERS:
        if phrase in source:
            raise NbExportError(f"{module}: the text {phrase!r} in {cell['id']} would be taken by nbgrader for "
                                f"one of its markers; reword it in solutions/{module}.py")


# ---------------------------------------------------------------- cells and Markdown


def _metadata(grade_id: str, *, solution: bool = False, grade: float | None = None, locked: bool = False) -> dict:
    meta = {"grade": grade is not None, "grade_id": grade_id, "locked": locked or grade is not None,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade is not None:
        meta["points"] = grade
    return {"nbgrader": meta}


def _markdown(grade_id: str, text: str) -> NotebookNode:
    return markdown_cell(text, cell_id=grade_id, metadata=_metadata(grade_id, locked=True))


def _code(grade_id: str, source: str, *, solution: bool = False, grade: float | None = None,
          locked: bool = False) -> NotebookNode:
    return code_cell(source, cell_id=grade_id, metadata=_metadata(grade_id, solution=solution, grade=grade,
                                                                  locked=locked))


def _intro_markdown(course: Course, module: Module, docstring: str) -> str:
    points = sum(ex.points for ex in module.exercises)
    return "\n".join([
        f"# {escape_markdown(module.title)}",
        "",
        f"*{escape_markdown(course.title)}*, module `{module.name}`: {counted(len(module.exercises), 'exercise')}, "
        f"{_points(points)}.",
        "",
        docstring_markdown(docstring),
        "",
        "**How this notebook works.** Run the cells from the top. The grey cells are given (imports and "
        "helpers; the files next to this notebook are given too). Write each exercise where it says "
        "`YOUR CODE HERE`, then run the test cell below it: it prints what passed, what your code was "
        "called with, what it returned and what was expected, and shows the points the visible checks "
        "earn. Grading runs hidden checks as well, and they decide the score.",
    ])


def _exercise_markdown(number: int, exercise: Exercise, docstring: str) -> str:
    return "\n".join([
        f"## {number}. {escape_markdown(exercise.title)}: `{exercise.name}`",
        "",
        f"**{_points(exercise.points)}** (`{exercise.id}`)",
        "",
        docstring_markdown(docstring),
    ])


def _points(points: float) -> str:
    return counted(points, "point")
