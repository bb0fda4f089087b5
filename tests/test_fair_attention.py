"""Fair grades for the attention, masking and self_attention exercises.

One deviation loses the one check that names it: a fill of -1e9 (or -inf patched
afterwards) is right for every row that keeps a key, so it may cost only the check of
fully masked rows; changing an input in place costs only the check of the inputs. And
a stub that returns zeros of the right shape earns nothing, whatever properties it has.
"""

import tempfile
from pathlib import Path

import pytest

from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from tests.support import ROOT, make_submission
from tests.variants import attention, masking, self_attention

COURSE = load_manifest(ROOT / "course.toml")

FULLY_MASKED = {
    "attention.attention_context":
        "a fully masked row gets zero weights, a zero context and zero gradients, never NaN; other rows are unaffected",
    "masking.masked_softmax":
        "a fully masked row gets all-zero weights and zero gradients, never NaN; the other rows are unaffected",
    "self_attention.scaled_dot_product_attention":
        "a query whose keys are all masked gets zero weights and a zero output, not NaN",
}
INPUTS_KEPT = "the inputs are not modified in place"


def _failed_titles(hidden, exercise_id, source):
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_submission(Path(tmp), {exercise_id: source})
        result = grade_submission(hidden, folder, [COURSE.exercise(exercise_id)]).exercises[0]
    return result, [check.title for check in result.checks if not check.passed]


@pytest.mark.parametrize("variants, exercise_id, name", [
    (attention, "attention.attention_context", "fully_masked_rows_uniform"),
    (attention, "attention.attention_context", "nan_on_fully_masked_rows"),
    (attention, "attention.attention_context", "nan_gradient_on_fully_masked_rows"),
    (masking, "masking.masked_softmax", "fully_masked_rows_uniform"),
    (masking, "masking.masked_softmax", "fully_masked_rows_nan"),
    (masking, "masking.masked_softmax", "additive_inf_then_nan_to_num"),
    (self_attention, "self_attention.scaled_dot_product_attention", "own_masking_minus_1e9_uniform_rows"),
])
def test_fully_masked_rows_cost_one_check(hidden, variants, exercise_id, name):
    _, failed = _failed_titles(hidden, exercise_id, variants.WRONG[exercise_id][name])
    assert failed == [FULLY_MASKED[exercise_id]]


@pytest.mark.parametrize("name", ["in_place_fill", "in_place_index_assignment", "padded_values_zeroed_in_place"])
def test_changing_an_input_in_place_costs_one_check(hidden, name):
    exercise_id = "attention.attention_context"
    _, failed = _failed_titles(hidden, exercise_id, attention.WRONG[exercise_id][name])
    assert failed == [INPUTS_KEPT]


@pytest.mark.parametrize("variants, exercise_id", [
    (attention, "attention.attention_context"),
    (masking, "masking.masked_softmax"),
    (self_attention, "self_attention.scaled_dot_product_attention"),
])
def test_a_stub_of_zeros_earns_nothing(hidden, variants, exercise_id):
    result, _ = _failed_titles(hidden, exercise_id, variants.WRONG[exercise_id]["returns_zeros_of_the_right_shape"])
    assert any(check.passed for check in result.checks), "the stub should pass some property, or this proves nothing"
    assert result.score == 0
