"""The learner's progress, kept in ``.course/state.json`` in the working copy."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path


class LearnerState:
    def __init__(self, root: Path):
        self.path = Path(root) / ".course" / "state.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.hints_shown: dict[str, int] = dict(data.get("hints_shown", {}))
        self.passed: dict[str, float] = dict(data.get("passed", {}))
        self.failed: dict[str, float] = dict(data.get("failed", {}))

    def record_check(self, exercise_id: str, passed: bool) -> None:
        now = time.time()
        if passed:
            self.passed[exercise_id] = now
            self.failed.pop(exercise_id, None)
        else:
            self.failed[exercise_id] = now
            self.passed.pop(exercise_id, None)

    def next_exercise(self, course):
        """The first exercise in course order that has not passed yet, or None when all have."""
        return next((ex for ex in course.exercises if ex.id not in self.passed), None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"hints_shown": self.hints_shown, "passed": self.passed, "failed": self.failed}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)
