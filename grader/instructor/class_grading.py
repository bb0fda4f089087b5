"""Grading a class: one submission at a time, in this process or in ``jobs`` processes.

The checks run in the grader (they compare the learner's outputs with the reference),
and much of their work is Python: threads of one process would take turns on the GIL.
So with ``jobs > 1`` the submissions are shared out to that many grading processes,
each with its own fork server of warm workers. A grading process sends back only the
submission's name and counts; what it graded is read back from the gradebook's JSON
records on disk, so no Python object crosses between processes.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from grader.course.manifest import Course, load_manifest
from grader.engine.grading import GradingContext
from grader.instructor.gradebook import Gradebook
from grader.instructor.report import remove_leftovers, write_results
from grader.instructor.submission import SubmissionResult, grade_submission, not_graded, submission_name
from grader.isolation.sandbox import empty_folder

log = logging.getLogger(__name__)

_DONE = "done"  # the end of the progress events
GRADER_FAILED = ("grading this submission failed (the grader's bug, not yours); your instructor will see "
                 "the error: {error}")


def grade_and_write(ctx: GradingContext, book: Gradebook, path: Path, exercises,
                    on_exercise: Callable[[], None]) -> SubmissionResult:
    """Grade what is missing of one submission, keep each result in its record as it
    comes, and write its results.json and feedback from the record. Whatever goes wrong
    with this one submission becomes a note in its results; the batch goes on."""
    name = submission_name(path)
    try:
        return _grade_and_write(ctx, book, path, exercises, on_exercise)
    except Exception as exc:
        log.exception("grading %s failed", path)
        return failed_submission(book, name, exercises, f"{type(exc).__name__}: {exc}")


def _grade_and_write(ctx: GradingContext, book: Gradebook, path: Path, exercises,
                     on_exercise: Callable[[], None]) -> SubmissionResult:
    name = submission_name(path)
    remove_leftovers(book.out / name)
    record = book.submission(name, str(path))
    run = grade_submission(ctx, path, exercises, on_exercise=lambda *_: on_exercise(), record=record)
    stored = record.results()
    full = SubmissionResult(name, stored, run.notes, seconds=sum(e.seconds for e in stored), reused=run.reused,
                            not_graded=run.not_graded)
    write_results(book.out, full, ctx.course)
    return full


def failed_submission(book: Gradebook, name: str, exercises, error: str) -> SubmissionResult:
    """A submission whose grading failed: what its record holds, zero for the rest, and a
    note; its feedback is written if it can be (never stored, so the next run grades it)."""
    try:
        stored = book.submission(name).results()
    except Exception:           # an unreadable record is as good as none here
        stored = []
    note = GRADER_FAILED.format(error=error)
    have = {result.id for result in stored}
    zeros = [not_graded(ex, note) for ex in exercises if ex.id not in have]
    order = {ex.id: index for index, ex in enumerate(book.course.exercises)}
    result = SubmissionResult(name, sorted(stored + zeros, key=lambda r: order.get(r.id, len(order))), [note])
    try:
        write_results(book.out, result, book.course)
    except Exception:
        log.exception("the feedback of %s could not be written either", name)
    return result


def grade_class(course: Course, submissions: list[Path], exercises, book: Gradebook, jobs: int,
                time_limit: float | None, on_exercise: Callable[[], None]) -> list[SubmissionResult]:
    """Every submission graded (what ``book`` lacks), in the order given."""
    if jobs <= 1 or len(submissions) <= 1:
        ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
        ctx.start_early_for_all(exercises)
        try:
            return [grade_and_write(ctx, book, path, exercises, on_exercise) for path in submissions]
        finally:
            ctx.close()
    return list(_in_processes(course, submissions, exercises, book, min(jobs, len(submissions)),
                              time_limit, book.force, on_exercise))


def _in_processes(course, submissions, exercises, book, jobs, time_limit, force,
                  on_exercise) -> Iterator[SubmissionResult]:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or fork server inherited
    exercise_ids = [ex.id for ex in exercises]
    root, out, paths = os.path.abspath(course.root), os.path.abspath(book.out), [os.path.abspath(p) for p in submissions]
    with _started_from_an_empty_folder():  # so the paths they are handed are absolute, made here
        events = spawn.Queue()
        setup = (root, out, time_limit, force, events, exercise_ids)
        pool = ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_start, initargs=setup)
        futures = [pool.submit(_grade_one, path, exercise_ids) for path in paths]
    relay = threading.Thread(target=_relay, args=(events, on_exercise), daemon=True)
    relay.start()
    try:
        with pool:
            for path, future in zip(submissions, futures):
                yield _collect(book, path, exercises, future)
    finally:
        events.put(_DONE)
        relay.join(timeout=5)


@contextlib.contextmanager
def _started_from_an_empty_folder():
    """multiprocessing starts its processes (the grading processes, its resource tracker)
    as ``python -c ...``, which puts the working folder first on ``sys.path``: they start
    from an empty folder, so that nothing in the instructor's (a submission folder named
    ``multiprocessing``) is imported there, as root. Paths handed to them are absolute."""
    here = os.getcwd()
    os.chdir(empty_folder())
    try:
        yield
    finally:
        os.chdir(here)


def _collect(book: Gradebook, path: Path, exercises, future) -> SubmissionResult:
    """One submission's result, read back from its record; a grading process that died
    (or failed) costs that submission, with a note, not the batch."""
    try:
        name, notes, reused, failed, not_graded = future.result()
        if failed is not None:
            return failed_submission(book, name, exercises, failed)
        stored = book.submission(name).results()
        return SubmissionResult(name, stored, notes, seconds=sum(e.seconds for e in stored), reused=reused,
                                not_graded=not_graded)
    except Exception as exc:
        log.exception("grading %s failed", path)
        return failed_submission(book, submission_name(path), exercises, f"{type(exc).__name__}: {exc}")


def _relay(events, on_exercise) -> None:
    while events.get() != _DONE:
        on_exercise()


# ---------------------------------------------------------------- in a grading process

_process: dict = {}


def _start(course_root: str, out: str, time_limit, force: bool, events, exercise_ids: list[str]) -> None:
    course = load_manifest(Path(course_root) / "course.toml")
    ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
    ctx.start_early_for_all([course.exercise(i) for i in exercise_ids])
    atexit.register(ctx.close)
    _process.update(ctx=ctx, book=Gradebook(Path(out), course, time_limit=time_limit, force=force),
                    events=events, course=course)


def _grade_one(path: str, exercise_ids: list[str]) -> tuple[str, list[str], int, str | None, dict[str, str]]:
    """Grade one submission here; its name, notes, reused count, what failed (or None), and
    the exercises the grader could not grade, with why."""
    course = _process["course"]
    exercises = [course.exercise(i) for i in exercise_ids]
    events = _process["events"]
    try:
        result = _grade_and_write(_process["ctx"], _process["book"], Path(path), exercises, lambda: events.put(1))
    except Exception as exc:     # the parent writes the failure, as it does for a process that died
        log.exception("grading %s failed", path)
        return submission_name(Path(path)), [], 0, f"{type(exc).__name__}: {exc}", {}
    return result.name, list(result.notes), int(result.reused), None, dict(result.not_graded)
