"""Fair grades for the multihead and decoding modules: stubs that pass only the property
checks earn nothing, and the forms the contract leaves open are all accepted."""

import tempfile
from pathlib import Path

import pytest

from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from tests.support import ROOT, make_submission
from tests.variants import decoding, multihead

COURSE = load_manifest(ROOT / "course.toml")

# A beam search that computes nothing: one well-formed hypothesis of the right types.
BEAM_STUB = '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.no_grad():
        model.encode(src, src_mask)
    return [(torch.tensor([bos_id, eos_id]), 0.0)]
'''


def _grade(hidden, exercise_id, source):
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_submission(Path(tmp), {exercise_id: source})
        return grade_submission(hidden, folder, [COURSE.exercise(exercise_id)]).exercises[0]


@pytest.mark.parametrize("exercise_id, source", [
    ("multihead.MultiHeadAttention", multihead.WRONG["multihead.MultiHeadAttention"]["returns_zeros_of_the_right_shape"]),
    ("decoding.beam_search", BEAM_STUB),
], ids=["mha_zeros", "beam_one_hypothesis"])
def test_a_stub_passing_only_property_checks_earns_nothing(hidden, exercise_id, source):
    result = _grade(hidden, exercise_id, source)
    passed = [c for c in result.checks if c.passed]
    assert passed and all(c.kind == "property" for c in passed), [(c.title, c.kind) for c in passed]
    assert result.score == 0


def test_the_buffer_variants_keep_the_parameters_check():
    """The buffer variants must exercise what they claim: a persistent buffer in state_dict,
    a non-persistent one outside it (else they would not test item 2 at all)."""
    import torch
    from torch import nn

    namespace = {"torch": torch, "nn": nn, "split_heads": None, "merge_heads": None,
                 "scaled_dot_product_attention": None}
    right = multihead.RIGHT["multihead.MultiHeadAttention"]
    exec(right["mingpt_persistent_causal_buffer"], namespace)
    assert "mask" in namespace["MultiHeadAttention"](8, 2).state_dict()
    exec(right["hf_non_persistent_causal_buffer"], namespace)
    module = namespace["MultiHeadAttention"](8, 2)
    assert "causal_mask" not in module.state_dict() and "causal_mask" in dict(module.named_buffers())


def test_beam_hypothesis_forms_are_right_variants():
    """Each open form of a hypothesis has a RIGHT variant (graded in tests/test_variants.py)."""
    assert {"logprob_as_0d_tensor", "tokens_as_lists_of_ints", "tokens_int32_logprob_tensor"} \
        <= set(decoding.RIGHT["decoding.beam_search"])
