"""Checks of the multihead module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import torch

from grader.checks import check, expect, expect_close, expect_shape

PROJECTIONS = ("w_q", "w_k", "w_v", "w_o")


def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _parameters(module):
    """The module's parameters by name (buffers, such as a causal mask, are left out)."""
    state = module.state_dict(keep_vars=True)
    return {name: value for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _module(student, d, h, state=None):
    """The learner's MultiHeadAttention(d, h) in float64, holding ``state`` when given
    (its own buffers, if any, are left as they are)."""
    module = student.multihead.MultiHeadAttention(d, h)
    names = sorted(_parameters(module))
    wanted = sorted(f"{p}.{kind}" for p in PROJECTIONS for kind in ("weight", "bias"))
    missing = [name for name in wanted if name not in names]
    expect(not missing, f"MultiHeadAttention({d}, {h}) has the parameters {names}, without {missing}.")
    module.double()
    if state is not None:
        module.load_state_dict(state, strict=False)
    return module


def _state(rng, d):
    state = {}
    for name in PROJECTIONS:
        state[f"{name}.weight"] = _randn(rng, (d, d)) / d ** 0.5
        state[f"{name}.bias"] = 0.2 * _randn(rng, (d,))
    return state


# ---------------------------------------------------------------- split_heads

@check("multihead.split_heads", weight=2)
def test_split_tiny_example(student):
    """a tiny example: (1, 2, 4) with 2 heads; head 0 holds columns 0-1 and head 1 columns 2-3"""
    x = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]])
    expected = torch.tensor([[[[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]]]])
    expect_close(student.multihead.split_heads(x, 2), expected, what="split_heads(x, 2)", same_dtype=True)


@check("multihead.split_heads")
def test_split_head_j_is_a_column_block(student, rng):
    """head j is the block of columns j*d_k .. (j+1)*d_k-1 (3 heads, float64)"""
    x = _randn(rng, (2, 4, 6))
    out = student.multihead.split_heads(x, 3)
    expect_shape(out, (2, 3, 4, 2), what="split_heads of a (2, 4, 6) input with 3 heads")
    for j in range(3):
        expect_close(out[:, j], x[:, :, 2 * j:2 * j + 2], what=f"head {j} (split_heads(x, 3)[:, {j}])",
                     same_dtype=True)


# ---------------------------------------------------------------- merge_heads

@check("multihead.merge_heads", weight=2)
def test_merge_tiny_example(student):
    """a tiny example: 2 heads of width 2 at 2 positions, put side by side"""
    x = torch.tensor([[[[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]]]])
    expected = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]])
    expect_close(student.multihead.merge_heads(x), expected, what="merge_heads(x)", same_dtype=True)


@check("multihead.merge_heads")
def test_merge_puts_head_j_in_its_columns(student, rng):
    """head j lands in columns j*d_k .. (j+1)*d_k-1 (3 heads of width 2, float64)"""
    y = _randn(rng, (2, 3, 4, 2))
    out = student.multihead.merge_heads(y)
    expect_shape(out, (2, 4, 6), what="merge_heads of a (2, 3, 4, 2) input")
    for j in range(3):
        expect_close(out[:, :, 2 * j:2 * j + 2], y[:, j], what=f"columns {2 * j}-{2 * j + 1} of the result",
                     same_dtype=True)


# ---------------------------------------------------------------- MultiHeadAttention

@check("multihead.MultiHeadAttention", kind="property")
def test_visible_mha_parameters(student):
    """the parameters are w_q, w_k, w_v, w_o, each nn.Linear(d_model, d_model)"""
    params = _parameters(student.multihead.MultiHeadAttention(6, 2))
    wanted = sorted(f"{p}.{kind}" for p in PROJECTIONS for kind in ("weight", "bias"))
    expect(sorted(params) == wanted, f"MultiHeadAttention(6, 2) has the parameters {sorted(params)}; expected "
                                     f"{wanted} (buffers are free; parameters are not).")
    for name, value in params.items():
        expect_shape(value, (6, 6) if name.endswith("weight") else (6,), what=name)


