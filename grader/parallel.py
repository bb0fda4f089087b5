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
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from grader.gradebook import Gradebook
from grader.grading import GradingContext
from grader.manifest import Course, load_manifest
from grader.report import remove_leftovers, write_results
from grader.submission import SubmissionResult, grade_submission, submission_name

_DONE = "done"  # the end of the progress events


def grade_and_write(ctx: GradingContext, book: Gradebook, path: Path, exercises,
                    on_exercise: Callable[[], None]) -> SubmissionResult:
    """Grade what is missing of one submission, keep each result in its record as it
    comes, and write its results.json and feedback from the record."""
    name = submission_name(path)
    remove_leftovers(book.out / name)
    record = book.submission(name, str(path))
    run = grade_submission(ctx, path, exercises, on_exercise=lambda *_: on_exercise(), record=record)
    stored = record.results()
    full = SubmissionResult(name, stored, run.notes, seconds=sum(e.seconds for e in stored), reused=run.reused)
    write_results(book.out, full, ctx.course)
    return full


def grade_class(course: Course, submissions: list[Path], exercises, book: Gradebook, jobs: int,
                time_limit: float | None, on_exercise: Callable[[], None]) -> list[SubmissionResult]:
    """Every submission graded (what ``book`` lacks), in the order given."""
    if jobs <= 1 or len(submissions) <= 1:
        ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
        try:
            return [grade_and_write(ctx, book, path, exercises, on_exercise) for path in submissions]
        finally:
            ctx.close()
    return list(_in_processes(course, submissions, [ex.id for ex in exercises], book, min(jobs, len(submissions)),
                              time_limit, book.force, on_exercise))


def _in_processes(course, submissions, exercise_ids, book, jobs, time_limit, force, on_exercise) -> Iterator[SubmissionResult]:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or fork server inherited
    events = spawn.Queue()
    relay = threading.Thread(target=_relay, args=(events, on_exercise), daemon=True)
    relay.start()
    setup = (str(course.root), str(book.out), time_limit, force, events)
    try:
        with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=_start, initargs=setup) as pool:
            for name, notes, reused in pool.map(_grade_one, [str(p) for p in submissions],
                                                [exercise_ids] * len(submissions)):
                stored = book.submission(name).results()
                yield SubmissionResult(name, stored, notes, seconds=sum(e.seconds for e in stored), reused=reused)
    finally:
        events.put(_DONE)
        relay.join(timeout=5)


def _relay(events, on_exercise) -> None:
    while events.get() != _DONE:
        on_exercise()


# ---------------------------------------------------------------- in a grading process

_process: dict = {}


def _start(course_root: str, out: str, time_limit, force: bool, events) -> None:
    course = load_manifest(Path(course_root) / "course.toml")
    ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
    atexit.register(ctx.close)
    _process.update(ctx=ctx, book=Gradebook(Path(out), course, time_limit=time_limit, force=force),
                    events=events, course=course)


def _grade_one(path: str, exercise_ids: list[str]) -> tuple[str, list[str], int]:
    course = _process["course"]
    exercises = [course.exercise(i) for i in exercise_ids]
    events = _process["events"]
    result = grade_and_write(_process["ctx"], _process["book"], Path(path), exercises, lambda: events.put(1))
    return result.name, list(result.notes), int(result.reused)
