"""`course watch`: the loop driven by a list of events, the live event sources, and one
end-to-end run of `python -m grader watch` on a temporary copy of the course."""

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque

import pytest
from click.testing import CliRunner
from rich.console import Console

from grader.cli import main
from grader.commands import CourseContext
from grader.course.i18n import exercise_text
from grader.course.manifest import load_manifest
from grader.course.source import make_stubs
from grader.engine.grading import CheckOutcome, ExerciseResult
from grader.learner.state import LearnerState
from grader.learner.watch import Command, FileChange, Watcher, _next_event, fd_line_reader, live_events, watch
from tests.support import ROOT, copy_course

COURSE = load_manifest(ROOT / "course.toml")


@pytest.fixture
def course_copy(tmp_path):
    """What a learner has: no solutions/, no hidden suites."""
    return copy_course(tmp_path / "course", ("exercises", "suites/visible", "i18n"))


class FakeChecks:
    """Stands in for the workers: an exercise passes once the test says it is solved."""

    def __init__(self):
        self.solved: set[str] = set()
        self.ran: list[str] = []

    def __call__(self, exercise):
        self.ran.append(exercise.id)
        ok = exercise.id in self.solved
        outcome = CheckOutcome("a check title from the suite", 1.0, ok, "" if ok else "got 1 expected 2")
        return ExerciseResult(exercise.id, exercise.title, exercise.points, exercise.points if ok else 0.0, [outcome])


def session(root, lang=None):
    console = Console(file=io.StringIO(), width=200, highlight=False)
    return CourseContext(root, lang), console


def output(console):
    return " ".join(console.file.getvalue().split())


def test_a_failure_offers_the_next_hint_and_h_shows_it(course_copy):
    cc, console = session(course_copy)
    checks = FakeChecks()
    why = Watcher(cc, console, checks, COURSE.exercise("rnn.rnn_forward")).run(
        [Command("h"), Command("h"), Command("q")])
    assert why == "quit"
    out = output(console)
    hints = COURSE.exercise("rnn.rnn_forward").hints
    assert "✗ rnn.rnn_forward" in out and "got 1 expected 2" in out and "a check title from the suite" in out
    assert "Type h + Enter for hint 1 of 3" in out
    assert " ".join(hints[0].split()[:6]) in out and " ".join(hints[1].split()[:6]) in out
    assert "Type h + Enter for hint 3 of 3" in out
    assert LearnerState(course_copy).hints_shown == {"rnn.rnn_forward": 2}
    assert checks.ran == ["rnn.rnn_forward"]      # hints do not re-run the checks


def test_a_save_that_passes_is_recorded_and_the_next_exercise_is_checked(course_copy):
    cc, console = session(course_copy)
    checks = FakeChecks()

    def events():
        yield FileChange(("exercises/rnn.py",))          # saved, still wrong
        checks.solved.add("rnn.rnn_step_forward")
        yield FileChange(("exercises/rnn.py",))          # saved, right
        yield Command("q")

    why = Watcher(cc, console, checks, COURSE.exercise("rnn.rnn_step_forward")).run(events())
    assert why == "quit"
    assert checks.ran == ["rnn.rnn_step_forward"] * 3 + ["rnn.rnn_step_backward"]
    state = LearnerState(course_copy)
    assert set(state.passed) == {"rnn.rnn_step_forward"} and set(state.failed) == {"rnn.rnn_step_backward"}
    out = output(console)
    assert "rnn.rnn_step_forward passes. On to rnn.rnn_step_backward: Backward through one RNN step" in out


def test_exercises_that_already_pass_are_passed_through_and_the_end_is_said(course_copy):
    cc, console = session(course_copy)
    checks = FakeChecks()
    checks.solved = {ex.id for ex in COURSE.exercises}
    start = COURSE.exercises[-2]                # the last before the capstone
    why = Watcher(cc, console, checks, start).run([Command("q")])
    assert why == "done"
    # from there on in course order, then the ones before it (none had passed)
    assert checks.ran[:2] == [start.id, "capstone.reverse_digits"]
    assert checks.ran[2] == "rnn.rnn_step_forward" and len(checks.ran) == len(COURSE.exercises)
    assert "Every exercise of the course passes" in output(console)


def test_enter_checks_again_and_anything_else_is_explained(course_copy):
    cc, console = session(course_copy)
    checks = FakeChecks()
    why = Watcher(cc, console, checks, COURSE.exercise("rnn.rnn_forward")).run([Command(""), Command("x")])
    assert why == "end"
    assert checks.ran == ["rnn.rnn_forward"] * 2
    assert "'x': h + Enter shows a hint" in output(console)


def test_when_every_hint_is_shown_the_prompt_says_so(course_copy):
    cc, console = session(course_copy)
    Watcher(cc, console, FakeChecks(), COURSE.exercise("rnn.rnn_forward")).run([Command("h")] * 4)
    out = output(console)
    assert "All hints of rnn.rnn_forward are shown" in out
    assert LearnerState(course_copy).hints_shown == {"rnn.rnn_forward": 3}


