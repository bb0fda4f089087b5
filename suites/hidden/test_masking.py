"""Hidden checks of the masking module: the causal mask, the padding mask and a
softmax that gives masked positions (and fully masked rows) a weight of 0 (torch)."""

import math

import numpy as np
import torch

from grader.checks import check, describe, expect, expect_close, expect_equal, expect_gradients_close, vjp

F64_TOL = dict(rtol=1e-9, atol=1e-12)     # float64, other order of operations
F32_TOL = dict(rtol=1e-5, atol=1e-7)      # float32
GRAD_TOL = dict(rtol=1e-7, atol=1e-10)    # float64 gradients


# ---------------------------------------------------------------- helpers


def _is_tensor(value):
    return isinstance(value, torch.Tensor)


def _expect_tensor(value, what):
    expect(_is_tensor(value), f"{what} should be a torch tensor, but it is {describe(value)}.")


def _tril(n):
    return np.tril(np.ones((n, n), dtype=bool))


def _tokens(rows):
    return torch.tensor(rows, dtype=torch.int64)


def _scores(rng, shape, dtype=torch.float64, scale=1.5):
    t = torch.from_numpy(scale * rng.standard_normal(shape))
    return t.to(dtype)


def _random_mask(rng, shape, p=0.65, dim=-1):
    """A random mask that keeps at least one key in every row along dim. Fully masked rows are
    the concern of test_softmax_fully_masked_rows alone: code that fills masked scores with
    -1e9 is right for every other row, and must lose that one check only."""
    mask = rng.random(shape) < p
    rows = list(shape)
    rows[dim] = 1
    kept = rng.integers(0, shape[dim], size=rows)
    np.put_along_axis(mask, kept, True, axis=dim)
    return torch.from_numpy(mask)


def _plain_softmax(scores, dim=-1):
    return torch.softmax(scores, dim=dim)


def _zeros_where_masked(weights, mask, what):
    w = np.asarray(weights.detach().numpy() if _is_tensor(weights) else weights, dtype=np.float64)
    m = np.broadcast_to(np.asarray(mask), w.shape)
    bad = np.argwhere(~m & (w != 0))
    if len(bad):
        where = tuple(int(i) for i in bad[0])
        raise_msg = (f"{what} is {w[where]:.3g} at index {where}, where the mask is False; a masked position "
                     "must get a weight of exactly 0 (set its score to the dtype's most negative value "
                     "BEFORE the softmax, not to 0, and do not leave it for after).")
        expect(False, raise_msg)


def _expect_no_nan(arr, what, advice):
    arr = np.asarray(arr, dtype=np.float64)
    if np.isnan(arr).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        expect(False, f"{what} contains NaN (first at index {where}). {advice}")


def _ms(mod, scores, mask, **kw):
    return mod.masking.masked_softmax(scores, mask, **kw)


# ---------------------------------------------------------------- causal_mask

@check("masking.causal_mask", weight=3)
def test_causal_fixed_values(student):
    """fixed values for size 1, 3 and 5: True on and below the diagonal"""
    for n in (1, 3, 5):
        got = student.masking.causal_mask(n)
        _expect_tensor(got, f"causal_mask({n})")
        expect_equal(got, _tril(n), what=f"causal_mask({n})")


@check("masking.causal_mask", kind="property")
def test_causal_dtype_bool(student):
    """the mask is a bool tensor"""
    got = student.masking.causal_mask(4)
    _expect_tensor(got, "causal_mask(4)")
    expect(got.dtype == torch.bool,
           f"causal_mask(4) has dtype {str(got.dtype).replace('torch.', '')}; a mask is bool "
           "(True = may attend), e.g. dtype=torch.bool when you create it.")


