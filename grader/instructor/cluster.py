"""Grading a class on a Dask cluster: one task per submission, the gradebook kept here.

``course grade ... --scheduler ADDRESS`` connects to a Dask scheduler (``local:N`` starts
a cluster of N worker processes on this machine). Every worker machine has the course
installed (``pip install -e ".[cluster]"`` in a clone of the same version); before
anything is graded each worker says which course it holds, and a worker with another
version, or none, stops the run with a message naming it.

This process opens each submission as grading always does (zips unpacked safely, links
refused: :func:`grader.instructor.submission.open_submission`) and sends a worker its module files,
the notes about them and what the gradebook already holds for it. The worker grades what
is missing with the same engine as local grading, in its own isolated workers, and
sends back the submission's record as JSON text; only this process writes the gradebook,
so resuming, ``--force``, ``--only``, the CSV and the charts behave as in local grading.
A task whose worker dies is run again by Dask elsewhere; a finished submission is stored
as soon as it arrives, so Ctrl-C or a lost client keeps it.
"""

from __future__ import annotations

import atexit
import logging
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import grader
from grader.course.manifest import Course, load_manifest
from grader.instructor.class_grading import failed_submission
from grader.instructor.gradebook import Gradebook, SubmissionRecord, course_fingerprint
from grader.instructor.report import remove_leftovers, write_results
from grader.instructor.submission import Opened, SubmissionResult, grade_submission, open_submission, submission_name
from grader.isolation.sandbox import empty_folder

COURSE_ROOT_VARIABLE = "COURSE_ROOT"      # where a worker's course is, if not beside the grader package


class ClusterError(RuntimeError):
    """The cluster cannot grade this course: the message says which worker and why."""


# ---------------------------------------------------------------- this process: the client

def connect(address: str):
    """A ``distributed.Client`` for ``address``; ``local:N`` starts N worker processes here,
    one thread each (a grading worker runs one submission at a time)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError('--scheduler needs Dask\'s distributed: pip install -e ".[cluster]"') from None
    if address.startswith("local:"):
        count = address.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--scheduler {address}: say how many local workers, e.g. local:2")
        here = os.getcwd()
        os.chdir(empty_folder())       # worker processes start as `python -c`: nothing of this folder on sys.path
        try:
            cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
        finally:
            os.chdir(here)
        return Client(cluster)
    try:
        return Client(address, timeout="20s")
    except OSError as exc:
        raise ClusterError(f"no Dask scheduler answers at {address} ({exc}); start one with `dask scheduler`") from None


def disconnect(client) -> None:
    """Close ``client``, and the cluster it started here (``local:N``): its worker processes
    would otherwise live on until this process ends."""
    cluster = getattr(client, "cluster", None)       # None for a scheduler elsewhere
    client.close()
    if cluster is not None:
        cluster.close()


def check_workers(client, course: Course, time_limit: float | None) -> int:
    """How many workers there are, once each holds this very course and grader."""
    wanted = course_fingerprint(course, time_limit)
    found = client.run(worker_course, time_limit, on_error="return")
    if not found:
        raise ClusterError("the Dask scheduler has no workers; start some with `dask worker ADDRESS --nthreads 1`")
    for address, answer in sorted(found.items()):
        if isinstance(answer, BaseException):
            raise ClusterError(f"worker {address} cannot run the grader ({type(answer).__name__}: {answer}); "
                               "install the course there: pip install -e \".[cluster]\" in a clone of it")
        if answer.get("error"):
            raise ClusterError(f"worker {address}: {answer['error']}")
        if answer["fingerprint"] != wanted:
            raise ClusterError(f"worker {address} holds another version of the course or grader (at "
                               f"{answer['root']}, grader {answer['version']}); install this one there")
    return len(found)


def grade_on_cluster(client, course: Course, submissions: list[Path], exercises, book: Gradebook,
                     time_limit: float | None, on_exercise: Callable[[], None]) -> list[SubmissionResult]:
    """Every submission graded on the cluster (what ``book`` lacks), in the order given, once
    every worker holds this course (:func:`check_workers`)."""
    from distributed import as_completed

    check_workers(client, course, time_limit)
    exercise_ids = [ex.id for ex in exercises]
    futures = {}
    for path in submissions:
        payload = _payload(course, book, Path(path), exercise_ids, time_limit)
        futures[client.submit(grade_task, payload, key=f"grade-{len(futures)}-{payload['name']}", pure=False)] = path
    results = {}
    try:
        for future in as_completed(futures):
            path = futures[future]
            results[path] = _store(book, course, path, exercises, future)
            for _ in exercises:
                on_exercise()
    finally:
        client.cancel([f for f in futures if not f.done()])
    return [results[path] for path in submissions]


def _payload(course: Course, book: Gradebook, path: Path, exercise_ids: list[str], time_limit) -> dict:
    """What a worker needs to grade the submission at ``path``: plain data only."""
    name = submission_name(path)
    with tempfile.TemporaryDirectory(prefix="course-cluster-") as tmp:
        opened = open_submission(path, Path(tmp), course.module_names)
        files = {}
        if opened.folder is not None:
            files = {p.name: p.read_bytes() for p in sorted(opened.folder.iterdir()) if p.is_file()}
    record = book.submission(name, str(path))
    return {"name": name, "path": str(path), "folder": opened.folder is not None, "files": files,
            "notes": list(opened.notes), "refused": dict(opened.refused), "exercises": exercise_ids,
            "time_limit": time_limit, "force": book.force, "course": book.course_fp,
            "record": {"content": record.content, "notes": record.notes, "entries": record.entries}}


def _store(book: Gradebook, course: Course, path: Path, exercises, future) -> SubmissionResult:
    """The worker's answer, written into the gradebook here; a task that failed costs
    that submission (with a note), not the batch."""
    name = submission_name(path)
    try:
        answer = json.loads(future.result())
        record = book.submission(name, str(path))
        record.adopt(answer["content"], answer["record_notes"], answer["entries"])
        remove_leftovers(book.out / name)
        stored = record.results()
        full = SubmissionResult(name, stored, [str(n) for n in answer["notes"]],
                                seconds=sum(e.seconds for e in stored), reused=int(answer["reused"]),
                                not_graded={str(k): str(v) for k, v in dict(answer["not_graded"]).items()})
        write_results(book.out, full, course)
        return full
    except Exception as exc:
        return failed_submission(book, name, exercises, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- on a worker

def installed_course_root() -> Path:
    """The course this worker grades: $COURSE_ROOT, else the clone the grader is installed from."""
    return Path(os.environ.get(COURSE_ROOT_VARIABLE) or Path(grader.__file__).resolve().parent.parent)


def worker_course(time_limit: float | None) -> dict:
    """Which course this worker holds (its fingerprint), or why it holds none."""
    root = installed_course_root()
    if not (root / "course.toml").is_file():
        return {"error": f"no course.toml in {root} (install the course there, or set {COURSE_ROOT_VARIABLE})"}
    course = load_manifest(root / "course.toml")
    return {"root": str(root), "version": grader.__version__, "fingerprint": course_fingerprint(course, time_limit)}


class _MemoryRecord(SubmissionRecord):
    """A submission's record as the client sent it, kept in memory: the client writes it."""

    def __init__(self, book: Gradebook, name: str, sent: dict):
        self._sent = sent
        super().__init__(book, name)

    def _read(self) -> None:
        self.content = str(self._sent.get("content", ""))
        self.notes = list(self._sent.get("notes", []))
        self.entries = dict(self._sent.get("entries", {}))

    def _write(self) -> None:
        pass


