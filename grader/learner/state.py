"""The learner's progress, kept in ``.course/state.json`` in the working copy.

The file lives beside ``course.toml``, not in the installed package, so reinstalling the
course (or the grader) never touches it, and every command finds it from any folder of
the course. It carries a ``version``: a later format migrates the file it finds instead
of starting from nothing. A file that cannot be read is never dropped silently: it is
moved aside as ``state.json.bad-<time>`` (the learner or a helper can still read it) and
the caller is told, through :attr:`LearnerState.set_aside`, so it can warn.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

STATE_VERSION = 1


class StateError(RuntimeError):
    """The state file can be neither used nor moved aside."""


class NewerStateError(StateError):
    """The state file is from a newer grader: reading it would lose what it knows."""


def _migrate(data: dict) -> dict:
    """Bring ``data`` up to :data:`STATE_VERSION`, one version at a time.

    Version 0 is the file before it had a version: the same keys, so nothing moves.
    A new format adds a step here (``if version == 1: ...; version = 2``)."""
    version = data.get("version", 0)
    if version == 0:
        version = 1
    data["version"] = version
    return data


def _valid(data) -> bool:
    """The shape this grader relies on; anything else is treated as unreadable."""
    if not isinstance(data, dict) or not isinstance(data.get("version", 0), int):
        return False
    numbers = (int, float)
    for key in ("hints_shown", "passed", "failed"):
        table = data.get(key, {})
        if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, numbers) and not isinstance(v, bool) for k, v in table.items()):
            return False
    return True


class LearnerState:
    """What the learner has done: the exercises that passed and failed their last
    check (with when), how many hint levels each exercise has shown, and whether
    `course` has greeted them."""

    def __init__(self, root: Path):
        self.path = Path(root) / ".course" / "state.json"
        self.set_aside: Path | None = None      # where an unreadable file was moved
        data = self._load()
        self._other = {k: v for k, v in data.items()
                       if k not in ("version", "hints_shown", "passed", "failed", "greeted")}
        self.hints_shown: dict[str, int] = {k: int(v) for k, v in data.get("hints_shown", {}).items()}
        self.passed: dict[str, float] = dict(data.get("passed", {}))
        self.failed: dict[str, float] = dict(data.get("failed", {}))
        self.greeted: float | None = data.get("greeted") if isinstance(data.get("greeted"), (int, float)) else None

    def _load(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError):
            return self._put_aside()
        try:
            data = json.loads(text)
        except ValueError:
            return self._put_aside()
        version = data.get("version", 0) if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
            # a format this grader does not know: keep the file as it is and say so
            raise NewerStateError(f"{self.path} was written by a newer version of the grader "
                             f"(state version {version}, this one reads up to {STATE_VERSION})")
        if not _valid(data):
            return self._put_aside()
        return _migrate(data)

    def _put_aside(self) -> dict:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.bad-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.bad-{stamp}-{n}")
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise StateError(f"{self.path} cannot be read, nor moved aside ({exc})") from None
        self.set_aside = target
        return {}

    @property
    def is_new(self) -> bool:
        """Nothing recorded yet: the learner's first run."""
        return not (self.passed or self.failed or self.hints_shown or self.greeted)

    def record_check(self, exercise_id: str, passed: bool) -> None:
        now = time.time()
        if passed:
            self.passed[exercise_id] = now
            self.failed.pop(exercise_id, None)
        else:
            self.failed[exercise_id] = now
            self.passed.pop(exercise_id, None)

    def next_exercise(self, course, after: str | None = None):
        """The first exercise in course order that has not passed yet, or None when all
        have. With ``after``, the first unpassed one after that exercise, else the first
        unpassed one before it."""
        order = course.exercises
        if after is not None:
            ids = [ex.id for ex in order]
            start = ids.index(after) + 1 if after in ids else 0
            order = order[start:] + order[:start]
        return next((ex for ex in order if ex.id not in self.passed), None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {**self._other, "version": STATE_VERSION, "hints_shown": self.hints_shown,
                "passed": self.passed, "failed": self.failed}
        if self.greeted is not None:
            data["greeted"] = self.greeted
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)
