"""Turning what a learner handed in (a folder or a .zip) into a folder of modules,
and grading it exercise by exercise.

Whatever the submission holds, grading it never crashes the batch: a problem with
the submission itself becomes a note in its feedback.

What is graded is a private copy of the submission's module files, made here: only
regular files of the submission's own (no symbolic link anywhere below the submission's
folder, no hard link, nothing over :data:`~grader.engine.grading.MAX_MODULE_BYTES`), so nothing
outside the submission is ever read through a link. A submission whose name the gradebook
cannot use (empty, starting with a dot, or one of the files it writes in OUT) is not
graded: it gets a note, and zero for each exercise under the name ``refused_<name>``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.engine.grading import MAX_MODULE_BYTES, ExerciseResult, GradingContext, grade_exercise
from grader.engine.in_order import judge_in_order
from grader.instructor.feedback import EXERCISE_LIMIT, Budget, SolutionLines, bounded_exercise, bounded_notes
from grader.instructor.report import CLASS_FILES

log = logging.getLogger(__name__)

MAX_ZIP_FILES = 2000
MAX_ZIP_BYTES = 50 * 2**20
MAX_ZIP_RATIO = 200
REFUSED_PREFIX = "refused_"
# what zipfile and zlib raise on a member they cannot unpack (bad CRC, a password, a
# compression method it lacks, a truncated or corrupt stream)
_UNPACK_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error, ValueError)


class SubmissionError(Exception):
    """The submission could not be opened; the message is for the learner."""


@dataclass
class SubmissionResult:
    name: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: int = 0             # exercise results taken from an earlier run (see grader/instructor/gradebook.py)
    not_graded: dict[str, str] = field(default_factory=dict)   # exercise id -> the grader's fault

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 2)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)


def given_name(path: Path) -> str:
    """The name the learner gave: the folder's, or the zip's without ``.zip``."""
    path = Path(os.path.abspath(path))   # "." and "sub/.." name the folder they stand for
    return path.stem if path.suffix.lower() == ".zip" else path.name


def name_refusal(name: str) -> str | None:
    """Why the gradebook cannot use ``name`` for a submission's folder in OUT, or None."""
    if not name.strip():
        return "its name is empty"
    if name.startswith("."):
        return f"its name, {name!r}, starts with a dot (hidden, and the gradebook's own files are named so)"
    if name.casefold() in {f.casefold() for f in CLASS_FILES}:
        return f"its name, {name!r}, is that of a file the gradebook writes ({', '.join(CLASS_FILES)})"
    return None


def submission_name(path: Path) -> str:
    """The name a submission is graded and written under (``OUT/<name>/``, its row of
    grades.csv): the name it was given, or ``refused_<name>`` when that one cannot be used."""
    name = given_name(path)
    if name_refusal(name) is None:
        return name
    safe = REFUSED_PREFIX + name
    if len(os.fsencode(safe)) > 255:   # longer than a file name may be
        safe = REFUSED_PREFIX + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    return safe


def _refusal_note(path: Path) -> str | None:
    reason = name_refusal(given_name(path))
    if reason is None:
        return None
    return (f"this submission ({Path(path).name}) was not graded: {reason}; "
            f"rename it and grade it again")


def _safe_extract(archive: Path, into: Path) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, *_UNPACK_ERRORS) as exc:
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
            if member.flag_bits & 0x1:
                raise SubmissionError(f"{archive.name} is protected by a password ({member.filename!r}); "
                                      "hand it in without one")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 2**16)
            except _UNPACK_ERRORS as exc:
                raise SubmissionError(f"{archive.name} is damaged: {member.filename!r} could not be unpacked "
                                      f"({exc})") from None
            if target.stat().st_size > member.file_size:
                raise SubmissionError(f"{archive.name}: {member.filename!r} is larger than it claims")


# ---------------------------------------------------------------- the module files

def _is(path: Path, kind) -> bool:
    """Whether ``path`` itself (never what a link points to) is of ``kind``
    (``stat.S_ISLNK``, ``S_ISDIR``, ``S_ISREG``)."""
    try:
        return kind(path.lstat().st_mode)
    except OSError:
        return False