@check("multihead.MultiHeadAttention")
def test_mha_shapes(student, rng):
    """cross-attention: output (B, T_q, d_model), attention_weights (B, h, T_q, T_k), float64 kept"""
    module = _module(student, 6, 3, _state(rng, 6))
    q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 5, 6)), _randn(rng, (2, 5, 6))
    out = module(q, k, v)
    expect_shape(out, (2, 3, 6), what="the output")
    expect(out.dtype == torch.float64, f"the output has dtype {out.dtype}; expected float64 like the inputs.")
    weights = module.attention_weights
    expect_shape(weights, (2, 3, 3, 5), what="self.attention_weights")
    expect_close(weights.sum(-1), torch.ones(2, 3, 3, dtype=torch.float64),
                 what="self.attention_weights summed over the keys", rtol=1e-9, atol=1e-12)


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_uniform_attention(student, rng):
    """w_q = w_k = 0 makes every weight uniform; with w_v = w_o = identity the output is the mean of the values"""
    d = 4
    state = {f"{p}.bias": torch.zeros(d, dtype=torch.float64) for p in PROJECTIONS}
    state["w_q.weight"] = torch.zeros(d, d, dtype=torch.float64)
    state["w_k.weight"] = torch.zeros(d, d, dtype=torch.float64)
    state["w_v.weight"] = torch.eye(d, dtype=torch.float64)
    state["w_o.weight"] = torch.eye(d, dtype=torch.float64)
    module = _module(student, d, 2, state)
    q, k = _randn(rng, (1, 2, d)), _randn(rng, (1, 3, d))
    v = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [0.0, -2.0, 2.0, 0.0]]], dtype=torch.float64)
    expected = torch.tensor([[[2.0, 2.0, 4.0, 4.0], [2.0, 2.0, 4.0, 4.0]]], dtype=torch.float64)
    expect_close(module(q, k, v), expected, what="the output")
    expect_close(module.attention_weights, torch.full((1, 2, 2, 3), 1 / 3, dtype=torch.float64),
                 what="self.attention_weights")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_tiny_example(student):
    """a tiny example with hand-set weights (d_model=4, 2 heads, T_q=2, T_k=3)"""
    def f(*values):
        return torch.tensor(values[0] if len(values) == 1 else values, dtype=torch.float64)

    state = {"w_q.weight": torch.eye(4, dtype=torch.float64), "w_q.bias": f(0, 0, 0, 0),
             "w_k.weight": torch.diag(f(1, 0.5, -1, 2)), "w_k.bias": f(0, 0, 0, 0),
             "w_v.weight": torch.diag(f(1, 2, 3, 4)), "w_v.bias": f(0.1, 0, 0, -0.1),
             "w_o.weight": torch.eye(4, dtype=torch.float64).flip(0), "w_o.bias": f(0, 0, 0, 1)}
    module = _module(student, 4, 2, state)
    q = f([[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 1.0, 0.0]])[None]
    k = f([[1.0, 1.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0], [0.0, -1.0, 1.0, 1.0]])[None]
    v = f([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [-1.0, 0.0, 1.0, 0.0]])[None]
    expected = f([[8.588909697744, 6.430568561090, 8.047685781549, 4.123842890775],
                  [15.9, 10.489530469546, 5.660503952392, 2.930251976196]])[None]
    weights = f([[[[0.283995409741, 0.575975345215, 0.140029245043], [0.455527490499, 0.319866165866, 0.224606343635]],
                 [[0.485647714630, 0.028704570739, 0.485647714630], [0.503489843485, 0.248255078258, 0.248255078258]]]])
    expect_close(module(q, k, v), expected, what="the output", rtol=1e-9, atol=1e-10)
    expect_close(module.attention_weights, weights, what="self.attention_weights", rtol=1e-9, atol=1e-10)


@check("multihead.MultiHeadAttention", weight=2)
def test_visible_mha_padding_mask(student, rng):
    """a padding mask (B, 1, T_k) gives the padded keys zero weight in every head"""
    module = _module(student, 8, 2, _state(rng, 8))
    q, k, v = _randn(rng, (2, 3, 8)), _randn(rng, (2, 4, 8)), _randn(rng, (2, 4, 8))
    mask = torch.tensor([[[True, True, True, False]], [[True, False, True, False]]])
    module(q, k, v, mask=mask)
    weights = module.attention_weights
    expect_shape(weights, (2, 2, 3, 4), what="self.attention_weights")
    expect_close(weights * (~mask).unsqueeze(1), torch.zeros(2, 2, 3, 4, dtype=torch.float64),
                 what="self.attention_weights at the padded keys")
    expect_close(weights.sum(-1), torch.ones(2, 2, 3, dtype=torch.float64),
                 what="self.attention_weights summed over the keys", rtol=1e-9, atol=1e-12)


@check("multihead.MultiHeadAttention", weight=2, kind="property")
def test_mha_causal(student, rng):
    """a causal (T, T) mask: changing later positions leaves the outputs of earlier ones unchanged"""
    module = _module(student, 6, 3, _state(rng, 6))
    x = _randn(rng, (2, 5, 6))
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    out = module(x, x, x, mask=causal)
    expect_shape(out, (2, 5, 6), what="the output")
    changed = x.clone()
    changed[:, 2:] = _randn(rng, (2, 3, 6))
    again = module(changed, changed, changed, mask=causal)
    expect_close(again[:, :2], out[:, :2], what="the outputs at positions 0-1 after changing positions 2-4",
                 rtol=1e-10, atol=1e-12)
