"""Capstone variants: each replaces definitions in the modules the capstone assembles
(``{"module.name": source}``), since the capstone has no code of its own.

WRONG: a mistake that earlier exercises' points already cost, which must also keep the
assembled model from learning the task, or from transferring to the reference
architecture. RIGHT: correct pieces written differently (other op order, other float
rounding), which must still train past the threshold.
"""

from tests.variants import masking, multihead, positional, self_attention, training

WRONG = {
    "capstone.reverse_digits": {
        # trains with a decoder that can read the next target token: it learns to copy it,
        # which is worth nothing once the future is hidden
        "decoder_sees_the_future": {"masking.causal_mask": (
            "def causal_mask(size, device=None):\n"
            "    return torch.ones(size, size, dtype=torch.bool, device=device)\n")},
        "learning_rate_schedule_max_not_min": {
            "training.noam_lr": training.WRONG["training.noam_lr"]["max_instead_of_min"]},
        "heads_split_without_transpose": {
            "multihead.split_heads": multihead.WRONG["multihead.split_heads"]["reshape_without_transpose"]},
        "positions_concatenated_not_interleaved": {
            "positional.sinusoidal_positional_encoding":
                positional.WRONG["positional.sinusoidal_positional_encoding"]["concatenated_not_interleaved"]},
        "attention_not_scaled": {
            "self_attention.scaled_dot_product_attention":
                self_attention.WRONG["self_attention.scaled_dot_product_attention"]["not_scaled"]},
    },
}

RIGHT = {
    "capstone.reverse_digits": {
        "einsum_attention_head_loop_logsumexp_loss": {
            "masking.causal_mask": masking.RIGHT["masking.causal_mask"]["arange_comparison"],
            "self_attention.scaled_dot_product_attention":
                self_attention.RIGHT["self_attention.scaled_dot_product_attention"]["einsum"],
            "multihead.MultiHeadAttention":
                multihead.RIGHT["multihead.MultiHeadAttention"]["loop_over_heads_with_column_slices"],
            "training.cross_entropy": training.RIGHT["training.cross_entropy"]["logsumexp_and_soft_targets"],
        },
    },
}
