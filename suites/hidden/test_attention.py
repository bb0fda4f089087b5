"""Hidden checks of the attention module: a stable softmax, the four score functions,
the (masked) attention weights and context vector, and Luong's attentional hidden
state, for one decoder step (torch, batch first, float32 and float64)."""

import math

import numpy as np
import torch

from grader.checks import (CheckFailed, check, describe, expect, expect_close, expect_gradients_close,
                           expect_shape, expect_tuple, numerical_gradient, vjp)

TOL64 = dict(rtol=1e-7, atol=1e-10)      # float64, another order of operations
TOL32 = dict(rtol=1e-4, atol=1e-5)       # float32
GRAD_TOL = dict(rtol=1e-6, atol=1e-9)    # float64 autograd against the reference
DTYPES = (torch.float32, torch.float64)


def _tol(dtype):
    return TOL64 if dtype == torch.float64 else TOL32


def _name(dtype):
    return str(dtype).replace("torch.", "")


def _randn(rng, *shape, dtype=torch.float64, scale=1.0):
    return (scale * torch.from_numpy(rng.standard_normal(shape))).to(dtype)


def _finite(value, what):
    arr = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    expect(arr.size > 0 and np.all(np.isfinite(arr)),
           f"{what} contains inf or NaN: {describe(value)}.")
    return arr


def _context(mod, scores, values, mask=None, **kwargs):
    if mask is None and not kwargs.get("pass_none"):
        result = mod.attention.attention_context(scores, values)
    else:
        result = mod.attention.attention_context(scores, values, mask)
    return expect_tuple(result, ("context", "weights"), "attention_context")


def _score_args(rng, name, B, S, H, A, dtype):
    query, keys = _randn(rng, B, H, dtype=dtype), _randn(rng, B, S, H, dtype=dtype)
    if name == "general_score":
        return (query, keys, _randn(rng, H, H, dtype=dtype, scale=1 / math.sqrt(H)))
    if name == "additive_score":
        return (query, keys, _randn(rng, H, A, dtype=dtype, scale=1 / math.sqrt(H)),
                _randn(rng, H, A, dtype=dtype, scale=1 / math.sqrt(H)), _randn(rng, A, dtype=dtype))
    return (query, keys)


SCORE_SHAPES = [(1, 4, 3, 5), (3, 1, 4, 2), (2, 5, 7, 3), (4, 6, 6, 6), (2, 3, 1, 4)]   # (B, S, H, A)


def _compare_scores(student, ref, rng, name):
    for dtype in DTYPES:
        for B, S, H, A in SCORE_SHAPES:
            args = _score_args(rng, name, B, S, H, A, dtype)
            want = getattr(ref.attention, name)(*args)
            got = getattr(student.attention, name)(*args)
            expect_close(got, want, what=f"{name}(...) ({_name(dtype)}, B={B}, S={S}, H={H}"
                         + (f", A={A})" if name == "additive_score" else ")"), same_dtype=True, **_tol(dtype))


def _gradients_of_scores(student, ref, rng, name, names):
    args = _score_args(rng, name, 3, 4, 5, 2, torch.float64)
    upstream = _randn(rng, 3, 4)
    _, want, _ = vjp(getattr(ref.attention, name), args, upstream)
    _, got, _ = vjp(getattr(student.attention, name), args, upstream)
    expect_gradients_close(got, want, names, **GRAD_TOL)


# ---------------------------------------------------------------- softmax

@check("attention.softmax", weight=2)
def test_softmax_fixed_values(student):
    """hand-computed values on small fixed rows"""
    x = torch.tensor([[0.0, math.log(2.0), math.log(5.0)], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], dtype=torch.float64)
    expected = np.array([[0.125, 0.25, 0.625],
                         [0.09003057317, 0.244728471055, 0.665240955775],
                         [1 / 3, 1 / 3, 1 / 3]])
    expect_close(student.attention.softmax(x), expected, what="softmax(x)", rtol=1e-9)


@check("attention.softmax", weight=3)
def test_softmax_large_logits(student):
    """large logits (1000, 1001) and (-1000, -1001) in one batch neither overflow nor give NaN, float32 and float64"""
    for dtype in DTYPES:
        x = torch.tensor([[1000.0, 1001.0], [-1000.0, -1001.0], [0.0, 1.0]], dtype=dtype)
        expected = torch.tensor([[0.26894142137, 0.73105857863], [0.73105857863, 0.26894142137],
                                 [0.26894142137, 0.73105857863]], dtype=dtype)
        got = student.attention.softmax(x)
        expect_close(got, expected, what=f"softmax(x) for x = [[1000, 1001], [-1000, -1001], [0, 1]] ({_name(dtype)})",
                     **_tol(dtype))