@check("masking.causal_mask", weight=2)
def test_causal_diagonals(student):
    """the diagonal is allowed, the first diagonal above it is not (no off-by-one)"""
    got = student.masking.causal_mask(7)
    _expect_tensor(got, "causal_mask(7)")
    m = np.asarray(got.numpy(), dtype=bool) if got.shape == (7, 7) else None
    expect(m is not None, f"causal_mask(7) has shape {tuple(got.shape)}; expected (7, 7).")
    expect(bool(np.diagonal(m).all()),
           "the diagonal of causal_mask(7) should be all True: position i may attend to itself "
           f"(j <= i, not j < i), but the diagonal is {np.diagonal(m).tolist()}.")
    expect(not bool(np.diagonal(m, offset=1).any()),
           "the first diagonal above the main one (mask[i, i+1]) should be all False: query i must not see "
           f"the next token, but it is {np.diagonal(m, offset=1).tolist()}.")
    expect(bool(np.diagonal(m, offset=-1).all()),
           "the first diagonal below the main one (mask[i+1, i]) should be all True: query i+1 may see "
           f"token i, but it is {np.diagonal(m, offset=-1).tolist()}.")


@check("masking.causal_mask")
def test_causal_larger_sizes(student):
    """sizes 2, 8 and 16: rows are queries, columns are keys"""
    for n in (2, 8, 16):
        expect_equal(student.masking.causal_mask(n), _tril(n), what=f"causal_mask({n})")


@check("masking.causal_mask")
def test_causal_device_cpu(student):
    """device="cpu", given by name or position, and device=None work"""
    expect_equal(student.masking.causal_mask(3, device="cpu"), _tril(3), what='causal_mask(3, device="cpu")')
    expect_equal(student.masking.causal_mask(4, "cpu"), _tril(4), what='causal_mask(4, "cpu")')
    expect_equal(student.masking.causal_mask(2, device=None), _tril(2), what="causal_mask(2, device=None)")


@check("masking.causal_mask", kind="property")
def test_causal_device_honoured(student):
    """the mask is created on the device it is asked for (device="meta")"""
    got = student.masking.causal_mask(4, device="meta")
    device = str(got.device) if _is_tensor(got) else "?"
    expect(device == "meta",
           f"causal_mask(4, device=\"meta\") made its mask on {device}, not on the device it was given. "
           "Create the mask on `device` (pass device=device when you create the tensor), so that on a GPU "
           "it lands next to the scores it masks.")


# ---------------------------------------------------------------- padding_mask

@check("masking.padding_mask", weight=3)
def test_padding_fixed_values(student):
    """fixed values: pad_id = 0 at the end of the shorter rows, shape (B, 1, T)"""
    tokens = _tokens([[5, 7, 2, 0, 0], [3, 1, 4, 1, 5], [9, 0, 0, 0, 0]])
    got = student.masking.padding_mask(tokens, 0)
    _expect_tensor(got, "padding_mask(tokens, 0)")
    expected = np.array([[[True, True, True, False, False]],
                         [[True, True, True, True, True]],
                         [[True, False, False, False, False]]])
    expect_equal(got, expected, what="the padding mask")


@check("masking.padding_mask", kind="property")
def test_padding_dtype_bool(student):
    """the mask is a bool tensor"""
    got = student.masking.padding_mask(_tokens([[1, 2, 0]]), 0)
    _expect_tensor(got, "padding_mask")
    expect(got.dtype == torch.bool,
           f"the padding mask has dtype {str(got.dtype).replace('torch.', '')}; a mask is bool "
           "(True = may attend): a comparison such as tokens != pad_id already gives one.")


@check("masking.padding_mask", weight=2)
def test_padding_shape(student, rng):
    """shape (B, 1, T) for several sizes, batch of one and T = 1 included"""
    for B, T in [(1, 1), (1, 6), (4, 1), (3, 7)]:
        tokens = torch.from_numpy(rng.integers(1, 9, size=(B, T)))
        for row, length in enumerate(rng.integers(1, T + 1, size=B)):
            tokens[row, length:] = 0                # padded at the end: pads in the middle have their own check
        got = student.masking.padding_mask(tokens, 0)
        _expect_tensor(got, f"padding_mask of a ({B}, {T}) batch")
        expect(tuple(got.shape) == (B, 1, T),
               f"the padding mask of a ({B}, {T}) batch of token ids has shape {tuple(got.shape)}; "
               f"expected ({B}, 1, {T}): the axis of size 1 in the middle broadcasts over the queries of "
               "the scores (B, T_q, T_k).")
        expect_equal(got, (tokens != 0).numpy()[:, None, :], what=f"the padding mask ({B}, {T})")


