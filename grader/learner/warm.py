"""A warm checker for `course check`: torch imported once, not once per command.

A torch exercise's check spends most of its time importing torch, twice (the grader's
side and the worker's). So the first `course check` starts a small server in the
background, one per course folder and user, that keeps both sides warm: a fork server
for the workers and the suites loaded. Later commands send it the exercise to check
and get the result back as plain data (:func:`grader.engine.results.result_to_dict`),
which they print and record exactly as a cold run would. The server grades each
request in a fresh :class:`~grader.engine.grading.GradingContext` (only the fork server
is shared), so nothing it remembers can make its verdict differ from a cold one.

It leaves after ``IDLE_SECONDS`` without a request, and at once when the grader's code,
the manifest or the visible suites changed since it started (the fingerprint each
request carries says so); the command then starts a fresh one. Anything that goes wrong
on the way makes the command check in its own process, as without a server.
``COURSE_WARM=0`` turns it off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grader
from grader.course.manifest import Course, load_manifest
from grader.engine.grading import ExerciseResult, GradingContext, grade_in_order, warm_launcher
from grader.engine.results import result_from_dict, result_to_dict
from grader.isolation import sandbox

IDLE_SECONDS = 15 * 60
START_SECONDS = 20.0        # how long a command waits for a server it started to listen
ANSWER_SECONDS = 600.0      # far above any exercise's time limit
PROTOCOL = 1


def enabled() -> bool:
    """Whether `course check` may use a warm checker (``COURSE_WARM=0``: never)."""
    return os.environ.get("COURSE_WARM", "1") != "0" and hasattr(socket, "AF_UNIX")


def fingerprint(course: Course) -> str:
    """What a server's verdicts depend on besides the learner's files: the Python that
    runs it, the sandbox's switches, the grader's code, the manifest and the visible
    suites (sizes and times)."""
    switches = os.environ.get(sandbox.SKIP_ENV, "")
    digest = hashlib.sha256(f"{PROTOCOL}\0{sys.executable}\0{sys.version}\0{switches}".encode())
    files = [course.root / "course.toml", *sorted((course.root / "suites" / "visible").glob("*.py")),
             *sorted(Path(grader.__file__).parent.rglob("*.py"))]
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def socket_path(course: Course) -> Path:
    """The server's address: in a folder only this user can enter, named after the
    course folder (short enough for a Unix socket's 107 bytes)."""
    folder = Path(tempfile.gettempdir()) / f"course-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise OSError(f"{folder} is not this user's own private folder")
    key = hashlib.sha256(str(course.root.resolve()).encode()).hexdigest()[:16]
    return folder / f"{key}.sock"


# ---------------------------------------------------------------- the command's side

class LocalChecker:
    """Checks in this process: what `course check` does without a warm server."""

    def __init__(self, course: Course, first, many: bool):
        # one exercise runs a worker or two: a warm-up would cost more than it saves
        self.ctx = GradingContext.for_course(course, kind="visible", warm_up=many)
        self.ctx.start_early(first)

    def check(self, exercise, folder: Path, verdicts: dict[str, bool]) -> ExerciseResult:
        return grade_in_order(self.ctx, exercise, folder, verdicts)

    def close(self) -> None:
        self.ctx.close()


class WarmChecker:
    """Checks in the warm server, over one connection; falls back to a
    :class:`LocalChecker` if the server goes away."""

    def __init__(self, course: Course, connection: socket.socket, many: bool):
        self.course, self.many = course, many
        self.connection = connection
        self.connection.settimeout(ANSWER_SECONDS)      # a server that hangs: this command checks alone
        self.reader = connection.makefile("r", encoding="utf-8")
        self.fingerprint = fingerprint(course)
        self.local: LocalChecker | None = None

    def check(self, exercise, folder: Path, verdicts: dict[str, bool]) -> ExerciseResult:
        if self.local is None:
            try:
                return self._ask(exercise, folder, verdicts)
            except (OSError, ValueError, KeyError, TypeError):
                self.local = LocalChecker(self.course, exercise, self.many)
        return self.local.check(exercise, folder, verdicts)

    def _ask(self, exercise, folder: Path, verdicts: dict[str, bool]) -> ExerciseResult:
        request = {"fingerprint": self.fingerprint, "exercise": exercise.id, "folder": str(folder),
                   "verdicts": verdicts}
        self.connection.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(self.reader.readline())      # "" when the server has gone: ValueError
        if answer.get("stale"):
            raise OSError("the warm checker is out of date")
        verdicts.clear()
        verdicts.update(answer["verdicts"])
        return result_from_dict(answer["result"])

    def close(self) -> None:
        for closing in (self.reader.close, self.connection.close):
            try:
                closing()
            except OSError:
                pass
        if self.local is not None:
            self.local.close()


def checker(course: Course, first, many: bool) -> LocalChecker | WarmChecker:
    """The checker for a `course check` run: the warm server's (started if need be)
    when there can be one, else this process's own."""
    if enabled():
        try:
            connection = _connect(course, first)
        except OSError:
            connection = None
        if connection is not None:
            return WarmChecker(course, connection, many)
    return LocalChecker(course, first, many)


def _connect(course: Course, first) -> socket.socket | None:
    """A connection to the course's warm server, which is started when there is none;
    None when it cannot be had in time. (One that is out of date says so to the first
    request, and leaves: that command checks in its own process, the next starts a
    fresh server.)"""
    address = socket_path(course)
    connection = _try_connect(address)
    if connection is None:
        _start_server(course, address, first)
        deadline = time.monotonic() + START_SECONDS
        while connection is None and time.monotonic() < deadline:
            time.sleep(0.02)
            connection = _try_connect(address)
    return connection


def _try_connect(address: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(address))
    except OSError:
        connection.close()
        return None
    return connection


def stop(course: Course) -> bool:
    """Ask the course's warm server to leave now; whether there was one."""
    connection = _try_connect(socket_path(course))
    if connection is None:
        return False
    with connection:
        try:
            connection.sendall(json.dumps({"op": "stop"}).encode() + b"\n")
            connection.recv(1)          # the server closes the connection as it leaves
        except OSError:
            pass
    return True


def _start_server(course: Course, address: Path, first) -> None:
    """Start the server, detached; this grader's own package, nothing from the course
    folder or the working folder on its path (a learner's scratch ``torch.py`` there
    must not shadow torch), and the learner's environment and site-packages, as the
    command has."""
    command = sandbox.python_command("grader.learner.warm", "--course", str(course.root), "--socket",
                                     str(address), "--first", first.id, user_site=True)
    subprocess.Popen(command, cwd=sandbox.empty_folder(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


# ---------------------------------------------------------------- the server

class Server:
    """Answers the requests of `course check` commands, one connection at a time."""

    def __init__(self, course: Course, address: Path, idle: float = IDLE_SECONDS):
        self.course, self.address, self.idle = course, address, idle
        self.fingerprint = fingerprint(course)
        self.launcher = warm_launcher(course, warm_up=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def bind(self) -> bool:
        """Listen at the address, unless a live server does (False): a dead one's socket is
        taken over."""
        try:
            self.listener.bind(str(self.address))
        except OSError:
            if _try_connect(self.address) is not None:
                return False
            self.address.unlink(missing_ok=True)
            self.listener.bind(str(self.address))
        os.chmod(self.address, 0o600)
        self.listener.listen(8)
        return True

    def warm(self, first_id: str | None) -> None:
        """Load and start now what the first request will need."""
        if first_id is not None and first_id in {ex.id for ex in self.course.exercises}:
            context = GradingContext.for_course(self.course, kind="visible", launcher=self.launcher)
            context.start_early(self.course.exercise(first_id))
            context.suites.checks_for(first_id)

    def serve(self) -> None:
        try:
            while True:
                self.listener.settimeout(self.idle)
                try:
                    connection, _ = self.listener.accept()
                except socket.timeout:
                    return
                connection.settimeout(None)
                with connection:
                    if not self._answer(connection):
                        return
        finally:
            self.listener.close()
            self.address.unlink(missing_ok=True)
            self.launcher.close()

    def _answer(self, connection: socket.socket) -> bool:
        """Every request of one command; False when this server is to leave (out of date,
    or asked to stop)."""
        with connection.makefile("r", encoding="utf-8") as reader:
            for line in reader:
                request = json.loads(line)
                if request.get("op") == "stop":
                    return False
                if request.get("fingerprint") != self.fingerprint:
                    _send(connection, {"stale": True})
                    return False
                verdicts = {str(k): bool(v) for k, v in request["verdicts"].items()}
                context = GradingContext.for_course(self.course, kind="visible", launcher=self.launcher)
                result = grade_in_order(context, self.course.exercise(request["exercise"]),
                                        Path(request["folder"]), verdicts)
                _send(connection, {"result": result_to_dict(result), "verdicts": verdicts})
        return True


def _send(connection: socket.socket, answer: dict) -> None:
    try:
        connection.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:     # the command went away (Ctrl-C): the next one asks again
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the warm checker of `course check` (started by it)")
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--first", default=None, help="the exercise the first request checks")
    parser.add_argument("--idle", type=float, default=IDLE_SECONDS)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))     # leave through serve's cleanup
    server = Server(load_manifest(args.course / "course.toml"), args.socket, args.idle)
    if server.bind():
        server.warm(args.first)
        server.serve()


if __name__ == "__main__":
    main()
