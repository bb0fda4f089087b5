"""``exercises/`` is generated from ``solutions/``: the stubs and the drift check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.manifest import Course
from grader.source import find_regions, make_stubs


@dataclass
class Drift:
    path: Path
    reason: str


def expected_stubs(course: Course) -> dict[Path, str]:
    """Every stub file as `course sync` would write it."""
    solutions = course.root / "solutions"
    stubs = {}
    for module in course.module_names:
        source_path = solutions / f"{module}.py"
        if not source_path.exists():
            continue
        source = source_path.read_text(encoding="utf-8")
        regions = {r.exercise for r in find_regions(source, str(source_path))}
        declared = {ex.name for ex in course.module(module).exercises}
        if regions != declared:
            raise ValueError(
                f"{source_path}: solution regions {sorted(regions)} do not match the manifest's exercises {sorted(declared)}"
            )
        stubs[course.root / "exercises" / f"{module}.py"] = make_stubs(source, module, filename=str(source_path))
    return stubs


def find_drift(course: Course) -> list[Drift]:
    drift = []
    expected = expected_stubs(course)
    for path, text in expected.items():
        if not path.exists():
            drift.append(Drift(path, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            drift.append(Drift(path, "differs from what solutions/ generates"))
    exercises = course.root / "exercises"
    if exercises.is_dir():
        for path in sorted(exercises.glob("*.py")):
            if path not in expected:
                drift.append(Drift(path, "has no solution in solutions/"))
    return drift


def write_stubs(course: Course) -> list[Path]:
    written = []
    for path, text in expected_stubs(course).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
