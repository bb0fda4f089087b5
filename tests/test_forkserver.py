"""Workers forked from the warm fork server behave like workers started from scratch."""

import os
import socket
import sys
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from grader.engine.grading import GradingContext, warm_launcher
from grader.instructor.submission import grade_submission
from grader.isolation.forkserver import ForkServer
from grader.isolation.worker_client import StudentProxy, WorkerSession, worker_env
from tests.support import make_submission

pytestmark = pytest.mark.slow  # starts and kills fork servers and workers

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
        # Popen returns once the child has exec'd, but its command line may show a moment later
        deadline = time.monotonic() + 5
        while not _running(marker) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _running(marker)
    deadline = time.monotonic() + 5
    while _running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(marker), "a process the learner started outlived its worker"


def test_the_exit_status_of_a_forked_worker_is_reported(server, tmp_path):
    from grader.isolation.worker_client import WorkerDied

    session, learner, _ = _session(tmp_path, server)
    with session, pytest.raises(WorkerDied, match="exited with status 3"):
        learner.die()


class BrokenLauncher:
    def kept_budget(self, preload=()):      # as ForkServer's, which starts the server first
        raise OSError("no fork server here")

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


# ---------------------------------------------------------------- nothing runs as root before the sandbox

SHADOWS = ("argparse", "json", "subprocess", "socket", "runpy", "signal")


def _shadowing(folder, markers):
    """Modules in ``folder`` named like ones the fork server and the worker import at start.
    Each, if imported before the sandbox (no-new-privileges not yet set), leaves a marker."""
    markers.mkdir(exist_ok=True)
    markers.chmod(0o777)
    for name in SHADOWS:
        (folder / f"{name}.py").write_text(textwrap.dedent(f'''
            def _mark():
                try:
                    status = open("/proc/self/status").read()
                    if "NoNewPrivs:\\t0" in status:
                        open({str(markers / name)!r}, "w").write(status)
                except OSError:
                    pass
            _mark()
        '''))


def test_the_fork_server_imports_nothing_from_the_instructors_working_folder(tmp_path, monkeypatch):
    """`course grade *` run inside a folder of submissions: a submission named `json`, or a
    stray argparse.py there, must not be imported by the fork server (as root)."""
    instructor = tmp_path / "submissions"
    instructor.mkdir()
    markers = tmp_path / "markers"
    _shadowing(instructor, markers)
    (instructor / "subprocess").mkdir()
    (instructor / "subprocess" / "__init__.py").write_text((instructor / "subprocess.py").read_text())
    monkeypatch.chdir(instructor)
    launcher = ForkServer(worker_env("/tmp"), [])
    try:
        session, learner, _ = _session(tmp_path, launcher)
        with session:
            learner.whoami()
    finally:
        launcher.close()
    assert sorted(p.name for p in markers.iterdir()) == []


def test_a_worker_started_from_scratch_imports_nothing_from_the_submission_before_the_sandbox(tmp_path):
    """The scratch worker must not start with the submission (the learner's argparse.py)
    on sys.path. Passes once worker_client.py starts it with sandbox.python_command."""
    folder = tmp_path / "work"
    folder.mkdir()
    markers = tmp_path / "markers"
    _shadowing(folder, markers)
    session, learner, _ = _session(tmp_path, None)
    with session:
        learner.whoami()
    assert sorted(p.name for p in markers.iterdir()) == []