def _link_note(path: Path, root: Path, what: str) -> str:
    inside = Path(os.path.realpath(path)).is_relative_to(root)
    where = "elsewhere in the submission" if inside else f"a {what} outside the submission"
    return f"{path.relative_to(root)} is a link to {where}; it was not graded (only real files are)"


def _module_folder(root: Path, module_names: list[str]) -> tuple[Path, list[str]]:
    """The folder inside ``root`` that holds the course modules: the root itself, its
    ``exercises/`` folder, or the only folder inside it (a zip of a folder), or that
    folder's ``exercises/``. A link among these is never followed; it gets a note."""
    notes: list[str] = []

    def usable(folder: Path) -> bool:
        if _is(folder, stat.S_ISLNK):
            note = _link_note(folder, root, "folder")
            notes.extend([note] if note not in notes else [])   # exercises/ may also be the only child
            return False
        return _is(folder, stat.S_ISDIR)

    candidates = [root]
    if usable(root / "exercises"):
        candidates.append(root / "exercises")
    children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    if len(children) == 1 and usable(children[0]):
        candidates.append(children[0])
        if usable(children[0] / "exercises"):
            candidates.append(children[0] / "exercises")

    def count(folder: Path) -> int:
        return sum(_is(folder / f"{m}.py", stat.S_ISREG) for m in module_names)

    return max(candidates, key=count), notes


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f}".removesuffix(".0") + " MB"


def _copy_module(source: Path, target: Path, root: Path) -> str | None:
    """Copy one ``.py`` file, or say why it is not graded. The checks run on the open file
    (``O_NOFOLLOW``), so what is copied is what was checked."""
    if _is(source, stat.S_ISLNK):
        return _link_note(source, root, "file")
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return f"{source.name} could not be read ({exc.strerror}); it was not graded"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISDIR(info.st_mode):
            return None                    # a folder named like a module: not a module
        if not stat.S_ISREG(info.st_mode):
            return f"{source.name} is not a regular file; it was not graded"
        if info.st_nlink > 1:              # the same file has another name, maybe outside the submission
            return f"{source.name} is a hard link to a file that may be outside the submission; it was not graded"
        data = fh.read(MAX_MODULE_BYTES + 1)      # never more, whatever the size said
    if max(info.st_size, len(data)) > MAX_MODULE_BYTES:
        return (f"{source.name} is {_size_text(max(info.st_size, len(data)))}; modules of at most "
                f"{_size_text(MAX_MODULE_BYTES)} are graded")
    target.write_bytes(data)
    return None


def _copy_modules(folder: Path, into: Path, root: Path) -> dict[str, str]:
    """The top-level ``.py`` files of ``folder`` that may be graded, copied into ``into``;
    returns a note per file left out, by file name."""
    into.mkdir()
    refused = {}
    for source in sorted(folder.iterdir()):
        if source.suffix == ".py":
            note = _copy_module(source, into / source.name, root)
            if note is not None:
                refused[source.name] = note
    return refused


@dataclass
class Opened:
    folder: Path | None = None                            # the private copy of the module files
    notes: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # module file name -> why it is not graded


def open_submission(path: Path, work: Path, module_names: list[str]) -> Opened:
    """The submission at ``path`` as a folder of module files in ``work``, or why not."""
    opened = Opened()
    refusal = _refusal_note(path)
    if refusal is not None:
        opened.notes.append(refusal)
        return opened
    try:
        if path.is_file() and path.suffix.lower() == ".zip":
            root = work / "unpacked"
            root.mkdir()
            _safe_extract(path, root)
            root = root.resolve()
        elif path.is_dir():
            root = path.resolve()          # the instructor may give a link; nothing below it may be one
        else:
            raise SubmissionError(f"{path.name} is neither a folder nor a .zip file")
        chosen, opened.notes = _module_folder(root, module_names)
        opened.refused = _copy_modules(chosen, work / "modules", root)
    except SubmissionError as exc:
        opened.notes.append(str(exc))
        return opened
    except OSError as exc:
        opened.notes.append(f"the submission could not be read: {exc}")
        return opened
    opened.folder = work / "modules"
    opened.notes += opened.refused.values()
    return opened


def not_graded(exercise, reason: str) -> ExerciseResult:
    """Zero for ``exercise``, which was not graded for ``reason``."""
    return ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0, problem="not graded: " + reason)


