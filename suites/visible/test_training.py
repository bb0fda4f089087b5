"""Checks of the training module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.checks import check, describe, expect, expect_close, expect_gradients_close, to_numpy, vjp


def _torch_ce(logits, target, **kw):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), **kw)


def _expect_loss(got, want, call, **tol):
    # any single number is read here: the type and shape have a check of their own
    value = to_numpy(got)
    expect(np.size(value) == 1 and np.asarray(value).dtype.kind in "fiu",
           f"{call} returned {describe(got)}; the loss should be a single number, a 0-dim torch tensor.")
    expect_close(float(np.asarray(value).reshape(())), float(want), what=f"the loss of {call}", **tol)


# ---------------------------------------------------------------- cross_entropy

@check("training.cross_entropy", weight=2)
def test_ce_tiny_example(student):
    """a tiny example: p = (1/6, 2/6, 3/6) and (4/6, 1/6, 1/6), the third position ignored"""
    ln2, ln3, ln4 = math.log(2), math.log(3), math.log(4)
    logits = torch.tensor([[0.0, ln2, ln3], [ln4, 0.0, 0.0], [5.0, -1.0, 2.0]], dtype=torch.float64)
    target = torch.tensor([2, 0, -100])
    # -log(3/6) = log 2 and -log(4/6) = log 1.5, averaged over the 2 positions that count
    want = torch.tensor((ln2 + math.log(1.5)) / 2, dtype=torch.float64)
    _expect_loss(student.training.cross_entropy(logits, target), want, "cross_entropy(logits, target)",
                 rtol=1e-9, atol=1e-12)


@check("training.cross_entropy", kind="property")
def test_ce_dtype(student, rng):
    """the loss is a 0-dim tensor with the logits' dtype (float32 here)"""
    logits = torch.from_numpy(rng.standard_normal((3, 4))).float()
    target = torch.tensor([1, 2, 3])
    got = student.training.cross_entropy(logits, target)
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (),
           f"cross_entropy(float32 logits (3, 4), target) returned {describe(got)}; the loss should be a 0-dim "
           "torch tensor (shape ()).")
    expect(got.dtype == torch.float32, f"the loss has dtype {str(got.dtype)[6:]}; expected float32 like the logits.")


@check("training.cross_entropy", weight=2)
def test_ce_padding_and_smoothing(student, rng):
    """(B, T, C) logits, padding (ignore_index = 0) and label smoothing 0.1: equal to F.cross_entropy"""
    logits = torch.from_numpy(rng.standard_normal((2, 4, 5)))
    target = torch.tensor([[3, 1, 4, 0], [2, 0, 0, 0]])
    for eps in (0.0, 0.1):
        call = f"cross_entropy(logits (2, 4, 5), target, ignore_index=0, label_smoothing={eps})"
        _expect_loss(student.training.cross_entropy(logits, target, ignore_index=0, label_smoothing=eps),
                     _torch_ce(logits, target, ignore_index=0, label_smoothing=eps), call, rtol=1e-9, atol=1e-12)


@check("training.cross_entropy")
def test_visible_ce_huge_logits(student):
    """huge logits (1e4) do not overflow"""
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=torch.float64)
    target = torch.tensor([2, 1])
    _expect_loss(student.training.cross_entropy(logits, target), torch.tensor((2e4 + math.log(2)) / 2,
                 dtype=torch.float64), "cross_entropy(logits of ±1e4, target)", rtol=1e-9, atol=1e-9)


@check("training.cross_entropy", weight=2)
def test_ce_gradient(student, rng):
    """the gradient of the logits equals F.cross_entropy's, and is zero at the ignored positions"""
    logits = torch.from_numpy(rng.standard_normal((2, 3, 4)))
    target = torch.tensor([[1, 3, -100], [0, -100, -100]])
    kw = {}
    x = logits.clone().requires_grad_()
    _torch_ce(x, target, **kw).backward()
    _, grads, _ = vjp(student.training.cross_entropy, (logits, target), torch.tensor(1.0, dtype=torch.float64),
                      kwargs=kw, wrt=[0])
    expect_gradients_close(grads, [x.grad], ("logits",), rtol=1e-7, atol=1e-10)
    g = grads[0].numpy()
    expect(not np.any(g[target.numpy() == -100]), "the ignored positions should get a gradient of exactly 0.")


@check("training.cross_entropy")
def test_visible_ce_all_ignored(student):
    """every target ignored: NaN, like F.cross_entropy"""
    got = student.training.cross_entropy(torch.zeros(2, 3, dtype=torch.float64), torch.tensor([-100, -100]))
    value = to_numpy(got)
    expect(np.size(value) == 1 and np.asarray(value).dtype.kind == "f" and bool(np.isnan(value).all()),
           f"with every target ignored the loss should be NaN (0 / 0, as F.cross_entropy gives), but it is "
           f"{describe(got)}.")


# ---------------------------------------------------------------- noam_lr

@check("training.noam_lr", weight=2)
def test_noam_values(student):
    """fixed values for d_model = 16, warmup_steps = 10"""
    # 16^-0.5 = 0.25: warmup 0.25 * step * 10^-1.5, then 0.25 * step^-0.5
    for step, want in [(1, 0.25 * 10 ** -1.5), (5, 0.25 * 5 * 10 ** -1.5), (10, 0.25 * 10 ** -0.5),
                       (40, 0.25 * 40 ** -0.5)]:
        got = student.training.noam_lr(step, 16, 10)
        call = f"noam_lr({step}, d_model=16, warmup_steps=10)"
        expect(np.size(to_numpy(got)) == 1, f"{call} returned {describe(got)}; expected a single number.")
        expect_close(float(np.asarray(to_numpy(got)).reshape(())), want, what=call, rtol=1e-9, atol=0.0)


@check("training.noam_lr", kind="property")
def test_visible_noam_python_float(student):
    """the rate is a Python float"""
    got = student.training.noam_lr(5, 16, 10)
    expect(isinstance(got, float), f"noam_lr(5, d_model=16, warmup_steps=10) returned {describe(got)}; expected a "
                                   "Python float (wrap the result in float(...)).")


@check("training.noam_lr", kind="property")
def test_visible_noam_step_zero_and_factor(student):
    """step 0 counts as step 1, and factor multiplies the rate"""
    one = float(student.training.noam_lr(1, 512, 4000))
    zero = float(student.training.noam_lr(0, 512, 4000))
    expect(math.isclose(zero, one, rel_tol=1e-12),
           f"noam_lr(0, 512, 4000) = {zero!r} but noam_lr(1, 512, 4000) = {one!r}: step 0 should count as step 1.")
    twice = float(student.training.noam_lr(1, 512, 4000, factor=2.0))
    expect(math.isclose(twice, 2 * one, rel_tol=1e-9),
           f"noam_lr(1, 512, 4000, factor=2.0) = {twice!r}; expected twice noam_lr(1, 512, 4000) = {2 * one!r}.")


@check("training.noam_lr")
def test_visible_noam_peak(student):
    """the rate peaks at step = warmup_steps"""
    rates = {s: student.training.noam_lr(s, 64, 20) for s in (10, 19, 20, 21, 40)}
    best = max(rates, key=rates.get)
    expect(best == 20, f"among steps {sorted(rates)}, the largest rate is at step {best}, not at warmup_steps = 20 "
                       f"(rates: {rates}).")
