"""Variants of the self_attention exercise, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/self_attention.py (which imports math, torch and masked_softmax; while the
exercise is graded the reference masked_softmax stands in).
"""

WRONG = {
    "self_attention.scaled_dot_product_attention": {
        "divided_by_d_k": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1]
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "divided_by_sqrt_d_v": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "divided_by_sqrt_total_width": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    d_model = q.shape[-1] * (q.shape[1] if q.dim() == 4 else 1)   # heads * d_k
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_model)
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "divided_by_sqrt_T_k": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-2])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "not_scaled": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "k_dot_T_on_batched_input": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "transpose_1_2_only_for_3d": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return torch.matmul(weights, v), weights
''',
        "softmax_over_queries": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-2)
    return weights @ v, weights
''',
        "mask_inverted": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, None if mask is None else ~mask, dim=-1)
    return weights @ v, weights
''',
        "returns_scores_not_weights": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, scores
''',
        "mask_ignored": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, None, dim=-1)
    return weights @ v, weights
''',
        "own_masking_minus_1e9_uniform_rows": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = masked_softmax(scores, None, dim=-1)
    return weights @ v, weights
''',
        "returns_zeros_of_the_right_shape": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    weights = torch.zeros(q.shape[:-1] + (k.shape[-2],), dtype=q.dtype)
    return torch.zeros(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype), weights
''',
        "returns_output_and_weights_swapped": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1)
    return weights, weights @ v
''',
        "detached_weights": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = masked_softmax(scores, mask, dim=-1).detach()
    return weights @ v, weights
''',
        "scaled_by_sqrt_as_float32_tensor": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scale = torch.sqrt(torch.tensor(q.shape[-1], dtype=torch.float32))
    scores = (q.float() @ k.float().transpose(-2, -1)) / scale
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v.float(), weights
''',
    },
}

RIGHT = {
    "self_attention.scaled_dot_product_attention": {
        "einsum": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(q.size(-1))
    weights = masked_softmax(scores, mask)
    return torch.einsum("...qk,...kd->...qd", weights, v), weights
''',
        "mT_and_matmul": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.matmul(q, k.mT) * q.shape[-1] ** -0.5
    weights = masked_softmax(scores, mask, dim=-1)
    return torch.matmul(weights, v), weights
''',
        "scale_q_first": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    q = q / math.sqrt(k.shape[-1])
    weights = masked_softmax(q @ k.transpose(-1, -2), mask)
    output = weights @ v
    return (output, weights)
''',
        "sqrt_as_tensor_of_q_dtype": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    d_k = torch.tensor(q.shape[-1], dtype=q.dtype, device=q.device)
    scores = q @ k.transpose(-2, -1) / torch.sqrt(d_k)
    if mask is not None:
        mask = mask.to(torch.bool)
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
''',
        "annotated_transformer_minus_1e9_then_zeroed": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    d_k = q.size(-1)
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    if mask is not None:
        p_attn = p_attn.masked_fill(mask == 0, 0.0)
    return torch.matmul(p_attn, v), p_attn
''',
        "own_where_masking_with_attention_softmax": '''
def scaled_dot_product_attention(q, k, v, mask=None):
    from attention import softmax
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        filled = torch.where(mask, scores, torch.finfo(scores.dtype).min)
        weights = torch.where(mask, softmax(filled, dim=-1), 0.0)
    return weights @ v, weights
''',
    },
}
