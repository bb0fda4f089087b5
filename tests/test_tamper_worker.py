"""The worker is the learner's: nothing in it is the reference's, and nothing it reports
is trusted. One test per way that used to pay (the reference read from the worker's
memory, a forbidden call hidden by editing the worker's record, a training run's
fabricated report, a deadline stretched by trickling a message).

These tests talk to workers directly or switch the static scan off where they would
otherwise be stopped by it (grader/engine/forbidden.py refuses gc, sys.modules and the rest):
each shows that the layer it names holds on its own."""

import textwrap
import time

import pytest

from grader.engine.grading import grade_exercise
from grader.isolation.clock import wait_limit
from grader.isolation.worker_client import StudentProxy, WorkerSession, WorkerTimeout
from tests.support import ROOT, make_partial_submission, make_submission

pytestmark = pytest.mark.slow  # runs tampering code in workers, up to their deadlines

SOLUTION_LINES = [line.strip() for line in (ROOT / "solutions" / "rnn.py").read_text().splitlines()
                  if len(line.strip()) >= 12 and not line.strip().startswith("#")]


# ---------------------------------------------------------------- the reference never reaches the worker

SEARCH_MEMORY = '''
def rnn_forward(x, h0, Wx, Wh, b):
    """Search everything the worker holds for reference code, and report what was found."""
    import gc, sys
    found = []
    for obj in gc.get_objects():
        try:
            code = obj.__code__ if callable(obj) else None
            if code.co_filename.startswith("<reference"):
                found.append("code:" + code.co_filename)
        except Exception:
            pass
        if isinstance(obj, dict):
            for value in list(obj.values()):
                if isinstance(value, str) and "def rnn_step_forward" in value and "np.tanh" in value:
                    found.append("source")
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "")).startswith("<reference") or name.startswith("_reference"):
            found.append("module:" + name)
    h, _ = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)   # the stand-in answers, from elsewhere
    raise RuntimeError(f"LEAKS={len(found)} {sorted(set(found))[:5]} stand-in gave {h.shape}")
'''


def test_the_worker_holds_no_reference_code_while_the_reference_stands_in(hidden, course, tmp_path,
                                                                           without_screening):
    """rnn_step_forward is a stub, so the reference stands in for it while rnn_forward is graded:
    the worker grading rnn_forward holds neither its source nor its code (it used to hold both)."""
    folder = make_partial_submission(tmp_path, set())
    path = folder / "rnn.py"
    from grader.course.source import replace_definition

    path.write_text(replace_definition(path.read_text(), "rnn_forward", SEARCH_MEMORY))
    result = grade_exercise(hidden, course.exercise("rnn.rnn_forward"), folder, passed=set())
    text = result.feedback()
    assert "LEAKS=0 []" in text and "stand-in gave (" in text, text
    assert not any(line in text for line in SOLUTION_LINES), text


def test_a_piece_that_passed_is_the_learners_own_and_one_that_failed_stands_in(hidden, course, tmp_path):
    """The stand-in rule: the reference only where the learner's version did not pass."""
    def gives(passed):
        marker = "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n    raise ValueError('MINE')\n"
        folder = make_submission(tmp_path / str(len(passed)), {"rnn.rnn_step_forward": marker})
        return grade_exercise(hidden, course.exercise("rnn.rnn_forward"), folder, passed=passed)

    assert gives(set()).passed                                   # failed: the reference stands in
    own = gives({"rnn.rnn_step_forward"})                        # passed: the learner's own runs
    assert not own.passed and "MINE" in own.feedback()


# ---------------------------------------------------------------- forbidden calls cannot be hidden

CLEAR_RECORD = '''
def patchify(images, patch_size):
    """Call a forbidden method, then wipe the worker's record of forbidden calls."""
    import gc
    B, C, H, W = images.shape
    p = patch_size
    try:
        patches = images.unfold(2, p, p).unfold(3, p, p)
    finally:
        for obj in gc.get_objects():
            if type(obj).__name__ == "Tripwires":
                obj.used.clear()
    patches = patches.permute(0, 2, 3, 1, 4, 5)
    return patches.reshape(B, (H // p) * (W // p), C * p * p)
'''