@check("masking.padding_mask", weight=2)
def test_padding_pad_id_not_zero(student):
    """pad_id is not always 0: pad_id = 1, and pad_id = 5 with token ids below and above it"""
    tokens = _tokens([[0, 2, 3, 1, 1], [4, 0, 1, 1, 1]])
    expect_equal(student.masking.padding_mask(tokens, 1),
                 np.array([[[True, True, True, False, False]], [[True, True, False, False, False]]]),
                 what="padding_mask(tokens, pad_id=1)")
    tokens = _tokens([[7, 2, 9, 5], [0, 3, 5, 5]])
    expect_equal(student.masking.padding_mask(tokens, 5),
                 np.array([[[True, True, True, False]], [[True, True, False, False]]]),
                 what="padding_mask(tokens, pad_id=5)")


@check("masking.padding_mask")
def test_padding_in_the_middle(student):
    """a pad token in the middle of a row is masked, and only it"""
    tokens = _tokens([[4, 0, 6, 0, 3, 8], [0, 2, 2, 2, 0, 0]])
    expect_equal(student.masking.padding_mask(tokens, 0),
                 np.array([[[True, False, True, False, True, True]], [[False, True, True, True, False, False]]]),
                 what="the padding mask")


@check("masking.padding_mask")
def test_padding_none(student, rng):
    """a batch without padding is all True"""
    tokens = torch.from_numpy(rng.integers(1, 50, size=(2, 5)))
    expect_equal(student.masking.padding_mask(tokens, 0), np.ones((2, 1, 5), dtype=bool), what="the padding mask")


# ---------------------------------------------------------------- masked_softmax

@check("masking.masked_softmax", weight=3)
def test_softmax_fixed_values(student):
    """hand-computed weights: partly masked rows, a single-key row, an unmasked row"""
    ln2, ln3, ln4 = math.log(2), math.log(3), math.log(4)
    scores = torch.tensor([[0.0, ln2, ln3, 5.0],
                           [ln4, 0.0, 7.0, -2.0],
                           [1.0, 2.0, 3.0, 4.0],
                           [0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False],
                         [True, True, False, False],
                         [False, False, True, False],
                         [True, True, True, True]])
    expected = np.array([[1 / 6, 2 / 6, 3 / 6, 0.0],
                         [4 / 5, 1 / 5, 0.0, 0.0],
                         [0.0, 0.0, 1.0, 0.0],
                         [0.25, 0.25, 0.25, 0.25]])
    expect_close(_ms(student, scores, mask), expected, what="the weights", **F64_TOL)


@check("masking.masked_softmax", weight=2)
def test_softmax_mask_none(student, rng):
    """mask=None is a plain softmax (compared with torch.softmax), along the last axis or the dim given"""
    for shape in [(4,), (2, 5), (2, 3, 4)]:
        scores = _scores(rng, shape)
        expect_close(_ms(student, scores, None), _plain_softmax(scores), what=f"the weights {shape}", **F64_TOL)
    scores = _scores(rng, (3, 4, 5))
    expect_close(_ms(student, scores, None, dim=0), _plain_softmax(scores, dim=0),
                 what="masked_softmax(scores, None, dim=0)", **F64_TOL)


@check("masking.masked_softmax", weight=2, kind="property")
def test_softmax_rows_sum(student, rng):
    """each row sums to 1, and nothing is NaN"""
    scores = _scores(rng, (2, 5, 6))
    mask = _random_mask(rng, (2, 5, 6))
    mask[1, 0] = True                       # an unmasked row
    got = _ms(student, scores, mask)
    _expect_tensor(got, "the weights")
    w = got.detach().numpy().astype(np.float64)
    _expect_no_nan(w, "the weights", "Every row keeps at least one key here.")
    expect_close(w.sum(axis=-1), np.ones((2, 5)), what="the sums of the rows of weights (every row keeps a key)",
                 rtol=1e-9, atol=1e-12)


