"""Hidden checks of the multihead module: splitting the model width into heads,
concatenating them back, and the multi-head attention module (torch, batch first,
float32 and float64)."""

import math

import torch

from grader.checks import (check, describe, expect, expect_close, expect_gradients_close, expect_shape,
                           plain_state, vjp)

TOL64 = dict(rtol=1e-9, atol=1e-11)       # float64, the same formula in another order
TORCH64 = dict(rtol=1e-7, atol=1e-9)      # float64 against torch.nn.MultiheadAttention
GRAD64 = dict(rtol=1e-7, atol=1e-9)
PROJECTIONS = ("w_q", "w_k", "w_v", "w_o")


# ---------------------------------------------------------------- helpers

def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _small_ints(rng, shape, dtype=torch.float64):
    """Whole numbers in [-8, 8): exact in float32 too, so a layout check with exact
    comparison says nothing about the dtype (the dtype checks do)."""
    return torch.from_numpy(rng.integers(-8, 8, size=shape)).to(dtype)


def _split_by_hand(x, h):
    """out[b, j, t, i] = x[b, t, j*d_k + i], written out with column slices."""
    B, T, D = x.shape
    d_k = D // h
    out = torch.empty(B, h, T, d_k, dtype=x.dtype)
    for j in range(h):
        out[:, j] = x[:, :, j * d_k:(j + 1) * d_k]
    return out


def _merge_by_hand(x):
    """out[b, t, j*d_k + i] = x[b, j, t, i]: the heads side by side, head 0 first."""
    return torch.cat([x[:, j] for j in range(x.shape[1])], dim=-1)


def _split(student, x, h):
    return student.multihead.split_heads(x, h)


def _merge(student, x):
    return student.multihead.merge_heads(x)


def _state(rng, d, bias=True, dtype=torch.float64):
    """Random weights for the four projections, in state_dict form."""
    state = {}
    for name in PROJECTIONS:
        state[f"{name}.weight"] = _randn(rng, (d, d), dtype) / math.sqrt(d)
        if bias:
            state[f"{name}.bias"] = 0.2 * _randn(rng, (d,), dtype)
    return state


def _expected_names(bias):
    return sorted(f"{p}.{kind}" for p in PROJECTIONS for kind in (("weight", "bias") if bias else ("weight",)))


def _parameters(module):
    """The module's parameters by name. Buffers (a causal mask, a scale), persistent or not,
    are the learner's business: state_dict(keep_vars=True) keeps parameters as nn.Parameter,
    so they can be told apart from persistent buffers (also through the worker's proxy)."""
    state = module.state_dict(keep_vars=True)
    return {name: value for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _student_module(student, d, h, bias=True, dtype=torch.float64, state=None):
    """The learner's MultiHeadAttention(d, h, bias=bias) in dtype, holding ``state``.

    Only the four projections' parameters are required here (the parameter checks demand
    nothing else); extra buffers are loaded around, never compared."""
    module = student.multihead.MultiHeadAttention(d, h, bias=bias)
    names = sorted(_parameters(module))
    missing = [name for name in _expected_names(bias) if name not in names]
    expect(not missing,
           f"MultiHeadAttention({d}, {h}, bias={bias}) has the parameters {names}, without {missing}: four "
           f"nn.Linear({d}, {d}, bias={bias}) named w_q, w_k, w_v and w_o are expected.")
    if dtype == torch.float64:
        module.double()
    if state is not None:
        missed, unexpected = module.load_state_dict(state, strict=False)[:2]
        not_loaded = sorted(set(state) & set(missed)) + sorted(unexpected)
        expect(not not_loaded, f"load_state_dict could not set {not_loaded} of MultiHeadAttention({d}, {h}).")
    return module


def _pair(student, ref, rng, d, h, bias=True, dtype=torch.float64):
    """The learner's module and the reference, with the same random weights."""
    state = _state(rng, d, bias, dtype)
    mine = ref.multihead.MultiHeadAttention(d, h, bias=bias).to(dtype)
    mine.load_state_dict(state)
    return _student_module(student, d, h, bias, dtype, plain_state(mine)), mine, state


def _run(module, q, k, v, mask=None):
    if mask is None:
        return module(q, k, v)
    return module(q, k, v, mask=mask)


def _compare(student_module, ref_module, q, k, v, mask=None, tol=TOL64, label=""):
    """The output against the reference's. self.attention_weights and the dtype have checks
    of their own: a mistake there must not cost every check of the module."""
    out = _run(student_module, q, k, v, mask)
    want = _run(ref_module, q, k, v, mask)
    expect_close(out, want, what=f"the output{label}", **tol)
    return out


def _no_empty_rows(mask):
    """Make sure every query row of a (..., T_q, T_k) mask may attend to at least one key."""
    mask = mask.clone()
    mask[..., 0] = mask[..., 0] | ~mask.any(-1)
    return mask


def _torch_mha(state, d, h, bias, dtype=torch.float64):
    """torch.nn.MultiheadAttention holding the same weights: in_proj = w_q, w_k, w_v stacked; out_proj = w_o."""
    m = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True, dtype=dtype)
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.cat([state[f"{p}.weight"] for p in ("w_q", "w_k", "w_v")]))
        m.out_proj.weight.copy_(state["w_o.weight"])
        if bias:
            m.in_proj_bias.copy_(torch.cat([state[f"{p}.bias"] for p in ("w_q", "w_k", "w_v")]))
            m.out_proj.bias.copy_(state["w_o.bias"])
    return m.eval()


