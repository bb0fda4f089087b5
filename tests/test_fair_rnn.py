"""Fair grades for the rnn, lstm and training modules.

One deviation loses the one check that names it: scaling the caller's gradients or
zeroing the caller's ignored targets in place, a loss of the wrong type or shape, an
unstable smoothing term, a forgotten step 0 or factor. A stub that passes only property
checks earns nothing. And a chain of the learner's own pieces that agree on a cache
layout of their own keeps full marks when the whole module is graded, as when one
exercise is.
"""

import tempfile
from pathlib import Path

import pytest

from grader.checks import check_title
from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from suites.hidden import test_rnn as rnn_suite
from suites.hidden import test_training as training_suite
from tests.support import ROOT, make_submission
from tests.variants import lstm, rnn, training

COURSE = load_manifest(ROOT / "course.toml")
VARIANTS = {"rnn": rnn, "lstm": lstm, "training": training}


def _grade(hidden, exercise_ids, replacements):
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_submission(Path(tmp), replacements)
        return grade_submission(hidden, folder, [COURSE.exercise(i) for i in exercise_ids]).exercises


def _wrong(exercise_id, name):
    return VARIANTS[exercise_id.split(".")[0]].WRONG[exercise_id][name]


@pytest.mark.parametrize("exercise_id, name, check", [
    ("rnn.clip_grad_norm", "scales_in_place", rnn_suite.test_clip_leaves_inputs_unchanged),
    ("training.cross_entropy", "zeroes_ignored_targets_in_place", training_suite.test_ce_leaves_inputs_unchanged),
    ("training.cross_entropy", "returns_float64", training_suite.test_ce_zero_dim_same_dtype),
    ("training.cross_entropy", "shape_one_not_scalar", training_suite.test_ce_zero_dim_same_dtype),
    ("training.cross_entropy", "smoothing_term_from_softmax", training_suite.test_ce_huge_logits_smoothing_finite),
    ("training.cross_entropy", "smoothing_ignored", training_suite.test_ce_label_smoothing),
    ("training.cross_entropy", "count_clamped_to_one", training_suite.test_ce_all_ignored),
    ("training.noam_lr", "step_zero_not_handled", training_suite.test_noam_step_zero),
    ("training.noam_lr", "factor_ignored", training_suite.test_noam_factor),
    ("training.noam_lr", "returns_tensor", training_suite.test_noam_python_float),
])
def test_one_mistake_costs_the_one_check_that_names_it(hidden, exercise_id, name, check):
    [result] = _grade(hidden, [exercise_id], {exercise_id: _wrong(exercise_id, name)})
    assert [c.title for c in result.checks if not c.passed] == [check_title(check)]
    assert result.score < result.max_score


@pytest.mark.parametrize("exercise_id, name", [
    ("rnn.rnn_step_forward", "returns_zeros_of_the_right_shape"),
    ("rnn.rnn_step_backward", "returns_zeros_of_the_right_shape"),
    ("rnn.rnn_forward", "returns_zeros_of_the_right_shape"),
    ("rnn.clip_grad_norm", "returns_copies_and_zero_norm"),
    ("training.cross_entropy", "returns_zeros_of_the_right_shape"),
    ("training.noam_lr", "returns_zero"),
])
def test_a_stub_earns_nothing(hidden, exercise_id, name):
    [result] = _grade(hidden, [exercise_id], {exercise_id: _wrong(exercise_id, name)})
    assert any(c.passed for c in result.checks), "the stub should pass some property, or this proves nothing"
    assert result.score == 0


@pytest.mark.parametrize("module, chains", [
    ("rnn", [("rnn.rnn_backward", "own_cache_dicts"), ("rnn.hidden_grad_norms", "own_cache_dicts")]),
    ("rnn", [("rnn.rnn_backward", "own_cache_weights_first_reads_D")]),
    ("lstm", [("lstm.lstm_backward", "own_cache_tuple_reads_D")]),
    ("lstm", [("lstm.lstm_backward", "own_cache_dicts")]),
])
def test_an_own_cache_layout_keeps_full_marks_across_the_module(hidden, module, chains):
    """Graded together, the learner's step pieces pass first and stay theirs for the rest."""
    replacements = {}
    for exercise_id, name in chains:
        replacements.update(VARIANTS[module].RIGHT[exercise_id][name])
    results = _grade(hidden, [ex.id for ex in COURSE.exercises if ex.module == module], replacements)
    assert all(r.passed for r in results), [r.feedback() for r in results if not r.passed]
