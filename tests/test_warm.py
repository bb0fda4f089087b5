"""The warm checker of `course check` (grader/learner/warm.py): what a command prints,
exits with and records is the same with it as without it; an out-of-date one gives way
to a fresh one; an idle one leaves."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, SOLUTIONS, copy_course

pytestmark = pytest.mark.slow  # starts servers and workers

EXERCISES = ("attention.softmax", "attention.general_score", "rnn.rnn_step_forward")


def servers(root: Path) -> list[int]:
    """The pids of the warm checkers of the course at ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"grader.learner.warm" in cmdline and str(root).encode() in cmdline:
            found.append(int(entry.name))
    return found


def cpu_ticks(pid: int) -> int:
    """The CPU time ``pid`` has used, in clock ticks (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def stop_servers(root: Path) -> None:
    for pid in servers(root):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while servers(root) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def course_copy(tmp_path):
    """A course whose softmax is right, general_score wrong and rnn not started; its own
    temporary folder, where the warm checker's socket lives."""
    root = copy_course(tmp_path / "course")
    shutil.copy(SOLUTIONS / "attention.py", root / "exercises" / "attention.py")
    attention = root / "exercises" / "attention.py"
    source = attention.read_text()
    start = source.index("def general_score(")
    body = source.index("# BEGIN SOLUTION", start)
    attention.write_text(source[:body] + "return 2 * torch.ones(keys.shape[:-1])  # wrong on purpose\n    "
                         + source[body:])
    temp = tmp_path / "tmp"
    temp.mkdir()
    yield root, temp
    stop_servers(root)


def check(root: Path, temp: Path, warm: bool, *ids: str) -> tuple[int, str, dict]:
    env = {**os.environ, "COURSE_WARM": "1" if warm else "0", "TMPDIR": str(temp), "COLUMNS": "80"}
    run = subprocess.run([sys.executable, "-m", "grader", "--course", str(root), "check", "--all", *ids],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    state = json.loads((root / ".course" / "state.json").read_text())
    recorded = {key: sorted(value) if isinstance(value, dict) else value for key, value in state.items()}
    return run.returncode, run.stdout, recorded


def test_a_warm_check_says_and_records_what_a_cold_one_does(course_copy):
    root, temp = course_copy
    cold = check(root, temp, False, *EXERCISES)
    assert not servers(root)
    assert cold[0] == 1 and "✓ attention.softmax" in cold[1] and "✗ attention.general_score" in cold[1]
    first = check(root, temp, True, *EXERCISES)         # starts the server, which checks
    (server,) = servers(root)
    before = cpu_ticks(server)
    again = check(root, temp, True, *EXERCISES)         # the same server, warm
    assert cpu_ticks(server) > before, "the server did not check anything"
    assert first == cold and again == cold


def test_an_out_of_date_server_gives_way_and_the_check_is_still_right(course_copy):
    root, temp = course_copy
    check(root, temp, True, "attention.softmax")
    (old,) = servers(root)
    suite = root / "suites" / "visible" / "test_attention.py"
    suite.write_text(suite.read_text())                  # new times: the server is out of date
    os.utime(suite, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    code, out, _ = check(root, temp, True, "attention.softmax")
    assert code == 0 and "✓ attention.softmax" in out
    deadline = time.monotonic() + 10
    while old in servers(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert old not in servers(root)
    code, out, _ = check(root, temp, True, "attention.softmax")    # a fresh one
    assert code == 0 and "✓ attention.softmax" in out
    assert servers(root) and old not in servers(root)


def test_an_idle_server_leaves_and_takes_its_socket_with_it(tmp_path):
    address = tmp_path / "warm.sock"
    server = subprocess.Popen([sys.executable, "-m", "grader.learner.warm", "--course", str(ROOT),
                               "--socket", str(address), "--idle", "0.5"], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not address.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert address.exists()
    assert address.stat().st_mode & 0o777 == 0o600
    assert server.wait(timeout=30) == 0
    assert not address.exists()


def test_a_server_asked_to_stop_leaves(tmp_path, monkeypatch):
    from grader.course.manifest import load_manifest
    from grader.learner import warm

    course = load_manifest(ROOT / "course.toml")
    address = tmp_path / "warm.sock"
    monkeypatch.setattr(warm, "socket_path", lambda _course: address)
    assert not warm.stop(course)                         # none running
    server = subprocess.Popen([sys.executable, "-m", "grader.learner.warm", "--course", str(ROOT),
                               "--socket", str(address)], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not address.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert warm.stop(course)
    assert server.wait(timeout=30) == 0 and not address.exists()


def test_a_request_with_another_fingerprint_is_told_it_is_stale(tmp_path):
    address = tmp_path / "warm.sock"
    server = subprocess.Popen([sys.executable, "-m", "grader.learner.warm", "--course", str(ROOT),
                               "--socket", str(address)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not address.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(address))
            connection.sendall(json.dumps({"fingerprint": "another", "exercise": "attention.softmax",
                                           "folder": str(ROOT / "solutions"), "verdicts": {}}).encode() + b"\n")
            assert json.loads(connection.makefile().readline()) == {"stale": True}
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
