"""Checks of the attention module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import math

import numpy as np
import torch

from grader.checks import check, describe, expect, expect_close, expect_shape, expect_tuple


def _randn(rng, *shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _context(student, *args):
    return expect_tuple(student.attention.attention_context(*args), ("context", "weights"), "attention_context")


# ---------------------------------------------------------------- softmax

@check("attention.softmax", weight=2)
def test_softmax_tiny_example(student):
    """softmax([0, ln 2, ln 5]) = [1/8, 2/8, 5/8]"""
    x = torch.tensor([[0.0, math.log(2.0), math.log(5.0)]], dtype=torch.float64)
    expect_close(student.attention.softmax(x), np.array([[0.125, 0.25, 0.625]]), what="softmax(x)")


@check("attention.softmax", weight=2)
def test_visible_softmax_large_logits(student):
    """large logits (1000, 1001) and (-1000, -1001) do not overflow"""
    x = torch.tensor([[1000.0, 1001.0], [-1000.0, -1001.0]], dtype=torch.float64)
    expect_close(student.attention.softmax(x), np.array([[0.26894142137, 0.73105857863],
                                                         [0.73105857863, 0.26894142137]]),
                 what="softmax(x) for x = [[1000, 1001], [-1000, -1001]]")


@check("attention.softmax")
def test_softmax_dim0(student, rng):
    """dim=0: the softmax runs down the columns"""
    x = _randn(rng, 3, 4)
    expect_close(student.attention.softmax(x, dim=0), torch.softmax(x, dim=0), what="softmax(x, dim=0) for x (3, 4)")


@check("attention.softmax", kind="property")
def test_softmax_float32(student, rng):
    """float32 in, float32 out"""
    got = student.attention.softmax(_randn(rng, 3, 4, dtype=torch.float32))
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.float32,
           f"softmax of a float32 tensor should be a float32 tensor, but it is {describe(got)}.")


# ---------------------------------------------------------------- scores

@check("attention.dot_score", weight=2)
def test_dot_tiny_example(student):
    """a tiny example (B=2, S=3, H=2)"""
    query = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                         [[2.0, 2.0], [-1.0, 0.0], [0.0, 3.0]]], dtype=torch.float64)
    expect_close(student.attention.dot_score(query, keys), np.array([[1.0, 2.0, 3.0], [-1.0, -0.5, -3.0]]),
                 what="dot_score(query, keys)")


@check("attention.dot_score", kind="property")
def test_visible_dot_shape(student, rng):
    """the scores are (B, S) with B, S and H all different"""
    expect_shape(student.attention.dot_score(_randn(rng, 2, 5), _randn(rng, 2, 3, 5)), (2, 3),
                 what="dot_score(query (2, 5), keys (2, 3, 5))")


@check("attention.scaled_dot_score", weight=2)
def test_scaled_tiny_example(student):
    """H=4, so the dot products are divided by sqrt(4) = 2"""
    query = torch.tensor([[1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    keys = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [2.0, -1.0, 0.0, 3.0]]], dtype=torch.float64)
    expect_close(student.attention.scaled_dot_score(query, keys), np.array([[0.5, 2.0, 2.0]]),
                 what="scaled_dot_score(query, keys)")


@check("attention.general_score", weight=2)
def test_general_tiny_example(student):
    """a non-symmetric W = [[1, 2], [0, 1]]: s^T W h, not s^T W^T h"""
    query = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 1.0], [2.0, -1.0]]], dtype=torch.float64)
    W = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    expect_close(student.attention.general_score(query, keys, W), np.array([[2.0, 1.0], [1.0, -1.0]]),
                 what="general_score(query, keys, W)")


@check("attention.additive_score", weight=2)
def test_additive_tiny_example(student):
    """a tiny example with A=3 != H=2"""
    query = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    keys = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [-1.0, 2.0]]], dtype=torch.float64)
    W_q = torch.tensor([[0.5, -1.0, 0.0], [1.0, 0.0, 2.0]], dtype=torch.float64)
    W_k = torch.tensor([[0.0, 1.0, 0.5], [-0.5, 0.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    expect_close(student.attention.additive_score(query, keys, W_q, W_k, v),
                 np.array([[1.903985389889, 0.452574126822, 1.918512129714]]),
                 what="additive_score(query, keys, W_q, W_k, v)", rtol=1e-9)


@check("attention.additive_score", kind="property")
def test_visible_additive_shape(student, rng):
    """the scores are (B, S) when A differs from H"""
    got = student.attention.additive_score(_randn(rng, 2, 4), _randn(rng, 2, 3, 4), _randn(rng, 4, 7),
                                           _randn(rng, 4, 7), _randn(rng, 7))
    expect_shape(got, (2, 3), what="additive_score with B=2, S=3, H=4, A=7")


# ---------------------------------------------------------------- attention_context

def _tiny_context():
    scores = torch.tensor([[0.0, math.log(3.0), math.log(4.0)], [1.0, 1.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[[8.0, 0.0], [0.0, 8.0], [2.0, 2.0]],
                           [[3.0, 0.0], [0.0, 3.0], [3.0, 3.0]]], dtype=torch.float64)
    return scores, values


@check("attention.attention_context", weight=2)
def test_context_tiny_example(student):
    """weights [1/8, 3/8, 4/8] and [1/3, 1/3, 1/3], and their weighted sums of the values"""
    context, weights = _context(student, *_tiny_context())
    expect_close(weights, np.array([[0.125, 0.375, 0.5], [1 / 3, 1 / 3, 1 / 3]]), what="weights")
    expect_close(context, np.array([[2.0, 4.0], [2.0, 2.0]]), what="context")


@check("attention.attention_context", weight=2)
def test_context_masked(student):
    """a masked key gets weight 0 and the others share the weight 1"""
    mask = torch.tensor([[True, False, True], [False, True, True]])
    context, weights = _context(student, *_tiny_context(), mask)
    expect_close(weights, np.array([[0.2, 0.0, 0.8], [0.0, 0.5, 0.5]]), what="weights")
    expect_close(context, np.array([[3.2, 1.6], [1.5, 3.0]]), what="context")


@check("attention.attention_context")
def test_context_fully_masked_row(student):
    """a fully masked row gets zero weights and a zero context (no NaN)"""
    mask = torch.tensor([[True, False, True], [False, False, False]])
    context, weights = _context(student, *_tiny_context(), mask)
    expect_close(weights, np.array([[0.2, 0.0, 0.8], [0.0, 0.0, 0.0]]), what="weights")
    expect_close(context, np.array([[3.2, 1.6], [0.0, 0.0]]), what="context")


@check("attention.attention_context", kind="property")
def test_context_keeps_inputs(student):
    """the inputs are not modified in place"""
    scores, values = _tiny_context()
    mask = torch.tensor([[True, False, True], [False, True, True]])
    try:
        # autograd refuses to change an input that requires grad in place
        _context(student, scores.clone().requires_grad_(True), values.clone().requires_grad_(True), mask)
    except Exception as exc:
        if "in-place operation" in str(exc):
            expect(False, f"attention_context changed its input in place: with scores that require grad it "
                          f"raised {exc}\nBuild new tensors, e.g. scores.masked_fill(~mask, ...), not "
                          "masked_fill_ or scores[...] = ...")
    before = scores.clone()
    _context(student, scores, values, mask)
    expect(torch.equal(scores, before), f"attention_context changed scores in place: it was {describe(before)} "
                                        f"and is now {describe(scores)}.")


# ---------------------------------------------------------------- attentional_hidden

@check("attention.attentional_hidden", weight=2)
def test_hidden_tiny_example(student):
    """tanh([context; state] W_c) with context first"""
    context = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    state = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    W_c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    expect_close(student.attention.attentional_hidden(context, state, W_c),
                 np.array([[0.761594155956, -0.761594155956]]), what="attentional_hidden(context, state, W_c)",
                 rtol=1e-9)


@check("attention.attentional_hidden", kind="property")
def test_hidden_float32(student, rng):
    """float32 in, float32 out, shape (B, H)"""
    got = student.attention.attentional_hidden(_randn(rng, 3, 5, dtype=torch.float32),
                                               _randn(rng, 3, 5, dtype=torch.float32),
                                               _randn(rng, 10, 5, dtype=torch.float32))
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.float32,
           f"a float32 input should give a float32 result, but it is {describe(got)}.")
    expect_shape(got, (3, 5), what="attentional_hidden")
