"""Variants of the positional exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/positional.py (tests.support.make_submission).
"""

WRONG = {
    "positional.sinusoidal_positional_encoding": {
        "concatenated_not_interleaved": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)[:, :d_model].to(dtype)
''',
        "exponent_i_not_2i": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange((d_model + 1) // 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d_model // 2])
    return pe.to(dtype)
''',
        "exponent_over_all_columns": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    j = torch.arange(d_model, dtype=torch.float64)
    ang = p * 10000.0 ** (-2 * j / d_model)
    pe = torch.where(torch.arange(d_model) % 2 == 0, torch.sin(ang), torch.cos(ang))
    return pe.to(dtype)
''',
        "sin_cos_swapped": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.cos(ang)
    pe[:, 1::2] = torch.sin(ang[:, : d_model // 2])
    return pe.to(dtype)
''',
        "odd_d_model_crashes": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang)
    return pe.to(dtype)
''',
        "odd_d_model_last_column_cos": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model + 1, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang)
    if d_model % 2:
        pe = torch.cat([pe[:, : d_model - 1], pe[:, d_model:]], dim=1)
    return pe[:, :d_model].to(dtype)
''',
        "positions_start_at_1": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(1, max_len + 1, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d_model // 2])
    return pe.to(dtype)
''',
        "angles_in_float32": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    import math
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len).float()[:, None]
    div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(p * div)
    pe[:, 1::2] = torch.cos(p * div[: d_model // 2])
    return pe.to(dtype)
''',
        "dtype_ignored": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d_model // 2])
    return pe.float()
''',
        # a stub: the right shape and dtype, no values (earns nothing: its passes are all properties)
        "returns_zeros_of_the_right_shape": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    return torch.zeros(max_len, d_model, dtype=dtype or torch.get_default_dtype())
''',
        "none_means_float32": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.float32
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang[:, : d_model // 2])
    return pe.to(dtype)
''',
    },
    "positional.PositionalEncoding": {
        "multiplies": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        return self.dropout(x * self.pe[: x.shape[1]].to(x.dtype))
''',
        "trainable_parameter": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.pe = nn.Parameter(sinusoidal_positional_encoding(max_len, d_model))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))
''',
        "frozen_parameter": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.pe = nn.Parameter(sinusoidal_positional_encoding(max_len, d_model), requires_grad=False)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))
''',
        "slices_batch_axis": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model).unsqueeze(1), persistent=False)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0)].to(x.dtype))
''',
        "persistent_buffer": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model).unsqueeze(0))

    def forward(self, x):
        return self.dropout(x + self.pe[:, : x.size(1)].to(x.dtype))
''',
        "dropout_before_adding": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        return self.dropout(x) + self.pe[: x.shape[1]].to(x.dtype)
''',
        "dropout_always_on": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.p = dropout
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        return nn.functional.dropout(x + self.pe[: x.shape[1]].to(x.dtype), self.p, training=True)
''',
        "no_dropout": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]].to(x.dtype)
''',
        # a stub: a zero table in a non-persistent buffer, x returned as it came
        "returns_x_unchanged": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.register_buffer("pe", torch.zeros(max_len, d_model), persistent=False)

    def forward(self, x):
        return x
''',
        "max_len_default_512": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x):
        return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))
''',
    },
    "positional.LearnedPositionalEmbedding": {
        "indexes_by_batch": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        positions = torch.arange(x.shape[0], device=x.device)
        return x + self.embedding(positions).unsqueeze(1)
''',
        "reinitialised_in_forward": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        embedding = nn.Embedding(self.max_len, self.d_model).to(x.device, x.dtype)
        return x + embedding(torch.arange(x.shape[1], device=x.device))
''',
        "not_added": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        return self.embedding(torch.arange(x.shape[1], device=x.device)).expand_as(x)
''',
        "positions_start_at_1": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len + 1, d_model)

    def forward(self, x):
        return x + self.embedding(torch.arange(1, x.shape[1] + 1, device=x.device))
''',
        "own_parameter_name": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]
''',
        "detached_weight": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        return x + self.embedding.weight[: x.shape[1]].detach()
''',
        # a stub: the embedding is made, forward returns x as it came
        "returns_x_unchanged": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        return x.clone()
''',
        "float32_output": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        return (x + self.embedding(torch.arange(x.shape[1], device=x.device))).float()