def _grade_one(ctx: GradingContext, exercise, folder: Path | None, opened: Opened, result: SubmissionResult,
               passed: frozenset[str]) -> ExerciseResult:
    if folder is None:
        return not_graded(exercise, "; ".join(result.notes))
    if f"{exercise.module}.py" in opened.refused:     # the note says why
        return ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0,
                              problem=opened.refused[f"{exercise.module}.py"])
    try:
        return grade_exercise(ctx, exercise, folder, passed)
    except Exception:  # a grader bug must not sink the batch; it is reported, not hidden
        log.exception("internal error grading %s of %s", exercise.id, result.name)
        return ExerciseResult(exercise.id, exercise.title, exercise.points, 0.0,
                              problem="the grader failed on this exercise (its bug, not yours); "
                                      "your instructor will see the error")


def grade_submission(ctx: GradingContext, path: Path, exercises=None, on_exercise=None,
                     record=None, opened: Opened | None = None) -> SubmissionResult:
    """Grade every exercise (or those given) of the submission at ``path``.

    With ``record`` (a ``gradebook.SubmissionRecord``), an exercise whose result is stored
    for these exact contents is not graded again, and each new result is stored as soon as
    it is known. Learner text in the results is bounded (see :mod:`grader.instructor.feedback`) before
    it is stored or returned. ``opened``: the submission as :func:`open_submission` opened
    it elsewhere (a cluster worker gets it so); ``path`` then only names it."""
    path = Path(path)
    result = SubmissionResult(submission_name(path))
    started = time.monotonic()
    selected = list(exercises if exercises is not None else ctx.course.exercises)
    solution_lines = SolutionLines.of(ctx.course)
    with tempfile.TemporaryDirectory(prefix="course-submission-") as tmp:
        if opened is None:
            opened = open_submission(path, Path(tmp), ctx.course.module_names)
        folder = opened.folder
        notes = opened.notes
        if folder is not None:
            # a module the selected exercises do not need is not the learner's problem here;
            # one left out for a reason of its own has a note saying so already
            missing = [m for m in ctx.course.modules_needed(selected)
                       if not (folder / f"{m}.py").is_file() and f"{m}.py" not in opened.refused]
            if missing:
                notes.append("missing modules: " + ", ".join(f"{m}.py" for m in missing))
        result.notes = bounded_notes(notes, Budget(EXERCISE_LIMIT, solution_lines))
        if record is not None:
            from grader.instructor.gradebook import submission_fingerprint

            try:
                content = submission_fingerprint(folder, result.notes)
            except OSError as exc:  # unreadable files: grade it (grading says what is wrong), reuse nothing
                log.warning("could not fingerprint %s (%s); its results will not be reused", path, exc)
                content = "unreadable:" + uuid.uuid4().hex
            record.begin(content, result.notes)
        selected_ids = {ex.id for ex in selected}

        # with --only, what the selection builds on is graded too (not kept): whether the
        # learner's own earlier piece passes decides what a later exercise runs with
        def judge(exercise_id: str, passed: frozenset[str]) -> bool:
            exercise = ctx.course.exercise(exercise_id)
            chosen = exercise_id in selected_ids
            stored = None
            if record is not None:   # --force grades the selection again, not what it builds on
                stored = record.lookup(exercise) if chosen else record.stored(exercise)
            if stored is not None:
                outcome = stored
                result.reused += chosen
            else:
                outcome = _grade_one(ctx, exercise, folder, opened, result, passed)
                if chosen and not outcome.graded:   # the grader's failure is never the learner's score
                    result.not_graded[exercise.id] = outcome.grader_fault
                elif chosen:
                    outcome = bounded_exercise(outcome, Budget(EXERCISE_LIMIT, solution_lines))
                    if record is not None:
                        record.record(exercise, outcome)
            if chosen:
                result.exercises.append(outcome)
                if on_exercise is not None:
                    on_exercise(result.name, outcome)
            return outcome.passed

        judge_in_order([ex.id for ex in ctx.course.with_what_they_build_on(selected)], ctx.course.builds_on_all,
                       judge)
    result.seconds = time.monotonic() - started
    return result
