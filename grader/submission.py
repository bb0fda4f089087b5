"""Turning what a learner handed in (a folder or a .zip) into a folder of modules,
and grading it exercise by exercise.

Whatever the submission holds, grading it never crashes the batch: a problem with
the submission itself becomes a note in its feedback.
"""

from __future__ import annotations

import logging
import shutil
import stat
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.grading import ExerciseResult, GradingContext, grade_exercise

log = logging.getLogger(__name__)

MAX_ZIP_FILES = 2000
MAX_ZIP_BYTES = 50 * 2**20
MAX_ZIP_RATIO = 200


class SubmissionError(Exception):
    """The submission could not be opened; the message is for the learner."""


@dataclass
class SubmissionResult:
    name: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: int = 0             # exercise results taken from an earlier run (see grader/gradebook.py)

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 2)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)


def submission_name(path: Path) -> str:
    path = Path(path)
    return path.stem if path.suffix.lower() == ".zip" else path.name


def _safe_extract(archive: Path, into: Path) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive.name} is not a readable zip file ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_FILES:
            raise SubmissionError(f"{archive.name} holds {len(members)} files; at most {MAX_ZIP_FILES} are accepted")
        total = sum(m.file_size for m in members)
        if total > MAX_ZIP_BYTES:
            raise SubmissionError(f"{archive.name} unpacks to {total} bytes; at most {MAX_ZIP_BYTES} are accepted")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise SubmissionError(f"{archive.name} contains an unsafe path: {member.filename!r}")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise SubmissionError(f"{archive.name} contains a symbolic link: {member.filename!r}")
            if member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO:
                raise SubmissionError(f"{archive.name} looks like a zip bomb ({member.filename!r})")
            target = into.joinpath(*name.parts)
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 2**16)
            if target.stat().st_size > member.file_size:
                raise SubmissionError(f"{archive.name}: {member.filename!r} is larger than it claims")


def _module_folder(root: Path, module_names: list[str]) -> Path:
    """The folder inside ``root`` that holds the course modules: the root itself, its
    ``exercises/`` folder, or the only folder inside it (a zip of a folder)."""
    candidates = [root, root / "exercises"]
    children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))] if root.is_dir() else []
    if len(children) == 1:
        candidates += [children[0], children[0] / "exercises"]

    def count(folder: Path) -> int:
        return sum((folder / f"{m}.py").is_file() for m in module_names) if folder.is_dir() else 0

    return max(candidates, key=count)


def grade_submission(ctx: GradingContext, path: Path, exercises=None, on_exercise=None,
                     record=None) -> SubmissionResult:
    """Grade every exercise (or those given) of the submission at ``path``.

    With ``record`` (a ``gradebook.SubmissionRecord``), an exercise whose result is stored
    for these exact contents is not graded again, and each new result is stored as soon as
    it is known."""
    path = Path(path)
    result = SubmissionResult(submission_name(path))
    started = time.monotonic()
    selected = exercises if exercises is not None else ctx.course.exercises
    # course order is dependency order: reference code for what an exercise builds on
    # reaches a worker only after those exercises have been graded
    order = {ex.id: index for index, ex in enumerate(ctx.course.exercises)}
    selected = sorted(selected, key=lambda ex: order.get(ex.id, len(order)))
    with tempfile.TemporaryDirectory(prefix="course-submission-") as tmp:
        folder = None
        try:
            if path.is_file() and path.suffix.lower() == ".zip":
                _safe_extract(path, Path(tmp))
                folder = _module_folder(Path(tmp), ctx.course.module_names)
            elif path.is_dir():
                folder = _module_folder(path, ctx.course.module_names)
            else:
                raise SubmissionError(f"{path} is neither a folder nor a .zip file")
        except SubmissionError as exc:
            result.notes.append(str(exc))
        except OSError as exc:
            result.notes.append(f"the submission could not be read: {exc}")
        if folder is not None:
            # a module the selected exercises do not need is not the learner's problem here
            missing = [m for m in ctx.course.modules_needed(selected) if not (folder / f"{m}.py").is_file()]
            if missing:
                result.notes.append("missing modules: " + ", ".join(f"{m}.py" for m in missing))
        if record is not None:
            from grader.gradebook import submission_fingerprint

            try:
                content = submission_fingerprint(folder, result.notes)
            except OSError as exc:  # unreadable files: grade it (grading says what is wrong), reuse nothing
                log.warning("could not fingerprint %s (%s); its results will not be reused", path, exc)
                content = "unreadable:" + uuid.uuid4().hex
            record.begin(content, result.notes)
        for exercise in selected:
            stored = record.lookup(exercise) if record is not None else None
            if stored is not None:
                result.exercises.append(stored)
                result.reused += 1
                if on_exercise is not None:
                    on_exercise(result.name, stored)
                continue
            if folder is None:
                outcome = ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0,
                                         problem="not graded: " + "; ".join(result.notes))
            else:
                try:
                    outcome = grade_exercise(ctx, exercise, folder)
                except Exception:  # a grader bug must not sink the batch; it is reported, not hidden
                    log.exception("internal error grading %s of %s", exercise.id, result.name)
                    outcome = ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0,
                                             problem="the grader failed on this exercise (its bug, not yours); "
                                                     "your instructor will see the error")
            if record is not None:
                record.record(exercise, outcome)
            result.exercises.append(outcome)
            if on_exercise is not None:
                on_exercise(result.name, outcome)
    result.seconds = time.monotonic() - started
    return result