@check("attention.softmax")
def test_softmax_wide_range(student):
    """a row spanning -1000 .. 1000: only the largest entry survives, no overflow"""
    for dtype in DTYPES:
        x = torch.tensor([[-1000.0, 0.0, 1000.0], [500.0, -500.0, 499.0]], dtype=dtype)
        expected = torch.tensor([[0.0, 0.0, 1.0], [0.73105857863, 0.0, 0.26894142137]], dtype=dtype)
        expect_close(student.attention.softmax(x), expected,
                     what=f"softmax(x) for x = [[-1000, 0, 1000], [500, -500, 499]] ({_name(dtype)})",
                     **_tol(dtype))


@check("attention.softmax", weight=2)
def test_softmax_other_dims(student, rng):
    """normalises along the dim it is given: dim=0, dim=1 and dim=-2 of a (3, 4, 5) tensor"""
    x = _randn(rng, 3, 4, 5)
    for dim in (0, 1, -2, 2):
        got = student.attention.softmax(x, dim=dim)
        expect_close(got, torch.softmax(x, dim=dim), what=f"softmax(x, dim={dim}) for x of shape (3, 4, 5)", **TOL64)


@check("attention.softmax")
def test_softmax_default_dim(student, rng):
    """without dim, normalises along the last axis"""
    x = _randn(rng, 2, 3, 4)
    expect_close(student.attention.softmax(x), torch.softmax(x, dim=-1),
                 what="softmax(x) (no dim given) for x of shape (2, 3, 4)", **TOL64)


@check("attention.softmax", kind="property")
def test_softmax_rows_sum_to_one(student, rng):
    """positive entries whose rows sum to 1, and the caller's dtype kept (float32 and float64)"""
    for dtype in DTYPES:
        x = _randn(rng, 4, 6, dtype=dtype, scale=3.0)
        got = student.attention.softmax(x, dim=-1)
        expect(isinstance(got, torch.Tensor) and got.dtype == dtype,
               f"softmax of a {_name(dtype)} tensor should be a {_name(dtype)} tensor, but it is {describe(got)}.")
        arr = _finite(got, "softmax(x)")
        expect_shape(arr, (4, 6), what="softmax(x)")
        expect(np.all(arr > 0), f"every entry of a softmax is positive, but softmax(x) = {describe(got)}.")
        expect_close(arr.sum(axis=-1), np.ones(4), what=f"the row sums of softmax(x) ({_name(dtype)})",
                     rtol=1e-5 if dtype == torch.float32 else 1e-12)


@check("attention.softmax", kind="property")
def test_softmax_shift_invariant(student, rng):
    """adding a constant to a row does not change its softmax"""
    x = _randn(rng, 3, 5)
    base = student.attention.softmax(x, dim=-1)
    shifts = torch.tensor([[7.0], [-40.0], [300.0]], dtype=torch.float64)
    expect_close(student.attention.softmax(x + shifts, dim=-1), base,
                 what="softmax(x + c) with c = 7, -40 and 300 added to the three rows (it should equal softmax(x))",
                 rtol=1e-9, atol=1e-12)


@check("attention.softmax", weight=2)
def test_softmax_matches_torch(student, rng):
    """equals torch.softmax on random inputs of several shapes and dims, float32 and float64"""
    for dtype in DTYPES:
        for shape, dim in [((2, 7), -1), ((1, 1), -1), ((4, 3, 6), 1), ((5,), 0), ((2, 3, 4, 5), -3)]:
            x = _randn(rng, *shape, dtype=dtype, scale=4.0)
            expect_close(student.attention.softmax(x, dim=dim), torch.softmax(x, dim=dim),
                         what=f"softmax(x, dim={dim}) for x of shape {shape} ({_name(dtype)})",
                         **_tol(dtype))


@check("attention.softmax", weight=2)
def test_softmax_gradients(student, ref, rng):
    """gradients through softmax equal the reference's (float64, dim=-1 and dim=0)"""
    for shape, dim in [((3, 5), -1), ((4, 2, 3), 0)]:
        x = _randn(rng, *shape, scale=2.0)
        upstream = _randn(rng, *shape)
        _, want, _ = vjp(ref.attention.softmax, (x,), upstream, kwargs={"dim": dim})
        _, got, _ = vjp(student.attention.softmax, (x,), upstream, kwargs={"dim": dim})
        expect_gradients_close(got, want, (f"x (softmax along dim={dim})",), **GRAD_TOL)


