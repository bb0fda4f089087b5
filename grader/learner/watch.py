"""`course watch`: check the current exercise on every save, move on when it passes.

The loop (:class:`Watcher`) reads one stream of events: :class:`FileChange` (a ``.py``
in exercises/ was saved) and :class:`Command` (a line the learner typed: ``h`` for the
next hint, ``q`` to quit, an empty line to check again). Where the events come from is
not its business, so tests feed it a list, and :func:`live_events` merges the two real
sources, watchfiles and standard input, each read in a thread of its own. Reading whole
lines (``h`` + Enter) rather than single keys works in every terminal, in an editor's
terminal pane and through a pipe, with no raw-mode tricks to undo when it exits.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rich.console import Console
from rich.markup import escape

from grader.course.i18n import exercise_text
from grader.course.manifest import Exercise
from grader.engine.grading import ExerciseResult
from grader.learner.terminal import capstone_fields, exercise_file, print_result, show_hint, shown_path

QUIET_MS = 300     # an editor's save is often several writes: check once, when they stop
QUIT = ("q", "quit", "exit")
HINT = ("h", "hint")


@dataclass(frozen=True)
class FileChange:
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    text: str


Event = FileChange | Command


class Watcher:
    """The watch loop over one course, for one learner.

    ``run_checks(exercise)`` runs an exercise's visible checks (in a worker, as `course
    check` does); ``cc`` is the command's CourseContext (course, language, state)."""

    def __init__(self, cc, console: Console, run_checks: Callable[[Exercise], ExerciseResult],
                 start: Exercise):
        self.cc = cc
        self.console = console
        self.run_checks = run_checks
        self.current = start
        self.finished = False

    def run(self, events: Iterable[Event]) -> str:
        """Check the current exercise, then react to each event. Returns why it stopped:
        ``"quit"``, ``"done"`` (every exercise passes) or ``"end"`` (no more events)."""
        self.check_current()
        if self.finished:
            return "done"
        for event in events:
            if isinstance(event, FileChange):
                self.check_current()
            else:
                typed = event.text.strip().lower()
                if typed in QUIT:
                    return "quit"
                if typed in HINT:
                    self.hint()
                elif typed == "":
                    self.check_current()
                else:
                    self.say("watch_unknown_key", key=escape(event.text.strip()))
                    self.prompt()
            if self.finished:
                return "done"
        return "end"

    # ------------------------------------------------------------ steps

    def say(self, key: str, /, **fields) -> None:
        _say(self.console, self.cc, key, **fields)

    def check_current(self) -> None:
        """Check the current exercise; while it passes, record it and move on to the next
        one (which may already pass too: a learner who wrote several at once)."""
        course = self.cc.course
        for _ in range(len(course.exercises)):
            ex = self.current
            self.console.rule(escape(self.cc.t("checking", id=ex.id)), align="left")
            result = self.run_checks(ex)
            # read the state again: `course hint` in another terminal may have changed it
            state = self.cc.reload_state()
            if result.graded:   # the grader's own failure says nothing of the learner's code
                state.record_check(ex.id, result.passed)
                state.save()
            print_result(self.console, self.cc, result)
            if not result.passed:
                self.prompt()
                return
            nxt = state.next_exercise(course, after=ex.id)
            if nxt is None:
                self.finished = True
                self.say("watch_course_done")
                return
            self.current = nxt
            title = exercise_text(course, nxt.id, self.cc.lang).title
            if nxt.is_capstone:
                where = capstone_fields(self.cc, nxt)["command"]
            else:
                where = exercise_file(self.cc, nxt)
            self.say("watch_moved_on", passed=ex.id, id=nxt.id, title=escape(title), file=where)

    def hint(self) -> None:
        self.cc.reload_state()
        show_hint(self.console, self.cc, self.current.id)
        self.prompt()

    def prompt(self) -> None:
        """The keys the learner can press now, and which hint level `h` would show."""
        total = len(self.current.hints)
        shown = self.cc.state.hints_shown.get(self.current.id, 0)
        if shown < total:
            self.say("watch_keys", next=shown + 1, total=total, id=self.current.id)
        else:
            self.say("watch_keys_no_hint", id=self.current.id)


def _say(console: Console, cc, key: str, /, **fields) -> None:
    console.print(cc.t(key, **fields))
    console.file.flush()   # the learner (or a test reading a pipe) sees it now, not at exit


def watch(cc, console: Console, events: Iterable[Event], run_checks: Callable[[Exercise], ExerciseResult],
          start: Exercise) -> str:
    """The whole session: a greeting line, the loop, and a goodbye line however it ends,
    Ctrl-C (KeyboardInterrupt, from anywhere in the loop or a check) included. Returns
    why it stopped (see :meth:`Watcher.run`, plus ``"interrupted"``)."""
    _say(console, cc, "watch_start", folder=escape(shown_path(cc, cc.course.root / "exercises")))
    try:
        why = Watcher(cc, console, run_checks, start).run(events)
    except KeyboardInterrupt:
        why = "interrupted"
    _say(console, cc, "watch_goodbye")
    return why


def fd_line_reader(fd: int) -> Callable[[], str]:
    """A ``readline`` over a file descriptor that keeps no Python-level lock while it
    waits: a daemon thread blocked in ``sys.stdin.readline`` can make the interpreter
    abort at exit ("could not acquire lock for <stdin>"); one blocked in ``os.read``
    cannot. Returns "" at end of input."""
    buffered = bytearray()

    def read_line() -> str:
        while b"\n" not in buffered:
            chunk = os.read(fd, 1024)
            if not chunk:
                line, buffered[:] = bytes(buffered), b""
                return line.decode("utf-8", "replace")
            buffered.extend(chunk)
        end = buffered.index(b"\n") + 1
        line, buffered[:] = bytes(buffered[:end]), buffered[end:]
        return line.decode("utf-8", "replace")

    return read_line


def live_events(folder: Path, read_line: Callable[[], str], stop: threading.Event,
                quiet_ms: int = QUIET_MS) -> Iterator[Event]:
    """Saves of ``.py`` files under ``folder`` and lines read with ``read_line``, in the
    order they happen. Saves that arrive while the loop is busy (a check is running)
    become one :class:`FileChange`. End of input stops reading commands, not watching:
    ``course watch < /dev/null`` still checks on every save."""
    import watchfiles

    events: queue.Queue[Event] = queue.Queue()

    def watch_files() -> None:
        changes = watchfiles.watch(folder, watch_filter=watchfiles.PythonFilter(), step=quiet_ms,
                                   stop_event=stop, raise_interrupt=False)
        for batch in changes:
            events.put(FileChange(tuple(sorted(path for _change, path in batch))))

    def read_commands() -> None:
        while not stop.is_set():
            try:
                line = read_line()
            except (OSError, ValueError):
                return
            if not line:
                return  # end of input
            events.put(Command(line.rstrip("\r\n")))

    # started now, not when the first event is asked for: a save made while the first
    # check runs must not be missed
    for target in (watch_files, read_commands):
        threading.Thread(target=target, daemon=True, name=f"course-watch-{target.__name__}").start()
    return _in_order(events, stop)


def _in_order(events: queue.Queue, stop: threading.Event) -> Iterator[Event]:
    pending: deque[Event] = deque()
    try:
        while not stop.is_set():
            if not pending:
                try:
                    # a timeout, so that Ctrl-C reaches the main thread promptly
                    pending.append(events.get(timeout=0.2))
                except queue.Empty:
                    continue
            while True:     # everything already waiting, in order
                try:
                    pending.append(events.get_nowait())
                except queue.Empty:
                    break
            yield _next_event(pending)
    finally:
        stop.set()


def _next_event(pending: deque) -> Event:
    """The first waiting event; a FileChange absorbs every other FileChange waiting (one
    check covers them all), while commands keep their order."""
    first = pending.popleft()
    if isinstance(first, FileChange):
        paths = set(first.paths)
        for event in [e for e in pending if isinstance(e, FileChange)]:
            paths.update(event.paths)
            pending.remove(event)
        first = FileChange(tuple(sorted(paths)))
    return first
