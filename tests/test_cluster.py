"""`course grade --scheduler`: grading on a Dask cluster (a real scheduler and two worker
processes on this machine) gives what local grading gives, loses nothing when a worker
dies, and refuses workers that hold another course or none."""

import json
import os
import signal
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.instructor.cluster import ClusterError, check_workers, connect, disconnect, grade_on_cluster
from grader.instructor.gradebook import Gradebook
from grader.instructor.report import write_grades_csv
from tests.support import ROOT

pytestmark = pytest.mark.slow  # grades on a Dask cluster

pytest.importorskip("distributed")

CLASS = sorted((ROOT / "examples" / "class").iterdir())
ONLY = "rnn"
COURSE = load_manifest(ROOT / "course.toml")


@pytest.fixture(scope="module")
def client():
    client = connect("local:2")
    yield client
    disconnect(client)


def _grade(out, *options):
    result = CliRunner().invoke(main, ["--course", str(ROOT), "grade", *map(str, CLASS), "--out", str(out),
                                       "--only", ONLY, *options])
    assert result.exit_code == 0, result.output
    return out


def _results(folder: Path) -> dict:
    """Every submission's results.json without its timings, and its feedback.md."""
    found = {}
    for path in sorted(folder.glob("*/results.json")):
        data = json.loads(path.read_text())
        data.pop("execution_time")
        for test in data["tests"]:
            test.pop("execution_time", None)
        found[path.parent.name] = (data, (path.parent / "feedback.md").read_text())
    return found


@pytest.fixture(scope="module")
def graded_here(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("here") / "out")


def test_the_cluster_grades_as_this_machine_does(tmp_path, graded_here):
    out = _grade(tmp_path / "out", "--scheduler", "local:2")
    assert (out / "grades.csv").read_text() == (graded_here / "grades.csv").read_text()
    assert _results(out) == _results(graded_here)
    assert len(_results(out)) == len(CLASS)
    # and again: everything is reused from the gradebook this process wrote
    again = CliRunner().invoke(main, ["--course", str(ROOT), "grade", *map(str, CLASS), "--out", str(out),
                                      "--only", ONLY, "--scheduler", "local:2"])
    assert "0 graded now" in again.output


def test_the_command_leaves_no_worker_process_behind(tmp_path):
    import psutil

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    _grade(tmp_path / "out", "--scheduler", "local:2")
    left = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
    # multiprocessing's resource tracker stays, one per process, whatever started it
    workers = [child for child in left if child.is_running() and child.status() != psutil.STATUS_ZOMBIE
               and "resource_tracker" not in " ".join(child.cmdline())]
    assert not workers


def test_a_worker_killed_mid_run_loses_nothing(client, tmp_path, graded_here):
    exercises = COURSE.select(ONLY)
    book = Gradebook(tmp_path / "out", COURSE)
    pids = sorted(client.run(os.getpid).values())
    killed = []

    def kill_one_worker():
        if not killed:       # at the first finished exercise: the other worker is busy with a submission
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break

    results = grade_on_cluster(client, COURSE, CLASS, exercises, book, None, kill_one_worker)
    assert killed
    assert [r.name for r in results] == [p.name.removesuffix(".zip") for p in CLASS]
    assert not [note for r in results for note in r.notes if "grader's bug" in note]
    write_grades_csv(book.out, COURSE.exercises, results)
    assert (book.out / "grades.csv").read_text() == (graded_here / "grades.csv").read_text()


def _set_course_root(client, root):
    """Set (or, with None, unset) $COURSE_ROOT in every worker process. A lambda, so that
    it is sent by value (``os.environ.__setitem__`` would travel with a copy of the mapping)."""
    client.run(lambda: os.environ.__setitem__("COURSE_ROOT", root) if root else os.environ.pop("COURSE_ROOT", None))


def test_a_worker_without_the_course_is_named(client, tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    _set_course_root(client, str(empty))
    try:
        with pytest.raises(ClusterError, match=r"worker tcp://.*: no course.toml in .*nothing"):
            check_workers(client, COURSE, None)
    finally:
        _set_course_root(client, None)
    assert check_workers(client, COURSE, None) == len(client.scheduler_info()["workers"])


def test_a_worker_with_another_version_of_the_course_is_named(client, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(ROOT / "course.toml", other / "course.toml")
    for folder in ("solutions", "suites"):
        shutil.copytree(ROOT / folder, other / folder)
    with open(other / "suites" / "hidden" / "test_rnn.py", "a") as suite:
        suite.write("\n# a suite edited since\n")
    _set_course_root(client, str(other))
    try:
        with pytest.raises(ClusterError, match="holds another version of the course"):
            check_workers(client, COURSE, None)
    finally:
        _set_course_root(client, None)


def test_no_scheduler_at_the_address_says_so():
    result = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(CLASS[0]), "--out", "/tmp/unused",
                                       "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code != 0 and "no Dask scheduler answers at tcp://127.0.0.1:9" in result.output
