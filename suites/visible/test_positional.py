"""Checks of the positional module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import numpy as np
import torch

from grader.checks import check, expect, expect_close, expect_shape, to_numpy

F32 = dict(rtol=1e-5, atol=1e-5)


def _np(value):
    return np.asarray(to_numpy(value), dtype=np.float64)


def _t(rng, *shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _table(max_len, d_model):
    """PE straight from the formula, in float64."""
    p = np.arange(max_len, dtype=np.float64)[:, None]
    j = np.arange(d_model)
    angle = p / 10000.0 ** (2 * (j // 2) / d_model)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))


# ---------------------------------------------------------------- sinusoidal_positional_encoding

@check("positional.sinusoidal_positional_encoding", weight=2)
def test_pe_tiny_example(student):
    """max_len=2, d_model=4: rows [0, 1, 0, 1] and [sin 1, cos 1, sin 0.01, cos 0.01]"""
    got = student.positional.sinusoidal_positional_encoding(2, 4)
    expected = np.array([[0.0, 1.0, 0.0, 1.0], [0.841470984808, 0.540302305868, 0.009999833334, 0.999950000417]])
    expect_close(got, expected, what="sinusoidal_positional_encoding(2, 4)", rtol=1e-5, atol=1e-6)


@check("positional.sinusoidal_positional_encoding")
def test_pe_pairs(student):
    """each pair of columns (2i, 2i+1) is a sin and a cos of the same angle"""
    got = _np(student.positional.sinusoidal_positional_encoding(12, 6))
    expect_shape(got, (12, 6), what="sinusoidal_positional_encoding(12, 6)")
    expect_close(got[:, 0::2] ** 2 + got[:, 1::2] ** 2, np.ones((12, 3)),
                 what="PE[:, 2i]^2 + PE[:, 2i+1]^2 for sinusoidal_positional_encoding(12, 6)", atol=1e-5)


@check("positional.sinusoidal_positional_encoding")
def test_pe_odd_width(student):
    """odd d_model=5: shape (max_len, 5), the last column is a sine"""
    got = student.positional.sinusoidal_positional_encoding(4, 5)
    expect_close(got, _table(4, 5), what="sinusoidal_positional_encoding(4, 5)", **F32)


@check("positional.sinusoidal_positional_encoding", kind="property")
def test_visible_pe_default_dtype(student):
    """dtype=None gives torch's default dtype (float32)"""
    got = student.positional.sinusoidal_positional_encoding(3, 4)
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.float32,
           f"sinusoidal_positional_encoding(3, 4) should be a float32 tensor (torch's default dtype); "
           f"it is {getattr(got, 'dtype', type(got).__name__)}.")


# ---------------------------------------------------------------- PositionalEncoding

@check("positional.PositionalEncoding", weight=2)
def test_pe_module_adds(student, rng):
    """forward(x) = x + PE[:T] (B=2, T=5, d_model=6, max_len=10)"""
    mod = student.positional.PositionalEncoding(6, max_len=10)
    x = _t(rng, 2, 5, 6)
    expect_close(mod(x), x.numpy() + _table(10, 6)[:5], what="PositionalEncoding(6, max_len=10)(x)",
                 rtol=1e-6, atol=1e-6)


@check("positional.PositionalEncoding", kind="property")
def test_visible_pe_module_no_parameters(student):
    """no parameters (the table is a buffer) and an empty state_dict (a non-persistent buffer)"""
    mod = student.positional.PositionalEncoding(6, max_len=10)
    state = mod.state_dict(keep_vars=True)
    expect(len(state) == 0, f"PositionalEncoding(6, max_len=10).state_dict() has the entries {sorted(state)}; it "
                            "should be empty: keep the table with register_buffer(..., persistent=False).")