# ---------------------------------------------------------------- dot_score

def _fixed_dot():
    query = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                         [[2.0, 2.0], [-1.0, 0.0], [0.0, 3.0]]], dtype=torch.float64)
    return query, keys


@check("attention.dot_score", weight=2)
def test_dot_fixed_values(student):
    """hand-computed scores (B=2, S=3, H=2): each query is scored against its own batch element's keys"""
    got = student.attention.dot_score(*_fixed_dot())
    expect_close(got, np.array([[1.0, 2.0, 3.0], [-1.0, -0.5, -3.0]]), what="dot_score(query, keys)")


@check("attention.dot_score", kind="property")
def test_dot_shape(student, rng):
    """the scores are (B, S) with B, S and H all different"""
    got = student.attention.dot_score(_randn(rng, 2, 5), _randn(rng, 2, 3, 5))
    expect_shape(got, (2, 3), what="dot_score(query (2, 5), keys (2, 3, 5))")


@check("attention.dot_score", weight=2)
def test_dot_random(student, ref, rng):
    """random inputs: batch of one, S=1, odd H, float32 and float64"""
    _compare_scores(student, ref, rng, "dot_score")


@check("attention.dot_score")
def test_dot_is_not_scaled(student, rng):
    """no scaling: a key equal to the query scores its squared length"""
    query = _randn(rng, 3, 9)
    keys = torch.stack([query, 2 * query], dim=1)
    expect_close(student.attention.dot_score(query, keys), torch.stack([(query * query).sum(-1), 2 * (query * query).sum(-1)], 1),
                 what="dot_score(q, [q, 2q])", **TOL64)


@check("attention.dot_score")
def test_dot_gradients(student, ref, rng):
    """gradients reach query and keys and equal the reference's (float64)"""
    _gradients_of_scores(student, ref, rng, "dot_score", ("query", "keys"))


# ---------------------------------------------------------------- scaled_dot_score

@check("attention.scaled_dot_score", weight=2)
def test_scaled_fixed_values(student):
    """hand-computed scores with H=4, so sqrt(H)=2"""
    query = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 2.0, 0.0, -2.0]], dtype=torch.float64)
    keys = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [2.0, -1.0, 0.0, 3.0]],
                         [[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0], [3.0, 3.0, 3.0, 0.0]]], dtype=torch.float64)
    got = student.attention.scaled_dot_score(query, keys)
    expect_close(got, np.array([[0.5, 2.0, 2.0], [0.0, 1.0, 3.0]]), what="scaled_dot_score(query, keys)")


@check("attention.scaled_dot_score", weight=2)
def test_scaled_random(student, ref, rng):
    """random inputs: batch of one, S=1, odd H, float32 and float64"""
    _compare_scores(student, ref, rng, "scaled_dot_score")


@check("attention.scaled_dot_score", kind="property")
def test_scaled_keeps_unit_variance(student, rng):
    """for unit-variance entries the scaled scores have variance about 1, whatever H"""
    for H in (16, 256):
        query, keys = _randn(rng, 40, H), _randn(rng, 40, 50, H)
        scores = _finite(student.attention.scaled_dot_score(query, keys), f"the scores (H={H})")
        var = float(scores.var())
        expect(0.7 < var < 1.4,
               f"with H={H} and standard-normal query and keys, the variance of the scaled scores should be about 1, "
               f"but it is {var:.3g} (the plain dot product has variance H = {H}).")


@check("attention.scaled_dot_score")
def test_scaled_gradients(student, ref, rng):
    """gradients reach query and keys and equal the reference's (float64)"""
    _gradients_of_scores(student, ref, rng, "scaled_dot_score", ("query", "keys"))


# ---------------------------------------------------------------- general_score

def _fixed_general():
    query = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 1.0], [2.0, -1.0]]], dtype=torch.float64)
    W = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    return query, keys, W


@check("attention.general_score", weight=2)
def test_general_fixed_values(student):
    """hand-computed scores with a non-symmetric W = [[1, 2], [0, 1]]"""
    got = student.attention.general_score(*_fixed_general())
    expect_close(got, np.array([[2.0, 1.0], [1.0, -1.0]]), what="general_score(query, keys, W)")


@check("attention.general_score", weight=2)
def test_general_random(student, ref, rng):
    """random inputs with a random (non-symmetric) W: batch of one, S=1, odd H, float32 and float64"""
    _compare_scores(student, ref, rng, "general_score")


