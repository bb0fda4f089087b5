"""What a time limit counts: the learner's code, never the grader's.

An exercise's time limit is CPU time of the worker's process from the moment it said
hello (it has started, and no learner code has run yet): the learner's imports and
every call the checks make. The worker's start-up (a fork, or a fresh interpreter
importing torch), the checks' own work in the grader and the reference standing in
run in other processes or before the clock starts, so a busy machine slows them
without costing the learner anything. CPU time does not grow while the machine is
busy elsewhere, so the same code gets the same verdict on a laptop under load and on
an idle server.

CPU time alone would let code that sleeps, or waits on a pipe, hold a grader forever.
So the grader also bounds how long it waits for the worker's answers: ``WAIT_FACTOR``
times the limit plus ``WAIT_SLACK``. What the worker spent ready to run but waiting for
a core (``/proc/<pid>/schedstat``, where the kernel has it) is taken off: a crowded
machine makes it wait, not the learner.

Processes the learner's code starts are counted once the worker has waited for them
(the kernel adds their time to the worker's then); while they run they are bounded by
the wait and by the worker's budget (:mod:`grader.isolation.limits`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Callable, Iterator

POLL_SECONDS = 0.05     # how late a runaway worker may be stopped
WAIT_FACTOR = 2.0
WAIT_SLACK = 5.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """CPU time of process ``pid``, all its threads and the children it has waited for;
    None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: the fields start after the last ')'
    fields = stat[stat.rindex(b")") + 2:].split()
    try:
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    except (ValueError, IndexError):
        return None
    return (utime + stime + cutime + cstime) / _TICKS


def runqueue_seconds(pid: int) -> float | None:
    """How long process ``pid`` has waited for a core while ready to run; None if unknown."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def wait_limit(cpu_limit: float) -> float:
    return WAIT_FACTOR * cpu_limit + WAIT_SLACK


class _Since:
    """A reading of process ``pid`` in /proc, counted from when this was made, never going
    back: the last value stays once the process is gone."""

    def __init__(self, read: Callable[[int], float | None], pid: int):
        self.read, self.pid = read, pid
        self.start = read(pid) or 0.0
        self.last = 0.0

    def __call__(self) -> float:
        now = self.read(self.pid)
        if now is not None:
            self.last = max(self.last, now - self.start)
        return self.last


class LearnerClock:
    """The time a worker's learner code has used, watched from a thread of its own:
    past either limit, ``on_expiry(reason)`` runs once (``"cpu"`` or ``"wait"``)."""

    def __init__(self, cpu_limit: float, on_expiry: Callable[[str], None]):
        self.cpu_limit = cpu_limit
        self.wait_limit = wait_limit(cpu_limit)
        self.expired: str | None = None
        self._on_expiry = on_expiry
        self._cpu: _Since | None = None          # the worker's CPU time
        self._runqueue: _Since | None = None     # its time ready to run, waiting for a core
        self._waited = 0.0
        self._waiting_since: float | None = None
        self._stop = threading.Event()

    def start(self, pid: int) -> None:
        """Start counting ``pid``'s CPU time from now."""
        self._cpu, self._runqueue = _Since(cpu_seconds, pid), _Since(runqueue_seconds, pid)
        threading.Thread(target=self._watch, name=f"learner-clock-{pid}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def cpu_used(self) -> float:
        """The learner's CPU seconds so far (the last reading, once the worker is gone)."""
        return self._cpu() if self._cpu is not None else 0.0

    def waited(self) -> float:
        """How long the grader has waited for answers, less the worker's wait for a core."""
        ongoing = time.monotonic() - self._waiting_since if self._waiting_since is not None else 0.0
        return self._waited + ongoing - (self._runqueue() if self._runqueue is not None else 0.0)

    def wait_left(self) -> float:
        return self.wait_limit - self.waited()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """The grader waits for the worker's answer inside this block."""
        self._waiting_since = time.monotonic()
        try:
            yield
        finally:
            self._waited += time.monotonic() - self._waiting_since
            self._waiting_since = None

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            reason = None
            if self.cpu_used() > self.cpu_limit:
                reason = "cpu"
            elif self.waited() > self.wait_limit:
                reason = "wait"
            if reason is not None:
                self.expired = reason
                self._on_expiry(reason)
                return
