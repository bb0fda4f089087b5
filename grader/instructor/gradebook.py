"""The resumable store of ``course grade``: what has been graded already, kept in ``--out``.

Every submission has a record, ``OUT/<name>/.grading.json``, rewritten atomically after each
exercise is graded. It holds each graded exercise's result under a *key*: a fingerprint of

- the submission's contents (every top-level ``.py`` file of the private copy of its module
  folder that grading uses, by name and bytes, after unpacking a zip and leaving out links and
  files too large, and any note about it, such as a zip that cannot be opened),
- the exercise id,
- the course (``course.toml``, ``suites/hidden/`` and ``solutions/``), the grader (its version and
  the source of its grading modules, ``grader/*.py`` but the commands and what only renders
  results) and a run-wide ``--time-limit``.

A later run with the same ``--out`` reuses every result whose key still matches and grades the
rest, so a killed run loses at most the exercises that were being graded, and a second run with
nothing changed grades nothing. A result whose key no longer matches (the submission or the course
changed) is dropped, never shown next to fresh ones. OUT accumulates like a gradebook: a
submission's ``results.json`` and its row of ``grades.csv`` hold every exercise with a valid result
in OUT, whichever run graded it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import grader
from grader.course.manifest import Course, Exercise
from grader.engine.grading import ExerciseResult
from grader.engine.results import result_from_dict, result_to_dict
from grader.instructor.report import write_atomically

log = logging.getLogger(__name__)

RECORD_FILE = ".grading.json"
FORMAT = 1
GRADER_ROOT = Path(grader.__file__).resolve().parent
# the grader's own code that decides a result (not what renders results, nor other commands):
# a fixed grading bug invalidates what it graded
GRADING_CODE = ("checks.py", "fixtures.py", "vjp.py", "engine", "isolation",
                "content/capstone.py", "content/bottleneck.py", "content/vit_task.py", "content/trainer.py",
                "course/manifest.py", "course/source.py", "course/namespace.py")


def _hash_files(digest, root: Path, paths) -> None:
    if not root.is_dir():
        digest.update(b"<no folder>\0")
        return
    for path in sorted(p for p in paths if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def course_fingerprint(course: Course, time_limit: float | None = None) -> str:
    """What every result depends on besides the submission."""
    digest = hashlib.sha256(f"course-grade/{FORMAT}/{grader.__version__}/{time_limit!r}\0".encode())
    root = Path(course.root)
    digest.update(hashlib.sha256((root / "course.toml").read_bytes()).digest())
    for folder in (root / "suites" / "hidden", root / "solutions"):
        _hash_files(digest, folder, folder.rglob("*.py"))
    # the grader's grading code (not its commands): a fixed grading bug invalidates what it graded
    code = [path for part in GRADING_CODE for path in
            ((GRADER_ROOT / part).rglob("*.py") if (GRADER_ROOT / part).is_dir() else [GRADER_ROOT / part])]
    _hash_files(digest, GRADER_ROOT, code)
    return digest.hexdigest()


def submission_fingerprint(folder: Path | None, notes: list[str]) -> str:
    """The submission as grading sees it: every top-level ``.py`` file of ``folder`` (the
    private copy of its module files that grading uses, see ``grader.instructor.submission``) and the
    notes made while opening it."""
    digest = hashlib.sha256(b"submission\0")
    for note in notes:
        digest.update(note.encode("utf-8", "replace") + b"\0")
    if folder is not None:
        for path in sorted(Path(folder).iterdir()):
            if path.suffix == ".py" and path.is_file() and not path.is_symlink():
                digest.update(path.name.encode("utf-8", "surrogateescape") + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def exercise_key(course_fp: str, exercise_id: str, content_fp: str) -> str:
    return hashlib.sha256(f"{course_fp}\0{exercise_id}\0{content_fp}".encode()).hexdigest()


class SubmissionRecord:
    """``OUT/<name>/.grading.json``: one submission's graded exercises, by id."""

    def __init__(self, book: "Gradebook", name: str, source: str = ""):
        self.book = book
        self.name = name
        self.source = source
        self.path = book.out / name / RECORD_FILE
        self.content = ""
        self.notes: list[str] = []
        self.entries: dict[str, dict] = {}      # exercise id -> {"key", "content", "result"}
        self._lock = threading.Lock()
        self._read()

    def _read(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") == FORMAT and isinstance(data.get("exercises"), dict):
                self.entries = data["exercises"]
                self.source = self.source or data.get("source", "")
                self.notes = list(data.get("notes", []))
                self.content = data.get("content", "")
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:  # a damaged record costs a regrade, nothing more
            log.warning("ignoring the unreadable %s (%s); its submission is graded again", self.path, exc)
            self.entries = {}

    def begin(self, content_fp: str, notes: list[str]) -> None:
        """The submission as it is now: results of other contents (or another course) are dropped."""
        with self._lock:
            self.content, self.notes = content_fp, list(notes)
            valid = {i: e for i, e in self.entries.items() if self._valid(i, e, content_fp)}
            if valid != self.entries or not self.path.exists():
                self.entries = valid
                self._write()

    def _valid(self, exercise_id: str, entry: dict, content_fp: str | None = None) -> bool:
        if not isinstance(entry, dict) or not isinstance(entry.get("result"), dict):
            return False
        content = entry.get("content") if content_fp is None else content_fp
        return isinstance(content, str) and entry.get("key") == exercise_key(self.book.course_fp, exercise_id, content)

    def lookup(self, exercise: Exercise) -> ExerciseResult | None:
        """The stored result of ``exercise`` for the current contents, or None to grade it
        (always None with ``--force``)."""
        return None if self.book.force else self.stored(exercise)

    def stored(self, exercise: Exercise) -> ExerciseResult | None:
        """The stored result of ``exercise`` for the current contents, if any, forced or not."""
        entry = self.entries.get(exercise.id)
        if entry is None or not self._valid(exercise.id, entry, self.content):
            return None
        try:
            return result_from_dict(entry["result"])
        except (TypeError, KeyError, ValueError):
            return None

    def record(self, exercise: Exercise, result: ExerciseResult) -> None:
        with self._lock:
            self.entries[exercise.id] = {
                "key": exercise_key(self.book.course_fp, exercise.id, self.content),
                "content": self.content,
                "result": result_to_dict(result),
            }
            self._write()

    def results(self) -> list[ExerciseResult]:
        """Every valid stored result, in course order, as read back from the record (so a
        reused result and a fresh one are written out identically)."""
        found = []
        for exercise in self.book.course.exercises:
            entry = self.entries.get(exercise.id)
            if entry is not None and self._valid(exercise.id, entry):
                try:
                    found.append(result_from_dict(json.loads(json.dumps(entry["result"]))))
                except (TypeError, KeyError, ValueError):
                    continue
        return found

    def adopt(self, content_fp: str, notes: list[str], entries: dict) -> None:
        """Take the record a cluster worker kept for this submission (plain JSON data) and
        write it: only entries valid for this course and grader are kept."""
        with self._lock:
            self.content, self.notes = str(content_fp), [str(note) for note in notes]
            self.entries = {str(i): e for i, e in dict(entries).items() if self._valid(str(i), e)}
            self._write()

    def stale(self) -> int:
        """How many stored results are not valid for this course and grader (graded by
        another version of either)."""
        return sum(not self._valid(i, e) for i, e in self.entries.items())

    def _write(self) -> None:
        order = {ex.id: i for i, ex in enumerate(self.book.course.exercises)}
        entries = dict(sorted(self.entries.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
        data = {"format": FORMAT, "submission": self.name, "source": self.source, "content": self.content,
                "notes": self.notes, "exercises": entries}
        write_atomically(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


class Gradebook:
    """The records of every submission under ``out``."""

    def __init__(self, out: Path, course: Course, time_limit: float | None = None, force: bool = False):
        self.out = Path(out)
        self.course = course
        self.force = force
        self.course_fp = course_fingerprint(course, time_limit)

    def submission(self, name: str, source: str = "") -> SubmissionRecord:
        return SubmissionRecord(self, name, source)

    def records(self) -> list[SubmissionRecord]:
        """Every submission with a record in OUT, by name."""
        if not self.out.is_dir():
            return []
        return [SubmissionRecord(self, path.parent.name)
                for path in sorted(self.out.glob(f"*/{RECORD_FILE}"))]
