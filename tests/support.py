"""Helpers for the project's own tests: building submissions from the reference."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.source import make_stubs, replace_definition

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
