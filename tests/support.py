"""Helpers for the project's own tests: building submissions from the reference."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from grader.course.source import make_stubs, replace_definition

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


def copy_course(dest: Path, folders=("solutions", "exercises", "suites", "i18n")) -> Path:
    """A private copy of the course: course.toml and these folders (``"suites/visible"``
    for one part), caches left out, so that commands can write state and stubs freely."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "course.toml", dest / "course.toml")
    for folder in folders:
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def make_submission(dest: Path, replacements: dict[str, str] | None = None, base: Path = SOLUTIONS) -> Path:
    """A copy of ``base`` (solutions/ by default) in ``dest``, with top-level definitions
    swapped: ``{"rnn.rnn_forward": "def rnn_forward(...):\\n    ..."}``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(base).glob("*.py")):
        shutil.copy(path, dest / path.name)
    for exercise_id, source in (replacements or {}).items():
        module, name = exercise_id.split(".")
        target = dest / f"{module}.py"
        target.write_text(replace_definition(target.read_text(), name, source))
    return dest


def make_partial_submission(dest: Path, solved: set[str]) -> Path:
    """Stubs everywhere except the exercises in ``solved``, which hold the reference."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(SOLUTIONS.glob("*.py")):
        module = path.stem
        keep = frozenset(ex.split(".")[1] for ex in solved if ex.split(".")[0] == module)
        (dest / path.name).write_text(make_stubs(path.read_text(), module, keep=keep))
    return dest


def write_toy_course(root: Path) -> Path:
    """A course of its own in ``root``: module ``toy`` (``double``, and ``quadruple``, which
    builds on it; code outside the exercises before, between and after them), its visible
    and hidden suites, and a capstone module ``final`` with no file. What a new module
    brings, for the tests that show the course's tools follow it with nothing by hand."""
    root = Path(root)
    (root / "solutions").mkdir()
    (root / "suites" / "hidden").mkdir(parents=True)
    (root / "suites" / "visible").mkdir(parents=True)
    (root / "course.toml").write_text(textwrap.dedent("""
        [course]
        title = "Toy course"
        version = "0.1.0"

        [[modules]]
        name = "toy"
        title = "A toy module"
        framework = "numpy"

        [[modules.exercises]]
        name = "double"
        title = "Double it"
        points = 2
        hints = ["Multiply.", "By two."]

        [[modules.exercises]]
        name = "quadruple"
        title = "Quadruple it"
        points = 1
        builds_on = ["toy.double"]
        hints = ["Double twice.", "double(double(x))."]

        [[modules]]
        name = "final"
        title = "The capstone"
        framework = "numpy"
        kind = "capstone"
        assembles = ["toy"]
        try_with = "course check final"

        [[modules.exercises]]
        name = "everything"
        title = "Everything"
        points = 1
        hints = ["All of it.", "Really."]
    """))
    (root / "solutions" / "toy.py").write_text(textwrap.dedent('''
        """A toy module."""

        FACTOR = 2


        def double(x):
            """Twice x."""
            # BEGIN SOLUTION
            return FACTOR * x
            # END SOLUTION


        def _helper(x):
            return x


        def quadruple(x):
            """Four times x."""
            # BEGIN SOLUTION
            return double(double(_helper(x)))
            # END SOLUTION

        LATER = 3
    ''').lstrip())
    (root / "suites" / "hidden" / "test_toy.py").write_text(textwrap.dedent('''
        from grader.checks import check, expect_equal

        @check("toy.double")
        def test_double(student, ref):
            """double(3)"""
            expect_equal(student.toy.double(3), ref.toy.double(3))

        @check("toy.quadruple")
        def test_quadruple(student):
            """quadruple(3)"""
            expect_equal(student.toy.quadruple(3), 12)
    '''))
    (root / "suites" / "visible" / "test_toy.py").write_text(textwrap.dedent('''
        from grader.checks import check, expect_equal

        @check("toy.double")
        def test_visible_double(student):
            """double(2) is 4"""
            expect_equal(student.toy.double(2), 4)
    '''))
    return root
