"""Fair grades for the seq2seq exercises: one deviation loses the checks that name it.

Taking the encoder's final state at the padding costs only the padding checks; forgetting
the source mask costs only the mask check; ignoring the decoder's given state costs only the
state check; the wrong order of [c; s] costs the value checks of AttentionDecoder, never its
state check; translate's mistakes about the state cost only the checks against the reference.
"""

import tempfile
from pathlib import Path

import pytest

from grader.course.manifest import load_manifest
from grader.instructor.submission import grade_submission
from tests.support import ROOT, make_submission
from tests.variants import seq2seq

COURSE = load_manifest(ROOT / "course.toml")

ENCODER_FINAL_STATE = "padding: each row's h_n and c_n are its state after its last real token, as for the row alone"
ENCODER_PADDED_OUTPUTS = "padding: the outputs at real positions are the row's own; at padded positions, zeros"
STATE = "the state: starts from the given (h, c), returns the last step's; one token at a time equals the whole target"
MASK = "src_mask: padded source positions get zero weight, the others sum to 1; logits as the reference's"
TRANSLATE_PLAIN = "random models with the plain Decoder, against the reference: the state carried from step to step"
TRANSLATE_ATTENTION = ("random AttentionDecoder models on padded sources, against the reference: enc_outputs and "
                       "src != pad_id each step")
NEWEST_ONLY = "the source is encoded once, and each decoder call reads only the newest token, (B, 1)"
NO_GRADIENTS = "no gradients are recorded while decoding (torch.no_grad())"


def _failed_titles(hidden, exercise_id, source):
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_submission(Path(tmp), {exercise_id: source})
        result = grade_submission(hidden, folder, [COURSE.exercise(exercise_id)]).exercises[0]
    return result, [check.title for check in result.checks if not check.passed]


@pytest.mark.parametrize("exercise_id, name, titles", [
    ("seq2seq.Encoder", "no_packing", [ENCODER_FINAL_STATE, ENCODER_PADDED_OUTPUTS]),
    ("seq2seq.Encoder", "final_state_from_last_column", [ENCODER_FINAL_STATE]),
    ("seq2seq.Encoder", "padded_outputs_not_zeroed", [ENCODER_PADDED_OUTPUTS]),
    ("seq2seq.Decoder", "ignores_the_state", [STATE]),
    ("seq2seq.Decoder", "returns_the_state_it_was_given", [STATE]),
    ("seq2seq.AttentionDecoder", "ignores_the_state", [STATE]),
    ("seq2seq.AttentionDecoder", "mask_ignored", [MASK]),
    ("seq2seq.AttentionDecoder", "masked_weights_not_renormalised", [MASK]),
    # feeding the whole prefix is itself the deviation the property check names
    ("seq2seq.translate", "whole_prefix_with_the_carried_state", [TRANSLATE_PLAIN, TRANSLATE_ATTENTION, NEWEST_ONLY]),
    ("seq2seq.translate", "whole_prefix_from_the_encoder_state", [NEWEST_ONLY]),
    ("seq2seq.translate", "gradients_recorded", [NO_GRADIENTS]),
    ("seq2seq.translate", "state_not_carried", [TRANSLATE_PLAIN, TRANSLATE_ATTENTION]),
    ("seq2seq.translate", "attention_without_the_mask", [TRANSLATE_ATTENTION]),
])
def test_one_deviation_costs_its_own_checks(hidden, exercise_id, name, titles):
    _, failed = _failed_titles(hidden, exercise_id, seq2seq.WRONG[exercise_id][name])
    assert failed == titles


@pytest.mark.parametrize("name", ["state_before_context", "W_transposed", "scores_with_the_previous_state"])
def test_attention_value_mistakes_keep_the_state_and_parameter_checks(hidden, name):
    exercise_id = "seq2seq.AttentionDecoder"
    result, failed = _failed_titles(hidden, exercise_id, seq2seq.WRONG[exercise_id][name])
    assert STATE not in failed and failed
    assert all(check.passed for check in result.checks if check.kind == "property")
    assert 0 < result.score < result.max_score


def test_the_lstm_cell_names_keep_full_marks(hidden):
    """A cell-based Encoder, Decoder and AttentionDecoder (rnn.weight_ih, not rnn.weight_ih_l0)."""
    for exercise_id, name in [("seq2seq.Encoder", "lstm_cell_loop"), ("seq2seq.Decoder", "lstm_cell_loop"),
                              ("seq2seq.AttentionDecoder", "lstm_cell_and_a_loop_over_steps")]:
        result, failed = _failed_titles(hidden, exercise_id, seq2seq.RIGHT[exercise_id][name])
        assert not failed and result.score == result.max_score, (exercise_id, failed)
