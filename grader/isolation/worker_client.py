"""The grader's side of a worker: starting it, talking to it, and ending it.

:class:`WorkerSession` owns one worker process (its whole process group) and the
clock of its learner code (:mod:`grader.isolation.clock`); :class:`StudentProxy` is what a check
sees as ``student``. Everything the worker answers is decoded by :mod:`grader.isolation.wire` into
plain values or :class:`RemoteObject` handles; nothing it sends is executed or unpickled
here.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable

from grader.checks import describe
from grader.isolation import sandbox, wire
from grader.isolation.clock import LearnerClock
from grader.isolation.limits import WORKER_PROCESSES, WorkerBudget
from grader.isolation.reference_host import CALLBACK_KEY
from grader.isolation.standins import REQUEST_KEY

OUTPUT_TAIL_BYTES = 1500
KEPT_RESULT_BYTES = 2**20          # a call's result larger than this is kept as its description
MAX_NOTES = 20
START_SECONDS = 120.0              # a worker's start (not charged to the learner) may take this long

log = logging.getLogger(__name__)
_reported: set[str] = set()    # sandbox reports already logged in this process


FIXTURES_MODULE = "grader.fixtures"


class StudentError(Exception):
    """The learner's code raised an exception (in the worker)."""

    def __init__(self, type_name: str, message: str, frames: list):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.frames = frames

    def explain(self) -> str:
        text = f"raised {self.type_name}: {self.message}" if self.message else f"raised {self.type_name}"
        for file, line, func, code in self.frames[-3:]:
            text += f"\n  at {file} line {line}, in {func}" + (f": {code}" if code else "")
        return text


class _HostFailed(Exception):
    """The reference host could not answer a stand-in (the worker is told, and goes on)."""


class GraderFault(Exception):
    """The grader could not run the learner's code, for reasons of its own (a worker that
    did not start, a reference that could not stand in): never the learner's score."""


class WorkerGone(Exception):
    """The worker ended or ran out of time; the rest of the exercise cannot run."""


class WorkerDied(WorkerGone):
    pass


class WorkerTimeout(WorkerGone):
    pass


