"""Wrong and right implementations of the multihead exercises (see tests/test_variants.py)."""

WRONG = {
    "multihead.split_heads": {
        "reshape_without_transpose": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, num_heads, T, D // num_heads)
''',
        "strided_columns": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, D // num_heads, num_heads).permute(0, 3, 1, 2)
''',
        "heads_in_reverse_order": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2).flip(1)
''',
        "no_transpose_head_axis_third": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads)
''',
        "chunks_time_instead_of_columns": '''
def split_heads(x, num_heads):
    return torch.stack(x.chunk(num_heads, dim=1), dim=1)
''',
        "transpose_of_last_two_axes": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.reshape(B, num_heads, D // num_heads, T).transpose(2, 3)
''',
        "detached_through_numpy": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    arr = x.detach().numpy().reshape(B, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)
    return torch.from_numpy(arr.copy())
''',
        "casts_to_float32": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.float().reshape(B, T, num_heads, D // num_heads).transpose(1, 2)
''',
    },
    "multihead.merge_heads": {
        "reshape_without_transpose": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.reshape(B, T, h * d_k)
''',
        "interleaved_heads": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, h * d_k)
''',
        "heads_in_reverse_order": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.flip(1).transpose(1, 2).reshape(B, T, h * d_k)
''',
        "transpose_of_last_two_axes": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.transpose(2, 3).reshape(B, T, h * d_k)
''',
        "sums_the_heads": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.sum(dim=1).repeat(1, 1, h)
''',
        "casts_to_float32": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k).to(torch.float32)
''',
    },
    "multihead.MultiHeadAttention": {
        "one_head_of_full_width": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        out, weights = scaled_dot_product_attention(self.w_q(query), self.w_k(key), self.w_v(value), mask)
        self.attention_weights = weights.unsqueeze(1).expand(-1, self.num_heads, -1, -1)
        return self.w_o(out)
''',
        "scaled_by_sqrt_d_model": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h) / h ** 0.5     # sdpa divides by sqrt(d_k): now sqrt(d_model)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "forgets_w_o": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return merge_heads(out)
''',
        "query_projection_for_keys": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_q(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "key_projection_for_values": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_k(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "mask_without_head_axis": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "mask_always_unsqueezed": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "mask_inverted": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None:
            mask = ~mask
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "weights_averaged_over_heads": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = weights.mean(dim=1)
        return self.w_o(merge_heads(out))
''',
        "merge_without_transpose_inline": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        B, T_q, D = query.shape
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(out.reshape(B, T_q, D))
''',
        "keys_split_with_query_length": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, T, D = query.shape
        h, d_k = self.num_heads, self.d_k
        q = self.w_q(query).view(B, T, h, d_k).transpose(1, 2)
        k = self.w_k(key).view(B, -1, h, d_k).transpose(1, 2)
        v = self.w_v(value).view(B, T, h, d_k).transpose(1, 2)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "always_without_bias": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=False)
        self.w_k = nn.Linear(d_model, d_model, bias=False)
        self.w_v = nn.Linear(d_model, d_model, bias=False)
        self.w_o = nn.Linear(d_model, d_model, bias=False)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
''',
        "returns_output_and_weights": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out)), self.attention_weights
''',
        "own_softmax_with_minus_inf": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.exp(scores - scores.amax(-1, keepdim=True))
        weights = weights / weights.sum(-1, keepdim=True)
        self.attention_weights = weights
        return self.w_o(merge_heads(weights @ v))
''',
        "weights_detached_in_forward": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        _, weights = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = weights.detach()
        return self.w_o(merge_heads(self.attention_weights @ v))
