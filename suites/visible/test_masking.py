"""Checks of the masking module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import math

import numpy as np
import torch

from grader.checks import check, describe, expect, expect_close, expect_equal


def _expect_tensor(value, what):
    expect(isinstance(value, torch.Tensor), f"{what} should be a torch tensor, but it is {describe(value)}.")


def _expect_bool_tensor(value, what):
    _expect_tensor(value, what)
    expect(value.dtype == torch.bool,
           f"{what} has dtype {str(value.dtype).replace('torch.', '')}; a mask is bool (True = may attend).")


# ---------------------------------------------------------------- causal_mask

@check("masking.causal_mask", weight=2)
def test_causal_size_3(student):
    """causal_mask(3): True on and below the diagonal"""
    got = student.masking.causal_mask(3)
    _expect_tensor(got, "causal_mask(3)")
    expect_equal(got, np.array([[True, False, False], [True, True, False], [True, True, True]]),
                 what="causal_mask(3)")


@check("masking.causal_mask")
def test_causal_size_1_and_device(student):
    """causal_mask(1) is [[True]], and device="cpu" works"""
    expect_equal(student.masking.causal_mask(1), np.array([[True]]), what="causal_mask(1)")
    expect_equal(student.masking.causal_mask(2, device="cpu"), np.array([[True, False], [True, True]]),
                 what='causal_mask(2, device="cpu")')


@check("masking.causal_mask", kind="property")
def test_causal_is_bool(student):
    """the causal mask is a bool tensor"""
    _expect_bool_tensor(student.masking.causal_mask(3), "causal_mask(3)")


# ---------------------------------------------------------------- padding_mask

@check("masking.padding_mask", weight=2)
def test_padding_example(student):
    """a batch of two sequences padded with 0 at the end: shape (B, 1, T), True at real tokens"""
    tokens = torch.tensor([[5, 7, 2, 0], [3, 0, 0, 0]])
    got = student.masking.padding_mask(tokens, 0)
    _expect_tensor(got, "the padding mask")
    expect_equal(got, np.array([[[True, True, True, False]], [[True, False, False, False]]]),
                 what="padding_mask(tokens, 0)")


@check("masking.padding_mask", kind="property")
def test_padding_is_bool(student):
    """the padding mask is a bool tensor"""
    _expect_bool_tensor(student.masking.padding_mask(torch.tensor([[5, 7, 0]]), 0), "the padding mask")


@check("masking.padding_mask")
def test_padding_other_pad_id(student):
    """pad_id = 1: token 0 is a real token"""
    tokens = torch.tensor([[0, 4, 1, 1]])
    expect_equal(student.masking.padding_mask(tokens, 1), np.array([[[True, True, False, False]]]),
                 what="padding_mask(tokens, 1)")


# ---------------------------------------------------------------- masked_softmax

@check("masking.masked_softmax", weight=2)
def test_softmax_example(student):
    """a small example: masked entries get 0, the others share the weight 1"""
    scores = torch.tensor([[0.0, math.log(2), math.log(3), 5.0],
                           [0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    expect_close(student.masking.masked_softmax(scores, mask),
                 np.array([[1 / 6, 2 / 6, 3 / 6, 0.0], [0.25, 0.25, 0.25, 0.25]]), what="the weights")


@check("masking.masked_softmax", weight=2)
def test_softmax_fully_masked_row(student):
    """a row whose entries are all masked is all 0, never NaN"""
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    mask = torch.tensor([[False, False, False], [True, False, True]])
    e = math.exp(2.0)
    expect_close(student.masking.masked_softmax(scores, mask),
                 np.array([[0.0, 0.0, 0.0], [1 / (1 + e), 0.0, e / (1 + e)]]), what="the weights")


@check("masking.masked_softmax")
def test_visible_softmax_mask_none(student):
    """mask=None is a plain softmax"""
    scores = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
    expect_close(student.masking.masked_softmax(scores, None), torch.softmax(scores, dim=-1), what="the weights")


@check("masking.masked_softmax")
def test_softmax_large_scores(student):
    """large scores (1000, 1001, 1002) do not overflow"""
    scores = torch.tensor([[1000.0, 1001.0, 1002.0]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    e = math.exp(2.0)
    expect_close(student.masking.masked_softmax(scores, mask), np.array([[1 / (1 + e), 0.0, e / (1 + e)]]),
                 what="the weights")


@check("masking.masked_softmax", kind="property")
def test_softmax_keeps_float32(student):
    """float32 in, float32 out"""
    scores = torch.zeros(2, 4, dtype=torch.float32)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    got = student.masking.masked_softmax(scores, mask)
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.float32,
           f"masked_softmax of float32 scores returned {describe(got)}; it should be a float32 tensor.")


@check("masking.masked_softmax")
def test_softmax_padding_mask_broadcast(student):
    """a padding mask (B, 1, T) broadcasts over the queries of scores (B, T_q, T_k)"""
    scores = torch.zeros(2, 3, 4, dtype=torch.float64)
    mask = torch.tensor([[[True, True, False, False]], [[True, True, True, True]]])
    expected = np.broadcast_to(np.array([[[0.5, 0.5, 0.0, 0.0]], [[0.25, 0.25, 0.25, 0.25]]]), (2, 3, 4))
    expect_close(student.masking.masked_softmax(scores, mask), expected, what="the weights")
