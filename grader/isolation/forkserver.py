"""Workers forked from a warm process, so that an exercise does not pay for importing torch.

Starting Python and importing torch takes longer than most exercises' checks. The fork
server is started once per grading run (:func:`grader.isolation.sandbox.python_command`, in an
empty folder, so nothing in the instructor's working folder is imported by it) with the
same clean environment a worker gets; it imports numpy, torch and the worker code, and
then forks one child per exercise. A child starts a new session (so the grader can kill
its whole process group), takes the socket and output file the grader passed along,
joins the cgroups of its budget (:mod:`grader.isolation.limits`), is isolated
(:mod:`grader.isolation.sandbox`: as root it is forked straight into a new PID namespace) and
becomes an ordinary worker (:mod:`grader.isolation.worker`): limits, imports of the learner's code
and everything after that happen in the child, never in the server.

Grader and server talk over a SOCK_SEQPACKET pair: one JSON request per packet, with
file descriptors attached to ``spawn`` requests. The server reaps its children and
reports their exit status when asked; it exits when the grader's end closes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.isolation import limits, sandbox
from grader.isolation.fast_exit import exit_without_teardown

PACKET = 65536


# ---------------------------------------------------------------- the grader's side

class ForkServer:
    """The grader's handle on one fork server; thread-safe, started on first use."""

    def __init__(self, env: dict, preload: list[str], memory_mb: int = 0, warm_up: bool = True):
        self.env = env
        self.preload = list(preload)
        self.warm_up = warm_up      # run torch's first operations once, for the many workers to come
        self.memory_mb = memory_mb
        self.budget: limits.WorkerBudget | None = None   # kept by the server: its workers are born inside
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen | None = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        budget = limits.WorkerBudget.create(self.memory_mb, limits.WORKER_PROCESSES)
        keep = ["--keep", json.dumps(budget.spec)] if budget.folders else []
        self._process = subprocess.Popen(
            sandbox.python_command("grader.isolation.forkserver", "--fd", str(theirs.fileno()), *keep,
                                   *([] if self.warm_up else ["--cold"]), *self.preload),
            cwd=sandbox.empty_folder(), pass_fds=[theirs.fileno()], env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        theirs.close()
        self._sock = ours
        reply = json.loads(ours.recv(PACKET) or b"{}")
        if reply.get("keeps"):
            budget.keeper = self._process.pid
            self.budget = budget
        else:
            budget.close()
        if not reply.get("ready"):
            self._stop()
            raise OSError("the fork server did not start")

    def kept_budget(self, preload: list[str] | tuple[str, ...] = ()) -> "limits.WorkerBudget | None":
        """The budget the server keeps, or None: then each worker needs one of its own.
        Starts the server if need be, with ``preload`` imported: a server that lacks one of
        them is replaced by one that has them all (so a numpy exercise never waits for torch,
        and torch is imported once, outside the budget the workers share)."""
        with self._lock:
            missing = [name for name in preload if name not in self.preload]
            if missing and self._sock is not None:
                self._stop()
            self.preload += missing
            if self._sock is None:
                self._start()
            return self.budget

    def _request(self, message: dict, fds: list[int] = ()) -> dict:
        with self._lock:
            if self._sock is None:
                self._start()
            try:
                socket.send_fds(self._sock, [json.dumps(message).encode()], list(fds))
                data = self._sock.recv(PACKET)
            except OSError:
                self._stop()
                raise
            if not data:
                self._stop()
                raise OSError("the fork server ended")
            return json.loads(data)

    def spawn(self, sock: socket.socket, output_fd: int, cwd: Path, budget: dict | None = None) -> "ForkedProcess":
        """A worker in ``cwd`` on ``sock``; ``budget``: the spec of its own
        :class:`grader.isolation.limits.WorkerBudget`, which it joins before the sandbox (None: the
        one the server keeps, if any)."""
        reply = self._request({"op": "spawn", "cwd": str(cwd), "budget": budget}, [sock.fileno(), output_fd])
        if "pid" not in reply:
            raise OSError(reply.get("error", "the fork server could not start a worker"))
        return ForkedProcess(self, int(reply["pid"]))

    def status(self, pid: int) -> int | None:
        try:
            return self._request({"op": "status", "pid": pid}).get("status")
        except OSError:
            return -signal.SIGKILL  # the server is gone, and its children with their sockets

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self.budget is not None:
            self.budget.close()
            self.budget = None

    def close(self) -> None:
        with self._lock:
            self._stop()


class ForkedProcess:
    """A forked worker, with the part of ``subprocess.Popen``'s interface a session uses."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.status(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0002  # a killed worker is usually gone within a millisecond: poll fast, then back off
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(delay)
            delay = min(2 * delay, 0.005)
        return self.returncode


# ---------------------------------------------------------------- the server

class _Server:
    def __init__(self, sock: socket.socket, kept: dict | None = None):
        self.sock = sock
        self.kept = kept            # the spec of the budget this server is inside, if any
        self.finished: dict[int, int] = {}
        self.children: set[int] = set()
        self.namespaces = sandbox.PidNamespaces()

    def reap(self, *_signal_args) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.finished[pid] = os.waitstatus_to_exitcode(status)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, self.reap)
        self.sock.send(json.dumps({"ready": True, "keeps": self.kept is not None}).encode())
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, PACKET, 2)
            except (ConnectionError, OSError):
                return
            if not data:
                return
            request = json.loads(data)
            if request.get("op") == "spawn" and len(fds) == 2:
                reply = self.spawn(request, *fds)
            elif request.get("op") == "status":
                self.reap()
                reply = {"status": self.finished.pop(int(request["pid"]), None)}
            else:
                reply = {"error": "malformed request"}
            for fd in fds:
                os.close(fd)
            self.sock.send(json.dumps(reply).encode())

    def spawn(self, request: dict, worker_fd: int, output_fd: int) -> dict:
        try:
            pid, contained = self.namespaces.fork()
        except OSError as exc:
            return {"error": f"fork failed: {exc}"}
        if pid:
            self.children.add(pid)
            return {"pid": pid}
        # the child: never return into the server's loop
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.sock.close()
            os.setsid()
            os.chdir(request["cwd"])
            os.environ["HOME"] = request["cwd"]
            os.dup2(output_fd, 1)
            os.dup2(output_fd, 2)
            os.close(output_fd)
            budget = request.get("budget")
            if budget is None and self.kept is not None:
                limits.leave_keeper()
                budget = {**self.kept, "born_inside": True}
            host_pid, report = sandbox.enter(Path(request["cwd"]), contained, budget)
            from grader.isolation import worker

            worker.run(worker_fd, {"pid": host_pid, "sandbox": report})
        finally:
            os._exit(0)


def _warm_up(torch) -> None:
    """Run, once, the kinds of operations the checks make workers run (forward and backward
    of linear layers, embeddings, LSTMs, batched products, softmax, masks, dropout, an Adam
    step), in both dtypes: the first call of an operation in a process costs far more than
    the next (25 ms for a float32 LSTM), and every forked worker inherits what was paid
    here. The random state is left as it was, so that workers draw what a cold process
    would."""
    state = torch.get_rng_state()
    try:
        for dtype in (torch.float32, torch.float64):
            layer = torch.nn.Linear(8, 8).to(dtype)
            embed = torch.nn.Embedding(5, 8).to(dtype)
            x = embed(torch.tensor([[1, 2, 3]])) + torch.linspace(-1, 1, 24, dtype=dtype).reshape(1, 3, 8)
            y = torch.nn.functional.dropout(torch.relu(layer(x)), 0.1, training=True)
            scores = y @ y.transpose(-2, -1) / 2.0
            mask = torch.tril(torch.ones(3, 3, dtype=torch.bool))
            scores = scores.masked_fill(~mask, torch.finfo(dtype).min)
            weights = (scores - scores.amax(-1, keepdim=True)).exp()
            weights = weights / weights.sum(-1, keepdim=True)
            out = torch.tanh(weights @ y) + torch.nn.functional.gelu(y)
            out = (out - out.mean(-1, keepdim=True)) * torch.rsqrt(out.var(-1, keepdim=True) + 1e-5)
            recurrent = torch.nn.LSTM(8, 8, batch_first=True).to(dtype)
            out = out + recurrent(out)[0]
            loss = torch.nn.functional.cross_entropy(out.reshape(3, 8), torch.tensor([0, 1, 2]))
            optimiser = torch.optim.Adam([*layer.parameters(), *embed.parameters(), *recurrent.parameters()], lr=1e-3)
            loss.backward()
            optimiser.step()
    finally:
        torch.set_rng_state(state)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fork server for grader workers (started by the grader)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--keep", type=json.loads, default=None, help="a budget to enter, for every worker")
    parser.add_argument("--cold", action="store_true", help="skip the warm-up (for a worker or two)")
    parser.add_argument("preload", nargs="*", help="modules to import before forking")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    sandbox.enter_user_namespace()  # as an ordinary user; before any import can start a thread
    for name in ["numpy", "grader.isolation.worker", "grader.vjp", *args.preload]:
        __import__(name)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
        if not args.cold:
            __import__("torch._dynamo")  # the first meta-device or compiled op would import it: 0.7 s
            _warm_up(torch)
    sandbox.visible_paths()  # computed once here, not in every worker
    kept = args.keep if args.keep is not None and limits.enter_as_keeper(args.keep) else None
    _Server(sock, kept).serve()
    exit_without_teardown(0)     # the grader waits for this process to end


if __name__ == "__main__":
    main()
