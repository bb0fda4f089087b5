"""`course release`: the bundle students get, and the scan that proves it keeps no secret.

The bundle is a course folder of its own, installable with ``pip install -e``: the stubs,
the visible checks, the manifest without what only grading uses, the texts and hints in
every language, the reference pictures of ``course show``, and the ``grader`` package
without the instructors' commands. Everything is derived from ``course.toml``, so a new
module is released without touching this file.

What a bundle must never hold: a line of a solution region, or the name of a hidden check.
:func:`find_leaks` looks for both; :func:`build_release` refuses to write a bundle in which
it finds either.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.course.i18n import counted
from grader.course.manifest import Course
from grader.course.source import find_regions
from grader.course.sync import expected_stubs

COMMANDS = Path(__file__).resolve().parent.parent / "commands"


def _audience(path: Path) -> str:
    """The ``AUDIENCE`` a command file declares (see :mod:`grader.commands`), read
    without importing the file."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "AUDIENCE" for t in node.targets)
                and isinstance(node.value, ast.Constant) and node.value.value in ("learner", "instructor")):
            return node.value.value
    raise ValueError(f"{path}: a command declares AUDIENCE = \"learner\" or \"instructor\"")


# Parts of the grader package that only instructors and course developers run. No module
# the bundle ships imports them (tests/test_release.py reads every import, those inside
# functions too), and a test installs the bundle and runs the learner's main commands.
INSTRUCTOR_ONLY = (
    "instructor", "course/sync.py", "course/translations.py", "course/apidoc.py",
    *(f"commands/{path.name}" for path in sorted(COMMANDS.glob("*.py"))
      if path.name != "__init__.py" and _audience(path) == "instructor"),
)

# Keys of course.toml that only grading uses: which reference pieces stand in for the
# learner's while an exercise is graded.
GRADING_ONLY_KEYS = ("builds_on",)

# Solution lines that carry no information: syntax on its own, or a bare name returned.
_TRIVIAL = re.compile(r"^(|else:|try:|finally:|break|continue|pass|return|return \w+|\w+ = \[\]|[)\]}]+,?)$")

# Solution lines that also appear, for their own reasons, in grader code a learner must
# have to run the checks. Each is an idiom or the published interface, not an answer.
PUBLIC_IDIOMS = {
    "with torch.no_grad():": "the torch idiom for inference; grader/content/capstone.py evaluates with it",
    "memory = model.encode(src, src_mask)": "the model interface the decoding module's intro gives; "
                                            "grader/fixtures.py's toy models are called through it",
}


class ReleaseError(RuntimeError):
    """The bundle could not be written, or would have leaked; nothing was written."""


@dataclass(frozen=True)
class Leak:
    path: str          # relative to the bundle
    line: int
    what: str          # "solution line of masking.causal_mask: ..." or "hidden check name ..."


# ---------------------------------------------------------------- what is secret

def code_form(line: str) -> str:
    """A line as code, the way the scan compares lines: without its comment, stripped, its
    runs of spaces made one (so ``next_h = np.tanh(x @ Wx)  # (N, H)`` in a solution and
    ``next_h = np.tanh(x @ Wx)`` quoted in a docstring are the same line)."""
    return " ".join(line.split(" #")[0].split())


def secret_lines(course: Course) -> dict[str, str]:
    """Every informative line of every solution region (stripped) -> the exercise it solves.

    A line that also stands outside the regions of some solution file, or whose code does,
    is left out: the stubs show it anyway (a signature, a docstring line, an import)."""
    inside: dict[str, str] = {}
    outside: set[str] = set()
    for module in course.module_names:
        path = course.root / "solutions" / f"{module}.py"
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        in_region: dict[int, str] = {}
        for region in find_regions("\n".join(lines), str(path)):
            for index in range(region.begin + 1, region.end):
                in_region[index] = f"{module}.{region.exercise}"
        for index, line in enumerate(lines):
            text = line.strip()
            if index in in_region:
                inside.setdefault(text, in_region[index])
            else:
                outside.add(text)
    public = {code_form(text) for text in outside}
    return {text: owner for text, owner in inside.items()
            if text not in outside and code_form(text) not in public and not _TRIVIAL.match(code_form(text))
            and text not in PUBLIC_IDIOMS and code_form(text) not in PUBLIC_IDIOMS}