''',
    },
}

RIGHT = {
    "multihead.split_heads": {
        "view_permute": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.view(B, T, num_heads, -1).permute(0, 2, 1, 3)
''',
        "unflatten_transpose": '''
def split_heads(x, num_heads):
    return x.unflatten(-1, (num_heads, -1)).transpose(-3, -2)
''',
        "stack_of_column_chunks": '''
def split_heads(x, num_heads):
    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)
''',
        "loop_over_heads_contiguous": '''
def split_heads(x, num_heads):
    d_k = x.shape[-1] // num_heads
    heads = [x[:, :, j * d_k:(j + 1) * d_k] for j in range(num_heads)]
    return torch.stack(heads, dim=1).contiguous()
''',
        "transpose_first": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return x.transpose(1, 2).reshape(B, num_heads, D // num_heads, T).transpose(2, 3)
''',
        "einops_style_einsum": '''
def split_heads(x, num_heads):
    B, T, D = x.shape
    return torch.einsum("bthd->bhtd", x.reshape(B, T, num_heads, D // num_heads))
''',
    },
    "multihead.merge_heads": {
        "permute_flatten": '''
def merge_heads(x):
    return x.permute(0, 2, 1, 3).flatten(2)
''',
        "cat_of_heads": '''
def merge_heads(x):
    return torch.cat([x[:, j] for j in range(x.shape[1])], dim=-1)
''',
        "contiguous_view": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, -1)
''',
        "einsum_then_reshape": '''
def merge_heads(x):
    B, h, T, d_k = x.shape
    return torch.einsum("bhtd->bthd", x).reshape(B, T, h * d_k)
''',
    },
    "multihead.MultiHeadAttention": {
        "einsum_heads_own_softmax": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.h = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        q = split_heads(self.w_q(query), self.h)
        k = split_heads(self.w_k(key), self.h)
        v = split_heads(self.w_v(value), self.h)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / q.shape[-1] ** 0.5
        if mask is not None:
            if mask.dim() == 3:
                mask = mask[:, None]
            mask = mask.expand_as(scores)
            scores = torch.where(mask, scores, torch.full_like(scores, -1e4 if scores.dtype == torch.float16 else -1e30))
        weights = torch.exp(scores - scores.amax(-1, keepdim=True))
        if mask is not None:
            weights = weights * mask
        total = weights.sum(-1, keepdim=True)
        weights = weights / torch.where(total > 0, total, torch.ones_like(total))
        self.attention_weights = weights
        return self.w_o(merge_heads(torch.einsum("bhqk,bhkd->bhqd", weights, v)))
''',
        "loop_over_heads_with_column_slices": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        Q, K, V = self.w_q(query), self.w_k(key), self.w_v(value)
        outs, weights = [], []
        for j in range(self.num_heads):
            cols = slice(j * self.d_k, (j + 1) * self.d_k)
            o, w = scaled_dot_product_attention(Q[..., cols], K[..., cols], V[..., cols], mask)
            outs.append(o)
            weights.append(w)
        self.attention_weights = torch.stack(weights, dim=1)
        return self.w_o(torch.cat(outs, dim=-1))
''',
        "fused_qkv_for_self_attention": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        for name in ("w_q", "w_k", "w_v", "w_o"):
            setattr(self, name, nn.Linear(d_model, d_model, bias=bias))

    def forward(self, query, key, value, mask=None):
        lin = [self.w_q, self.w_k, self.w_v]
        if query.shape == key.shape == value.shape and torch.equal(query, key) and torch.equal(key, value):
            W = torch.cat([m.weight for m in lin])
            b = torch.cat([m.bias for m in lin]) if self.w_q.bias is not None else None
            q, k, v = torch.nn.functional.linear(query, W, b).chunk(3, dim=-1)
        else:
            q, k, v = (m(x) for m, x in zip(lin, (query, key, value)))
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))
        if mask is not None:
            mask = torch.broadcast_to(mask, (query.shape[0], query.shape[1], key.shape[1])).unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask=mask)
        return self.w_o(merge_heads(out))
''',
        "mask_unsqueezed_at_minus_three": '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("d_model must be a multiple of num_heads")
        self.heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias)
        self.w_k = nn.Linear(d_model, d_model, bias)
        self.w_v = nn.Linear(d_model, d_model, bias)
        self.w_o = nn.Linear(d_model, d_model, bias)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        if mask is not None and mask.ndim >= 3:
            mask = mask.unsqueeze(-3)
        heads = scaled_dot_product_attention(split_heads(self.w_q(query), self.heads),
                                             split_heads(self.w_k(key), self.heads),
                                             split_heads(self.w_v(value), self.heads), mask)
        self.attention_weights = heads[1]
        return self.w_o(merge_heads(heads[0]))
''',
    },
}


def _reference_with(old: str, new: str) -> str:
    """The reference MultiHeadAttention with one line changed."""
    from pathlib import Path

    from grader.course.source import definition_source

    source = definition_source((Path(__file__).resolve().parents[2] / "solutions" / "multihead.py").read_text(),
                               "MultiHeadAttention")
    assert old in source, old
    return source.replace(old, new)