@check("masking.masked_softmax", weight=2, kind="property")
def test_softmax_masked_entries_zero(student, rng):
    """masked entries are exactly 0"""
    scores = _scores(rng, (3, 4, 5), scale=3.0)
    mask = _random_mask(rng, (3, 4, 5), p=0.5)
    got = _ms(student, scores, mask)
    _expect_tensor(got, "the weights")
    _zeros_where_masked(got, mask.numpy(), "the weight")


@check("masking.masked_softmax", weight=2)
def test_softmax_fully_masked_rows(student, ref, rng):
    """a fully masked row gets all-zero weights and zero gradients, never NaN; the other rows are unaffected"""
    mask = _random_mask(rng, (2, 4, 5))
    mask[0, 2] = False                                        # fully masked rows
    mask[1, 0] = False
    where = "rows [0, 2] and [1, 0] fully masked"
    for dtype in (torch.float32, torch.float64):
        scores = _scores(rng, (2, 4, 5), dtype=dtype)
        got = _ms(student, scores, mask)
        _expect_tensor(got, "the weights")
        w = got.detach().double().numpy()
        _expect_no_nan(w, f"the weights ({where}, {str(dtype)[6:]})",
                       "A row whose keys are all masked must give zeros: with -inf scores its softmax is 0/0.")
        for b, i in ((0, 2), (1, 0)):
            uniform = (" (1/T_k each: a very negative fill alone leaves such a row uniform; set the masked weights "
                       "to 0 after the softmax)") if np.allclose(w[b, i], 1 / 5) else ""
            expect(np.all(w[b, i] == 0), f"row [{b}, {i}] has all its keys masked, so its weights should be exactly "
                                         f"0, but they are {describe(got[b, i])}{uniform}.")
        tol = F64_TOL if dtype == torch.float64 else F32_TOL
        expect_close(got, _ms(ref, scores, mask), what=f"the weights ({where}, {str(dtype)[6:]})", **tol)
    scores = _scores(rng, (2, 4, 5))
    upstream = torch.from_numpy(rng.standard_normal((2, 4, 5)))
    _, want_grads, _ = vjp(ref.masking.masked_softmax, (scores, mask), upstream)
    _, got_grads, _ = vjp(student.masking.masked_softmax, (scores, mask), upstream)
    if got_grads and _is_tensor(got_grads[0]):
        _expect_no_nan(got_grads[0].numpy(), f"the gradient of the scores ({where})",
                       "The weights of those rows may look right, but a NaN made on the way (e.g. -inf - (-inf), "
                       "or 0 * -inf) still flows backwards even if you replace it afterwards: use the dtype's most "
                       "negative finite value instead of -inf, or keep the masked entries out of the computation "
                       "with masked_fill / torch.where.")
    expect_gradients_close(got_grads, want_grads, (f"scores ({where})",), **GRAD_TOL)


@check("masking.masked_softmax", weight=2)
def test_softmax_matches_reference(student, ref, rng):
    """random scores and masks, compared with the reference (T_q != T_k, T = 1, 4-d)"""
    for shape in [(2, 3, 5), (1, 1, 1), (1, 4, 1), (2, 2, 3, 4)]:
        scores = _scores(rng, shape)
        mask = _random_mask(rng, shape)
        expect_close(_ms(student, scores, mask), _ms(ref, scores, mask), what=f"the weights {shape}", **F64_TOL)


