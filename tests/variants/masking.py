"""Variants of the masking exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/masking.py (which imports torch and `softmax` from attention; while
masked_softmax is graded the reference attention.softmax stands in).
"""

WRONG = {
    "masking.causal_mask": {
        "strict_lower_triangle": '''
def causal_mask(size, device=None):
    return torch.ones(size, size, dtype=torch.bool, device=device).tril(-1)
''',
        "triu_instead_of_tril": '''
def causal_mask(size, device=None):
    return torch.ones(size, size, dtype=torch.bool, device=device).triu()
''',
        "strict_upper_triangle_mha_convention": '''
def causal_mask(size, device=None):
    return torch.triu(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=1)
''',
        "float_mask": '''
def causal_mask(size, device=None):
    return torch.tril(torch.ones(size, size, device=device))
''',
        "device_ignored": '''
def causal_mask(size, device=None):
    return torch.tril(torch.ones(size, size, dtype=torch.bool))
''',
        "lower_triangle_plus_one": '''
def causal_mask(size, device=None):
    return torch.ones(size, size, dtype=torch.bool, device=device).tril(1)
''',
        "arange_comparison_reversed": '''
def causal_mask(size, device=None):
    i = torch.arange(size, device=device)
    return i[:, None] <= i[None, :]
''',
    },
    "masking.padding_mask": {
        "wrong_polarity": '''
def padding_mask(tokens, pad_id):
    return (tokens == pad_id).unsqueeze(1)
''',
        "shape_B_T": '''
def padding_mask(tokens, pad_id):
    return tokens != pad_id
''',
        "shape_B_T_1": '''
def padding_mask(tokens, pad_id):
    return (tokens != pad_id).unsqueeze(-1)
''',
        "shape_B_1_1_T": '''
def padding_mask(tokens, pad_id):
    return (tokens != pad_id)[:, None, None, :]
''',
        "ignores_pad_id": '''
def padding_mask(tokens, pad_id):
    return (tokens != 0).unsqueeze(1)
''',
        "greater_than_pad_id": '''
def padding_mask(tokens, pad_id):
    return (tokens > pad_id).unsqueeze(1)
''',
        "from_lengths_assumes_end_padding": '''
def padding_mask(tokens, pad_id):
    lengths = (tokens != pad_id).sum(dim=1, keepdim=True)
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    return (positions[None, :] < lengths).unsqueeze(1)
''',
        "long_not_bool": '''
def padding_mask(tokens, pad_id):
    return (tokens != pad_id).long().unsqueeze(1)
''',
    },
    "masking.masked_softmax": {
        "no_max_shift": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is not None:
        scores = scores.masked_fill(~torch.broadcast_to(mask, scores.shape), torch.finfo(scores.dtype).min)
    e = scores.exp()
    if mask is not None:
        e = e * mask
    total = e.sum(dim=dim, keepdim=True)
    return e / torch.where(total == 0, torch.ones_like(total), total)
''',
        "multiply_scores_by_mask": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    return softmax(scores * mask, dim=dim)
''',
        "mask_after_softmax_not_renormalised": '''
def masked_softmax(scores, mask, dim=-1):
    weights = softmax(scores, dim=dim)
    if mask is None:
        return weights
    return weights * mask
''',
        "mask_after_softmax_renormalised_nan_rows": '''
def masked_softmax(scores, mask, dim=-1):
    weights = softmax(scores, dim=dim)
    if mask is None:
        return weights
    weights = weights * mask
    return weights / weights.sum(dim=dim, keepdim=True)
''',
        "inverted_polarity": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(mask, torch.finfo(scores.dtype).min), dim=dim)
    return weights.masked_fill(mask, 0.0)
''',
        "fully_masked_rows_nan": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    return softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
''',
        "fully_masked_rows_uniform": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    return softmax(scores.masked_fill(~mask, -1e9), dim=dim)
''',
        "additive_inf_then_nan_to_num": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    additive = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device).masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(softmax(scores + additive, dim=dim), nan=0.0)
''',
        "mask_none_crashes": '''
def masked_softmax(scores, mask, dim=-1):
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=dim)
    return weights.masked_fill(~mask, 0.0)
''',
        "mask_none_ignores_dim": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores)
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=dim)
    return weights.masked_fill(~mask, 0.0)
''',
        "returns_zeros_of_the_right_shape": '''
def masked_softmax(scores, mask, dim=-1):
    return torch.zeros_like(scores)
''',
        "always_last_dim": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=-1)
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=-1)
    return weights.masked_fill(~mask, 0.0)
''',
        "casts_to_float32": '''
def masked_softmax(scores, mask, dim=-1):
    scores = scores.float()
    if mask is None:
        return softmax(scores, dim=dim)
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(~mask, -1e9), dim=dim)
    return weights.masked_fill(~mask, 0.0)
''',
    },
}

RIGHT = {
    "masking.causal_mask": {
        "arange_comparison": '''
def causal_mask(size, device=None):
    i = torch.arange(size, device=device)
    return i[None, :] <= i[:, None]
''',
        "not_triu": '''
def causal_mask(size, device=None):
    return ~torch.triu(torch.ones(size, size, dtype=torch.bool, device=device), diagonal=1)
''',
        "tril_of_float_then_bool": '''
def causal_mask(size, device=None):
    return torch.tril(torch.ones((size, size), device=device)) == 1
''',
    },
    "masking.padding_mask": {
        "ne_and_view": '''
def padding_mask(tokens, pad_id):
    B, T = tokens.shape
    return tokens.ne(pad_id).view(B, 1, T)
''',
        "logical_not_eq": '''
def padding_mask(tokens, pad_id):
    return torch.logical_not(tokens[:, None, :] == pad_id)
''',
    },
    "masking.masked_softmax": {
        "where_finfo_min": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    very_negative = torch.finfo(scores.dtype).min
    weights = softmax(torch.where(mask, scores, very_negative), dim=dim)
    return torch.where(mask, weights, torch.zeros_like(weights))
''',
        "logsumexp": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is not None:
        mask = torch.broadcast_to(mask, scores.shape)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.exp(scores - torch.logsumexp(scores, dim=dim, keepdim=True))
    if mask is not None:
        weights = weights * mask
    return weights
''',
        "minus_inf_with_row_guard": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    mask = torch.broadcast_to(mask, scores.shape)
    weights = softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.where(mask.any(dim=dim, keepdim=True), weights, torch.zeros_like(weights))
''',
        "masked_fill_inf_then_nan_to_num": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    return torch.nan_to_num(softmax(scores.masked_fill(~mask, float("-inf")), dim=dim), nan=0.0)
''',
        "own_exp_over_allowed_keys": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    mask = torch.broadcast_to(mask, scores.shape)
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    e = torch.exp(filled - filled.amax(dim=dim, keepdim=True)) * mask
    total = e.sum(dim=dim, keepdim=True)
    return e / total.clamp_min(torch.finfo(scores.dtype).tiny)
''',
        "annotated_transformer_minus_1e9_then_zeroed": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = softmax(scores, dim=dim)
    if mask is not None:
        p_attn = p_attn.masked_fill(mask == 0, 0)
    return p_attn
''',
        "minus_1e9_times_mask": '''
def masked_softmax(scores, mask, dim=-1):
    if mask is None:
        return softmax(scores, dim=dim)
    return softmax(scores.masked_fill(~mask, -1e9), dim=dim) * mask
''',
    },
}