def test_in_korean_the_frame_and_hints_are_korean(course_copy):
    cc, console = session(course_copy, "ko")
    watch(cc, console, [Command("h"), Command("q")], FakeChecks(), COURSE.exercise("rnn.rnn_forward"))
    out = output(console)
    korean_hint = exercise_text(COURSE, "rnn.rnn_forward", "ko").hints[0]
    assert " ".join(korean_hint.split()[:5]) in out
    assert "h + Enter: 힌트 1단계" in out and "지켜보기를 멈췄습니다" in out
    assert "a check title from the suite" in out     # what checks say stays English


def test_ctrl_c_anywhere_ends_with_a_goodbye(course_copy):
    cc, console = session(course_copy)

    def events():
        yield Command("h")
        raise KeyboardInterrupt

    assert watch(cc, console, events(), FakeChecks(), COURSE.exercise("rnn.rnn_forward")) == "interrupted"
    out = output(console)
    assert out.startswith("Watching exercises") and out.endswith("Stopped watching. Your progress is saved; "
                                                                 "`course` shows where you are.")

    def interrupted_check(exercise):
        raise KeyboardInterrupt

    cc, console = session(course_copy)
    assert watch(cc, console, [], interrupted_check, COURSE.exercise("rnn.rnn_forward")) == "interrupted"
    assert "Stopped watching" in output(console)


# ---------------------------------------------------------------- the live sources

def test_waiting_saves_become_one_change_and_commands_keep_their_order():
    pending = deque([FileChange(("a.py",)), Command("h"), FileChange(("b.py",)), Command("q")])
    assert _next_event(pending) == FileChange(("a.py", "b.py"))
    assert list(pending) == [Command("h"), Command("q")]


def test_fd_line_reader_reads_lines_then_end_of_input():
    read_end, write_end = os.pipe()
    os.write(write_end, "h\nq\n마지막".encode())
    os.close(write_end)
    read_line = fd_line_reader(read_end)
    assert [read_line(), read_line(), read_line(), read_line()] == ["h\n", "q\n", "마지막", ""]
    os.close(read_end)


def test_live_events_merge_saves_and_typed_lines(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    lines = queue.Queue()
    stop = threading.Event()
    events = live_events(folder, lines.get, stop, quiet_ms=50)
    give_up = threading.Timer(20, stop.set)   # a missed event ends the stream (and fails) instead of hanging
    give_up.start()
    try:
        time.sleep(0.5)                       # let the watcher settle on the folder
        (folder / "notes.txt").write_text("not python")
        (folder / "rnn.py").write_text("x = 1\n")
        first = next(events)
        assert isinstance(first, FileChange) and first.paths[-1].endswith("rnn.py")
        assert not any(p.endswith("notes.txt") for p in first.paths)
        lines.put("h\n")
        assert next(events) == Command("h")
        lines.put("")                         # end of input: commands stop, watching goes on
        (folder / "rnn.py").write_text("x = 2\n")
        assert isinstance(next(events), FileChange)
    finally:
        give_up.cancel()
        stop.set()
        events.close()


# ---------------------------------------------------------------- end to end

class Lines:
    """A subprocess's stdout, read in a thread, so a test can wait for a line with a timeout."""

    def __init__(self, stream):
        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if needle in " ".join("".join(self.seen[-3:]).split()):
                return
        raise AssertionError(f"never saw {needle!r}; output so far:\n{''.join(self.seen)}")


def test_watch_end_to_end_moves_on_after_a_passing_save_and_exits_cleanly_on_sigint(course_copy):
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "COURSE_LANG")}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    process = subprocess.Popen([sys.executable, "-m", "grader", "watch"], cwd=course_copy, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out = Lines(process.stdout)
        out.wait_for("Watching exercises")
        out.wait_for("Type h + Enter for hint 1 of 3")          # the stub fails: a hint is offered
        solved = make_stubs((ROOT / "solutions" / "rnn.py").read_text(), "rnn", keep=frozenset({"rnn_step_forward"}))
        (course_copy / "exercises" / "rnn.py").write_text(solved)
        out.wait_for("rnn.rnn_step_forward passes. On to rnn.rnn_step_backward")
        out.wait_for("Type h + Enter for hint 1 of 3")
        process.stdin.write("h\n")
        process.stdin.flush()
        out.wait_for("rnn.rnn_step_backward: hint 1 of 3")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        out.wait_for("Stopped watching")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    state = json.loads((course_copy / ".course" / "state.json").read_text())
    assert "rnn.rnn_step_forward" in state["passed"] and "rnn.rnn_step_backward" in state["failed"]
    assert state["hints_shown"] == {"rnn.rnn_step_backward": 1}


def test_watch_help_teaches_the_keys():
    run = CliRunner().invoke(main, ["watch", "--help"])
    text = " ".join(run.output.split())
    assert run.exit_code == 0
    for needle in ("type h and Enter", "Ctrl-C", "course watch rnn.rnn_backward", "move on when it passes"):
        assert needle in text, needle