@check("attention.general_score")
def test_general_identity_is_dot(student, rng):
    """with W the identity it is the dot score"""
    query, keys = _randn(rng, 2, 5), _randn(rng, 2, 4, 5)
    expect_close(student.attention.general_score(query, keys, torch.eye(5, dtype=torch.float64)),
                 torch.einsum("bh,bsh->bs", query, keys), what="general_score(query, keys, identity)", **TOL64)


@check("attention.general_score")
def test_general_orientation(student):
    """s^T W h, not s^T W^T h: W[j, k] multiplies query entry j and key entry k"""
    query = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    W = torch.zeros(3, 3, dtype=torch.float64)
    W[0, 2] = 5.0
    got = student.attention.general_score(query, keys, W)
    expect_close(got, np.array([[5.0, 0.0]]),
                 what="general_score for query e_0, keys (e_2, e_0) and W with only W[0, 2] = 5")


@check("attention.general_score")
def test_general_gradients(student, ref, rng):
    """gradients reach query, keys and W and equal the reference's (float64)"""
    _gradients_of_scores(student, ref, rng, "general_score", ("query", "keys", "W"))


# ---------------------------------------------------------------- additive_score

def _fixed_additive():
    query = torch.tensor([[1.0, 0.0], [0.5, -1.0]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [-1.0, 2.0]],
                         [[2.0, 0.5], [0.0, -1.0], [1.0, 1.0]]], dtype=torch.float64)
    W_q = torch.tensor([[0.5, -1.0, 0.0], [1.0, 0.0, 2.0]], dtype=torch.float64)
    W_k = torch.tensor([[0.0, 1.0, 0.5], [-0.5, 0.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    return query, keys, W_q, W_k, v


@check("attention.additive_score", weight=2)
def test_additive_fixed_values(student):
    """hand-computed scores (B=2, S=3, H=2, A=3)"""
    got = student.attention.additive_score(*_fixed_additive())
    expected = np.array([[1.903985389889, 0.452574126822, 1.918512129714],
                         [-2.802949241876, 0.181788275273, -2.003576533108]])
    expect_close(got, expected, what="additive_score(query, keys, W_q, W_k, v)", rtol=1e-9)


@check("attention.additive_score", kind="property")
def test_additive_shape(student, rng):
    """the scores are (B, S) when the attention size A differs from H"""
    B, S, H, A = 2, 3, 4, 7
    got = student.attention.additive_score(_randn(rng, B, H), _randn(rng, B, S, H), _randn(rng, H, A),
                                           _randn(rng, H, A), _randn(rng, A))
    expect_shape(got, (B, S), what="additive_score with B=2, S=3, H=4, A=7")


@check("attention.additive_score", weight=2)
def test_additive_random(student, ref, rng):
    """random inputs with A != H: batch of one, S=1, odd H, float32 and float64"""
    _compare_scores(student, ref, rng, "additive_score")


@check("attention.additive_score")
def test_additive_query_and_key_roles(student, rng):
    """W_q acts on the query and W_k on the keys: a zero W_k leaves v . tanh(s W_q) for every key"""
    query, keys = _randn(rng, 2, 3), _randn(rng, 2, 4, 3)
    W_q, v = _randn(rng, 3, 5), _randn(rng, 5)
    got = student.attention.additive_score(query, keys, W_q, torch.zeros(3, 5, dtype=torch.float64), v)
    want = (torch.tanh(query @ W_q) @ v)[:, None].expand(2, 4)
    expect_close(got, want, what="additive_score with W_k = 0 (every key should get v . tanh(query W_q))", **TOL64)


@check("attention.additive_score", kind="property")
def test_additive_is_bounded(student, rng):
    """the tanh bounds every score by sum |v|, however large the inputs"""
    query, keys = _randn(rng, 2, 4, scale=50.0), _randn(rng, 2, 5, 4, scale=50.0)
    v = _randn(rng, 3)
    scores = _finite(student.attention.additive_score(query, keys, _randn(rng, 4, 3), _randn(rng, 4, 3), v),
                     "the scores for large inputs")
    bound = float(v.abs().sum())
    expect(np.abs(scores).max() <= bound * (1 + 1e-9),
           f"each hidden unit is a tanh in [-1, 1], so |score| <= sum |v| = {bound:.4g}; "
           f"but a score of {np.abs(scores).max():.4g} came back for large inputs. Is the tanh missing?")


@check("attention.additive_score")
def test_additive_gradients(student, ref, rng):
    """gradients reach query, keys, W_q, W_k and v and equal the reference's (float64)"""
    _gradients_of_scores(student, ref, rng, "additive_score", ("query", "keys", "W_q", "W_k", "v"))


# ---------------------------------------------------------------- attention_context
#
# A fully masked row (every key masked) is an edge case of its own: the contract gives it
# zero weights, a zero context and zero gradients, and only test_context_fully_masked_rows
# asks for that. Every other check keeps at least one key in each row, so code that fills
# masked scores with -1e9 (right everywhere else) loses that one check and no other.

def _fixed_context():
    scores = torch.tensor([[0.0, math.log(3.0), math.log(4.0)], [1.0, 1.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[[8.0, 0.0], [0.0, 8.0], [2.0, 2.0]],
                           [[3.0, 0.0], [0.0, 3.0], [3.0, 3.0]]], dtype=torch.float64)
    return scores, values


def _random_mask(rng, B, S):
    """A (B, S) mask with an unmasked row, a single-key row and random rows; every row keeps a key."""
    mask = rng.random((B, S)) < 0.6
    mask[np.arange(B), rng.integers(0, S, size=B)] = True
    mask[0] = True
    mask[1] = False
    mask[1, S - 1] = True
    return torch.from_numpy(mask)


def _is_in_place_error(exc):
    """Whether autograd refused an in-place change of a leaf input (the learner's code changed its input)."""
    return "in-place operation" in str(exc)


def _student_context_gradients(student, scores, values, upstream, kwargs, output):
    """The learner's gradients of (scores, values). Code that changes an input in place cannot
    run backward from inputs that require grad; test_context_does_not_modify_inputs names that
    mistake, so here such code has its gradients measured by central differences instead."""
    fn = student.attention.attention_context
    try:
        return vjp(fn, (scores, values), upstream, kwargs=kwargs, output=output)[1]
    except Exception as exc:
        if not _is_in_place_error(exc):
            raise
    moved = [scores.numpy().copy(), values.numpy().copy()]

    def call():
        # fresh copies each time: the learner's code may change what it is given
        return fn(torch.from_numpy(moved[0].copy()), torch.from_numpy(moved[1].copy()), **kwargs)[output]

    return tuple(torch.from_numpy(numerical_gradient(call, x, upstream.numpy(), h=1e-6)) for x in moved)


@check("attention.attention_context", weight=2)
def test_context_fixed_values(student):
    """hand-computed weights and context without a mask (B=2, S=3, H=2)"""
    context, weights = _context(student, *_fixed_context())
    expect_close(weights, np.array([[0.125, 0.375, 0.5], [1 / 3, 1 / 3, 1 / 3]]), what="weights")
    expect_close(context, np.array([[2.0, 4.0], [2.0, 2.0]]), what="context")


@check("attention.attention_context", weight=2)
def test_context_fixed_values_masked(student):
    """hand-computed weights and context with mask [[True, False, True], [False, True, True]]"""
    mask = torch.tensor([[True, False, True], [False, True, True]])
    context, weights = _context(student, *_fixed_context(), mask)
    expect_close(weights, np.array([[0.2, 0.0, 0.8], [0.0, 0.5, 0.5]]), what="weights")
    expect_close(context, np.array([[3.2, 1.6], [1.5, 3.0]]), what="context")


@check("attention.attention_context", weight=2)
def test_context_random(student, ref, rng):
    """random inputs without a mask: batch of one, S=1, odd H, float32 and float64"""
    for dtype in DTYPES:
        for B, S, H in [(1, 4, 3), (3, 1, 4), (2, 5, 7), (4, 6, 6)]:
            scores, values = _randn(rng, B, S, dtype=dtype, scale=2.0), _randn(rng, B, S, H, dtype=dtype)
            want_c, want_w = _context(ref, scores, values)
            got_c, got_w = _context(student, scores, values)
            shape = f"({_name(dtype)}, B={B}, S={S}, H={H})"
            expect_close(got_w, want_w, what=f"weights {shape}", same_dtype=True, **_tol(dtype))
            expect_close(got_c, want_c, what=f"context {shape}", same_dtype=True, **_tol(dtype))


@check("attention.attention_context", weight=2)
def test_context_random_masked(student, ref, rng):
    """random inputs with a mask (an unmasked row, a single-key row, random rows), float32 and float64"""
    for dtype in DTYPES:
        for B, S, H in [(5, 6, 3), (4, 3, 5)]:
            scores, values = _randn(rng, B, S, dtype=dtype, scale=2.0), _randn(rng, B, S, H, dtype=dtype)
            mask = _random_mask(rng, B, S)
            want_c, want_w = _context(ref, scores, values, mask)
            got_c, got_w = _context(student, scores, values, mask)
            shape = f"({_name(dtype)}, B={B}, S={S}, H={H}, mask = {mask.int().tolist()})"
            expect_close(got_w, want_w, what=f"weights {shape}", same_dtype=True, **_tol(dtype))
            expect_close(got_c, want_c, what=f"context {shape}", same_dtype=True, **_tol(dtype))


@check("attention.attention_context")
def test_context_is_weighted_sum(student, rng):
    """the weights are a distribution over S and the context is their weighted sum of the values"""
    scores, values = _randn(rng, 3, 5, scale=2.0), _randn(rng, 3, 5, 4)
    context, weights = _context(student, scores, values)
    w = _finite(weights, "weights")
    expect_shape(w, (3, 5), what="weights")
    expect_shape(context, (3, 4), what="context")
    expect(np.all(w >= 0), f"attention weights must be non-negative, but weights = {describe(weights)}.")
    expect_close(w.sum(axis=1), np.ones(3), what="the sum of each row of weights", rtol=1e-9)
    expect_close(context, np.einsum("bs,bsh->bh", w, values.numpy()),
                 what="context (it should be sum over i of weights[b, i] * values[b, i], with your weights)",
                 rtol=1e-9, atol=1e-12)


@check("attention.attention_context")
def test_context_matches_torch_softmax(student, rng):
    """without a mask the weights equal torch.softmax of the scores, also for scores in the thousands"""
    scores, values = _randn(rng, 3, 4, scale=1000.0), _randn(rng, 3, 4, 2)
    _, weights = _context(student, scores, values)
    expect_close(weights, torch.softmax(scores, dim=-1), what="weights (scores of size about 1000)", **TOL64)


@check("attention.attention_context", kind="property")
def test_context_none_mask(student, rng):
    """mask=None and an all-True mask give the same result as no mask"""
    scores, values = _randn(rng, 2, 4), _randn(rng, 2, 4, 3)
    want_c, want_w = _context(student, scores, values)
    for label, mask in (("mask=None", None), ("an all-True mask", torch.ones(2, 4, dtype=torch.bool))):
        got_c, got_w = _context(student, scores, values, mask, pass_none=True)
        expect_close(got_w, want_w, what=f"weights with {label}", **TOL64)
        expect_close(got_c, want_c, what=f"context with {label}", **TOL64)


@check("attention.attention_context", weight=2)
def test_context_masked_keys_ignored(student, rng):
    """masked keys get weight 0, the others still sum to 1, and changing masked scores or values changes nothing"""
    B, S, H = 3, 5, 4
    scores, values = _randn(rng, B, S), _randn(rng, B, S, H)
    mask = torch.tensor([[True, False, True, True, False],
                         [False, True, False, False, False],
                         [True, True, True, True, False]])
    context, weights = _context(student, scores, values, mask)
    w = _finite(weights, "weights")
    expect_shape(w, (B, S), what="weights")
    expect(np.all(w[~mask.numpy()] == 0),
           f"masked keys (mask False) must get weight exactly 0, but for mask = {mask.int().tolist()} "
           f"weights = {describe(weights, small=15)}.")
    expect_close(w.sum(axis=1), np.ones(B), what="the sum of each row of weights (over the keys that may be attended to)",
                 rtol=1e-9)
    changed_scores = scores.masked_fill(~mask, 50.0)
    changed_values = values.masked_fill(~mask[..., None], 1e6)
    context2, weights2 = _context(student, changed_scores, changed_values, mask)
    expect_close(weights2, weights, what="weights after changing the scores of masked keys to 50 "
                 "(they should not change)", **TOL64)
    expect_close(context2, context, what="context after changing the scores of masked keys to 50 and their values "
                 "to 1e6 (it should not change)", **TOL64)


@check("attention.attention_context", weight=2)
def test_context_fully_masked_rows(student, rng):
    """a fully masked row gets zero weights, a zero context and zero gradients, never NaN; other rows are unaffected"""
    mask = torch.tensor([[True, True, False, True], [False, False, False, False], [True, True, True, True]])
    for dtype in DTYPES:
        scores, values = _randn(rng, 3, 4, dtype=dtype), _randn(rng, 3, 4, 2, dtype=dtype)
        context, weights = _context(student, scores, values, mask)
        expect(isinstance(weights, torch.Tensor) and isinstance(context, torch.Tensor),
               f"context and weights should be tensors, but they are {describe(context)} and {describe(weights)}.")
        w, c = weights.double().numpy(), context.double().numpy()
        expect_shape(w, (3, 4), what="weights")
        expect_shape(c, (3, 2), what="context")
        expect(not np.isnan(w).any() and not np.isnan(c).any(),
               f"a fully masked row must give zero weights and a zero context, not NaN ({_name(dtype)}): "
               f"weights = {describe(weights)}, context = {describe(context)}. softmax of a row that is all -inf "
               "is 0/0: give masked entries a very negative finite score, or zero the row afterwards.")
        uniform = (" (1/S each: a very negative fill alone leaves such a row uniform; set the masked weights to 0 "
                   "after the softmax)") if np.allclose(w[1], 0.25) else ""
        expect(np.allclose(w[1], 0.0, rtol=0, atol=1e-8),
               f"row 1 has every key masked ({_name(dtype)}), so its weights should be all 0, but they are "
               f"{describe(weights[1])}{uniform}.")
        expect_close(c[1], np.zeros(2), what=f"context[1] (every key masked, {_name(dtype)})")
        expect_close(w[2], torch.softmax(scores[2].double(), -1), what=f"weights[2] (no key masked, {_name(dtype)})",
                     **_tol(dtype))
    scores, values = _randn(rng, 3, 4), _randn(rng, 3, 4, 2)
    for output, name, shape in ((0, "context", (3, 2)), (1, "weights", (3, 4))):
        upstream = _randn(rng, *shape)
        grads = _student_context_gradients(student, scores, values, upstream, {"mask": mask}, output)
        for what, grad in zip(("scores", "values"), grads):
            if grad is None:
                continue                                # a missing gradient is the gradient check's concern
            _expect_no_nan_gradient(grad, f"{what} (from the {name}, mask = {mask.int().tolist()})")
            expect_close(grad[1], torch.zeros_like(grad[1]),
                         what=f"the gradient of {what}[1] (from the {name}; every key of row 1 is masked, so "
                              "nothing flows back to it)")


@check("attention.attention_context", weight=3)
def test_context_gradients(student, ref, rng):
    """gradients to scores and values equal the reference's, with and without a mask (float64)"""
    B, S, H = 5, 4, 3
    scores, values = _randn(rng, B, S, scale=2.0), _randn(rng, B, S, H)
    mask = _random_mask(rng, B, S)
    for label, kwargs in (("no mask", {}), (f"mask = {mask.int().tolist()}", {"mask": mask})):
        for output, name, shape in ((0, "context", (B, H)), (1, "weights", (B, S))):
            upstream = _randn(rng, *shape)
            _, want, _ = vjp(ref.attention.attention_context, (scores, values), upstream, kwargs=kwargs, output=output)
            got = _student_context_gradients(student, scores, values, upstream, kwargs, output)
            expect_gradients_close(got, want, (f"scores (from the {name}, {label})", f"values (from the {name}, {label})"),
                                   **GRAD_TOL)


@check("attention.attention_context", kind="property")
def test_context_does_not_modify_inputs(student, rng):
    """the inputs are not modified in place"""
    scores, values = _randn(rng, 3, 4), _randn(rng, 3, 4, 2)
    mask = torch.tensor([[True, False, True, True], [True, True, True, True], [False, True, False, True]])
    for label, mask_or_none in (("a mask", mask), ("no mask", None)):
        before = (scores.clone(), values.clone(), mask.clone())
        # In the worker the caller's tensors are out of reach, but autograd refuses to change
        # an input that requires grad in place, there as here.
        try:
            _context(student, scores.clone().requires_grad_(True), values.clone().requires_grad_(True),
                     mask_or_none)
        except Exception as exc:
            if _is_in_place_error(exc):
                raise CheckFailed(
                    f"attention_context(scores, values, mask) with {label} changed its input in place: called "
                    f"with scores and values that require grad, it raised {exc}\nBuild new tensors "
                    "(scores.masked_fill(~mask, ...), not masked_fill_ or scores[...] = ...): the caller still "
                    "needs its scores.") from None
        # Under plain pytest the caller's tensors are these very ones: compare them with copies.
        _context(student, scores, values, mask_or_none)
        for what, now, then in zip(("scores", "values", "mask"), (scores, values, mask), before):
            expect(torch.equal(now, then), f"attention_context(scores, values, mask) with {label} changed {what} "
                                           f"in place: it was {describe(then)} and is now {describe(now)}.")


def _expect_no_nan_gradient(grad, name):
    if isinstance(grad, torch.Tensor) and torch.isnan(grad).any():
        rows = sorted({int(i) for i in torch.nonzero(torch.isnan(grad))[:, 0]})
        raise CheckFailed(
            f"the gradient of {name} contains NaN in row(s) {rows}. A row whose keys are all masked "
            "must not produce NaN in the backward pass either: if its scores become -inf, the softmax "
            "computes 0/0 there, and patching the forward result afterwards (nan_to_num, where) does not "
            "remove the NaN from the gradient. Give masked scores a very negative FINITE value "
            "(torch.finfo(scores.dtype).min) with masked_fill, and zero the masked weights afterwards.")


# ---------------------------------------------------------------- attentional_hidden

def _fixed_hidden():
    context = torch.tensor([[1.0, 0.0], [0.5, -0.5]], dtype=torch.float64)
    state = torch.tensor([[0.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    W_c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    return context, state, W_c


@check("attention.attentional_hidden", weight=2)
def test_hidden_fixed_values(student):
    """hand-computed values (B=2, H=2) with a non-symmetric W_c"""
    got = student.attention.attentional_hidden(*_fixed_hidden())
    expected = np.array([[0.761594155956, -0.761594155956], [0.986614298151, -0.986614298151]])
    expect_close(got, expected, what="attentional_hidden(context, state, W_c)", rtol=1e-9)


@check("attention.attentional_hidden", weight=2)
def test_hidden_random(student, ref, rng):
    """random inputs: batch of one, odd H, float32 and float64"""
    for dtype in DTYPES:
        for B, H in [(1, 3), (4, 5), (2, 8), (3, 1)]:
            args = (_randn(rng, B, H, dtype=dtype), _randn(rng, B, H, dtype=dtype),
                    _randn(rng, 2 * H, H, dtype=dtype, scale=1 / math.sqrt(2 * H)))
            want = ref.attention.attentional_hidden(*args)
            got = student.attention.attentional_hidden(*args)
            expect_close(got, want, what=f"the attentional hidden state ({_name(dtype)}, B={B}, H={H})",
                         same_dtype=True, **_tol(dtype))


@check("attention.attentional_hidden", weight=2)
def test_hidden_concatenation_order(student, rng):
    """[context; state]: the first H rows of W_c act on the context, the last H rows on the state"""
    B, H = 2, 3
    context, state, W_c = _randn(rng, B, H), _randn(rng, B, H), _randn(rng, 2 * H, H, scale=0.5)
    zeros = torch.zeros(B, H, dtype=torch.float64)
    expect_close(student.attention.attentional_hidden(context, zeros, W_c), torch.tanh(context @ W_c[:H]),
                 what="attentional_hidden(context, zero state, W_c) (should be tanh(context W_c[:H]))", **TOL64)
    expect_close(student.attention.attentional_hidden(zeros, state, W_c), torch.tanh(state @ W_c[H:]),
                 what="attentional_hidden(zero context, state, W_c) (should be tanh(state W_c[H:]))", **TOL64)


@check("attention.attentional_hidden")
def test_hidden_saturates(student, rng):
    """large inputs saturate to +-1 (the tanh), without overflow"""
    B, H = 2, 4
    context, state = _randn(rng, B, H, scale=100.0), _randn(rng, B, H, scale=100.0)
    W_c = _randn(rng, 2 * H, H)
    got = _finite(student.attention.attentional_hidden(context, state, W_c), "the attentional hidden state")
    expect(np.abs(got).max() <= 1.0,
           f"tanh keeps every entry in [-1, 1], but the largest |entry| is {np.abs(got).max():.4g}. Is the tanh missing?")
    expect_close(got, torch.tanh(torch.cat([context, state], -1) @ W_c), what="the attentional hidden state", **TOL64)


@check("attention.attentional_hidden")
def test_hidden_gradients(student, ref, rng):
    """gradients reach context, state and W_c and equal the reference's (float64)"""
    B, H = 3, 4
    args = (_randn(rng, B, H), _randn(rng, B, H), _randn(rng, 2 * H, H, scale=0.5))
    upstream = _randn(rng, B, H)
    _, want, _ = vjp(ref.attention.attentional_hidden, args, upstream)
    _, got, _ = vjp(student.attention.attentional_hidden, args, upstream)
    expect_gradients_close(got, want, ("context", "state", "W_c"), **GRAD_TOL)
