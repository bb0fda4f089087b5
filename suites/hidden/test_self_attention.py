"""Hidden checks of the self_attention module: scaled dot-product attention with masks (torch).

While scaled_dot_product_attention is graded, the reference masked_softmax stands in for the
learner's, so these checks judge only the attention itself."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.checks import check, describe, expect, expect_close, expect_gradients_close, expect_tuple, vjp

F64_TOL = dict(rtol=1e-9, atol=1e-12)     # float64, other order of operations
GRAD_TOL = dict(rtol=1e-7, atol=1e-10)    # float64 gradients


# ---------------------------------------------------------------- helpers


def _sdpa(mod, q, k, v, mask=None):
    if mask is None:
        result = mod.self_attention.scaled_dot_product_attention(q, k, v)
    else:
        result = mod.self_attention.scaled_dot_product_attention(q, k, v, mask=mask)
    return expect_tuple(result, ("output", "weights"), "scaled_dot_product_attention")


def _qkv(rng, lead, T_q, T_k, d_k, d_v, dtype=torch.float64):
    def t(*shape):
        return torch.from_numpy(rng.standard_normal(tuple(lead) + shape)).to(dtype)
    return t(T_q, d_k), t(T_k, d_k), t(T_k, d_v)


def _name(lead, T_q, T_k, d_k, d_v):
    dims = ", ".join(str(n) for n in lead)
    return f"q ({dims}{', ' if dims else ''}{T_q}, {d_k}), k (..., {T_k}, {d_k}), v (..., {T_k}, {d_v})"


def _compare(student, ref, q, k, v, mask, where):
    got_out, got_w = _sdpa(student, q, k, v, mask)
    want_out, want_w = _sdpa(ref, q, k, v, mask)
    expect_close(got_w, want_w, what=f"the weights ({where})", **F64_TOL)
    expect_close(got_out, want_out, what=f"the output ({where})", **F64_TOL)


def _causal(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def _fixed_qkv():
    """d_k = 4, so sqrt(d_k) = 2: the scores of query 0 are [0, ln 2, ln 3], of query 1 all 0."""
    ln2, ln3 = math.log(2), math.log(3)
    q = torch.tensor([[[2 * ln2, 2 * ln3, 0.0, 0.0],
                       [0.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)              # (1, 2, 4)
    k = torch.tensor([[[0.0, 0.0, 0.0, 0.0],
                       [1.0, 0.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0, 0.0]]], dtype=torch.float64)              # (1, 3, 4)
    v = torch.tensor([[[6.0, 0.0, 0.0],
                       [0.0, 6.0, 0.0],
                       [0.0, 0.0, 6.0]]], dtype=torch.float64)                   # (1, 3, 3)
    return q, k, v


# ---------------------------------------------------------------- the checks

@check("self_attention.scaled_dot_product_attention", weight=3)
def test_fixed_values(student):
    """hand-computed output and weights (T_q=2, T_k=3, d_k=4, d_v=3), without and with a mask"""
    q, k, v = _fixed_qkv()
    out, w = _sdpa(student, q, k, v)
    expect_close(w, np.array([[[1 / 6, 2 / 6, 3 / 6], [1 / 3, 1 / 3, 1 / 3]]]), what="the weights", **F64_TOL)
    expect_close(out, np.array([[[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]]]), what="the output", **F64_TOL)
    mask = torch.tensor([[True, True, False], [True, False, True]])
    out, w = _sdpa(student, q, k, v, mask)
    expect_close(w, np.array([[[1 / 3, 2 / 3, 0.0], [0.5, 0.0, 0.5]]]), what="the weights with a mask", **F64_TOL)
    expect_close(out, np.array([[[2.0, 4.0, 0.0], [3.0, 0.0, 3.0]]]), what="the output with a mask", **F64_TOL)


@check("self_attention.scaled_dot_product_attention", weight=2)
def test_shapes_and_scale(student, ref, rng):
    """random inputs: T_q != T_k, d_v != d_k, batch of one, T = 1 (scaled by sqrt(d_k) exactly)"""
    for lead, T_q, T_k, d_k, d_v in [((2,), 3, 5, 4, 7), ((1,), 6, 6, 9, 2), ((3,), 1, 4, 16, 3),
                                     ((2,), 4, 1, 5, 5)]:
        q, k, v = _qkv(rng, lead, T_q, T_k, d_k, d_v)
        got_out, got_w = _sdpa(student, q, k, v)
        expect(tuple(got_w.shape) == tuple(lead) + (T_q, T_k),
               f"with {_name(lead, T_q, T_k, d_k, d_v)} the weights have shape {tuple(got_w.shape)}; expected "
               f"{tuple(lead) + (T_q, T_k)}: one row per query, one column per key.")
        expect(tuple(got_out.shape) == tuple(lead) + (T_q, d_v),
               f"with {_name(lead, T_q, T_k, d_k, d_v)} the output has shape {tuple(got_out.shape)}; expected "
               f"{tuple(lead) + (T_q, d_v)}: one row per query, of the values' width d_v.")
        _compare(student, ref, q, k, v, None, _name(lead, T_q, T_k, d_k, d_v))


@check("self_attention.scaled_dot_product_attention", weight=2)
def test_leading_dims(student, ref, rng):
    """extra leading axes: (B, h, T, d) with several heads, a single (T, d) pair, and (B, h, T, d) masks"""
    for lead, T_q, T_k, d_k, d_v in [((2, 3), 4, 5, 6, 3), ((1, 2), 3, 3, 2, 4), ((), 3, 4, 5, 2)]:
        q, k, v = _qkv(rng, lead, T_q, T_k, d_k, d_v)
        _compare(student, ref, q, k, v, None, _name(lead, T_q, T_k, d_k, d_v))
    q, k, v = _qkv(rng, (2, 3), 5, 5, 4, 6)
    pad = torch.ones(2, 1, 1, 5, dtype=torch.bool)
    pad[1, 0, 0, 3:] = False
    _compare(student, ref, q, k, v, pad, "4-d inputs (B=2, h=3) with a padding mask (B, 1, 1, T_k)")
    _compare(student, ref, q, k, v, _causal(5) & pad, "4-d inputs with a causal and padding mask")


@check("self_attention.scaled_dot_product_attention", weight=2, kind="property")
def test_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    q, k, v = _qkv(rng, (2,), 3, 4, 5, 6)
    for dtype in (torch.float32, torch.float64):
        out, w = _sdpa(student, q.to(dtype), k.to(dtype), v.to(dtype))
        for name, got in (("output", out), ("weights", w)):
            expect(isinstance(got, torch.Tensor) and got.dtype == dtype,
                   f"with {str(dtype)[6:]} q, k and v the {name} is {describe(got)}; it should be a "
                   f"{str(dtype)[6:]} tensor like q (no hard-coded dtype, no float32 constant tensors).")


@check("self_attention.scaled_dot_product_attention", kind="property")
def test_weights_sum_to_one(student, rng):
    """the weights of every query sum to 1 and are positive"""
    q, k, v = _qkv(rng, (2,), 5, 7, 3, 4)
    _, w = _sdpa(student, q, k, v)
    w = np.asarray(w, dtype=np.float64)
    expect(np.all(w >= 0), "some attention weights are negative: the weights are the softmax of the scores, "
                           "not the scores themselves.")
    # a normalisation check, not a precision one: float32 sums pass too (the dtype has its own check)
    expect_close(w.sum(axis=-1), np.ones((2, 5)), what="the sum of the weights over the keys (last axis)",
                 rtol=1e-6, atol=1e-7)


@check("self_attention.scaled_dot_product_attention", weight=2)
def test_matches_torch(student, rng):
    """equals F.scaled_dot_product_attention(q, k, v, attn_mask=mask), same mask polarity"""
    cases = []                              # batched 3-d inputs: more axes are test_leading_dims' concern
    q, k, v = _qkv(rng, (2,), 4, 6, 5, 3)
    cases.append((q, k, v, None, "no mask"))
    pad = torch.ones(2, 1, 6, dtype=torch.bool)
    pad[0, 0, 2:] = False
    pad[1, 0, 5] = False
    cases.append((q, k, v, pad, "a padding mask (B, 1, T_k)"))
    q, k, v = _qkv(rng, (3,), 5, 5, 4, 4)
    cases.append((q, k, v, _causal(5), "a causal mask (T, T)"))
    for q, k, v, mask, where in cases:
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        got, _ = _sdpa(student, q, k, v, mask)
        expect_close(got, want, what=f"the output with {where}", **F64_TOL)


@check("self_attention.scaled_dot_product_attention", weight=2, kind="property")
def test_causal_invariant(student, rng):
    """with a causal mask, changing the keys and values of later positions leaves earlier outputs unchanged"""
    T = 6
    q, k, v = _qkv(rng, (2,), T, T, 4, 5)
    out, w = _sdpa(student, q, k, v, _causal(T))
    w = np.asarray(w, dtype=np.float64)
    future = ~np.tril(np.ones((T, T), dtype=bool))
    expect(w.shape == (2, T, T) and np.all(w[:, future] == 0),
           "with a causal mask, query i gives weight to a key j > i (the future): the weights above the "
           "diagonal should be exactly 0.")
    for t in (0, 2, 4):
        k2, v2 = k.clone(), v.clone()
        k2[:, t + 1:] = torch.from_numpy(rng.standard_normal(tuple(k2[:, t + 1:].shape)))
        v2[:, t + 1:] = torch.from_numpy(5 * rng.standard_normal(tuple(v2[:, t + 1:].shape)))
        out2, _ = _sdpa(student, q, k2, v2, _causal(T))
        expect_close(np.asarray(out2)[:, :t + 1], np.asarray(out)[:, :t + 1],
                     what=f"the outputs of positions 0..{t} after changing the keys and values of positions "
                          f"{t + 1}..{T - 1} (compared with your outputs before)", **F64_TOL)


@check("self_attention.scaled_dot_product_attention", weight=2, kind="property")
def test_padding_invariant(student, rng):
    """changing the keys and values of padded positions changes nothing"""
    q, k, v = _qkv(rng, (3,), 4, 6, 3, 5)
    lengths = [6, 2, 4]
    mask = torch.zeros(3, 1, 6, dtype=torch.bool)
    for b, n in enumerate(lengths):
        mask[b, 0, :n] = True
    out, w = _sdpa(student, q, k, v, mask)
    w_np = np.asarray(w, dtype=np.float64)
    expect(w_np.shape == (3, 4, 6) and np.all(w_np[~np.broadcast_to(mask.numpy(), w_np.shape)] == 0),
           "a padded key (mask False) gets a nonzero weight: masked keys must get exactly 0.")
    k2, v2 = k.clone(), v.clone()
    for b, n in enumerate(lengths):
        k2[b, n:] = torch.from_numpy(10 * rng.standard_normal(tuple(k2[b, n:].shape)))
        v2[b, n:] = torch.from_numpy(10 * rng.standard_normal(tuple(v2[b, n:].shape)))
    out2, w2 = _sdpa(student, q, k2, v2, mask)
    expect_close(w2, w, what="the weights after changing the padded keys (compared with your weights before)",
                 **F64_TOL)
    expect_close(out2, out, what="the output after changing the padded keys and values (compared with your "
                                 "output before)", **F64_TOL)


@check("self_attention.scaled_dot_product_attention", weight=2, kind="property")
def test_fully_masked_rows(student, rng):
    """a query whose keys are all masked gets zero weights and a zero output, not NaN"""
    q, k, v = _qkv(rng, (2,), 3, 4, 5, 2)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[0, 1] = False
    mask[1, 2] = False
    mask[1, 0, :2] = False
    out, w = _sdpa(student, q, k, v, mask)
    out, w = np.asarray(out, dtype=np.float64), np.asarray(w, dtype=np.float64)
    expect(not np.isnan(out).any() and not np.isnan(w).any(),
           "a query whose keys are all masked gives NaN; it should get all-zero weights and a zero output.")
    for b, i in ((0, 1), (1, 2)):
        expect(np.all(w[b, i] == 0), f"query [{b}, {i}] has all its keys masked, so its weights should be 0, "
                                     f"but they are {describe(w[b, i])}.")
        expect(np.all(out[b, i] == 0), f"query [{b}, {i}] has all its keys masked, so its output should be 0, "
                                       f"but it is {describe(out[b, i])}.")


@check("self_attention.scaled_dot_product_attention", weight=3)
def test_gradients(student, ref, rng):
    """gradient check against the reference (float64): gradients of q, k and v, through output and weights"""
    q, k, v = _qkv(rng, (2,), 3, 4, 5, 3)
    mask = torch.from_numpy(rng.random((2, 3, 4)) < 0.7)
    mask[..., 0] = True                                     # every query keeps a key: fully masked queries
                                                            # are test_fully_masked_rows' concern alone
    for output, name, shape in ((0, "output", (2, 3, 3)), (1, "weights", (2, 3, 4))):
        upstream = torch.from_numpy(rng.standard_normal(shape))
        _, want, _ = vjp(ref.self_attention.scaled_dot_product_attention, (q, k, v), upstream,
                         kwargs={"mask": mask}, output=output)
        _, got, _ = vjp(student.self_attention.scaled_dot_product_attention, (q, k, v), upstream,
                        kwargs={"mask": mask}, output=output)
        expect_gradients_close(got, want, (f"q (from the {name})", f"k (from the {name})", f"v (from the {name})"),
                               **GRAD_TOL)