def worker_env(home: str | Path) -> dict:
    """The whole environment of a worker: nothing of the grader's own leaks into it."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }
    if os.environ.get(sandbox.SKIP_ENV):  # switching isolation steps off is the grader's choice, not the learner's
        env[sandbox.SKIP_ENV] = os.environ[sandbox.SKIP_ENV]
    return env


class WorkerSession:
    """One worker and the conversation with it. With a ``launcher`` (a
    :class:`grader.isolation.forkserver.ForkServer`) the worker is forked from a warm process;
    without one, or when the launcher fails, it is started from scratch."""

    def __init__(self, folder: Path, config: dict, time_limit: float, output_file: Path, launcher=None,
                 reference: dict | None = None, preload: tuple[str, ...] = ()):
        self.launcher = launcher
        self.preload = tuple(preload)       # libraries a launcher's worker should find imported
        self.folder = folder
        self.config = config
        self.reference = reference          # the reference host's config, for the worker's stand-ins
        self.reference_host: WorkerSession | None = None
        self.time_limit = time_limit
        self.clock = LearnerClock(time_limit, self._expire)
        self.fault: GraderFault | None = None     # set when the grader failed, whoever caught it
        self.output_file = output_file
        self.forbidden_used: set[str] = set()
        self._reportable = set(config.get("forbidden", []))
        self.calls: list[CallRecord] = []
        self.process: subprocess.Popen | None = None
        self.channel: wire.Channel | None = None
        self.import_notes: list[str] = []
        self.sandbox: list = []            # [step, applied, detail] as the worker reported them
        self.worker_pid: int | None = None
        self._pidfd: int | None = None
        self.budget: WorkerBudget | None = None   # its own, or the one its fork server keeps (shared)
        self.kills_shared_budget = True     # False for a reference host: its worker's session does
        self._memory_mb = int(config.get("memory_limit_mb", 0))
        self._kill_lock = threading.Lock()
        self.last_reply_bytes = 0

    # lifecycle -----------------------------------------------------
    def start(self) -> StudentError | None:
        """Start the worker and import the graded module. Returns the learner's
        import error, if any."""
        sandbox.share_with_worker(self.folder)
        ours, theirs = socket.socketpair()
        with open(self.output_file, "wb") as out:
            if self.launcher is not None:
                try:
                    kept = self.launcher.kept_budget(self.preload)
                    fits = kept is not None and kept.memory_mb == self._memory_mb
                    self.budget = kept if fits else self._own_budget()
                    if self.budget.keeper is not None and self.kills_shared_budget:
                        self.budget.begin()
                    own = None if self.budget.keeper is not None else self.budget.spec
                    self.process = self.launcher.spawn(theirs, out.fileno(), self.folder, own)
                except OSError:
                    self.process = None
            if self.process is None:
                if self.budget is None or self.budget.keeper is not None:
                    self.budget = self._own_budget()
                self.process = subprocess.Popen(
                    sandbox.python_command("grader.isolation.worker", "--fd", theirs.fileno(), "--folder", self.folder,
                                           "--budget", json.dumps(self.budget.spec)),
                    pass_fds=[theirs.fileno()], cwd=sandbox.empty_folder(), env=worker_env(self.folder),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        theirs.close()
        self.channel = wire.Channel(ours)
        self._hello()
        self.clock.start(self.worker_pid or self.process.pid)
        self.channel.send(self.config)
        try:
            self._receive("importing the submission")
        except StudentError as exc:
            return exc
        return None

    def _own_budget(self) -> WorkerBudget:
        return WorkerBudget.create(self._memory_mb, WORKER_PROCESSES)

    def _hello(self) -> None:
        """The worker's first message, sent before it reads the config (so before any learner
        code runs): its pid as seen from here, and which isolation steps it could apply."""
        self.channel.settimeout(START_SECONDS)
        try:
            header, _ = self.channel.recv()
        except socket.timeout:
            self.close()
            raise self._grader_fault(f"a worker did not start within {START_SECONDS:g} s") from None
        except (EOFError, ConnectionError, OSError, wire.WireError):
            raise self._grader_fault(f"a worker did not start ({self._died('starting')})") from None
        pid, report = header.get("pid"), header.get("sandbox")
        if isinstance(report, list):
            self.sandbox = [list(step) for step in report if isinstance(step, list) and len(step) == 3]
            text = "; ".join(f"{n}: {'yes' if ok else 'NO'} ({d})" for n, ok, d in self.sandbox)
            if text not in _reported:
                _reported.add(text)
                log.info("worker isolation: %s", text)
        if isinstance(pid, int) and pid > 1 and pid != self.process.pid:
            # a worker started from scratch made its own PID namespace one fork down
            self.worker_pid = pid
            try:
                self._pidfd = os.pidfd_open(pid)
            except (OSError, AttributeError):
                self._pidfd = None

    def _grader_fault(self, message: str) -> GraderFault:
        self.fault = GraderFault(message)
        return self.fault

    def _expire(self, reason: str) -> None:
        """The clock's verdict holds whatever the worker sends: a worker that trickles a
        message one byte at a time is killed when its time is up, not when a read times out."""
        self._kill()

    def _kill(self) -> None:
        """Kill the worker and everything it started; safe from the watchdog's thread."""
        with self._kill_lock:
            if self._pidfd is not None:  # the init of the worker's PID namespace: everything in it dies
                try:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                except OSError:
                    pass
                os.close(self._pidfd)
                self._pidfd = None
            if self.process is not None and self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    try:  # a forked worker killed before it made its own process group
                        os.kill(self.process.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            if self.budget is not None and (self.budget.keeper is None or self.kills_shared_budget):
                self.budget.kill()  # what escaped both (a worker without a PID namespace)

    def close(self) -> None:
        self.clock.stop()
        if self.reference_host is not None:
            self.reference_host.close()
            self.reference_host = None
        self._kill()
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
                pass
        if self.budget is not None and self.budget.keeper is None:
            self.budget.close()  # its cgroups go; out_of_memory() still answers
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def __enter__(self) -> "WorkerSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # talking -------------------------------------------------------
    def output_tail(self) -> str:
        try:
            with open(self.output_file, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - OUTPUT_TAIL_BYTES))
                return fh.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _died(self, doing: str) -> WorkerDied:
        code = self.process.poll() if self.process else None
        if code is None and self.process is not None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
            if -code == signal.SIGKILL and self.budget is not None and self.budget.out_of_memory():
                how = f"ran out of memory (the limit is {self.budget.memory_mb} MB)"
            elif -code == signal.SIGKILL:
                how += " (out of memory?)"
        elif code is not None:
            how = f"exited with status {code}"
        else:
            how = "stopped answering"
        self.close()
        return WorkerDied(f"the process running your code {how} while {doing}")

    def _out_of_time(self, doing: str) -> WorkerTimeout:
        self.close()
        if self.clock.expired == "wait":
            return WorkerTimeout(f"no answer after waiting {self.clock.wait_limit:g} s while {doing}: your code "
                                 "sleeps or waits for something that does not come (input? a lock?)")
        return WorkerTimeout(f"your code used up the time limit of {self.time_limit:g} s of CPU time for this "
                             f"exercise while {doing} (an infinite loop? a very slow loop?)")

    def _message(self, doing: str) -> tuple[dict, list[bytes]]:
        """The worker's next message, within its time (see :mod:`grader.isolation.clock`)."""
        left = self.clock.wait_left()       # read once: it reads /proc (this is every call's path)
        if self.clock.expired or left <= 0:
            self.clock.expired = self.clock.expired or "wait"
            raise self._out_of_time(doing)
        # a backstop only, in wall time, which a crowded machine stretches: the clock's
        # thread stops a worker that overruns first
        self.channel.settimeout(4 * left + 30.0)
        try:
            with self.clock.waiting():
                return self.channel.recv()
        except socket.timeout:
            self.clock.expired = self.clock.expired or "wait"
            raise self._out_of_time(doing) from None
        except (EOFError, ConnectionError, OSError):
            if self.clock.expired:
                raise self._out_of_time(doing) from None
            raise self._died(doing) from None
        except wire.WireError as exc:
            self.close()
            raise WorkerDied(f"the process running your code sent a malformed answer while {doing}: {exc}") from None

    def _receive(self, doing: str) -> Any:
        header, blobs = self._message(doing)
        while REQUEST_KEY in header:  # a stand-in asks the reference; the answer comes after
            self._relay(header[REQUEST_KEY], blobs, doing)
            header, blobs = self._message(doing)
        self.last_reply_bytes = sum(len(blob) for blob in blobs)
        self.forbidden_used.update(n for n in header.get("forbidden", []) if n in self._reportable)
        if isinstance(header.get("notes"), list):
            self.import_notes = [str(n)[:300] for n in header["notes"][:MAX_NOTES]]
        if header.get("ok") is True:
            try:
                return wire.decode(header.get("value"), blobs, self._handle)
            except wire.WireError as exc:
                raise StudentError("UnsendableResult", f"the result cannot be graded: {exc}", []) from None
        error = header.get("error") if isinstance(header.get("error"), dict) else {}
        frames = [f for f in error.get("frames", []) if isinstance(f, list) and len(f) == 4][:8]
        raise StudentError(str(error.get("type", "Exception"))[:100], str(error.get("message", ""))[:2000], frames)

    # the reference host --------------------------------------------
    def _relay(self, body: Any, blobs: list[bytes], doing: str) -> None:
        """Hand a stand-in's request to the reference host and its answer back, unread:
        both are plain data, and the grader trusts neither (the checks decide). While it
        works, the host may call back into the learner's objects: those requests go to the
        worker, whose answers go back to the host (and so on, nested)."""
        try:
            reply, reply_blobs = self._ask_host(body, blobs, doing)
            while CALLBACK_KEY in reply:
                answer, answer_blobs = self._call_back(reply, reply_blobs, doing)
                reply, reply_blobs = self._ask_host(answer, answer_blobs, doing)
        except _HostFailed as exc:
            reply, reply_blobs = {"ok": False, "error": {"type": "StandInError", "message": str(exc)}}, []
        try:
            self.channel.send(reply, reply_blobs)
        except OSError:
            raise self._died(doing) from None

    def _call_back(self, request: dict, blobs: list[bytes], doing: str) -> tuple[dict, list[bytes]]:
        body = request[CALLBACK_KEY]
        if not isinstance(body, dict):
            return {"ok": False, "error": {"type": "WireError", "message": "malformed call back"}}, []
        try:
            self.channel.send(body, blobs)
        except OSError:
            raise self._died(doing) from None
        answer, answer_blobs = self._message(doing)
        while REQUEST_KEY in answer:  # the learner's code, called back, uses a stand-in itself
            self._relay(answer[REQUEST_KEY], answer_blobs, doing)
            answer, answer_blobs = self._message(doing)
        return answer, answer_blobs

    def _ask_host(self, body: Any, blobs: list[bytes], doing: str) -> tuple[dict, list[bytes]]:
        if not isinstance(body, dict) or self.reference is None:
            raise _HostFailed("nothing stands in for this exercise")
        try:
            host = self._reference_host()
            host.channel.send(body, blobs)
            return host._message(f"answering a stand-in while {doing}")
        except (WorkerGone, OSError) as exc:
            if self.reference_host is not None:
                self.reference_host.close()
                self.reference_host = None
            raise _HostFailed(f"the reference standing in stopped answering ({exc})") from None

    def _reference_host(self) -> "WorkerSession":
        if self.reference_host is None:
            folder = self.folder.parent / "reference"
            folder.mkdir(exist_ok=True)
            host = WorkerSession(folder, self.reference, self.time_limit,
                                 self.output_file.with_name("reference-output.txt"), self.launcher,
                                 preload=self.preload)
            host.kills_shared_budget = False
            self.reference_host = host
            try:
                error = host.start()
            except GraderFault as exc:
                raise self._grader_fault(f"the reference could not stand in: {exc}") from None
            if error is not None:
                raise self._grader_fault(f"the reference could not start ({error.type_name}: {error})")
        return self.reference_host

    def _handle(self, handle_id: int, type_name: str) -> "RemoteObject":
        return RemoteObject(self, handle_id, type_name)

    def request(self, header: dict, what: str) -> Any:
        if self.channel is None:
            raise WorkerDied("the process running your code had already ended")
        blobs: list[bytes] = []
        body = dict(header)
        for key in ("args", "kwargs", "value", "key", "upstream"):
            if key in body:
                body[key] = wire.encode(body[key], blobs, wire.refuse_other)
        try:
            self.channel.send(body, blobs)
        except OSError:
            raise self._died(f"calling {what}") from None
        return self._receive(f"running {what}")

    def call(self, target: dict, name: str | None, label: str, params: list[str], args: tuple, kwargs: dict,
             **extra: Any) -> Any:
        """Call the learner's ``name`` on ``target``; ``extra`` turns the call into another
        op on the same arguments (``op="vjp"``: the call and a backward pass)."""
        record = CallRecord(label, params, args, kwargs)
        self.calls.append(record)
        del self.calls[:-20]
        try:
            result = self.request({"op": "call", "target": target, "name": name,
                                   "args": list(args), "kwargs": dict(kwargs), **extra}, label)
        except StudentError as exc:
            record.error = exc
            raise
        record.returned = True
        if self.last_reply_bytes > KEPT_RESULT_BYTES:  # feedback needs its description, not its value
            record.result_text = describe(result)
        else:
            record.result = result
        return result


