"""Variants of the attention exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/attention.py (tests.support.make_submission), where math and torch are
imported and softmax is defined.
"""

WRONG = {
    "attention.softmax": {
        "no_max_shift": '''
def softmax(x, dim=-1):
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True)
''',
        "ignores_dim": '''
def softmax(x, dim=-1):
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)
''',
        "normalised_by_max": '''
def softmax(x, dim=-1):
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.amax(dim=dim, keepdim=True)
''',
        "global_max_shift": '''
def softmax(x, dim=-1):
    e = (x - x.max()).exp()
    return e / e.sum(dim=dim, keepdim=True)
''',
        "shift_by_min": '''
def softmax(x, dim=-1):
    e = (x - x.amin(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
''',
        "shift_by_mean": '''
def softmax(x, dim=-1):
    e = (x - x.mean(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
''',
        "global_sum": '''
def softmax(x, dim=-1):
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum()
''',
        "through_numpy": '''
def softmax(x, dim=-1):
    import numpy as np
    a = x.detach().cpu().numpy()
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    return torch.from_numpy(e / e.sum(axis=dim, keepdims=True))
''',
        "returns_float32": '''
def softmax(x, dim=-1):
    x = x.float()
    e = (x - x.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
''',
        "uses_torch_softmax": '''
def softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)
''',
    },
    "attention.dot_score": {
        "first_query_for_every_batch": '''
def dot_score(query, keys):
    return (keys @ query.T)[..., 0]
''',
        "summed_over_keys": '''
def dot_score(query, keys):
    return (keys * query.unsqueeze(1)).sum(dim=1)
''',
        "keys_of_all_batches": '''
def dot_score(query, keys):
    return torch.einsum("bh,ash->bs", query, keys)
''',
        "scaled": '''
def dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(query.shape[-1])
''',
        "cosine": '''
def dot_score(query, keys):
    q = query / query.norm(dim=-1, keepdim=True)
    k = keys / keys.norm(dim=-1, keepdim=True)
    return (k @ q.unsqueeze(-1)).squeeze(-1)
''',
        "returns_float32": '''
def dot_score(query, keys):
    return (keys.float() @ query.float().unsqueeze(-1)).squeeze(-1)
''',
        "detached": '''
def dot_score(query, keys):
    return (keys.detach() @ query.detach().unsqueeze(-1)).squeeze(-1)
''',
    },
    "attention.scaled_dot_score": {
        "divides_by_H": '''
def scaled_dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1) / query.shape[-1]
''',
        "not_scaled": '''
def scaled_dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1)
''',
        "sqrt_of_S": '''
def scaled_dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(keys.shape[1])
''',
        "multiplies_by_sqrt_H": '''
def scaled_dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1) * math.sqrt(query.shape[-1])
''',
        "sqrt_of_B": '''
def scaled_dot_score(query, keys):
    return (keys @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(query.shape[0])
''',
        "float32_scale_tensor": '''
def scaled_dot_score(query, keys):
    scale = torch.tensor(query.shape[-1], dtype=torch.float32).sqrt()
    return ((keys @ query.unsqueeze(-1)).squeeze(-1).float() / scale)
''',
    },
    "attention.general_score": {
        "W_transposed": '''
def general_score(query, keys, W):
    return (keys @ (query @ W.T).unsqueeze(-1)).squeeze(-1)
''',
        "W_on_keys_then_query": '''
def general_score(query, keys, W):
    return ((keys @ W) @ query.unsqueeze(-1)).squeeze(-1)
''',
        "no_W": '''
def general_score(query, keys, W):
    return (keys @ query.unsqueeze(-1)).squeeze(-1)
''',
        "W_on_both": '''
def general_score(query, keys, W):
    return ((keys @ W) @ (query @ W).unsqueeze(-1)).squeeze(-1)
''',
        "scaled": '''
def general_score(query, keys, W):
    return (keys @ (query @ W).unsqueeze(-1)).squeeze(-1) / math.sqrt(query.shape[-1])
''',
        "elementwise_W_diagonal": '''
def general_score(query, keys, W):
    return (keys * (query * W.diagonal()).unsqueeze(1)).sum(-1)
''',
    },
    "attention.additive_score": {
        "query_in_place_of_v": '''
def additive_score(query, keys, W_q, W_k, v):
    hidden = torch.tanh((query @ W_q).unsqueeze(1) + keys @ W_k)
    return (hidden * query.unsqueeze(1)).sum(-1)
''',
        "no_tanh": '''
def additive_score(query, keys, W_q, W_k, v):
    return ((query @ W_q).unsqueeze(1) + keys @ W_k) @ v
''',
        "W_q_and_W_k_swapped": '''
def additive_score(query, keys, W_q, W_k, v):
    return torch.tanh((query @ W_k).unsqueeze(1) + keys @ W_q) @ v
''',
        "tanh_after_v": '''
def additive_score(query, keys, W_q, W_k, v):
    return torch.tanh(((query @ W_q).unsqueeze(1) + keys @ W_k) @ v)
''',
        "sigmoid": '''
def additive_score(query, keys, W_q, W_k, v):
    return torch.sigmoid((query @ W_q).unsqueeze(1) + keys @ W_k) @ v
''',
        "sum_instead_of_v": '''
def additive_score(query, keys, W_q, W_k, v):
    return torch.tanh((query @ W_q).unsqueeze(1) + keys @ W_k).sum(-1)
''',
        "separate_tanh": '''
def additive_score(query, keys, W_q, W_k, v):
    return (torch.tanh(query @ W_q).unsqueeze(1) + torch.tanh(keys @ W_k)) @ v
''',
        "one_matrix_for_both": '''
def additive_score(query, keys, W_q, W_k, v):
    return torch.tanh((query @ W_q).unsqueeze(1) + keys @ W_q) @ v
''',
    },
    "attention.attention_context": {
        "mask_by_multiplying_scores": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores = scores * mask
    weights = softmax(scores, dim=-1)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "mask_after_softmax_not_renormalised": '''
def attention_context(scores, values, mask=None):
    weights = softmax(scores, dim=-1)
    if mask is not None:
        weights = weights * mask
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "nan_on_fully_masked_rows": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = softmax(scores, dim=-1)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "nan_gradient_on_fully_masked_rows": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores = scores + torch.zeros_like(scores).masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(softmax(scores, dim=-1), nan=0.0)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "fully_masked_rows_uniform": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = softmax(scores, dim=-1)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "mask_ignored": '''
def attention_context(scores, values, mask=None):
    weights = softmax(scores, dim=-1)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "mask_inverted": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        weights = softmax(scores.masked_fill(mask, -1e9), dim=-1).masked_fill(mask, 0.0)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "context_summed_over_wrong_axis": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        weights = softmax(scores.masked_fill(~mask, -1e9), dim=-1).masked_fill(~mask, 0.0)
    return (weights.unsqueeze(-1) * values).sum(dim=-1), weights
''',
        "context_mean_not_weighted_sum": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        weights = softmax(scores.masked_fill(~mask, -1e9), dim=-1).masked_fill(~mask, 0.0)
    return (weights.unsqueeze(-1) * values).mean(dim=1), weights
''',
        "softmax_over_batch": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        weights = softmax(scores, dim=0)
    else:
        weights = softmax(scores.masked_fill(~mask, -1e9), dim=0).masked_fill(~mask, 0.0)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "in_place_fill": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores.masked_fill_(~mask, -1e9)
    weights = softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "in_place_index_assignment": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores[~mask] = torch.finfo(scores.dtype).min
    weights = softmax(scores, dim=-1)
    if mask is not None:
        weights = weights * mask
    return torch.einsum("bs,bsh->bh", weights, values), weights
''',
        "padded_values_zeroed_in_place": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        values *= mask.unsqueeze(-1)
        scores = scores.masked_fill(~mask, -1e9)
    weights = softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights
''',
        "returns_zeros_of_the_right_shape": '''
def attention_context(scores, values, mask=None):
    B, S, H = values.shape
    return torch.zeros(B, H, dtype=values.dtype), torch.zeros(B, S, dtype=scores.dtype)
''',
        "returns_weights_first": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        weights = softmax(scores.masked_fill(~mask, -1e9), dim=-1).masked_fill(~mask, 0.0)
    return weights, (weights.unsqueeze(1) @ values).squeeze(1)
''',
    },
    "attention.attentional_hidden": {
        "state_first": '''
def attentional_hidden(context, state, W_c):
    return torch.tanh(torch.cat([state, context], dim=-1) @ W_c)
''',
        "no_tanh": '''
def attentional_hidden(context, state, W_c):
    return torch.cat([context, state], dim=-1) @ W_c
''',
        "sum_instead_of_concat": '''
def attentional_hidden(context, state, W_c):
    H = context.shape[-1]
    return torch.tanh((context + state) @ W_c[:H])
''',
        "separate_tanh": '''
def attentional_hidden(context, state, W_c):
    H = context.shape[-1]
    return torch.tanh(context @ W_c[:H]) + torch.tanh(state @ W_c[H:])
''',
        "sigmoid": '''
def attentional_hidden(context, state, W_c):
    return torch.sigmoid(torch.cat([context, state], dim=-1) @ W_c)
''',
        "context_only": '''
def attentional_hidden(context, state, W_c):
    H = context.shape[-1]
    return torch.tanh(context @ W_c[:H])
''',
    },
}

RIGHT = {
    "attention.softmax": {
        "logsumexp": '''
def softmax(x, dim=-1):
    return (x - x.logsumexp(dim=dim, keepdim=True)).exp()
''',
        "max_values_detached": '''
def softmax(x, dim=-1):
    m = x.max(dim=dim).values.unsqueeze(dim).detach()
    e = torch.exp(x - m)
    return e / torch.sum(e, dim=dim, keepdim=True)
''',
        "via_movedim": '''
def softmax(x, dim=-1):
    y = x.movedim(dim, -1)
    e = (y - y.amax(-1, keepdim=True)).exp()
    return (e / e.sum(-1, keepdim=True)).movedim(-1, dim)
''',
    },
    "attention.dot_score": {
        "einsum": '''
def dot_score(query, keys):
    return torch.einsum("bh,bsh->bs", query, keys)
''',
        "broadcast_and_sum": '''
def dot_score(query, keys):
    return (keys * query[:, None, :]).sum(-1)
''',
        "bmm": '''
def dot_score(query, keys):
    return torch.bmm(query.unsqueeze(1), keys.transpose(1, 2)).squeeze(1)
''',
        "loop_over_batch": '''
def dot_score(query, keys):
    return torch.stack([keys[b] @ query[b] for b in range(query.shape[0])])
''',
    },
    "attention.scaled_dot_score": {
        "einsum_times_inverse_sqrt": '''
def scaled_dot_score(query, keys):
    return torch.einsum("bh,bsh->bs", query, keys) * query.shape[-1] ** -0.5
''',
        "scale_the_query_first": '''
def scaled_dot_score(query, keys):
    q = query / math.sqrt(keys.shape[-1])
    return (keys @ q.unsqueeze(-1)).squeeze(-1)
''',
        "uses_dot_score": '''
def scaled_dot_score(query, keys):
    return dot_score(query, keys) / query.size(-1) ** 0.5
''',
    },
    "attention.general_score": {
        "einsum": '''
def general_score(query, keys, W):
    return torch.einsum("bj,jk,bsk->bs", query, W, keys)
''',
        "W_on_the_keys": '''
def general_score(query, keys, W):
    return (keys @ W.T @ query.unsqueeze(-1)).squeeze(-1)
''',
        "loop_over_batch": '''
def general_score(query, keys, W):
    return torch.stack([keys[b] @ (W.T @ query[b]) for b in range(query.shape[0])])
''',
    },
    "attention.additive_score": {
        "einsum": '''
def additive_score(query, keys, W_q, W_k, v):
    hidden = torch.tanh(torch.einsum("bh,ha->ba", query, W_q)[:, None] + torch.einsum("bsh,ha->bsa", keys, W_k))
    return torch.einsum("bsa,a->bs", hidden, v)
''',
        "concat_form": '''
def additive_score(query, keys, W_q, W_k, v):
    B, S, H = keys.shape
    pairs = torch.cat([query.unsqueeze(1).expand(B, S, H), keys], dim=-1)   # (B, S, 2H)
    W = torch.cat([W_q, W_k], dim=0)                                         # (2H, A)
    return (torch.tanh(pairs @ W) * v).sum(-1)
''',
        "loop_over_keys": '''
def additive_score(query, keys, W_q, W_k, v):
    q = query @ W_q
    return torch.stack([torch.tanh(q + keys[:, i] @ W_k) @ v for i in range(keys.shape[1])], dim=1)
''',
    },
    "attention.attention_context": {
        "torch_where_and_bmm": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        very_negative = torch.full_like(scores, torch.finfo(scores.dtype).min)
        scores = torch.where(mask, scores, very_negative)
    weights = softmax(scores, dim=-1)
    if mask is not None:
        weights = torch.where(mask, weights, torch.zeros_like(weights))
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
    return context, weights
''',
        "einsum_and_minus_1e9": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    weights = softmax(scores.masked_fill(~mask, -1e9), dim=-1) * mask
    return torch.einsum("bs,bsh->bh", weights, values), weights
''',
        "loop_over_batch": '''
def attention_context(scores, values, mask=None):
    contexts, rows = [], []
    for b in range(scores.shape[0]):
        s = scores[b]
        if mask is not None and not bool(mask[b].any()):
            w = torch.zeros_like(s) * s
        elif mask is not None:
            w = softmax(s.masked_fill(~mask[b], float("-inf")), dim=-1)
        else:
            w = softmax(s, dim=-1)
        rows.append(w)
        contexts.append(w @ values[b])
    return torch.stack(contexts), torch.stack(rows)
''',
        "minus_inf_fill_then_nan_to_num": '''
def attention_context(scores, values, mask=None):
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = torch.nan_to_num(softmax(scores, dim=-1), nan=0.0)
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)
    return context, weights
''',
        "renormalise_after_masking": '''
def attention_context(scores, values, mask=None):
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    e = softmax(scores.masked_fill(~mask, 0.0), dim=-1) * mask
    weights = e / e.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(scores.dtype).tiny)
    return (weights[..., None] * values).sum(dim=1), weights
''',
    },
    "attention.attentional_hidden": {
        "split_W_c": '''
def attentional_hidden(context, state, W_c):
    H = context.shape[-1]
    return torch.tanh(context @ W_c[:H] + state @ W_c[H:])
''',
        "linear": '''
def attentional_hidden(context, state, W_c):
    return torch.nn.functional.linear(torch.cat((context, state), 1), W_c.T).tanh()
''',
        "einsum": '''
def attentional_hidden(context, state, W_c):
    return torch.tanh(torch.einsum("bk,kh->bh", torch.cat([context, state], -1), W_c))
''',
    },
}