@check("masking.masked_softmax", weight=2)
def test_softmax_large_logits(student):
    """large scores (1000, 1001, ...) do not overflow"""
    scores = torch.tensor([[1000.0, 1001.0, 1002.0, 1003.0],
                           [-1000.0, -1001.0, -1002.0, -1003.0],
                           [1000.0, 1001.0, 1000.0, 1001.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False, True], [True, False, True, True], [True, True, True, True]])
    e = np.exp([[0.0, 1.0, 3.0], [0.0, -2.0, -3.0]])
    row0 = np.array([e[0, 0], e[0, 1], 0.0, e[0, 2]]) / e[0].sum()
    row1 = np.array([e[1, 0], 0.0, e[1, 1], e[1, 2]]) / e[1].sum()
    row2 = np.array([1.0, math.e, 1.0, math.e]) / (2 + 2 * math.e)
    got = _ms(student, scores, mask)
    expect_close(got, np.stack([row0, row1, row2]), what="the weights for scores near ±1000", **F64_TOL)
    got32 = _ms(student, scores.float(), mask)
    expect_close(got32, np.stack([row0, row1, row2]).astype(np.float32),
                 what="the weights for float32 scores near ±1000", rtol=1e-4, atol=1e-6)


@check("masking.masked_softmax", weight=2, kind="property")
def test_softmax_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    scores = _scores(rng, (2, 3, 4))
    mask = _random_mask(rng, (2, 3, 4))
    for dtype in (torch.float32, torch.float64):
        got = _ms(student, scores.to(dtype), mask)
        _expect_tensor(got, "the weights")
        expect(got.dtype == dtype, f"masked_softmax of {str(dtype)[6:]} scores returned {describe(got)}; the "
                                   "weights should keep the dtype of the scores (no hard-coded dtype, no float()).")


@check("masking.masked_softmax", weight=2)
def test_softmax_broadcast_masks(student, ref, rng):
    """masks that broadcast: a padding mask (B, 1, T_k), a causal mask (T_q, T_k), (B, 1, 1, T_k)"""
    B, T_q, T_k = 3, 4, 6
    scores = _scores(rng, (B, T_q, T_k))
    pad = torch.ones(B, 1, T_k, dtype=torch.bool)
    pad[0, 0, 4:] = False
    pad[2, 0, 1:] = False
    got = _ms(student, scores, pad)
    expect_close(got, _ms(ref, scores, pad), what="the weights with a padding mask (B, 1, T_k)", **F64_TOL)
    tri = torch.ones(T_q, T_k, dtype=torch.bool).tril(1)     # T_q != T_k: asymmetric
    expect_close(_ms(student, scores, tri), _ms(ref, scores, tri),
                 what="the weights with a mask (T_q, T_k)", **F64_TOL)
    scores4 = _scores(rng, (2, 3, T_q, T_k))                  # (B, heads, T_q, T_k)
    pad4 = pad[:2, None]                                       # (B, 1, 1, T_k)
    expect_close(_ms(student, scores4, pad4), _ms(ref, scores4, pad4),
                 what="the weights of 4-d scores with a mask (B, 1, 1, T_k)", **F64_TOL)


@check("masking.masked_softmax", weight=2)
def test_softmax_other_dim(student, ref, rng):
    """normalising over another axis than the last (dim=0, dim=1, dim=-2)"""
    scores = _scores(rng, (3, 4, 5))
    for dim in (0, 1, -2):
        mask = _random_mask(rng, (3, 4, 5), dim=dim)          # every slice along dim keeps a key
        expect_close(_ms(student, scores, mask, dim=dim), _ms(ref, scores, mask, dim=dim),
                     what=f"masked_softmax(scores, mask, dim={dim})", **F64_TOL)


@check("masking.masked_softmax", weight=3)
def test_softmax_gradients(student, ref, rng):
    """gradient check against the reference (float64)"""
    scores = _scores(rng, (2, 4, 5))
    mask = _random_mask(rng, (2, 4, 5))
    mask[1, 1] = True
    upstream = torch.from_numpy(rng.standard_normal((2, 4, 5)))
    want_out, want_grads, _ = vjp(ref.masking.masked_softmax, (scores, mask), upstream)
    got_out, got_grads, _ = vjp(student.masking.masked_softmax, (scores, mask), upstream)
    expect_close(got_out, want_out, what="the weights", **F64_TOL)
    expect_gradients_close(got_grads, want_grads, ("scores",), **GRAD_TOL)
