"""The grading core on the real course: full marks, zero, isolation, and attacks."""

import json
import textwrap
import zipfile

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from tests.support import EXERCISES, ROOT, SOLUTIONS, make_partial_submission, make_submission

pytestmark = pytest.mark.slow  # grades whole submissions, exercise by exercise

# a capstone has nothing of its own to solve: it is graded on the learner's other modules
EXERCISE_IDS = [ex.id for ex in load_manifest(ROOT / "course.toml").exercises if not ex.is_capstone]


def scores(result):
    return {e.id: e.score for e in result.exercises}


def full(course, ids):
    return {i: course.exercise(i).points for i in ids}


def test_a_copy_of_the_solutions_gets_full_marks(hidden, course):
    result = grade_submission(hidden, SOLUTIONS)
    assert result.score == course.total_points, [e.feedback() for e in result.exercises if not e.passed]
    assert all(e.passed for e in result.exercises)


def test_a_copy_of_the_stubs_gets_zero(hidden):
    result = grade_submission(hidden, EXERCISES)
    assert result.score == 0
    assert all("not written yet" in e.feedback() for e in result.exercises)


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_an_exercise_passes_with_only_itself_and_what_it_calls_of_yours(hidden, course, exercise_id, tmp_path):
    """builds_on and uses_own are complete: nothing else of the learner's is needed."""
    ex = course.exercise(exercise_id)
    folder = make_partial_submission(tmp_path, {exercise_id, *ex.uses_own})
    result = grade_submission(hidden, folder, [ex])
    assert result.exercises[0].passed, result.exercises[0].feedback()


def test_the_visible_checks_pass_on_the_solutions_and_fail_on_the_stubs(visible):
    assert all(e.passed for e in grade_submission(visible, SOLUTIONS).exercises)
    assert not any(c.passed for e in grade_submission(visible, EXERCISES).exercises for c in e.checks)


# ---------------------------------------------------------------- attacks and accidents

STEP = "rnn.rnn_step_forward"
OTHERS = ["rnn.clip_grad_norm", "lstm.lstm_step_forward"]


def prepend(folder, module, code):
    path = folder / f"{module}.py"
    path.write_text(textwrap.dedent(code) + "\n" + path.read_text())


def step_forward_body(body):
    return "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n" + textwrap.indent(textwrap.dedent(body), "    ")


ATTACKS = {
    "exit_at_import": lambda d: prepend(d, "rnn", "import sys\nsys.exit(0)"),
    "os_exit_at_import": lambda d: prepend(d, "rnn", "import os\nos._exit(0)"),
    "raise_at_import": lambda d: prepend(d, "rnn", "raise RuntimeError('boom')"),
    "syntax_error": lambda d: prepend(d, "rnn", "def broken(:\n    pass"),
    "os_exit_in_function": lambda d: make_submission(d, {STEP: step_forward_body("import os\nos._exit(0)")}),
    "loops_forever": lambda d: make_submission(d, {STEP: step_forward_body("while True:\n    pass")}),
    "patches_comparisons": lambda d: (
        make_submission(d, {STEP: step_forward_body("return np.full((x.shape[0], Wh.shape[0]), 7.0, dtype=np.float32), None")}),
        prepend(d, "rnn", """
            import numpy, numpy.testing, torch
            numpy.allclose = lambda *a, **k: True
            numpy.isclose = lambda a, b, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
            numpy.array_equal = lambda *a, **k: True
            numpy.testing.assert_allclose = lambda *a, **k: None
            torch.allclose = lambda *a, **k: True
            """),
    ),
    "allocates_without_bound": lambda d: make_submission(d, {STEP: step_forward_body(
        "hog = np.ones((60_000, 1_000_000))\nreturn hog[:x.shape[0], :Wh.shape[0]], None")}),
    "prints_fake_success": lambda d: (
        make_submission(d, {STEP: step_forward_body(
            "print('rnn.rnn_step_forward: 6/6 checks passed, 2/2 points')\n"
            "print('{\"score\": 100}')\nreturn np.full((x.shape[0], Wh.shape[0]), 7.0, dtype=np.float32), None")}),
    ),
    "reads_caller_frames": lambda d: make_submission(d, {STEP: step_forward_body("""
        import sys
        frame, found = sys._getframe(1), None
        while frame is not None:  # look for the expected answer up the stack
            for value in frame.f_locals.values():
                if isinstance(value, np.ndarray) and value.shape == (x.shape[0], Wh.shape[0]):
                    found = value
            frame = frame.f_back
        return (found if found is not None else np.full((x.shape[0], Wh.shape[0]), 7.0, dtype=np.float32)), None
        """)}),
    "returns_garbage_types": lambda d: make_submission(d, {STEP: step_forward_body("return object(), lambda: 1")}),
    "forbidden_torch_rnn": lambda d: make_submission(d, {STEP: step_forward_body("""
        import torch
        rnn = torch.nn.RNN(x.shape[1], Wh.shape[0], batch_first=True).double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T)); rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
            rnn.bias_ih_l0.copy_(torch.from_numpy(b)); rnn.bias_hh_l0.zero_()
            out, _ = rnn(torch.from_numpy(x)[:, None], torch.from_numpy(prev_h)[None])
        next_h = out[:, 0].numpy()
        return next_h, (x, prev_h, Wx, Wh, next_h)
        """)}),
}