_worker: dict = {}
_worker_lock = threading.Lock()


def _context(time_limit):
    """This worker's grading context (its fork server of isolated workers), made once."""
    from grader.engine.grading import GradingContext

    if _worker.get("time_limit", object()) != time_limit or "ctx" not in _worker:
        if "ctx" in _worker:
            _worker["ctx"].close()
        course = load_manifest(installed_course_root() / "course.toml")
        ctx = GradingContext.for_course(course, kind="hidden", time_limit=time_limit)
        atexit.register(ctx.close)
        _worker.update(ctx=ctx, course=course, time_limit=time_limit)
    return _worker["ctx"], _worker["course"]


def grade_task(payload: dict) -> str:
    """Grade one submission as the client sent it; its record and result as JSON text."""
    with _worker_lock:          # one grading at a time per worker process, whatever its threads
        ctx, course = _context(payload["time_limit"])
        with tempfile.TemporaryDirectory(prefix="course-cluster-") as tmp:
            book = Gradebook(Path(tmp) / "book", course, time_limit=payload["time_limit"], force=payload["force"])
            if book.course_fp != payload["course"]:
                raise ClusterError(f"this worker holds another version of the course ({installed_course_root()})")
            folder = None
            if payload["folder"]:
                folder = Path(tmp) / "modules"
                folder.mkdir()
                for name, data in payload["files"].items():
                    (folder / Path(name).name).write_bytes(data)
            opened = Opened(folder, list(payload["notes"]), dict(payload["refused"]))
            record = _MemoryRecord(book, payload["name"], payload["record"])
            exercises = [course.exercise(i) for i in payload["exercises"]]
            result = grade_submission(ctx, Path(payload["path"]), exercises, record=record, opened=opened)
    return json.dumps({"content": record.content, "record_notes": record.notes, "entries": record.entries,
                       "notes": list(result.notes), "reused": int(result.reused),
                       "not_graded": dict(result.not_graded)}, ensure_ascii=False)
