"""Limits count the learner's code; the grader's own failures are never a score.

A busy machine, a slow start, a worker that never starts or the CUDA build of torch
must not cost correct code points, and what the grader could not grade is retried,
reported, and never stored.
"""

import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.engine import grading
from grader.engine.grading import GradingContext
from grader.instructor.gradebook import Gradebook
from grader.instructor.submission import grade_submission
from grader.isolation import limits, sandbox, worker_client
from tests.support import ROOT, make_submission

pytestmark = pytest.mark.slow  # grades under a busy machine and failing workers

COURSE = load_manifest(ROOT / "course.toml")
QUICK = [COURSE.exercise(i) for i in ("rnn.rnn_step_forward", "rnn.rnn_forward", "attention.softmax")]


@pytest.fixture
def busy_machine():
    """Six busy loops on a two-core machine, as a shared lab server has them."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(6)]
    yield
    for loop in loops:
        loop.kill()
        loop.wait()


class SlowStart:
    """A fork server that takes ``seconds`` to hand over each worker."""

    def __init__(self, server, seconds: float):
        self.server, self.seconds = server, seconds

    def kept_budget(self, preload=()):
        return self.server.kept_budget(preload)

    def spawn(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.server.spawn(*args, **kwargs)


class NeverStarts:
    """A launcher whose first ``failures`` workers never say hello (then real ones)."""

    def __init__(self, server, failures: int):
        self.server, self.failures, self.spawned = server, failures, 0

    def kept_budget(self, preload=()):
        return self.server.kept_budget(preload)

    def spawn(self, *args, **kwargs):
        self.spawned += 1
        if self.spawned <= self.failures:
            return subprocess.Popen(["sleep", "60"], start_new_session=True)
        return self.server.spawn(*args, **kwargs)


@pytest.fixture
def quick_faults(monkeypatch):
    monkeypatch.setattr(worker_client, "START_SECONDS", 1.0)
    monkeypatch.setattr(grading, "RETRY_PAUSE_SECONDS", 0.0)


def _grade(tmp_path, ctx, exercises=QUICK, record=None):
    folder = make_submission(tmp_path / "ref")
    return grade_submission(ctx, folder, exercises, record=record)


@pytest.mark.usefixtures("busy_machine")
def test_a_busy_machine_costs_the_reference_nothing_even_with_half_a_second(tmp_path):
    ctx = GradingContext.for_course(COURSE, "hidden", time_limit=0.5)
    try:
        result = _grade(tmp_path, ctx)
    finally:
        ctx.close()
    assert [e.score for e in result.exercises] == [e.max_score for e in result.exercises], \
        "\n".join(e.feedback() for e in result.exercises)


def test_a_slow_start_is_not_charged_to_the_learner(tmp_path):
    ctx = GradingContext.for_course(COURSE, "hidden", time_limit=0.5)
    ctx.launcher = SlowStart(ctx.launcher, 1.5)
    try:
        result = _grade(tmp_path, ctx, QUICK[:1])
    finally:
        ctx.launcher.server.close()
    assert result.exercises[0].passed, result.exercises[0].feedback()


@pytest.mark.usefixtures("quick_faults")
def test_a_worker_that_did_not_start_is_tried_again(tmp_path):
    ctx = GradingContext.for_course(COURSE, "hidden")
    ctx.launcher = NeverStarts(ctx.launcher, failures=1)
    try:
        result = _grade(tmp_path, ctx, QUICK[:1])
    finally:
        ctx.launcher.server.close()
    assert result.exercises[0].passed, result.exercises[0].feedback()
    assert ctx.launcher.spawned == 2
    assert not result.not_graded


@pytest.mark.usefixtures("quick_faults")
def test_what_the_grader_keeps_failing_is_reported_and_never_stored(tmp_path):
    ctx = GradingContext.for_course(COURSE, "hidden")
    ctx.launcher = NeverStarts(ctx.launcher, failures=99)
    book = Gradebook(tmp_path / "out", COURSE)
    record = book.submission("ref")
    try:
        result = _grade(tmp_path, ctx, QUICK[:1], record=record)
    finally:
        ctx.launcher.server.close()
    assert ctx.launcher.spawned == grading.ATTEMPTS
    assert "did not start" in result.not_graded["rnn.rnn_step_forward"]
    assert result.exercises == [] or not result.exercises[0].graded
    assert record.results() == []


def test_course_grade_exits_1_naming_what_it_could_not_grade(tmp_path, monkeypatch):
    hello = worker_client.WorkerSession._hello

    def no_hello(session):
        # a worker that never says hello in time; a tiny START_SECONDS alone is a race that
        # a worker forked from a warm server can win (its hello is waiting before the first recv)
        session.close()
        raise session._grader_fault(f"a worker did not start within {worker_client.START_SECONDS:g} s")

    monkeypatch.setattr(worker_client.WorkerSession, "_hello", no_hello)
    monkeypatch.setattr(grading, "RETRY_PAUSE_SECONDS", 0.0)
    folder = make_submission(tmp_path / "ref")
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(folder), "--out", str(out),
                                    "--only", "rnn.rnn_step_forward"])
    assert run.exit_code == 1, run.output
    assert "incomplete: 1 exercise result could not be made" in run.output
    assert "ref rnn.rnn_step_forward" in run.output
    monkeypatch.setattr(worker_client.WorkerSession, "_hello", hello)
    again = CliRunner().invoke(main, ["--course", str(ROOT), "grade", str(folder), "--out", str(out),
                                      "--only", "rnn.rnn_step_forward"])
    assert again.exit_code == 0, again.output
    assert "1 graded now, 0 reused" in again.output


@pytest.mark.skipif(torch.version.cuda is None, reason="the CUDA build of torch is not installed here")
@pytest.mark.parametrize("budget", ["cgroups", "rlimits"])
def test_the_cuda_build_of_torch_costs_the_reference_nothing(tmp_path, monkeypatch, budget):
    """Its import alone reserves 3.2 GB of address space: a limit of the address space
    (rather than of memory used) failed correct code with MemoryError."""
    if budget == "rlimits":
        monkeypatch.setenv(sandbox.SKIP_ENV, limits.STEP)
    ctx = GradingContext.for_course(COURSE, "hidden")
    exercises = [COURSE.exercise(i) for i in ("attention.softmax", "multihead.MultiHeadAttention",
                                              "transformer.EncoderLayer")]
    try:
        result = _grade(tmp_path, ctx, exercises)
    finally:
        ctx.close()
    assert all(e.passed for e in result.exercises), "\n".join(e.feedback() for e in result.exercises)