# copy-paste slip: bias=False honoured for three projections out of four
WRONG["multihead.MultiHeadAttention"]["w_o_always_biased"] = _reference_with(
    "self.w_o = nn.Linear(d_model, d_model, bias=bias)", "self.w_o = nn.Linear(d_model, d_model)")


# ---------------------------------------------------------------- fairness (issue "fair grades")

# HF-style "stable" softmax: computed in float64, the output cast back, the kept weights not
WRONG["multihead.MultiHeadAttention"]["weights_kept_in_float64"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        scores = (q @ k.transpose(-2, -1)).double() / q.shape[-1] ** 0.5
        if mask is not None:
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        self.attention_weights = weights
        return self.w_o(merge_heads(weights.to(v.dtype) @ v))
'''

# a learned temperature on the scores: one parameter more than the contract allows (it
# starts at 1, so the outputs are right; only the parameter checks can tell)
WRONG["multihead.MultiHeadAttention"]["extra_learned_temperature"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.temperature = nn.Parameter(torch.ones(()))

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h) / self.temperature.to(query.dtype)
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.w_o(merge_heads(out))
'''

# a stub with the right parameters, shapes and dtypes that computes nothing: the property
# checks (parameters, dtype, causality) pass, but pay nothing without a check of the values
WRONG["multihead.MultiHeadAttention"]["returns_zeros_of_the_right_shape"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, mask=None):
        B, T_q, D = query.shape
        self.attention_weights = query.new_zeros(B, self.num_heads, T_q, key.shape[1])
        return torch.zeros_like(query)
'''

# minGPT / nanoGPT style: a causal mask kept as a persistent buffer (in state_dict), used
# only when the module is built causal; the mask argument works as the contract says
RIGHT["multihead.MultiHeadAttention"]["mingpt_persistent_causal_buffer"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True, causal=False, block_size=64):
        super().__init__()
        assert d_model % num_heads == 0
        self.n_head = num_heads
        self.causal = causal
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))

    def forward(self, query, key, value, mask=None):
        T_q, T_k = query.size(1), key.size(1)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        if self.causal:
            built_in = self.mask[:, :, :T_q, :T_k].bool()
            mask = built_in if mask is None else mask & built_in
        q = split_heads(self.w_q(query), self.n_head)
        k = split_heads(self.w_k(key), self.n_head)
        v = split_heads(self.w_v(value), self.n_head)
        y, att = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = att
        return self.w_o(merge_heads(y))
'''

# HF GPT-2 style: the causal mask a non-persistent buffer (moves with .to(), never saved),
# used only when the module is built causal
RIGHT["multihead.MultiHeadAttention"]["hf_non_persistent_causal_buffer"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True, is_causal=False, max_positions=32):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (d_model // num_heads) ** -0.5
        self.is_causal = is_causal
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        causal = torch.ones(max_positions, max_positions, dtype=torch.bool).tril()
        self.register_buffer("causal_mask", causal, persistent=False)
        self.attention_weights = None

    def forward(self, query, key, value, mask=None):
        h = self.num_heads
        q = split_heads(self.w_q(query), h) * self.scale
        k = split_heads(self.w_k(key), h)
        v = split_heads(self.w_v(value), h)
        scores = q @ k.transpose(-2, -1)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        if self.is_causal:
            built_in = self.causal_mask[:query.shape[1], :key.shape[1]]
            mask = built_in if mask is None else mask & built_in
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        self.attention_weights = weights
        return self.w_o(merge_heads(weights @ v))
'''

# every product written with einsum, projections included (weights used as (out, in))
RIGHT["multihead.MultiHeadAttention"]["einsum_everywhere"] = '''
class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        self.heads = num_heads
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(d_model, d_model, bias=bias) for _ in range(4))

    @staticmethod
    def _project(layer, x):
        y = torch.einsum("btd,ed->bte", x, layer.weight)
        return y if layer.bias is None else y + layer.bias

    def forward(self, query, key, value, mask=None):
        q = split_heads(self._project(self.w_q, query), self.heads)
        k = split_heads(self._project(self.w_k, key), self.heads)
        v = split_heads(self._project(self.w_v, value), self.heads)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self._project(self.w_o, merge_heads(out))
'''