def test_clearing_the_record_of_forbidden_calls_does_not_hide_them(hidden, course, tmp_path, monkeypatch,
                                                                    without_screening):
    """The forbidden call itself fails in the learner's code: the verdict never rested on the
    record alone (which learner code could clear, and once did, for full marks)."""
    monkeypatch.setattr("grader.engine.grading.forbidden_in_source", lambda *_: set())   # the static names off too
    folder = make_submission(tmp_path, {"heads.patchify": CLEAR_RECORD})
    result = grade_exercise(hidden, course.exercise("heads.patchify"), folder)
    assert result.score == 0, result.feedback()
    assert "ForbiddenCall: torch.Tensor.unfold is one of the calls" in result.feedback()


# ---------------------------------------------------------------- a training run's report is not trusted

FAKE_RUN = """
import grader.fixtures as _fixtures


def _untrained_with_a_perfect_curve(config, measure=False, modules=None):
    from grader.content import capstone
    model = capstone.build_model(_fixtures.course_modules(capstone.USES), capstone.CapstoneConfig(**config))
    return {"state": model.state_dict(), "losses": [3.0 - 2.99 * i / 999 for i in range(1000)],
            "val_curve": [], "steps": 1000, "seconds": 1.0}


_fixtures.train_capstone = _untrained_with_a_perfect_curve
"""


def test_a_fabricated_falling_loss_curve_earns_nothing(hidden, course, tmp_path, without_screening):
    """The training run is replaced, inside the worker, by one that trains nothing and reports
    a perfect curve. The loss is measured here, from the logits of the learner's model with
    the returned weights: the check fails (it used to pass on the curve alone)."""
    folder = make_submission(tmp_path)
    path = folder / "transformer.py"    # imported by the first check, before the training run
    path.write_text(path.read_text() + FAKE_RUN)
    result = grade_exercise(hidden, course.exercise("capstone.reverse_digits"), folder)
    outcomes = {c.title.split(",")[0]: c for c in result.checks}
    lowers = outcomes["Trained with your loss and schedule"]
    assert not lowers.passed and "below a quarter" in lowers.feedback, result.feedback()
    assert outcomes["Your modules assemble into a Transformer that computes what the reference computes"].passed


# ---------------------------------------------------------------- the deadline holds

TRICKLE = textwrap.dedent('''
    import os, socket, stat, struct, time

    def trickle():
        """Start a message to the grader, then send one byte every half second."""
        for fd in range(3, os.sysconf("SC_OPEN_MAX")):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    sock = socket.socket(fileno=os.dup(fd))
                    break
            except OSError:
                continue
        sock.sendall(struct.pack("<QI", 1000, 900))   # a message of 1000 bytes, its JSON 900
        while True:
            sock.sendall(b" ")
            time.sleep(0.5)
''')


def test_a_worker_that_trickles_a_message_is_stopped_when_its_wait_is_up(tmp_path):
    """It uses no CPU time: the grader's wait for its answer is what runs out."""
    (tmp_path / "learner.py").write_text(TRICKLE)
    config = {"folder": str(tmp_path), "modules": ["learner"], "graded_module": "learner",
              "forbidden": [], "memory_limit_mb": 3072}
    with WorkerSession(tmp_path, config, 3, tmp_path / "output.txt") as session:
        assert session.start() is None, session.output_tail()
        learner = StudentProxy(session, ["learner"], lambda module, name: []).learner
        started = time.monotonic()
        with pytest.raises(WorkerTimeout, match=f"no answer after waiting {wait_limit(3):g} s"):
            learner.trickle()
        assert time.monotonic() - started < wait_limit(3) + 3


# ---------------------------------------------------------------- the grader keeps descriptions, not values

BIG_CACHE = textwrap.dedent('''
    import numpy as np

    def step():
        """A small answer with a large cache beside it, as a correct step may return."""
        return np.zeros(3), np.ones((4, 2**20 // 2))      # 16 MB
''')


def test_a_large_result_is_kept_as_its_description_not_its_value(tmp_path):
    """Feedback needs what a call returned only as text: keeping every value of the last
    calls grew the grader by gigabytes when a cache carried a large array."""
    (tmp_path / "learner.py").write_text(BIG_CACHE)
    config = {"folder": str(tmp_path), "modules": ["learner"], "graded_module": "learner",
              "forbidden": [], "memory_limit_mb": 3072}
    with WorkerSession(tmp_path, config, 10, tmp_path / "output.txt") as session:
        assert session.start() is None, session.output_tail()
        small, cache = StudentProxy(session, ["learner"], lambda module, name: []).learner.step()
        assert cache.shape == (4, 2**19)                       # the check gets the value
        record = session.calls[-1]
        assert record.result is None and "(4, 524288)" in record.outcome_text()