def hidden_check_names(course: Course) -> set[str]:
    """The function names of the hidden checks (what ``@check`` decorates)."""
    names = set()
    for path in sorted((course.root / "suites" / "hidden").glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                names.add(node.name)
    return names


def find_leaks(bundle: Path, secrets: dict[str, str], hidden_names: set[str]) -> list[Leak]:
    """Every line of a text file in ``bundle`` that is a secret line (a whole-line match of
    its :func:`code_form`, comments and spacing aside: instructions and hints may quote
    fragments) or holds a hidden check's name (anywhere, even inside a longer name);
    binary files are skipped."""
    name_pattern = re.compile("|".join(map(re.escape, sorted(hidden_names)))) if hidden_names else None
    forms: dict[str, str] = {}
    for text, owner in secrets.items():
        forms.setdefault(code_form(text), owner)
    leaks = []
    for path in sorted(p for p in Path(bundle).rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        relative = str(path.relative_to(bundle))
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            owner = secrets.get(stripped) or forms.get(code_form(stripped))
            if owner is not None and stripped:
                leaks.append(Leak(relative, number, f"solution line of {owner}: {stripped}"))
            if name_pattern is not None:
                found = name_pattern.search(line)
                if found:
                    leaks.append(Leak(relative, number, f"hidden check name {found.group(0)}"))
    return leaks


# ---------------------------------------------------------------- the steps

def _ignore_instructor_parts(grader_root: Path) -> Callable:
    excluded = {(grader_root / part).resolve() for part in INSTRUCTOR_ONLY}

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo"))}
        skip |= {n for n in names if (Path(folder) / n).resolve() in excluded}
        return skip

    return ignore


def copy_grader(course: Course, bundle: Path) -> None:
    import grader

    source = Path(grader.__file__).resolve().parent
    shutil.copytree(source, bundle / "grader", ignore=_ignore_instructor_parts(source))
    cli = bundle / "grader" / "cli.py"
    cli.write_text(student_cli(cli.read_text(encoding="utf-8"), left_out_commands()), encoding="utf-8")


def left_out_commands() -> set[str]:
    """The names of the subcommands the bundle leaves out (``grade``, ``sync``, ...): the
    ``command`` of each instructor-only file of ``grader/commands``."""
    import importlib

    names = set()
    for part in INSTRUCTOR_ONLY:
        if part.startswith("commands/") and part.endswith(".py"):
            module = importlib.import_module("grader." + part.removesuffix(".py").replace("/", "."))
            command = getattr(module, "command", None)
            if command is not None:
                names.add(command.name)
    return names


def student_cli(source: str, left_out: set[str]) -> str:
    """``grader/cli.py`` as the bundle ships it: the help of ``course`` (the docstring of
    ``main``) without the lines that name a command the bundle leaves out
    (``course grade ...``, ``course release / gradescope / ...``) or speak of the release
    itself, so that ``course --help`` in the bundle offers exactly the commands it has."""
    tree = ast.parse(source)
    main = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"), None)
    if main is None or ast.get_docstring(main) is None or not left_out:
        return source
    doc = main.body[0]
    lines = source.splitlines(keepends=True)
    named = re.compile(r"\bcourse\s+(?:%s)\b" % "|".join(map(re.escape, sorted(left_out))))
    kept = [line for index, line in enumerate(lines)
            if not (doc.lineno <= index + 1 <= doc.end_lineno
                    and (named.search(line) or "student release" in line))]
    return "".join(kept)


def write_stubs(course: Course, bundle: Path) -> None:
    for path, text in expected_stubs(course).items():
        target = bundle / "exercises" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def copy_visible_suites(course: Course, bundle: Path) -> None:
    target = bundle / "suites" / "visible"
    target.mkdir(parents=True)
    for path in sorted((course.root / "suites" / "visible").glob("*.py")):
        shutil.copyfile(path, target / path.name)


def copy_texts(course: Course, bundle: Path) -> None:
    texts = course.root / "i18n"
    if texts.is_dir():
        shutil.copytree(texts, bundle / "i18n", ignore=shutil.ignore_patterns("__pycache__"))


def write_manifest(course: Course, bundle: Path) -> None:
    data = tomllib.loads((course.root / "course.toml").read_text(encoding="utf-8"))
    for module in data["modules"]:
        for exercise in module["exercises"]:
            for key in GRADING_ONLY_KEYS:
                exercise.pop(key, None)
    header = (f"# {course.title}: the student release of course.toml (modules, exercises, points,\n"
              "# hints), written when the course was released; the course's own manifest has the grading details.\n")
    (bundle / "course.toml").write_text(header + "\n" + to_toml(data), encoding="utf-8")


def write_reference_pictures(course: Course, bundle: Path) -> None:
    """``course show`` falls back to these where the learner's code does not work yet."""
    try:
        from grader.learner.show import write_reference_pictures as render
    except ImportError:       # a course without `course show`
        return
    render(course, bundle / "pictures" / "reference")


def write_package_files(course: Course, bundle: Path) -> None:
    pyproject = tomllib.loads((course.root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    dependencies = ",\n".join(f"    {json.dumps(d)}" for d in project["dependencies"])
    (bundle / "pyproject.toml").write_text(f"""\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{project['name']}-student"
version = "{course.version}"
description = {json.dumps(course.title + ": the student release")}
readme = "README.md"
requires-python = {json.dumps(project.get('requires-python', '>=3.11'))}
dependencies = [
{dependencies},
]

[project.scripts]
course = "grader.cli:run"

[tool.setuptools.packages.find]
include = ["grader*"]
""", encoding="utf-8")
    shutil.copyfile(course.root / "constraints.txt", bundle / "constraints.txt")
    (bundle / ".gitignore").write_text(".course/\nbuild/\nnotebooks/\n__pycache__/\n*.egg-info/\n", encoding="utf-8")
    (bundle / "README.md").write_text(student_readme(course), encoding="utf-8")


def student_readme(course: Course) -> str:
    rows = "\n".join(f"| `{m.name}` | {m.title} | {len(m.exercises)} | {sum(e.points for e in m.exercises):g} |"
                     for m in course.modules)
    return f"""\
# {course.title}

You implement every piece of sequence modelling, from backpropagation through time in a numpy RNN
to a complete Transformer that learns, in `exercises/<module>.py`, in place of each
`raise NotImplementedError`. Each file's docstring explains the idea; each function's docstring
says what it takes and returns, with shapes.

```bash
pip install -e . -c constraints.txt   # once, in a virtual environment: gives you the `course` command
course                                 # where you are and what to do next
course list                            # modules and exercises, with points and your status
course explain rnn.rnn_forward         # an exercise's instructions (or a module's: `course explain rnn`)
course check                           # run the checks, up to the first exercise that fails
course check rnn.rnn_forward           # one exercise (or a module: `course check rnn`)
course hint rnn.rnn_forward            # the next hint: each call is one level more specific
course watch                           # check again at every save; move on when it passes
course progress                        # a bar per module and what to do next
course show all                        # pictures of the ideas, drawn with your code (build/pictures/)
course notebook masking                # a module as a Jupyter notebook (notebooks/), if you prefer
course capstone                        # train the Transformer made of YOUR modules
```

`course --help` lists every command, `course COMMAND --help` says more about one;
`course --lang ko ...` (or `COURSE_LANG=ko`) speaks Korean.
`course check` runs your code in a separate process with a time limit, as grading does, and tells you
what it called, what came back and what was expected. Grading uses more checks than these: passing
here is a good sign, not a promise. Your progress and the hints you have seen are kept in `.course/`.
The first `course check` leaves a warm checker running in the background (about 550 MB, torch
imported once, not once per check), so the next checks answer in a fraction of a second; it leaves
after 15 idle minutes. `COURSE_WARM=0` checks without it.

| module | what | exercises | points |
| --- | --- | --- | --- |
{rows}

To hand in, submit your `exercises/` folder (or a zip of it) as your course asks.
"""


# ---------------------------------------------------------------- TOML out

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)   # a JSON string is a TOML basic string
    if isinstance(value, list):
        if len(value) > 1 and all(isinstance(v, str) for v in value):
            return "[\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def to_toml(data: dict) -> str:
    """course.toml's shape back to text: scalars and lists in tables, arrays of tables."""
    out: list[str] = []

    def table(values: dict, name: str, array: bool) -> None:
        out.append(f"[[{name}]]" if array else f"[{name}]")
        nested = []
        for key, value in values.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                nested.append((key, value))
            else:
                out.append(f"{key} = {_toml_value(value)}")
        out.append("")
        for key, items in nested:
            for item in items:
                table(item, f"{name}.{key}", True)

    for key, value in data.items():
        if isinstance(value, dict):
            table(value, key, False)
        else:
            for item in value:
                table(item, key, True)
    return "\n".join(out)


# ---------------------------------------------------------------- the pipeline

STEPS = (write_stubs, copy_visible_suites, copy_grader, write_manifest, copy_texts,
         write_reference_pictures, write_package_files)


def build_release(course: Course, out: Path, force: bool = False,
                  on_step: Callable[[str], None] = lambda name: None) -> Path:
    """Write the bundle to ``out``, or raise :class:`ReleaseError` and leave ``out`` as it was."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise ReleaseError(f"{out} exists and is not empty; pass --force to replace it")
    if course.overlaps_sources(out):
        raise ReleaseError(f"{out} is, or holds, part of the course itself; choose another folder "
                           "(build/student, say)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".release-", dir=out.parent) as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        for step in STEPS:
            on_step(step.__name__)
            step(course, bundle)
        on_step("find_leaks")
        leaks = find_leaks(bundle, secret_lines(course), hidden_check_names(course))
        if leaks:
            shown = "\n".join(f"  {leak.path}:{leak.line}: {leak.what}" for leak in leaks[:20])
            raise ReleaseError(f"the bundle would leak {counted(len(leaks), 'secret line')}; nothing written:\n{shown}")
        if out.exists():
            shutil.rmtree(out)
        bundle.rename(out)
    return out