@check("positional.PositionalEncoding")
def test_pe_module_eval(student, rng):
    """in eval() mode, dropout=0.5 changes nothing"""
    mod = student.positional.PositionalEncoding(4, max_len=8, dropout=0.5)
    mod.eval()
    x = _t(rng, 3, 4, 4)
    expect_close(mod(x), x.numpy() + _table(8, 4)[:4], what="PositionalEncoding(4, max_len=8, dropout=0.5) in eval "
                 "mode, (x)", rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- LearnedPositionalEmbedding

@check("positional.LearnedPositionalEmbedding", kind="property")
def test_visible_learned_state_dict(student):
    """state_dict holds embedding.weight of shape (max_len, d_model)"""
    mod = student.positional.LearnedPositionalEmbedding(10, 3)
    state = mod.state_dict(keep_vars=True)
    params = sorted(name for name, value in state.items() if isinstance(value, torch.nn.Parameter))
    expect(params == ["embedding.weight"], f"the parameters in LearnedPositionalEmbedding(10, 3).state_dict() are "
                                           f"{params}; expected ['embedding.weight'].")
    expect_shape(state["embedding.weight"], (10, 3), what="embedding.weight")


@check("positional.LearnedPositionalEmbedding", weight=2)
def test_learned_adds(student, rng):
    """forward(x) = x + embedding.weight[:T] (B=2, T=4, max_len=6)"""
    mod = student.positional.LearnedPositionalEmbedding(6, 3)
    weight = _np(mod.embedding.weight)
    x = _t(rng, 2, 4, 3, dtype=torch.float32)
    expect_close(mod(x), x.numpy() + weight[:4], what="LearnedPositionalEmbedding(6, 3)(x)", **F32)


# ---------------------------------------------------------------- apply_rotary

@check("positional.apply_rotary", weight=2)
def test_rope_tiny_example(student):
    """x = [[1, 0, 1, 0], [1, 0, 1, 0]] at positions 0, 1: row 1 becomes [cos 1, sin 1, cos 0.01, sin 0.01]"""
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    expected = np.array([[1.0, 0.0, 1.0, 0.0], [np.cos(1.0), np.sin(1.0), np.cos(0.01), np.sin(0.01)]])
    expect_close(student.positional.apply_rotary(x), expected, what="apply_rotary(x)", rtol=1e-6, atol=1e-6)


@check("positional.apply_rotary", kind="property")
def test_rope_shape_and_norms(student, rng):
    """keeps the shape (B, h, T, d) and the length of every pair (x[2i], x[2i+1])"""
    x = _t(rng, 2, 3, 5, 8)
    got = _np(student.positional.apply_rotary(x))
    expect_shape(got, (2, 3, 5, 8), what="apply_rotary(x) for x of shape (2, 3, 5, 8)")
    xn = x.numpy()
    expect_close(got[..., 0::2] ** 2 + got[..., 1::2] ** 2, xn[..., 0::2] ** 2 + xn[..., 1::2] ** 2,
                 what="the squared length of each pair after apply_rotary", rtol=1e-6, atol=1e-6)


@check("positional.apply_rotary", kind="property")
def test_rope_relative(student, rng):
    """rope(q at m) . rope(k at n) depends only on m - n"""
    q, k = _t(rng, 6), _t(rng, 6)
    m, n = torch.tensor([2, 7, 12]), torch.tensor([0, 5, 10])
    rq = _np(student.positional.apply_rotary(q.expand(3, 6).clone(), m))
    rk = _np(student.positional.apply_rotary(k.expand(3, 6).clone(), n))
    dots = (rq * rk).sum(-1)
    expect(np.allclose(dots, dots[0], rtol=1e-6, atol=1e-5),
           f"rope(q, m) . rope(k, n) for (m, n) = (2, 0), (7, 5), (12, 10) are {dots}; with the same m - n they "
           "should be equal.")


# ---------------------------------------------------------------- relative_position_bucket

@check("positional.relative_position_bucket", weight=2)
def test_visible_bucket_small_table(student):
    """bidirectional, 32 buckets: n = -3 -> 3, n = 3 -> 19, n = -20 -> 10, n = 20 -> 26, far -> 15 and 31"""
    n = torch.tensor([-1000, -20, -3, 0, 3, 20, 1000])
    got = _np(student.positional.relative_position_bucket(n))
    expect_close(got, np.array([15, 10, 3, 0, 19, 26, 31]), what=f"relative_position_bucket(n) for n = {n.tolist()}",
                 rtol=0, atol=0)


@check("positional.relative_position_bucket")
def test_visible_bucket_causal_future(student):
    """causal: keys in the future (n > 0) are all bucket 0; n = -20 -> 17"""
    n = torch.tensor([-20, -5, 0, 4, 300])
    got = _np(student.positional.relative_position_bucket(n, bidirectional=False))
    expect_close(got, np.array([17, 5, 0, 0, 0]), what=f"relative_position_bucket(n, bidirectional=False) for "
                 f"n = {n.tolist()}", rtol=0, atol=0)


# ---------------------------------------------------------------- RelativePositionBias

@check("positional.RelativePositionBias", weight=2)
def test_visible_rel_bias_shape_and_rows(student):
    """forward(3, 5) is (1, h, 3, 5) and its diagonal (k = q, bucket 0) is row 0 of bias.weight"""
    mod = student.positional.RelativePositionBias(2, num_buckets=8, max_distance=16)
    out = _np(mod(3, 5))
    expect_shape(out, (1, 2, 3, 5), what="RelativePositionBias(2, num_buckets=8, max_distance=16)(3, 5)")
    row0 = _np(mod.bias.weight)[0]
    expect_close(out[0, :, [0, 1, 2], [0, 1, 2]], np.stack([row0] * 3), what="the entries k = q of "
                 "RelativePositionBias(2, num_buckets=8, max_distance=16)(3, 5), one row per q", **F32)


# ---------------------------------------------------------------- alibi_bias

@check("positional.alibi_bias", weight=2)
def test_visible_alibi_two_heads(student):
    """2 heads (slopes 1/16 and 1/256): row q = 2 of a 3 x 3 bias is -slope * [2, 1, 0]"""
    got = _np(student.positional.alibi_bias(2, 3, 3))
    expect_shape(got, (2, 3, 3), what="alibi_bias(2, 3, 3)")
    expect_close(got[:, 2], np.array([[-2 / 16, -1 / 16, 0.0], [-2 / 256, -1 / 256, 0.0]]),
                 what="alibi_bias(2, 3, 3)[:, 2]", rtol=1e-6, atol=1e-7)
