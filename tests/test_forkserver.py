"""Workers forked from the warm fork server behave like workers started from scratch."""

import os
import textwrap
import time

import pytest

from grader.forkserver import ForkServer
from grader.grading import GradingContext, warm_launcher
from grader.remote import StudentProxy, WorkerSession, worker_env
from grader.submission import grade_submission
from tests.support import make_submission

LEARNER = textwrap.dedent('''
    import os, subprocess, sys

    def whoami():
        return os.getpid(), os.getpgid(0), os.getcwd(), os.environ["HOME"], "torch" in sys.modules

    def leave_a_child(marker):
        return subprocess.Popen(["sleep", marker]).pid

    def die():
        os._exit(3)
''')


def _session(tmp_path, launcher):
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    (folder / "learner.py").write_text(LEARNER)
    config = {"folder": str(folder), "modules": ["learner"], "graded_module": "learner", "partials": {},
              "dependencies": {}, "forbidden": [], "memory_limit_mb": 3072}
    session = WorkerSession(folder, config, 30, tmp_path / "output.txt", launcher)
    assert session.start() is None, session.output_tail()
    return session, StudentProxy(session, ["learner"], lambda module, name: []).learner, folder


def _running(marker):
    """Pids (as seen here) of processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if marker.encode() in fh.read().split(b"\0") and _alive(int(entry)):
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is not alive
        return fh.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture(scope="module")
def server():
    launcher = ForkServer(worker_env("/tmp"), ["torch"])
    yield launcher
    launcher.close()


def test_a_forked_worker_leads_its_own_process_group_in_the_submission_folder(server, tmp_path):
    session, learner, folder = _session(tmp_path, server)
    with session:
        pid, pgid, cwd, home, has_torch = learner.whoami()
        # as root, the worker is the first process of its own PID namespace
        assert pid == pgid == (1 if os.geteuid() == 0 else session.process.pid)
        assert session.process.pid != os.getpid()
        assert cwd == home == str(folder)
        assert has_torch  # imported once, in the server
        marker = f"{60 + os.getpid() % 1000 / 1000:.3f}"
        learner.leave_a_child(marker)
        assert _running(marker)
    deadline = time.monotonic() + 5
    while _running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(marker), "a process the learner started outlived its worker"


def test_the_exit_status_of_a_forked_worker_is_reported(server, tmp_path):
    from grader.remote import WorkerDied

    session, learner, _ = _session(tmp_path, server)
    with session, pytest.raises(WorkerDied, match="exited with status 3"):
        learner.die()


class BrokenLauncher:
    def spawn(self, *args):
        raise OSError("no fork server here")


def test_without_a_working_fork_server_workers_start_from_scratch(tmp_path):
    session, learner, _ = _session(tmp_path, BrokenLauncher())
    with session:
        pid, pgid, *_ = learner.whoami()
        if os.geteuid() == 0:  # one fork down, as the first process of its own PID namespace
            assert pid == pgid == 1 and session.worker_pid not in (None, session.process.pid)
        else:
            assert pid == pgid == session.process.pid


def test_the_fork_server_ends_when_closed(tmp_path):
    launcher = ForkServer(worker_env("/tmp"), [])
    session, learner, _ = _session(tmp_path, launcher)
    with session:
        learner.whoami()
    process = launcher._process
    launcher.close()
    assert process.poll() is not None


def test_forked_and_scratch_workers_grade_alike(course, tmp_path):
    folder = make_submission(tmp_path / "sub", {"rnn.rnn_forward": "def rnn_forward(x, h0, Wx, Wh, b):\n    return x, None\n"})
    exercises = [course.exercise("rnn.rnn_forward"), course.exercise("rnn.rnn_step_forward")]
    forked = GradingContext.for_course(course, "hidden", launcher=warm_launcher(course))
    scratch = GradingContext.for_course(course, "hidden", launcher=None)
    try:
        a, b = (grade_submission(ctx, folder, exercises) for ctx in (forked, scratch))
    finally:
        forked.close()
    assert [(e.score, e.feedback()) for e in a.exercises] == [(e.score, e.feedback()) for e in b.exercises]
    by_id = {e.id: e for e in a.exercises}
    assert by_id["rnn.rnn_forward"].score == 0 and by_id["rnn.rnn_step_forward"].passed