''',
    },
    "positional.apply_rotary": {
        "pairs_not_swapped": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos = ang.cos().repeat_interleave(2, -1).to(x.dtype)
    sin = ang.sin().repeat_interleave(2, -1).to(x.dtype)
    return x * cos + x * sin  # forgot to pair each a with its partner b
''',
        "half_split_layout": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    rotated = torch.cat([-x[..., d // 2:], x[..., : d // 2]], dim=-1)
    return x * cos + rotated * sin
''',
        "wrong_sign": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos + b * sin, -a * sin + b * cos), dim=-1).flatten(-2)
''',
        "frequencies_i_over_d": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(d // 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        "ignores_positions": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        "ignores_base": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        "T_from_axis_1": '''
def apply_rotary(x, positions=None, base=10000.0):
    d = x.shape[-1]
    if positions is None:
        positions = torch.arange(x.shape[1], device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        "concatenates_instead_of_interleaving": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
''',
        "angles_in_float32": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = 1.0 / (base ** (torch.arange(0, d, 2, device=x.device).float() / d))
    ang = positions.float()[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        # cos and sin left in float64: a float32 x comes back as float64
        "cos_sin_left_float64": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos(), ang.sin()
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
''',
        # a stub: no rotation at all (lengths, offsets and position 0 all look right)
        "returns_x_unchanged": '''
def apply_rotary(x, positions=None, base=10000.0):
    return x.clone()
''',
        # writes the rotated pairs back into the caller's x (autograd refuses this on a leaf that
        # requires grad, so the gradient check fails too, with torch's own message)
        "in_place_on_input": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = positions.to(torch.float64)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    a, b = x[..., 0::2].clone(), x[..., 1::2].clone()
    x[..., 0::2] = a * cos - b * sin
    x[..., 1::2] = a * sin + b * cos
    return x
''',
    },
    "positional.relative_position_bucket": {
        "sign_flipped_query_minus_key": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = -relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "causal_keeps_the_future": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
    d = n.abs()
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "zero_counted_as_future": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n >= 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "log2_over_natural_log": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log2(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "log_of_distance_not_ratio": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float()) / math.log(max_distance) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "no_cap_at_the_last_bucket": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, large)
''',
        "odd_num_buckets_rounded_up": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets = (num_buckets + 1) // 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "rounds_instead_of_truncating": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).round().long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
''',
        "float_buckets": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return (offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))).float()
''',
    },
    "positional.RelativePositionBias": {
        "query_minus_key": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        dev = self.bias.weight.device
        n = torch.arange(T_q, device=dev)[:, None] - torch.arange(T_k, device=dev)[None, :]
        return self.bias(relative_position_bucket(n, *self.settings)).permute(2, 0, 1)[None]
''',
        "always_bidirectional": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        dev = self.bias.weight.device
        n = torch.arange(T_k, device=dev)[None, :] - torch.arange(T_q, device=dev)[:, None]
        buckets = relative_position_bucket(n, num_buckets=self.num_buckets, max_distance=self.max_distance)
        return self.bias(buckets).permute(2, 0, 1)[None]
''',
        "reshape_instead_of_permute": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.num_heads = num_heads
        self.settings = (bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        dev = self.bias.weight.device
        n = torch.arange(T_k, device=dev)[None, :] - torch.arange(T_q, device=dev)[:, None]
        return self.bias(relative_position_bucket(n, *self.settings)).reshape(1, self.num_heads, T_q, T_k)
''',
        "default_buckets_not_its_own": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.bidirectional = bidirectional
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        dev = self.bias.weight.device
        n = torch.arange(T_k, device=dev)[None, :] - torch.arange(T_q, device=dev)[:, None]
        buckets = relative_position_bucket(n, self.bidirectional).clamp(max=self.bias.num_embeddings - 1)
        return self.bias(buckets).permute(2, 0, 1)[None]
''',
        "own_parameter_name": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (bidirectional, num_buckets, max_distance)
        self.table = nn.Parameter(torch.randn(num_buckets, num_heads))

    def forward(self, T_q, T_k):
        dev = self.table.device
        n = torch.arange(T_k, device=dev)[None, :] - torch.arange(T_q, device=dev)[:, None]
        return self.table[relative_position_bucket(n, *self.settings)].permute(2, 0, 1)[None]
''',
        "reinitialised_in_forward": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (num_heads, bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        h, bidirectional, num_buckets, max_distance = self.settings
        table = nn.Embedding(num_buckets, h).to(self.bias.weight)
        n = torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]
        return table(relative_position_bucket(n, bidirectional, num_buckets, max_distance)).permute(2, 0, 1)[None]
''',
        "always_float32": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        n = torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]
        return self.bias(relative_position_bucket(n, *self.settings)).permute(2, 0, 1)[None].float()
''',
        "detached_weight": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        n = torch.arange(T_k)[None, :] - torch.arange(T_q)[:, None]
        return self.bias.weight.detach()[relative_position_bucket(n, *self.settings)].permute(2, 0, 1)[None]
''',
        "queries_are_the_last_positions": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.settings = (bidirectional, num_buckets, max_distance)
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        n = torch.arange(T_k)[None, :] - torch.arange(T_k - T_q, T_k)[:, None]
        return self.bias(relative_position_bucket(n, *self.settings)).permute(2, 0, 1)[None]
''',
    },
    "positional.alibi_bias": {
        "slopes_indexed_from_0": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 / num_heads * torch.arange(num_heads, dtype=torch.float64))
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    return (slopes[:, None, None] * n).to(torch.get_default_dtype())
''',
        "positive_penalties": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_q, dtype=torch.float64)[:, None] - torch.arange(T_k, dtype=torch.float64)[None, :]
    return (slopes[:, None, None] * n).to(torch.get_default_dtype())
''',
        "future_set_to_zero": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    return (slopes[:, None, None] * n.clamp(max=0)).to(torch.get_default_dtype())
''',
        "absolute_distance": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    return (-slopes[:, None, None] * n.abs()).to(torch.get_default_dtype())
''',
        "future_masked_with_minus_inf": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    bias = (slopes[:, None, None] * n).masked_fill(n > 0, float("-inf"))
    return bias.to(torch.get_default_dtype())
''',
        "slopes_two_to_minus_j_over_h": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    return (slopes[:, None, None] * n).to(torch.get_default_dtype())
''',
        "always_float32": '''
def alibi_bias(num_heads, T_q, T_k):
    slopes = 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)
    n = torch.arange(T_k, dtype=torch.float64)[None, :] - torch.arange(T_q, dtype=torch.float64)[:, None]
    return (slopes[:, None, None] * n).float()
''',
    },
}

RIGHT = {
    "positional.sinusoidal_positional_encoding": {
        "outer_product": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    if dtype is None:
        dtype = torch.get_default_dtype()
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    ang = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = ang.sin()
    pe[:, 1::2] = ang.cos()[:, : d_model // 2]
    return pe.to(dtype)
''',
        "python_loops": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    import math
    rows = []
    for p in range(max_len):
        row = []
        for j in range(d_model):
            angle = p / 10000 ** (2 * (j // 2) / d_model)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64).reshape(max_len, d_model).to(dtype or torch.get_default_dtype())
''',
        "exp_log_div_term": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    import math
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model + d_model % 2, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe[:, :d_model].to(torch.get_default_dtype() if dtype is None else dtype)
''',
        # d2l's PositionalEncoding table: X = positions / 10000^(2i/d), then P[:, 0::2] = sin(X),
        # P[:, 1::2] = cos(X); in float64, and one cosine fewer for an odd width, as the contract asks
        "d2l_precomputed_table": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    P = torch.zeros((max_len, d_model), dtype=torch.float64)
    X = torch.arange(max_len, dtype=torch.float64).reshape(-1, 1) / torch.pow(
        10000, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    P[:, 0::2] = torch.sin(X)
    P[:, 1::2] = torch.cos(X[:, : d_model // 2])
    return P.to(torch.get_default_dtype() if dtype is None else dtype)
''',
        "stack_flatten": '''
def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = torch.get_default_dtype() if dtype is None else dtype
    half = (d_model + 1) // 2
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    ang = p / torch.pow(torch.tensor(10000.0, dtype=torch.float64), 2 * torch.arange(half, dtype=torch.float64) / d_model)
    return torch.stack([ang.sin(), ang.cos()], dim=-1).flatten(1)[:, :d_model].to(dtype)
''',
    },
    "positional.PositionalEncoding": {
        "buffer_with_batch_axis": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.drop = nn.Dropout(p=dropout)
        self.register_buffer("table", sinusoidal_positional_encoding(max_len, d_model)[None], persistent=False)

    def forward(self, x):
        return self.drop(x + self.table[:, : x.size(1), :])
''',
        "functional_dropout": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.p = dropout
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model, dtype=torch.float64),
                             persistent=False)

    def forward(self, x):
        T = x.shape[-2]
        out = x + self.pe.narrow(0, 0, T).to(x.dtype)
        return nn.functional.dropout(out, self.p, training=self.training)
''',
        # the Annotated Transformer's module: a (1, max_len, d) buffer, sliced and marked
        # requires_grad_(False) in forward, dropout after the sum (non-persistent, as the contract asks)
        "annotated_transformer": '''
class PositionalEncoding(nn.Module):
    "Implement the PE function."

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = sinusoidal_positional_encoding(max_len, d_model).unsqueeze(0)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        x = x + self.pe[:, : x.size(1)].requires_grad_(False)
        return self.dropout(x)
''',
        # d2l's module: the table P kept with a batch axis, X + P[:, :T, :] moved to X's device
        "d2l_module": '''
class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("P", sinusoidal_positional_encoding(max_len, d_model)[None, :, :], persistent=False)

    def forward(self, X):
        X = X + self.P[:, : X.shape[1], :].to(X.device)
        return self.dropout(X)
''',
    },
    "positional.LearnedPositionalEmbedding": {
        # Hugging Face's BERT embeddings: a position_ids buffer (persistent, as in older releases),
        # sliced to the sequence length
        "hf_position_ids_buffer": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)
        self.register_buffer("position_ids", torch.arange(max_len).expand((1, -1)))

    def forward(self, x):
        seq_length = x.size(1)
        position_ids = self.position_ids[:, :seq_length]
        return x + self.embedding(position_ids)
''',
        "weight_slice": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        return x + self.embedding.weight[: x.size(1)]
''',
        "expanded_positions": '''
class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, d_model):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x):
        B, T, _ = x.shape
        positions = torch.arange(T, dtype=torch.long, device=x.device).unsqueeze(0).expand(B, T)
        return self.embedding(positions) + x
''',
    },
    "positional.apply_rotary": {
        "complex_numbers": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    freqs = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    angles = torch.outer(positions.to(torch.float64), freqs)
    cis = torch.polar(torch.ones_like(angles), angles)
    cis = cis.to(torch.complex64 if x.dtype == torch.float32 else torch.complex128)
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(xc * cis).reshape(x.shape)
''',
        "rotation_matrices": '''
def apply_rotary(x, positions=None, base=10000.0):
    T, d = x.shape[-2], x.shape[-1]
    pos = torch.arange(T, device=x.device) if positions is None else positions
    theta = base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64, device=x.device) / d)
    ang = pos.double()[:, None] * theta                                   # (T, d/2)
    c, s = ang.cos(), ang.sin()
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2).to(x.dtype)   # (T, d/2, 2, 2)
    pairs = x.unflatten(-1, (d // 2, 2))                                  # (..., T, d/2, 2)
    return torch.einsum("tpij,...tpj->...tpi", rot, pairs).flatten(-2)
''',
        # Meta's LLaMA: freqs_cis = polar(1, outer(t, freqs)) reshaped to broadcast, x viewed as complex
        # pairs in float32 (x.float()), multiplied, and cast back with type_as; the angles in float64,
        # as the contract asks (LLaMA itself computes them in float32)
        "llama_freqs_cis": '''
def apply_rotary(x, positions=None, base=10000.0):
    def precompute_freqs_cis(dim, t, theta):
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64, device=t.device)[: (dim // 2)] / dim))
        freqs = torch.outer(t.to(torch.float64), freqs)
        return torch.polar(torch.ones_like(freqs), freqs).to(torch.complex64)

    def reshape_for_broadcast(freqs_cis, x):
        ndim = x.ndim
        shape = [d if i >= ndim - 2 else 1 for i, d in enumerate(x.shape)]
        return freqs_cis.view(*shape)

    t = torch.arange(x.shape[-2], device=x.device) if positions is None else positions
    freqs_cis = precompute_freqs_cis(x.shape[-1], t, base)
    x_ = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    freqs_cis = reshape_for_broadcast(freqs_cis, x_)
    x_out = torch.view_as_real(x_ * freqs_cis).flatten(-2)
    return x_out.type_as(x)
''',
        # Hugging Face's GPT-J: sin and cos duplicated with repeat_interleave, rotate_every_two
        # builds (-x[2i+1], x[2i]) with stack and flatten
        "hf_gptj_rotate_every_two": '''
def apply_rotary(x, positions=None, base=10000.0):
    def rotate_every_two(t):
        x1 = t[..., ::2]
        x2 = t[..., 1::2]
        return torch.stack((-x2, x1), dim=-1).flatten(-2)

    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64, device=x.device).double() / dim))
    pos = torch.arange(x.shape[-2], device=x.device) if positions is None else positions
    sinusoid_inp = torch.einsum("i , j -> i j", pos.double(), inv_freq)
    sin = torch.repeat_interleave(torch.sin(sinusoid_inp), 2, dim=-1).to(x.dtype)
    cos = torch.repeat_interleave(torch.cos(sinusoid_inp), 2, dim=-1).to(x.dtype)
    return (x * cos) + (rotate_every_two(x) * sin)
''',
        "interleave_by_index": '''
def apply_rotary(x, positions=None, base=10000.0):
    import math
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    inv = torch.exp(-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d * math.log(base))
    ang = torch.repeat_interleave(positions.to(torch.float64)[:, None] * inv, 2, dim=-1)   # (T, d)
    swapped = torch.empty_like(x)
    swapped[..., 0::2] = -x[..., 1::2]
    swapped[..., 1::2] = x[..., 0::2]
    return x * ang.cos().to(x.dtype) + swapped * ang.sin().to(x.dtype)
''',
    },
    "positional.relative_position_bucket": {
        "python_loops": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    out = []
    for n in relative_position.reshape(-1).tolist():
        buckets, offset = num_buckets, 0
        if bidirectional:
            buckets = num_buckets // 2
            if n > 0:
                offset = buckets
            d = abs(n)
        else:
            d = max(0, -n)
        exact = buckets // 2
        if d < exact:
            out.append(offset + d)
        else:
            step = int(math.log(d / exact) / math.log(max_distance / exact) * (buckets - exact))
            out.append(offset + min(exact + step, buckets - 1))
    return torch.tensor(out, dtype=torch.long, device=relative_position.device).reshape(relative_position.shape)
''',
        "log2_in_float64": '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = relative_position.long()
    half = num_buckets // 2 if bidirectional else num_buckets
    d = n.abs() if bidirectional else (-n).clamp(min=0)
    offset = torch.where(n > 0, half, 0) if bidirectional else torch.zeros_like(n)
    exact = half // 2
    safe = d.clamp(min=exact).double()
    grown = (torch.log2(safe / exact) / torch.log2(torch.tensor(max_distance / exact, dtype=torch.float64))
             * (half - exact)).floor().long()
    far = (exact + grown).clamp(max=half - 1)
    return offset + torch.where(d < exact, d, far)
''',
    },
    "positional.RelativePositionBias": {
        "cached_bucket_buffer_and_one_hot": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.bias = nn.Embedding(num_buckets, num_heads)
        self.register_buffer("cached", self._table(16), persistent=False)

    def _table(self, reach):
        # buckets of the distances -reach .. reach, at index distance + reach
        return relative_position_bucket(torch.arange(-reach, reach + 1), self.bidirectional, self.num_buckets,
                                        self.max_distance)

    def forward(self, T_q, T_k):
        reach = (self.cached.numel() - 1) // 2
        if max(T_q, T_k) > reach:
            self.cached = self._table(max(T_q, T_k)).to(self.cached.device)
            reach = max(T_q, T_k)
        n = torch.arange(T_k, device=self.cached.device)[None, :] - torch.arange(T_q, device=self.cached.device)[:, None]
        one_hot = nn.functional.one_hot(self.cached[n + reach], self.num_buckets).to(self.bias.weight.dtype)
        return torch.einsum("qkb,bh->hqk", one_hot, self.bias.weight).unsqueeze(0)
''',
        "python_loops": '''
class RelativePositionBias(nn.Module):
    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, T_q, T_k):
        rows = []
        for q in range(T_q):
            n = torch.tensor([k - q for k in range(T_k)])
            b = relative_position_bucket(n, self.bidirectional, self.num_buckets, self.max_distance)
            rows.append(self.bias.weight[b].t())                        # (h, T_k)
        return torch.stack(rows, dim=1).unsqueeze(0)
''',
    },
    "positional.alibi_bias": {
        "python_loops": '''
def alibi_bias(num_heads, T_q, T_k):
    out = torch.empty(num_heads, T_q, T_k, dtype=torch.float64)
    for j in range(num_heads):
        slope = 2.0 ** (-8.0 * (j + 1) / num_heads)
        for q in range(T_q):
            for k in range(T_k):
                out[j, q, k] = -slope * (q - k)
    return out.to(torch.get_default_dtype())
''',
        "geometric_start_and_ratio": '''
def alibi_bias(num_heads, T_q, T_k):
    start = 2.0 ** (-8.0 / num_heads)
    slopes = torch.tensor([start * start ** i for i in range(num_heads)], dtype=torch.float64)
    distance = torch.outer(torch.ones(T_q, dtype=torch.float64), torch.arange(T_k, dtype=torch.float64)) \\
        - torch.arange(T_q, dtype=torch.float64)[:, None]
    return torch.einsum("h,qk->hqk", slopes, distance).to(torch.get_default_dtype())
''',
    },
}
