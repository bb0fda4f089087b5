"""``exercises/`` is generated from ``solutions/``: the stubs and the drift check.

A learner may be working in ``exercises/`` (in a clone of this repository, say): a file
in which some exercise is no longer its stub holds their work. Sync never overwrites it
unless forced, and then keeps a copy first; the drift check judges the stub committed to
git for such a file, not the learner's copy. A course with a ``docs/`` folder also gets
its API reference there (:mod:`grader.course.apidoc`), checked the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from grader.course.apidoc import api_page, page_path
from grader.course.manifest import Course
from grader.course.source import find_regions, make_stubs, stub_line


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


def holds_learner_work(course: Course, path: Path) -> bool:
    """Whether some exercise of the module in ``path`` is no longer its stub."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True          # unreadable here: not ours to replace
    module = path.stem
    if module not in course.module_names:
        return True
    return any(stub_line("", ex.id) not in text for ex in course.module(module).exercises)


def committed_text(course: Course, path: Path) -> str | None:
    """``path`` as the last git commit holds it, or None (not in git, or no git)."""
    try:
        relative = path.resolve().relative_to(course.root.resolve())
        done = subprocess.run(["git", "show", f"HEAD:{relative.as_posix()}"], cwd=course.root,
                              capture_output=True, timeout=30)
    except (ValueError, OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def find_drift(course: Course) -> list[Drift]:
    drift = []
    expected = expected_stubs(course)
    for path, text in expected.items():
        if not path.exists():
            drift.append(Drift(path, "missing"))
        elif path.read_text(encoding="utf-8") == text:
            continue
        elif not holds_learner_work(course, path):
            drift.append(Drift(path, "differs from what solutions/ generates"))
        else:    # the learner's copy: the stub committed beside it must be right
            committed = committed_text(course, path)
            if committed is not None and committed != text:
                drift.append(Drift(path, "as committed, differs from what solutions/ generates "
                                         "(the file holds your own work, which was left alone)"))
    exercises = course.root / "exercises"
    if exercises.is_dir():
        for path in sorted(exercises.glob("*.py")):
            if path not in expected:
                drift.append(Drift(path, "has no solution in solutions/"))
    page = page_path(course)
    if page.parent.is_dir() and (not page.exists() or page.read_text(encoding="utf-8") != api_page(course)):
        drift.append(Drift(page, "differs from what solutions/ generates"))
    return drift


@dataclass
class SyncResult:
    written: list[Path]
    kept: list[Path]               # hold the learner's work: left alone
    backup: Path | None = None     # with force: where the learner's files were copied first


def write_stubs(course: Course, force: bool = False) -> SyncResult:
    """Write every stub that differs; a file holding the learner's work only with
    ``force``, after copying it to ``.course/backup/<time>/``."""
    result = SyncResult([], [])
    for path, text in expected_stubs(course).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if path.exists() and holds_learner_work(course, path):
            if not force:
                result.kept.append(path)
                continue
            if result.backup is None:
                result.backup = course.root / ".course" / "backup" / time.strftime("%Y%m%d-%H%M%S")
                result.backup.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, result.backup / path.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    page = page_path(course)    # the API reference, for a course that keeps docs/
    if page.parent.is_dir():
        text = api_page(course)
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
            result.written.append(page)
    return result