# ---------------------------------------------------------------- split_heads

@check("multihead.split_heads", weight=2)
def test_split_fixed_values(student):
    """a tiny fixed example: (1, 2, 4) with 2 heads; head 0 holds columns 0-1 and head 1 columns 2-3"""
    x = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]])
    expected = torch.tensor([[[[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]]]])
    expect_close(_split(student, x, 2), expected, what="split_heads(x, 2)")


@check("multihead.split_heads", weight=2)
def test_split_arange_blocks(student):
    """on arange inputs, head j holds columns j*d_k .. (j+1)*d_k-1 at every position (h = 2, 3, 4)"""
    for B, T, D, h in [(2, 3, 12, 3), (2, 5, 8, 4), (1, 4, 6, 2)]:
        x = torch.arange(B * T * D, dtype=torch.float64).reshape(B, T, D)
        out = _split(student, x, h)
        expect_shape(out, (B, h, T, D // h), what=f"split_heads of an {(B, T, D)} input with {h} heads")
        expect_close(out, _split_by_hand(x, h), what=f"split_heads(arange {(B, T, D)}, {h})")


@check("multihead.split_heads")
def test_split_shapes(student, rng):
    """shapes: batch 1, T = 1, one head, one column per head"""
    for B, T, D, h in [(1, 1, 4, 2), (1, 5, 6, 3), (3, 1, 8, 4), (2, 3, 5, 1), (2, 2, 3, 3)]:
        x = _randn(rng, (B, T, D))
        out = _split(student, x, h)
        expect_shape(out, (B, h, T, D // h), what=f"split_heads of a {(B, T, D)} input with {h} heads")
        expect_close(out, _split_by_hand(x, h), what=f"split_heads of a {(B, T, D)} input with {h} heads")


@check("multihead.split_heads", kind="property")
def test_split_keeps_dtype(student, rng):
    """float32 and float64 inputs keep their dtype"""
    for dtype in (torch.float32, torch.float64):
        out = _split(student, _randn(rng, (2, 4, 12), dtype), 3)
        expect(isinstance(out, torch.Tensor) and out.dtype == dtype,
               f"split_heads of a {str(dtype)[6:]} (2, 4, 12) input with 3 heads returned {describe(out)}; "
               f"expected a {str(dtype)[6:]} tensor (keep the caller's dtype).")


@check("multihead.split_heads")
def test_split_gradient(student, ref, rng):
    """the gradient flows back through split_heads to x"""
    x = _randn(rng, (2, 3, 6))
    up = _small_ints(rng, (2, 3, 3, 2))
    _, got, _ = vjp(student.multihead.split_heads, (x, 3), up)
    _, want, _ = vjp(ref.multihead.split_heads, (x, 3), up)
    expect_gradients_close(got, want, ["x"], **TOL64)


# ---------------------------------------------------------------- merge_heads

@check("multihead.merge_heads", weight=2)
def test_merge_fixed_values(student):
    """a tiny fixed example: 2 heads of width 2 at 2 positions, put side by side"""
    x = torch.tensor([[[[0.0, 1.0], [4.0, 5.0]], [[2.0, 3.0], [6.0, 7.0]]]])
    expected = torch.tensor([[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]])
    expect_close(_merge(student, x), expected, what="merge_heads(x)")


@check("multihead.merge_heads", weight=2)
def test_merge_arange_blocks(student):
    """on arange inputs, head j lands in columns j*d_k .. (j+1)*d_k-1, head 0 first"""
    for B, h, T, d_k in [(2, 3, 4, 2), (1, 4, 3, 5), (2, 2, 1, 3)]:
        x = torch.arange(B * h * T * d_k, dtype=torch.float64).reshape(B, h, T, d_k)
        out = _merge(student, x)
        expect_shape(out, (B, T, h * d_k), what=f"merge_heads of a {(B, h, T, d_k)} input")
        expect_close(out, _merge_by_hand(x), what=f"merge_heads(arange {(B, h, T, d_k)})")


@check("multihead.merge_heads", weight=2)
def test_merge_inverts_split(student, ref, rng):
    """merge_heads(split_heads(x, h)) gives x back, and split_heads(merge_heads(y), h) gives y back"""
    for B, T, D, h in [(2, 5, 12, 4), (1, 3, 6, 3), (3, 1, 4, 2), (2, 4, 6, 6)]:
        x = _small_ints(rng, (B, T, D))
        expect_close(_merge(student, ref.multihead.split_heads(x, h)), x,
                     what=f"merge_heads(split_heads(x, {h})) for x of shape {(B, T, D)}", rtol=0, atol=0)
        y = _small_ints(rng, (B, h, T, D // h))
        merged = _merge(student, y)
        expect_shape(merged, (B, T, D), what=f"merge_heads of a {(B, h, T, D // h)} input")
        expect_close(ref.multihead.split_heads(merged, h), y,
                     what=f"split_heads(merge_heads(y), {h}) for y of shape {(B, h, T, D // h)}", rtol=0, atol=0)


@check("multihead.merge_heads", kind="property")
def test_merge_dtype(student, rng):
    """float32 and float64 inputs keep their dtype"""
    for dtype in (torch.float32, torch.float64):
        out = _merge(student, _randn(rng, (2, 3, 4, 2), dtype))
        expect(isinstance(out, torch.Tensor) and out.dtype == dtype,
               f"merge_heads of a {str(dtype)[6:]} (2, 3, 4, 2) input returned {describe(out)}; "
               f"expected a {str(dtype)[6:]} tensor (keep the caller's dtype).")


@check("multihead.merge_heads")
def test_merge_gradient(student, ref, rng):
    """the gradient flows back through merge_heads to x"""
    y = _randn(rng, (2, 3, 4, 2))
    up = _small_ints(rng, (2, 4, 6))
    _, got, _ = vjp(student.multihead.merge_heads, (y,), up)
    _, want, _ = vjp(ref.multihead.merge_heads, (y,), up)
    expect_gradients_close(got, want, ["x"], **TOL64)


# ---------------------------------------------------------------- MultiHeadAttention

@check("multihead.MultiHeadAttention", kind="property")
def test_mha_parameters(student):
    """the parameters are w_q, w_k, w_v, w_o, each nn.Linear(d_model, d_model) with a bias"""
    params = _parameters(student.multihead.MultiHeadAttention(12, 4))
    names = sorted(params)
    expect(names == _expected_names(True),
           f"MultiHeadAttention(12, 4) has the parameters {names}; expected exactly {_expected_names(True)} "
           "(buffers are free; parameters are not).")
    for name, value in params.items():
        expect_shape(value, (12, 12) if name.endswith("weight") else (12,), what=name)


@check("multihead.MultiHeadAttention", kind="property")
def test_mha_parameters_without_bias(student):
    """bias=False: the four projections have weights and no biases"""
    params = _parameters(student.multihead.MultiHeadAttention(6, 3, bias=False))
    names = sorted(params)
    expect(names == _expected_names(False),
           f"MultiHeadAttention(6, 3, bias=False) has the parameters {names}; expected exactly "
           f"{_expected_names(False)}.")
    for name, value in params.items():
        expect_shape(value, (6, 6), what=name)


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_identity_projections(student):
    """with identity projections, head j is attention on columns j*d_k..(j+1)*d_k-1, scaled by 1/sqrt(d_k)"""
    d, h = 4, 2
    d_k = d // h
    state = {}
    for name in PROJECTIONS:
        state[f"{name}.weight"] = torch.eye(d, dtype=torch.float64)
        state[f"{name}.bias"] = torch.zeros(d, dtype=torch.float64)
    module = _student_module(student, d, h, True, torch.float64, state)
    q = torch.tensor([[[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 1.0, 0.0]]], dtype=torch.float64)
    k = torch.tensor([[[1.0, 1.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0], [0.0, -1.0, 1.0, 1.0]]], dtype=torch.float64)
    v = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [-1.0, 0.0, 1.0, 0.0]]], dtype=torch.float64)
    out = torch.empty(1, 2, d, dtype=torch.float64)
    for j in range(h):
        cols = slice(j * d_k, (j + 1) * d_k)
        scores = q[0, :, cols] @ k[0, :, cols].T / math.sqrt(d_k)
        w = torch.exp(scores) / torch.exp(scores).sum(-1, keepdim=True)
        out[0, :, cols] = w @ v[0, :, cols]
    expect_close(module(q, k, v), out, what="the output", rtol=1e-9, atol=1e-12)


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_self_attention(student, ref, rng):
    """self-attention (query = key = value), B=2, T=5, d_model=12, 4 heads, float64"""
    mine, theirs, _ = _pair(student, ref, rng, 12, 4)
    x = _randn(rng, (2, 5, 12))
    _compare(mine, theirs, x, x, x)


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_cross_attention(student, ref, rng):
    """cross-attention with T_q != T_k and different key and value inputs (d_model=6, 2 and 3 heads)"""
    for h in (2, 3):
        mine, theirs, _ = _pair(student, ref, rng, 6, h)
        q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 5, 6)), _randn(rng, (2, 5, 6))
        out = _compare(mine, theirs, q, k, v, label=f" with {h} heads")
        expect_shape(out, (2, 3, 6), what="the output")


@check("multihead.MultiHeadAttention", kind="property")
def test_mha_float32(student, rng):
    """float32 in, float32 out: the output and self.attention_weights keep the inputs' dtype"""
    mine = _student_module(student, 12, 4, True, torch.float32)
    x = _randn(rng, (2, 5, 12), torch.float32)
    out = _run(mine, x, x, x)
    expect(isinstance(out, torch.Tensor) and out.dtype == torch.float32,
           f"<your MultiHeadAttention(12, 4)>(x, x, x) with x float32 (2, 5, 12) returned {describe(out)}; "
           "expected a float32 tensor (keep the inputs' dtype).")
    weights = mine.attention_weights
    expect(isinstance(weights, torch.Tensor) and weights.dtype == torch.float32,
           f"after a call with float32 inputs, self.attention_weights is {describe(weights)}; expected a float32 "
           "tensor (keep the inputs' dtype).")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_padding_mask(student, ref, rng):
    """a padding mask of shape (B, 1, T_k) hides the same keys from every query of every head"""
    mine, theirs, _ = _pair(student, ref, rng, 6, 2)
    q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
    mask = torch.tensor([[[True, True, True, False]], [[True, False, True, False]]])
    _compare(mine, theirs, q, k, v, mask, label=" with a (2, 1, 4) mask")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_square_mask(student, ref, rng):
    """a mask of shape (T_q, T_k) (no batch axis) applies to every sequence and every head"""
    mine, theirs, _ = _pair(student, ref, rng, 12, 4)
    x = _randn(rng, (2, 5, 12))
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    _compare(mine, theirs, x, x, x, causal, label=" with a causal (5, 5) mask")
    q, k, v = _randn(rng, (2, 3, 12)), _randn(rng, (2, 5, 12)), _randn(rng, (2, 5, 12))
    mask = torch.tensor([[True, False, True, True, False], [False, True, True, False, True],
                         [True, True, False, False, False]])
    _compare(mine, theirs, q, k, v, mask, label=" with a (3, 5) mask")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_full_mask(student, ref, rng):
    """a mask of shape (B, T_q, T_k), a different one for each sequence"""
    mine, theirs, _ = _pair(student, ref, rng, 6, 2)
    q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
    mask = _no_empty_rows(torch.from_numpy(rng.random((2, 3, 4)) < 0.6))
    _compare(mine, theirs, q, k, v, mask, label=" with a (2, 3, 4) mask")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_attention_weights(student, ref, rng):
    """self.attention_weights holds the last call's per-head weights (B, h, T_q, T_k), each row summing to 1"""
    mine, theirs, _ = _pair(student, ref, rng, 12, 4)
    q, k, v = _randn(rng, (3, 4, 12)), _randn(rng, (3, 6, 12)), _randn(rng, (3, 6, 12))
    _run(mine, q, q, q)
    _run(mine, q, k, v)
    _run(theirs, q, k, v)
    weights = mine.attention_weights
    expect_shape(weights, (3, 4, 4, 6), what="self.attention_weights after a call with B=3, T_q=4, T_k=6, 4 heads")
    expect_close(weights.sum(-1), torch.ones(3, 4, 4, dtype=torch.float64),
                 what="self.attention_weights summed over the keys", rtol=1e-9, atol=1e-12)
    expect_close(weights, theirs.attention_weights, what="self.attention_weights", **TOL64)


@check("multihead.MultiHeadAttention")
def test_mha_fully_masked_query(student, ref, rng):
    """a query whose keys are all masked gets zero weights and the output bias, never NaN"""
    mine, theirs, state = _pair(student, ref, rng, 6, 3)
    q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
    # (1, T_q, T_k), the form that needs no head-axis handling beyond the contract's
    mask = torch.tensor([[[True, True, False, True], [False, False, False, False], [True, False, True, True]]])
    out = _compare(mine, theirs, q, k, v, mask, label=" with a (1, 3, 4) mask whose query 1 sees no key")
    expect_close(out[:, 1], state["w_o.bias"].expand(2, 6), what="the output of query 1 (all its keys masked)",
                 **TOL64)
    weights = mine.attention_weights
    expect(isinstance(weights, torch.Tensor) and weights.dim() >= 2 and weights.shape[-2:] == (3, 4),
           f"self.attention_weights is {describe(weights)}; expected the per-head weights (2, 3, 3, 4).")
    expect_close(weights[..., 1, :], torch.zeros(weights[..., 1, :].shape),
                 what="self.attention_weights of query 1 (all its keys masked)")


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_matches_torch(student, rng):
    """the same as torch.nn.MultiheadAttention(batch_first=True) with the same weights, no mask"""
    d, h = 12, 4
    state = _state(rng, d)
    mine = _student_module(student, d, h, True, torch.float64, state)
    theirs = _torch_mha(state, d, h, True)
    x = _randn(rng, (2, 5, d))
    want, _ = theirs(x, x, x, need_weights=False)
    expect_close(_run(mine, x, x, x), want, what="the output of self-attention, (2, 5, 12)", **TORCH64)
    q, k, v = _randn(rng, (2, 3, d)), _randn(rng, (2, 6, d)), _randn(rng, (2, 6, d))
    want, _ = theirs(q, k, v, need_weights=False)
    expect_close(_run(mine, q, k, v), want, what="the output of cross-attention, T_q=3, T_k=6", **TORCH64)


@check("multihead.MultiHeadAttention")
def test_mha_matches_torch_without_bias(student, rng):
    """bias=False: the same as torch.nn.MultiheadAttention(bias=False), no mask, 2 heads"""
    d, h = 6, 2
    state = _state(rng, d, bias=False)
    mine = _student_module(student, d, h, False, torch.float64, state)
    theirs = _torch_mha(state, d, h, False)
    q, k, v = _randn(rng, (2, 4, d)), _randn(rng, (2, 3, d)), _randn(rng, (2, 3, d))
    want, _ = theirs(q, k, v, need_weights=False)
    expect_close(_run(mine, q, k, v), want, what="the output", **TORCH64)


@check("multihead.MultiHeadAttention", kind="property")
def test_mha_causal_invariant(student, rng):
    """with a causal mask, changing later positions leaves the outputs of earlier ones unchanged"""
    mine = _student_module(student, 8, 2, True, torch.float64, _state(rng, 8))
    x = _randn(rng, (2, 6, 8))
    causal = torch.ones(1, 6, 6, dtype=torch.bool).tril()   # (1, T, T), as the Annotated Transformer makes it
    out = _run(mine, x, x, x, causal)
    expect_shape(out, (2, 6, 8), what="the output")
    changed = x.clone()
    changed[:, 3:] = _randn(rng, (2, 3, 8))
    again = _run(mine, changed, changed, changed, causal)
    expect_close(again[:, :3], out[:, :3], what="the outputs at positions 0-2 after changing positions 3-5",
                 rtol=1e-10, atol=1e-12)


@check("multihead.MultiHeadAttention", weight=2)
def test_mha_gradients(student, ref, rng):
    """gradients of query, key, value and of every parameter (float64, no mask)"""
    mine, theirs, _ = _pair(student, ref, rng, 6, 3)
    q, k, v = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
    up = _randn(rng, (2, 3, 6))
    _, got, got_params = vjp(mine, (q, k, v), up)
    _, want, want_params = vjp(theirs, (q, k, v), up)
    expect_gradients_close(got, want, ["query", "key", "value"], **GRAD64)
    expect_gradients_close(got_params, want_params, None, **GRAD64)