def test_attacks_cost_only_what_they_touch_and_the_batch_goes_on(tmp_path, course):
    """One batch through the real CLI: the reference, then every attack."""
    folders = [make_submission(tmp_path / "honest")]
    for name, attack in ATTACKS.items():
        folder = make_submission(tmp_path / name)
        attack(folder)
        folders.append(folder)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["grade", *map(str, folders), "--out", str(out), "--jobs", "2",
                                    "--time-limit", "5", "--only", ",".join([STEP] + OTHERS)],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    header, *lines = (out / "grades.csv").read_text().splitlines()
    assert header == "submission," + ",".join([STEP] + OTHERS) + ",total"
    assert {line.split(",")[0] for line in lines} == {"honest", *ATTACKS}
    for name in ATTACKS:
        result = json.loads((out / name / "results.json").read_text())
        by_id = {t["name"]: t for t in result["tests"]}
        assert by_id[STEP]["score"] == 0, (name, by_id[STEP]["output"])
        assert by_id[STEP]["status"] == "failed"
        lstm = by_id["lstm.lstm_step_forward"]
        assert lstm["score"] == lstm["max_score"], (name, lstm["output"])
    honest = json.loads((out / "honest" / "results.json").read_text())
    assert all(t["status"] == "passed" for t in honest["tests"])
    assert honest["score"] == sum(course.exercise(i).points for i in [STEP] + OTHERS)


def test_a_function_that_kills_its_worker_costs_only_its_exercise(hidden, tmp_path, course, without_screening):
    folder = make_submission(tmp_path, {STEP: step_forward_body("import os\nos._exit(0)")})
    result = grade_submission(hidden, folder, [course.exercise(STEP), course.exercise("rnn.clip_grad_norm"),
                                               course.exercise("rnn.rnn_forward")])
    got = scores(result)
    assert got[STEP] == 0
    # rnn_forward builds on rnn_step_forward: the reference stands in for the broken one
    assert got["rnn.rnn_forward"] == course.exercise("rnn.rnn_forward").points
    assert got["rnn.clip_grad_norm"] == course.exercise("rnn.clip_grad_norm").points
    assert "exited" in result.exercises[0].feedback()


def test_a_broken_earlier_module_does_not_sink_a_later_one(hidden, tmp_path, course):
    folder = make_submission(tmp_path)
    prepend(folder, "rnn", "raise RuntimeError('half-finished file')")
    result = grade_submission(hidden, folder, [course.exercise("lstm.lstm_forward")])
    assert result.exercises[0].passed


def test_forbidden_calls_are_named_in_the_feedback(hidden, tmp_path, course):
    folder = make_submission(tmp_path)
    ATTACKS["forbidden_torch_rnn"](folder)
    result = grade_submission(hidden, folder, [course.exercise(STEP)])
    assert result.exercises[0].score == 0
    assert "torch.nn.RNN" in result.exercises[0].feedback()


def test_feedback_says_what_was_called_returned_and_expected(hidden, tmp_path, course):
    folder = make_submission(tmp_path, {STEP: step_forward_body(
        "next_h = x @ Wx + prev_h @ Wh + b  # forgot tanh\nreturn next_h, (x, prev_h, Wx, Wh, next_h)")})
    result = grade_submission(hidden, folder, [course.exercise(STEP)])
    text = result.exercises[0].feedback()
    assert "called rnn_step_forward(x=array float64" in text
    assert "returned (array float64" in text
    assert "expected" in text
    assert "def test_" not in text and "ref." not in text


def test_zipped_and_nested_submissions_are_found(hidden, tmp_path, course):
    folder = make_submission(tmp_path / "alice" / "exercises")
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.glob("*.py"):
            zf.write(path, f"alice/exercises/{path.name}")
    result = grade_submission(hidden, archive, [course.exercise(STEP)])
    assert result.name == "alice" and result.exercises[0].passed


