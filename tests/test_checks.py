"""The messages learners read when a check fails."""

import numpy as np
import pytest
import torch

from grader.checks import CheckFailed, expect_close, expect_equal, expect_tuple


def failure(fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_expect_equal_names_the_first_wrong_entry_in_plain_python_terms():
    text = failure(expect_equal, torch.tensor([True, False]), np.array([True, True]), what="the mask")
    assert text == "1 of 2 entries of the mask differ from the expected value (first at index (1,): got False, expected True)."


def test_expect_close_shows_the_worst_entry_its_error_and_the_tolerance():
    text = failure(expect_close, np.array([1.0, 2.0 + 3e-6]), np.array([1.0, 2.0]), what="the weights", rtol=1e-6, atol=0)
    assert "1 of 2 entries of the weights differ" in text
    assert "got 2.000003, expected 2 (off by 3e-06; allowed 0 + 1e-06 * |expected|)" in text


def test_expect_close_insists_on_the_callers_dtype_when_asked():
    text = failure(expect_close, torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64), same_dtype=True)
    assert "dtype float32; expected float64" in text


def test_expect_tuple_says_what_came_back_instead():
    text = failure(expect_tuple, torch.ones(2), ("output", "weights"), "scaled_dot_product_attention")
    assert text.startswith("scaled_dot_product_attention should return a tuple (output, weights), but it returned tensor")


def test_a_property_check_pays_only_once_a_values_check_passes():
    from grader.checks import CheckOutcome, exercise_score, shown_title

    stub = [CheckOutcome("matches the reference", 3, False),
            CheckOutcome("float32 in, float32 out", 1, True, kind="property")]
    assert exercise_score(stub, 8) == 0.0
    assert shown_title(stub[1], stub).endswith("(counts once a check of the values passes)")
    working = [CheckOutcome("matches the reference", 3, True), stub[1]]
    assert exercise_score(working, 8) == 8.0
    assert shown_title(working[1], working) == "float32 in, float32 out"