def test_python_command_ignores_the_working_folder(tmp_path):
    from grader.isolation import sandbox
    from grader.isolation.wire import Channel

    folder = tmp_path / "work"
    folder.mkdir()
    markers = tmp_path / "markers"
    _shadowing(folder, markers)
    done = subprocess.run(sandbox.python_command("grader.isolation.sandbox"), cwd=folder, env=worker_env(folder),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "processes" in done.stdout, done.stderr
    ours, theirs = socket.socketpair()
    worker = subprocess.Popen(sandbox.python_command("grader.isolation.worker", "--fd", theirs.fileno()), cwd=folder,
                              env=worker_env(folder), pass_fds=[theirs.fileno()], start_new_session=True)
    theirs.close()
    channel = Channel(ours)
    try:
        channel.settimeout(30)
        hello, _ = channel.recv()
        assert hello.get("hello") is True
    finally:
        channel.close()
        worker.wait(timeout=30)
    assert sorted(p.name for p in markers.iterdir()) == []


def test_python_command_loads_the_grader_from_its_folder_and_nothing_from_the_working_folder(tmp_path):
    import shutil

    from grader.isolation import sandbox

    done = subprocess.run(sandbox.python_command("site"), cwd=sandbox.empty_folder(), env={},
                          capture_output=True, text=True, timeout=60)
    path = done.stdout.split("sys.path = [")[1].split("]")[0]
    assert "''" not in path and sandbox.empty_folder() not in path and "ENABLE_USER_SITE: False" in done.stdout
    assert os.listdir(sandbox.empty_folder()) == [] and os.stat(sandbox.empty_folder()).st_mode & 0o777 == 0o555
    # a plain copy of the package, neither installed nor on any path: it is the one that runs
    copy = tmp_path / "elsewhere" / "grader"
    shutil.copytree(sandbox.GRADER_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "__init__.py").write_text("print('loaded', __file__)\n")
    command = sandbox.python_command("grader.isolation.sandbox")
    command[command.index(str(sandbox.GRADER_DIR))] = str(copy)
    done = subprocess.run(command, cwd=sandbox.empty_folder(), env={}, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith(f"loaded {copy / '__init__.py'}\n"), done.stderr


def test_the_empty_folder_is_never_one_someone_else_prepared(tmp_path, monkeypatch):
    from grader.isolation import sandbox

    monkeypatch.setattr(sandbox.tempfile, "gettempdir", lambda: str(tmp_path))
    shared = sandbox.empty_folder()
    assert shared == str(tmp_path / f"course-grader-empty-{os.geteuid()}") == sandbox.empty_folder()
    os.rmdir(shared)
    os.mkdir(shared)  # taken: writable, and with something in it
    (Path(shared) / "json.py").write_text("raise SystemExit\n")
    private = sandbox.empty_folder()
    assert private != shared and os.listdir(private) == [] and os.stat(private).st_mode & 0o777 == 0o555


def test_course_grade_with_jobs_imports_nothing_from_the_instructors_working_folder(tmp_path):
    """`python -m grader grade * --jobs 2` inside a folder of submissions: its grading processes
    (started by multiprocessing as `python -c ...`) and the grader itself import nothing from
    there, not even a submission folder named `multiprocessing`."""
    from tests.support import ROOT, make_submission

    instructor = tmp_path / "submissions"
    instructor.mkdir()
    markers = tmp_path / "markers"
    _shadowing(instructor, markers)
    (instructor / "multiprocessing").mkdir()
    (instructor / "multiprocessing" / "__init__.py").write_text((instructor / "json.py").read_text())
    for name in ("ann", "ben"):
        make_submission(instructor / name)
    done = subprocess.run([sys.executable, "-m", "grader", "--course", str(ROOT), "grade", "ann", "ben",
                           "--out", str(tmp_path / "out"), "--jobs", "2", "--only", "rnn.rnn_step_forward"],
                          cwd=instructor, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]   # named from here, graded there
    assert sorted(rows) == ["ann,2,2", "ben,2,2"], rows


def test_a_server_imports_torch_only_once_an_exercise_needs_it():
    """A numpy exercise never waits for torch; the first torch exercise replaces the server
    by one that imported it, once, before it entered the workers' budget."""
    launcher = ForkServer(worker_env("/tmp"), [])
    try:
        launcher.kept_budget(())
        without = launcher._process.pid
        assert launcher.preload == []
        launcher.kept_budget(("torch",))
        with_torch = launcher._process.pid
        launcher.kept_budget(("torch",))
        launcher.kept_budget(())
        assert with_torch != without and launcher._process.pid == with_torch
        assert launcher.preload == ["torch"]
    finally:
        launcher.close()


class RecordingLauncher:
    """Records what a context asks its fork server to start with; starts nothing."""

    def __init__(self):
        self.asked = []

    def kept_budget(self, preload=()):
        self.asked.append(tuple(preload))

    def close(self):
        pass


def test_a_grading_process_starts_its_server_once_with_what_any_exercise_needs(tmp_path, monkeypatch):
    """Started for its first (numpy) exercise, a grading process's server would be started
    anew at the first torch one: 1.7 s that a class's first submission, and every
    Gradescope run, would wait for. It starts early, with torch, in the background."""
    from grader.course.manifest import load_manifest
    from grader.instructor import class_grading
    from grader.instructor.gradebook import Gradebook
    from tests.support import ROOT

    course = load_manifest(ROOT / "course.toml")
    numpy_first = [course.exercise("rnn.rnn_step_forward"), course.exercise("attention.softmax")]
    ctx = GradingContext.for_course(course, launcher=RecordingLauncher())
    ctx.start_early_for_all(numpy_first)
    ctx.start_early_for_all(numpy_first[:1])
    deadline = time.monotonic() + 5
    while len(ctx.launcher.asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(ctx.launcher.asked) == [(), ("torch",)]

    # both ways a class is graded ask for it before their first submission
    asked_for = []
    monkeypatch.setattr(GradingContext, "start_early_for_all", lambda self, exercises: asked_for.append(
        [ex.id for ex in exercises]))
    make_submission(tmp_path / "ann")
    book = Gradebook(tmp_path / "out", course)
    class_grading.grade_class(course, [tmp_path / "ann"], numpy_first[:1], book, 1, None, lambda: None)
    monkeypatch.setattr(class_grading, "_process", {})       # a grading process's state, not this one's
    class_grading._start(str(ROOT), str(tmp_path / "out"), None, False, None, [ex.id for ex in numpy_first])
    class_grading._process["ctx"].close()
    assert asked_for == [["rnn.rnn_step_forward"], ["rnn.rnn_step_forward", "attention.softmax"]]


def test_checking_a_numpy_exercise_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    from tests.support import copy_course

    root = copy_course(tmp_path / "course")
    # main, not the `course` script: that one leaves with os._exit, before the print
    script = ("import sys\nfrom grader.cli import main"
              "\ntry:\n    main(['--course', sys.argv[1], 'check', 'rnn.rnn_step_forward'])\nexcept SystemExit:\n    pass"
              "\nprint('torch imported:', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120)
    assert "torch imported: False" in done.stdout, done.stdout + done.stderr