@pytest.mark.parametrize("member", ["../evil.py", "/abs/evil.py"])
def test_unsafe_zips_are_refused_with_a_note(hidden, tmp_path, course, member):
    archive = tmp_path / "mallory.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, "x = 1\n")
    result = grade_submission(hidden, archive, [course.exercise(STEP)])
    assert result.score == 0 and "unsafe path" in result.notes[0]
    assert not (tmp_path.parent / "evil.py").exists()


def test_an_empty_folder_gets_zero_with_a_note(hidden, tmp_path, course):
    (tmp_path / "empty").mkdir()
    result = grade_submission(hidden, tmp_path / "empty", [course.exercise(STEP)])
    assert result.score == 0 and "missing modules" in result.notes[0]


def test_exercises_are_graded_in_course_order_whatever_order_they_are_asked_in(hidden, course):
    """Course order is dependency order: an exercise's worker gets reference code for what it
    builds on only after those exercises have been graded."""
    wanted = [course.exercise("rnn.rnn_forward"), course.exercise("rnn.rnn_step_forward")]
    graded = [e.id for e in grade_submission(hidden, EXERCISES, wanted).exercises]
    assert graded == ["rnn.rnn_step_forward", "rnn.rnn_forward"]


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k != "execution_time"}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def test_grading_in_two_processes_gives_what_one_process_gives(tmp_path):
    """--jobs 2 shares the submissions out to two grading processes; nothing may differ."""
    folders = [make_submission(tmp_path / "ann"), EXERCISES,
               make_submission(tmp_path / "bob", {STEP: step_forward_body("return x, None")})]
    outs = {}
    for jobs in ("1", "2"):
        out = outs[jobs] = tmp_path / f"out{jobs}"
        run = CliRunner().invoke(main, ["grade", *map(str, folders), "--out", str(out), "--jobs", jobs,
                                        "--only", "rnn.rnn_step_forward,rnn.rnn_forward"], catch_exceptions=False)
        assert run.exit_code == 0, run.output
    assert (outs["1"] / "grades.csv").read_text() == (outs["2"] / "grades.csv").read_text()
    for name in ("ann", "exercises", "bob"):
        one, two = (json.loads((outs[j] / name / "results.json").read_text()) for j in ("1", "2"))
        assert _without_timing(one) == _without_timing(two)
    totals = {line.split(",")[0]: line.split(",")[-1] for line in (outs["2"] / "grades.csv").read_text().splitlines()[1:]}
    assert totals["ann"] == "4" and totals["exercises"] == "0" and 2 <= float(totals["bob"]) < 4


# ---------------------------------------------------------------- the stand-in rule

CS231N_STEP_FORWARD = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)
    cache = (Wx, Wh, b, x, prev_h, next_h)          # a layout of the learner's own
    return next_h, cache
"""
CS231N_STEP_BACKWARD = """
def rnn_step_backward(dnext_h, cache):
    Wx, Wh, b, x, prev_h, next_h = cache
    dtanh = (1 - next_h ** 2) * dnext_h
    return dtanh.dot(Wx.T), dtanh.dot(Wh.T), x.T.dot(dtanh), prev_h.T.dot(dtanh), dtanh.sum(axis=0)
"""
CS231N_BACKWARD = """
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][3].shape[1]                        # x, read from the learner's own step cache
    dx, dh0 = np.zeros((N, T, D)), np.zeros((N, H))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    for t in reversed(range(T)):
        dx[:, t], dh0, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh0, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dh0, dWx, dWh, db
"""


def test_a_self_consistent_cache_layout_keeps_full_marks_whatever_the_selection(hidden, course, tmp_path):
    """CS231n-style code whose sequence backward reads its own step caches: the step pieces
    pass, so they stay the learner's own when rnn_backward is graded (with the reference
    standing in, whose caches have another layout, it scored 0), also graded alone."""
    folder = make_submission(tmp_path, {"rnn.rnn_step_forward": CS231N_STEP_FORWARD,
                                        "rnn.rnn_step_backward": CS231N_STEP_BACKWARD,
                                        "rnn.rnn_backward": CS231N_BACKWARD})
    rnn = [ex for ex in course.exercises if ex.module == "rnn"]
    assert all(e.passed for e in grade_submission(hidden, folder, rnn).exercises)
    alone = grade_submission(hidden, folder, [course.exercise("rnn.rnn_backward")])
    assert [e.passed for e in alone.exercises] == [True], alone.exercises[0].feedback()
