"""Checks of the self_attention module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import math

import numpy as np
import torch

from grader.checks import check, expect, expect_close, expect_shape, expect_tuple


def _sdpa(student, q, k, v, mask=None):
    result = student.self_attention.scaled_dot_product_attention(q, k, v, mask=mask)
    return expect_tuple(result, ("output", "weights"), "scaled_dot_product_attention")


def _example():
    """d_k = 4, so sqrt(d_k) = 2: the scores of query 0 are [0, ln 2, ln 3], those of query 1 are all 0."""
    q = torch.tensor([[[2 * math.log(2), 2 * math.log(3), 0.0, 0.0],
                       [0.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)
    k = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]], dtype=torch.float64)
    v = torch.tensor([[[6.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]]], dtype=torch.float64)
    return q, k, v


@check("self_attention.scaled_dot_product_attention", weight=2)
def test_small_example(student):
    """a small example: T_q=2, T_k=3, d_k=4, d_v=3"""
    out, w = _sdpa(student, *_example())
    expect_close(w, np.array([[[1 / 6, 2 / 6, 3 / 6], [1 / 3, 1 / 3, 1 / 3]]]), what="the weights")
    expect_close(out, np.array([[[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]]]), what="the output")


@check("self_attention.scaled_dot_product_attention", weight=2)
def test_small_example_masked(student):
    """the same example with a mask: masked keys get weight 0"""
    mask = torch.tensor([[True, True, False], [True, False, True]])
    out, w = _sdpa(student, *_example(), mask=mask)
    expect_close(w, np.array([[[1 / 3, 2 / 3, 0.0], [0.5, 0.0, 0.5]]]), what="the weights")
    expect_close(out, np.array([[[2.0, 4.0, 0.0], [3.0, 0.0, 3.0]]]), what="the output")


@check("self_attention.scaled_dot_product_attention")
def test_query_that_may_attend_to_nothing(student):
    """a query whose keys are all masked gets zero weights and a zero output, not NaN"""
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out, w = _sdpa(student, *_example(), mask=mask)
    expect_close(w, np.array([[[1 / 3, 2 / 3, 0.0], [0.0, 0.0, 0.0]]]), what="the weights")
    expect_close(out, np.array([[[2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]]), what="the output")


@check("self_attention.scaled_dot_product_attention", kind="property")
def test_shapes(student, rng):
    """shapes with heads: q (2, 3, 4, 5), k (2, 3, 6, 5), v (2, 3, 6, 7)"""
    q = torch.from_numpy(rng.standard_normal((2, 3, 4, 5)))
    k = torch.from_numpy(rng.standard_normal((2, 3, 6, 5)))
    v = torch.from_numpy(rng.standard_normal((2, 3, 6, 7)))
    out, w = _sdpa(student, q, k, v)
    expect_shape(w, (2, 3, 4, 6), what="the weights")
    expect_shape(out, (2, 3, 4, 7), what="the output")
    expect_close(np.asarray(w).sum(axis=-1), np.ones((2, 3, 4)), what="the sum of each query's weights")


@check("self_attention.scaled_dot_product_attention")
def test_causal(student, rng):
    """with a causal mask, the last key and value do not change the first outputs"""
    q, k, v = (torch.from_numpy(rng.standard_normal((1, 4, 3))) for _ in range(3))
    mask = torch.ones(4, 4, dtype=torch.bool).tril()
    out, _ = _sdpa(student, q, k, v, mask=mask)
    k2, v2 = k.clone(), v.clone()
    k2[0, 3] += 5.0
    v2[0, 3] -= 5.0
    out2, _ = _sdpa(student, q, k2, v2, mask=mask)
    expect_close(np.asarray(out2)[0, :3], np.asarray(out)[0, :3],
                 what="the outputs of positions 0..2 after changing the key and value of position 3 "
                      "(compared with your outputs before)")
    expect(not np.allclose(np.asarray(out2)[0, 3], np.asarray(out)[0, 3]),
           "the output of position 3 did not change when its own key and value changed.")
