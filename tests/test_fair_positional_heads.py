"""Fair grades for the positional and heads modules: one mistake costs the one check that
names it, and a stub that computes nothing earns nothing.

The variants are those of tests/variants/, graded exactly as `course grade` does
(tests.test_variants._grade, which grades each one once per session).
"""

import pytest

from tests.test_variants import _grade
from tests.variants import heads, positional

MODULES = {"positional": positional, "heads": heads}


def _source(exercise_id, name):
    return MODULES[exercise_id.split(".")[0]].WRONG[exercise_id][name]


def _failed_titles(hidden, exercise_id, name):
    result = _grade(hidden, "WRONG", exercise_id, name, _source(exercise_id, name))
    return result, {c.title for c in result.checks if not c.passed}


# Each mistake, and the beginning of the title of every check it must fail: no other check fails.
ONE_DEVIATION = [
    ("positional.sinusoidal_positional_encoding", "odd_d_model_crashes", ["odd d_model"]),
    ("positional.sinusoidal_positional_encoding", "angles_in_float32", ["a long table (max_len=4096)"]),
    ("positional.sinusoidal_positional_encoding", "none_means_float32", ["dtype=None gives torch's default dtype"]),
    ("positional.PositionalEncoding", "trainable_parameter", ["the table is not trained"]),
    ("positional.PositionalEncoding", "persistent_buffer", ["the table is a non-persistent buffer"]),
    ("positional.LearnedPositionalEmbedding", "float32_output", ["float32 module and input give float32"]),
    ("positional.apply_rotary", "angles_in_float32", ["large positions (up to 4096)"]),
    ("positional.apply_rotary", "cos_sin_left_float64", ["float32 in, float32 out"]),
    # autograd itself refuses an in-place change of a leaf that requires grad
    ("positional.apply_rotary", "in_place_on_input", ["x itself is not modified", "gradient with respect to x"]),
    ("heads.mean_pool", "assumes_right_padding", ["random inputs with padding anywhere"]),
    ("heads.mean_pool", "no_clamp_nan", ["a row with no real token"]),
    ("heads.mean_pool", "nan_to_num_after_divide", ["a row with no real token"]),
    ("heads.mean_pool", "loop_default_dtype", ["float32 in, float32 out"]),
    ("heads.cls_pool", "casts_to_float32", ["float32 in, float32 out"]),
    ("heads.mlm_mask", "hf_collator_in_place", ["tokens itself is not modified"]),
    ("heads.mlm_mask", "float_labels", ["returns (inputs, labels), two int64 tensors"]),
    ("heads.patchify", "loop_default_dtype", ["float32 in, float32 out"]),
]


@pytest.mark.parametrize("exercise_id, name, expected", ONE_DEVIATION,
                         ids=[f"{ex}-{name}" for ex, name, _ in ONE_DEVIATION])
def test_one_mistake_costs_the_check_that_names_it(hidden, exercise_id, name, expected):
    _, failed = _failed_titles(hidden, exercise_id, name)
    unexpected = sorted(t for t in failed if not any(t.startswith(prefix) for prefix in expected))
    missing = [prefix for prefix in expected if not any(t.startswith(prefix) for t in failed)]
    assert not unexpected and not missing, f"{name}: also failed {unexpected}; did not fail {missing}"


STUBS = [
    ("positional.sinusoidal_positional_encoding", "returns_zeros_of_the_right_shape"),
    ("positional.PositionalEncoding", "returns_x_unchanged"),
    ("positional.LearnedPositionalEmbedding", "returns_x_unchanged"),
    ("positional.apply_rotary", "returns_x_unchanged"),
    ("heads.mean_pool", "returns_zeros_of_the_right_shape"),
    ("heads.cls_pool", "returns_zeros_of_the_right_shape"),
    ("heads.mlm_mask", "chooses_nothing"),
    ("heads.patchify", "returns_zeros_of_the_right_shape"),
]


@pytest.mark.parametrize("exercise_id, name", STUBS, ids=[f"{ex}-{name}" for ex, name in STUBS])
def test_a_stub_earns_nothing(hidden, exercise_id, name):
    result, _ = _failed_titles(hidden, exercise_id, name)
    passed = [c for c in result.checks if c.passed]
    assert passed and all(c.kind == "property" for c in passed), \
        f"{name} should pass only property checks, and some: {[(c.title, c.kind) for c in passed]}"
    assert result.score == 0, f"{name} earned {result.score} of {result.max_score} without computing anything"