class CallRecord:
    """One call into the learner's code, described only when feedback needs it."""

    def __init__(self, label: str, params: list[str], args: tuple, kwargs: dict):
        self.label, self.params, self.args, self.kwargs = label, params, args, kwargs
        self.result: Any = None
        self.result_text: str | None = None
        self.returned = False
        self.error: StudentError | None = None

    def call_text(self) -> str:
        return describe_call(self.label, self.params, self.args, self.kwargs)

    def outcome_text(self) -> str:
        if self.error is not None:
            return self.error.explain()
        if not self.returned:
            return ""
        return "returned " + (self.result_text if self.result_text is not None else describe(self.result))


def describe_call(label: str, params: list[str], args: tuple, kwargs: dict) -> str:
    parts = []
    for index, value in enumerate(args):
        name = params[index] if index < len(params) else None
        parts.append(f"{name}={describe(value)}" if name else describe(value))
    parts.extend(f"{key}={describe(value)}" for key, value in kwargs.items())
    return f"{label}({', '.join(parts)})"


class RemoteObject(wire.Handle):
    """An object living in the worker (a cache, a module instance, a bound method)."""

    __slots__ = ("_session",)

    def __init__(self, session: WorkerSession, handle_id: int, type_name: str):
        super().__init__(handle_id, type_name)
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str) -> Any:
        # Dunder lookups (numpy's __array_interface__, torch's __torch_function__, ...)
        # must never reach the learner: their answers would steer the grader's own code.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._session.request({"op": "get", "target": {"handle": self._wire_id}, "name": name},
                                     f"reading .{name} of a {self._wire_type}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._session.request({"op": "set", "target": {"handle": self._wire_id}, "name": name, "value": value},
                              f"setting .{name} of a {self._wire_type}")

    def __getitem__(self, key: Any) -> Any:
        return self._session.request({"op": "getitem", "target": {"handle": self._wire_id}, "key": key},
                                     f"indexing a {self._wire_type}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call({"handle": self._wire_id}, None, self._call_label(), [], args, kwargs)

    def _call_label(self) -> str:
        # "your MultiHeadAttention(...)" would read as the constructor; this is the instance
        return f"<your {self._wire_type}>"

    def _grader_vjp(self, args: tuple, kwargs: dict, upstream: Any, wrt: list | None, output: int | None) -> Any:
        return self._session.call({"handle": self._wire_id}, None, f"{self._call_label()} (then backward)", [],
                                  args, kwargs, op="vjp", upstream=upstream, wrt=wrt, output=output)


class RemoteFunction:
    """A module-level name of a learner's module; calling it runs it in the worker."""

    def __init__(self, session: WorkerSession, module: str, name: str, params: list[str]):
        self._session, self._module, self._name, self._params = session, module, name, params

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call({"module": self._module}, self._name, self._name, self._params, args, kwargs)

    def _grader_vjp(self, args: tuple, kwargs: dict, upstream: Any, wrt: list | None, output: int | None) -> Any:
        return self._session.call({"module": self._module}, self._name, f"{self._name} (then backward)",
                                  self._params, args, kwargs, op="vjp", upstream=upstream, wrt=wrt, output=output)

    def value(self) -> Any:
        """The name's value itself (for constants), rather than calling it."""
        return self._session.request({"op": "get", "target": {"module": self._module}, "name": self._name},
                                     f"reading {self._module}.{self._name}")


class ModuleProxy:
    def __init__(self, session: WorkerSession, module: str, signatures: Callable[[str, str], list[str]]):
        self._session, self._module, self._signatures = session, module, signatures

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self._session, self._module, name, self._signatures(self._module, name))


class StudentProxy:
    """``student`` in a check: ``student.rnn.rnn_forward(...)`` runs in the worker.

    ``student.fixtures`` is :mod:`grader.fixtures` in the worker: objects a check needs
    on the learner's side that no exercise makes (a toy model for decoding, the
    capstone's training run)."""

    def __init__(self, session: WorkerSession, modules: list[str], signatures: Callable[[str, str], list[str]]):
        self._session, self._modules, self._signatures = session, set(modules), signatures

    def __getattr__(self, module: str) -> ModuleProxy:
        if module == "fixtures":
            return ModuleProxy(self._session, FIXTURES_MODULE, lambda _module, _name: [])
        if module not in self._modules:
            raise AttributeError(f"no course module {module!r}")
        return ModuleProxy(self._session, module, self._signatures)
