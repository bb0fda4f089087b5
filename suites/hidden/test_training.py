"""Hidden checks of the training module: cross-entropy with ignore_index and label
smoothing (compared with F.cross_entropy) and the Noam learning-rate schedule (torch)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.checks import CheckFailed, arguments_after, check, describe, expect, expect_close, expect_gradients_close, to_numpy, vjp

F64_TOL = dict(rtol=1e-9, atol=1e-12)     # float64, another order of operations
F32_TOL = dict(rtol=2e-5, atol=1e-6)      # float32
GRAD_TOL = dict(rtol=1e-7, atol=1e-10)    # float64 gradients
LR_TOL = dict(rtol=1e-9, atol=0.0)        # the learning rate, a Python float


# ---------------------------------------------------------------- helpers


def _logits(rng, shape, dtype=torch.float64, scale=2.0):
    return torch.from_numpy(scale * rng.standard_normal(shape)).to(dtype)


def _targets(rng, shape, num_classes, low=0):
    return torch.from_numpy(rng.integers(low, num_classes, size=shape)).long()


def _pad_tail(target, lengths, value):
    """Fill target[b, lengths[b]:] with value (a padded (B, T) batch)."""
    target = target.clone()
    for b, n in enumerate(lengths):
        target[b, n:] = value
    return target


def _torch_ce(logits, target, **kw):
    """What the learner's function must equal: F.cross_entropy on the flattened inputs."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), **kw)


def _ce(mod, logits, target, **kw):
    return mod.training.cross_entropy(logits, target, **kw)


def _call_text(logits, target, kw):
    args = "".join(f", {k}={v!r}" for k, v in kw.items())
    return (f"cross_entropy(logits {str(logits.dtype)[6:]} {tuple(logits.shape)}, "
            f"target {tuple(target.shape)}{args})")


def _expect_scalar(got, call):
    expect(isinstance(got, torch.Tensor),
           f"{call} returned {describe(got)}; the loss should be a 0-dim torch tensor (keep it a tensor: "
           ".item() or float() would cut the graph that backward() needs).")
    expect(tuple(got.shape) == (),
           f"{call} returned a tensor of shape {tuple(got.shape)}; the loss should be a single number, a 0-dim "
           "tensor (shape ()): the mean over the non-ignored positions.")


def _loss_value(got, call):
    """The learner's loss as a Python float. The contract asks for a 0-dim tensor and the
    0-dim/dtype check judges that; a check of the value reads any single number (a float,
    a one-element tensor), so that one deviation costs one check."""
    value = to_numpy(got)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        return float(value.reshape(()))
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value)
    raise CheckFailed(f"{call} returned {describe(got)}; the loss should be a single number, a 0-dim tensor: "
                      "the mean over the non-ignored positions.")


def _expect_loss(got, want, call, tol):
    value, wanted = _loss_value(got, call), float(want)
    if not math.isfinite(value) and math.isfinite(wanted):
        expect(False, f"{call} returned {value!r}; expected {wanted:.10g}. Something overflowed: exp of a large "
                      "logit is inf (exp(1e4), or exp(89) in float32), and so is log of a probability that "
                      "underflowed to 0. Work with log-probabilities: subtract each row's maximum before exp "
                      "(the log-sum-exp), and never take the log of a softmax.")
    expect_close(value, wanted, what=f"the loss of {call}", **tol)


def _compare(student, logits, target, tol=F64_TOL, **kw):
    _expect_loss(_ce(student, logits, target, **kw), _torch_ce(logits, target, **kw),
                 _call_text(logits, target, kw), tol)


# ---------------------------------------------------------------- cross_entropy

def _hand_example():
    """Logits with p = (1/6, 2/6, 3/6) and (4/6, 1/6, 1/6), a third position ignored, and
    the mean over the two others of -log p[target] and of the mean over classes of -log p."""
    ln2, ln3, ln4, ln6 = math.log(2), math.log(3), math.log(4), math.log(6)
    logits = torch.tensor([[0.0, ln2, ln3],          # p = 1/6, 2/6, 3/6
                           [ln4, 0.0, 0.0],          # p = 4/6, 1/6, 1/6
                           [5.0, -1.0, 2.0]],        # ignored
                          dtype=torch.float64)
    target = torch.tensor([2, 0, -100])
    nll = (ln2 + math.log(1.5)) / 2                  # -log(3/6), -log(4/6), averaged over 2 positions
    smooth = ((ln6 + ln3 + ln2) / 3 + (math.log(1.5) + 2 * ln6) / 3) / 2
    return logits, target, nll, smooth


@check("training.cross_entropy", weight=3)
def test_ce_fixed_values(student):
    """hand-computed values: p = (1/6, 2/6, 3/6) and (4/6, 1/6, 1/6), one ignored position"""
    logits, target, nll, _ = _hand_example()
    _expect_loss(_ce(student, logits, target), torch.tensor(nll, dtype=torch.float64),
                 "cross_entropy(logits, target) on the 3 x 3 example", F64_TOL)


@check("training.cross_entropy", kind="property")
def test_ce_zero_dim_same_dtype(student, rng):
    """the loss is a 0-dim tensor of the logits' dtype (float32 and float64)"""
    # plain (N, C) logits, every target counted, no smoothing: only the type is judged here
    logits = _logits(rng, (4, 5))
    target = _targets(rng, (4,), 5)
    for dtype in (torch.float32, torch.float64):
        x = logits.to(dtype)
        call = _call_text(x, target, {})
        got = _ce(student, x, target)
        _expect_scalar(got, call)
        expect(got.dtype == dtype,
               f"{call} returned a loss of dtype {str(got.dtype)[6:]}; expected {str(dtype)[6:]}, the logits' "
               "dtype (do not convert: .double(), .float() or a float64 constant tensor change it).")


@check("training.cross_entropy", kind="property")
def test_ce_leaves_inputs_unchanged(student, rng):
    """logits and target are left as they were"""
    # 3 is an ordinary class id where ignore_index is not 3, so code without ignore_index
    # runs here too; code that writes a class over the ignored targets changes target
    cases = [(_logits(rng, (4, 5)), _targets(rng, (4,), 5), {}),
             (_logits(rng, (2, 4, 5)), torch.tensor([[3, 1, 3, 0], [2, 3, 4, 3]]), {"ignore_index": 3})]
    for logits, target, kw in cases:
        before = (logits.clone(), target.clone())
        _, after = arguments_after(student, student.training.cross_entropy, logits, target, **kw)
        for what, now, then in zip(("logits", "target"), after, before):
            if isinstance(now, torch.Tensor) and now.shape == then.shape and torch.equal(now, then):
                continue
            if isinstance(now, torch.Tensor) and now.shape == then.shape:
                where = tuple(int(i) for i in torch.nonzero(now != then)[0])
                change = f"{what}[{', '.join(map(str, where))}] went from {then[where].item():.6g} to " \
                         f"{now[where].item():.6g}"
            else:
                change = f"{what} became {describe(now)}"
            raise CheckFailed(
                f"{_call_text(logits, target, kw)} changed its input in place: {change}. The caller still needs "
                "its batch as it was: build new tensors (target.masked_fill(~keep, 0), torch.where(...)) "
                "instead of writing into the given ones (target[...] = 0, masked_fill_, -=).")


@check("training.cross_entropy", weight=2)
def test_ce_matches_torch_2d(student, rng):
    """(N, C) logits, no padding, no smoothing: equal to F.cross_entropy (N = 1, C = 2, odd sizes)"""
    for N, C in [(1, 2), (1, 7), (5, 3), (9, 11)]:
        _compare(student, _logits(rng, (N, C)), _targets(rng, (N,), C))


@check("training.cross_entropy", weight=2)
def test_ce_matches_torch_3d_padding(student, rng):
    """(B, T, C) logits with padded targets (ignore_index = -100): equal to F.cross_entropy"""
    logits = _logits(rng, (3, 5, 7))
    target = _pad_tail(_targets(rng, (3, 5), 7), [5, 2, 1], -100)       # 8 of 15 positions count
    _compare(student, logits, target)
    logits = _logits(rng, (2, 4, 6))
    target = _targets(rng, (2, 4), 6)
    target[0, 1] = target[1, 3] = target[1, 0] = -100                  # ignored positions anywhere
    _compare(student, logits, target)
    _compare(student, _logits(rng, (1, 1, 4)), torch.tensor([[2]]))    # B = 1, T = 1
    _compare(student, _logits(rng, (2, 3, 5)), _targets(rng, (2, 3), 5))  # nothing ignored


@check("training.cross_entropy", weight=3)
def test_ce_label_smoothing(student, rng):
    """label smoothing (eps = 0.1, 0.25, 0.3, 1.0) with and without padding, (N, C) and (B, T, C): equal to F.cross_entropy"""
    logits, target, nll, smooth = _hand_example()
    _expect_loss(_ce(student, logits, target, label_smoothing=0.3),
                 torch.tensor(0.7 * nll + 0.3 * smooth, dtype=torch.float64),
                 "cross_entropy(logits, target, label_smoothing=0.3) on the hand-computed 3 x 3 example", F64_TOL)
    for eps in (0.1, 0.25, 1.0):
        _compare(student, _logits(rng, (6, 5)), _targets(rng, (6,), 5), label_smoothing=eps)
        target = _pad_tail(_targets(rng, (3, 4), 9), [4, 1, 2], -100)
        _compare(student, _logits(rng, (3, 4, 9)), target, label_smoothing=eps)


@check("training.cross_entropy", weight=2)
def test_ce_other_ignore_index(student, rng):
    """ignore_index = 0 (the pad id) and ignore_index = 3: those targets, and only those, are ignored"""
    target = _pad_tail(_targets(rng, (3, 6), 8, low=1), [6, 3, 2], 0)  # pad id 0 at the end
    _compare(student, _logits(rng, (3, 6, 8)), target, ignore_index=0)
    target = torch.tensor([[3, 1, 3, 0, 4], [2, 3, 3, 4, 1]])          # 3 is an ordinary class id
    _compare(student, _logits(rng, (2, 5, 5)), target, ignore_index=3)


@check("training.cross_entropy", weight=2)
def test_ce_float32(student, rng):
    """float32 logits: the loss equals F.cross_entropy's to float32 precision"""
    # the loss's dtype is judged by the 0-dim/dtype check alone
    _compare(student, _logits(rng, (8, 10), dtype=torch.float32, scale=4.0), _targets(rng, (8,), 10), tol=F32_TOL)
    _compare(student, _logits(rng, (4, 6, 10), dtype=torch.float32, scale=4.0), _targets(rng, (4, 6), 10),
             tol=F32_TOL)


@check("training.cross_entropy", weight=2)
def test_ce_huge_logits(student, rng):
    """huge logits (about ±1e4) neither overflow nor give NaN (float32 and float64)"""
    base = torch.tensor([[1e4, 0.0, -1e4, 5e3],
                         [1e4, 1e4 - 1.0, -2e3, 1e4 - 3.0],
                         [-1e4, -1e4, -1e4, -1e4 + 2.0],
                         [3e3, 9e3, -7e3, 1e4]], dtype=torch.float64)
    target = torch.tensor([2, 1, 0, 3])
    for dtype, tol in ((torch.float64, F64_TOL), (torch.float32, F32_TOL)):
        _compare(student, base.to(dtype), target, tol=tol)
    _compare(student, _logits(rng, (2, 3, 6), scale=1e4), _targets(rng, (2, 3), 6))


@check("training.cross_entropy", kind="property")
def test_ce_huge_logits_smoothing_finite(student, rng):
    """with label smoothing, huge logits (about ±1e4) still give a finite loss"""
    # its value is the label-smoothing check's business: here only overflow in the smoothing term
    # (the mean over the classes of -log p, where unlikely classes have p = 0 in floating point)
    logits = _logits(rng, (5, 6), scale=1e4)
    target = _targets(rng, (5,), 6)
    for dtype in (torch.float64, torch.float32):
        x = logits.to(dtype)
        call = _call_text(x, target, {"label_smoothing": 0.1})
        value = _loss_value(_ce(student, x, target, label_smoothing=0.1), call)
        expect(math.isfinite(value),
               f"{call} returned {value!r}; expected a finite loss. The smoothing term needs -log p of EVERY "
               "class, and exp of a logit 1e4 below the largest is 0 in floating point, so log(softmax) gives "
               "-inf there: take log p from the log-sum-exp (z - m - log(sum(exp(z - m)))) for the smoothing "
               "term too.")


@check("training.cross_entropy", weight=3)
def test_ce_gradients(student, ref, rng):
    """gradient check against the reference (float64, with padding): ignored positions get a zero gradient"""
    cases = []
    target = _pad_tail(_targets(rng, (2, 4), 6, low=1), [4, 2], 0)
    # ordinary logits everywhere: huge ones are the huge-logits checks' business
    cases.append((_logits(rng, (2, 4, 6)), target, {"ignore_index": 0}))
    target = _targets(rng, (5,), 4)
    target[1] = target[4] = -100
    cases.append((_logits(rng, (5, 4)), target, {}))
    for logits, target, kw in cases:
        upstream = torch.tensor(1.7, dtype=torch.float64)
        call = _call_text(logits, target, kw)
        want_out, want_grads, _ = vjp(ref.training.cross_entropy, (logits, target), upstream, kwargs=kw, wrt=[0])
        # a loss of shape (1,) instead of () costs the 0-dim check only: the upstream takes its shape
        got = _ce(student, logits, target, **kw)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            upstream = upstream.reshape(got.shape)
        got_out, got_grads, _ = vjp(student.training.cross_entropy, (logits, target), upstream, kwargs=kw, wrt=[0])
        _expect_loss(got_out, want_out, call, F64_TOL)
        grad = got_grads[0] if got_grads else None
        if isinstance(grad, torch.Tensor) and tuple(grad.shape) == tuple(logits.shape):
            g = grad.numpy()
            expect(not np.isnan(g).any(),
                   f"the gradient of the logits in {call} contains NaN although the loss is right. An ignored "
                   "position (or a tiny probability) produced an inf or NaN on the way (log of 0, gathering at an "
                   "invalid index, ...): torch.where and multiplying by 0 hide it from the value but not from "
                   "backward. Compute log p with the log-sum-exp, and zero the ignored positions' losses.")
            ignored = (target == kw.get("ignore_index", -100)).numpy()
            bad = np.argwhere((g != 0) & ignored[..., None])
            expect(len(bad) == 0,
                   f"in {call}, the gradient of the logits at the ignored position "
                   f"{tuple(int(i) for i in bad[0][:-1]) if len(bad) else ()} is not zero: an ignored position must "
                   "not influence the loss at all (neither the nll nor the smoothing term).")
        expect_gradients_close(got_grads, want_grads, ("logits",), **GRAD_TOL)


@check("training.cross_entropy")
def test_ce_all_ignored(student, rng):
    """every target ignored: NaN (0 / 0) as F.cross_entropy gives, and no error"""
    logits = _logits(rng, (2, 3, 4))
    for kw in ({}, {"ignore_index": 0}):
        target = torch.full((2, 3), kw.get("ignore_index", -100))
        call = _call_text(logits, target, kw)
        got = _ce(student, logits, target, **kw)
        expect(math.isnan(_loss_value(got, call)),
               f"{call}, with every target ignored, returned {describe(got)}; the documented answer is NaN, the "
               "mean of zero numbers (0 / 0), as F.cross_entropy gives: divide by the number of non-ignored "
               "positions as it is, without clamping it to 1.")


# ---------------------------------------------------------------- noam_lr


def _lr(mod, *args, **kw):
    return mod.training.noam_lr(*args, **kw)


def _lr_text(step, d_model, warmup, **kw):
    extra = "".join(f", {k}={v!r}" for k, v in kw.items())
    return f"noam_lr({step}, d_model={d_model}, warmup_steps={warmup}{extra})"


def _expect_float(got, call):
    expect(isinstance(got, float),
           f"{call} returned {describe(got)}; it should return a Python float (what an optimiser's "
           "param_group['lr'] holds): wrap the result in float(...).")
    expect(not math.isnan(got) and not math.isinf(got), f"{call} returned {got!r}; expected a finite rate.")


def _noam(student, step, d_model, warmup, **kw):
    """The learner's rate as a float (a one-number tensor is accepted here: only the
    type check insists on a Python float)."""
    call = _lr_text(step, d_model, warmup, **kw)
    got = _lr(student, step, d_model, warmup, **kw)
    if isinstance(got, (torch.Tensor, np.ndarray, np.generic)) and np.size(to_numpy(got)) == 1:
        got = float(to_numpy(got).reshape(()))
    expect(isinstance(got, (int, float)) and not isinstance(got, bool),
           f"{call} returned {describe(got)}; it should return a Python float, the learning rate.")
    got = float(got)
    expect(math.isfinite(got), f"{call} returned {got!r}; expected a finite rate.")
    return got, call


@check("training.noam_lr", weight=3)
def test_noam_fixed_values(student):
    """fixed values for d_model = 512, warmup_steps = 4000 (the paper's) and d_model = 16, warmup_steps = 10"""
    # 512^-0.5 = 0.0441941738...; 4000^-1.5 = 3.95284708e-6; 4000^-0.5 = 0.0158113883...
    cases = [((1, 512, 4000), 1.746928107421711e-07),     # step * warmup^-1.5
             ((100, 512, 4000), 1.746928107421711e-05),   # still warming up: 100 times step 1
             ((4000, 512, 4000), 6.987712429686843e-04),  # the peak: 512^-0.5 * 4000^-0.5
             ((16000, 512, 4000), 3.4938562148434214e-04),  # 4 x later: half the peak
             ((100000, 512, 4000), 1.3975424859373687e-04),
             ((5, 16, 10), 0.039528470752104736),         # 0.25 * 5 * 10^-1.5
             ((40, 16, 10), 0.039528470752104746)]        # 0.25 * 40^-0.5
    for args, want in cases:
        got, call = _noam(student, *args)
        expect_close(got, want, what=call, **LR_TOL)


@check("training.noam_lr", kind="property")
def test_noam_python_float(student):
    """the rate is a Python float (not a tensor or an array)"""
    for args in [(1, 512, 4000), (4000, 512, 4000), (7, 64, 3)]:
        _expect_float(_lr(student, *args), _lr_text(*args))


@check("training.noam_lr", kind="property")
def test_noam_step_zero(student):
    """step 0 counts as step 1 (no division by zero)"""
    for d_model, warmup in [(512, 4000), (16, 10), (64, 1)]:
        got0, call0 = _noam(student, 0, d_model, warmup)
        got1, call1 = _noam(student, 1, d_model, warmup)
        expect(math.isclose(got0, got1, rel_tol=1e-12),
               f"{call0} returned {got0!r} but {call1} returned {got1!r}: step 0 should count as step 1 "
               "(replace a step of 0 by 1, and leave the other steps as they are).")


@check("training.noam_lr", weight=2)
def test_noam_peak(student):
    """the rate peaks at step = warmup_steps, where it is factor * d_model^-0.5 * warmup_steps^-0.5"""
    for d_model, warmup in [(512, 4000), (32, 10), (8, 3)]:
        peak, call = _noam(student, warmup, d_model, warmup)
        expect_close(peak, d_model ** -0.5 * warmup ** -0.5, what=call, **LR_TOL)
        for step in (warmup - 1, warmup + 1, warmup // 2, 3 * warmup):
            other, other_call = _noam(student, step, d_model, warmup)
            expect(other < peak,
                   f"{other_call} = {other!r} is not below {call} = {peak!r}: the schedule should peak at "
                   "step = warmup_steps (linear growth before, 1/sqrt(step) decay after: the smaller of the two).")


@check("training.noam_lr", kind="property")
def test_noam_factor(student):
    """factor multiplies the whole rate (factor = 2.0 and 0.5)"""
    for factor in (2.0, 0.5):
        for step in (1, 10, 50):
            base, base_call = _noam(student, step, 64, 10)
            got, call = _noam(student, step, 64, 10, factor=factor)
            expect(math.isclose(got, factor * base, rel_tol=1e-9),
                   f"{call} returned {got!r}, but {base_call} returned {base!r}: with factor={factor} the rate "
                   f"should be {factor} times as large ({factor * base!r}).")


@check("training.noam_lr")
def test_noam_monotone(student):
    """increasing during warmup, decreasing after it"""
    d_model, warmup = 64, 20
    steps = list(range(1, 81))
    rates = [_noam(student, s, d_model, warmup)[0] for s in steps]
    for a, b, ra, rb in zip(steps, steps[1:], rates, rates[1:]):
        if b <= warmup:
            expect(rb > ra, f"{_lr_text(b, d_model, warmup)} = {rb!r} is not above {_lr_text(a, d_model, warmup)} "
                            f"= {ra!r}: during warmup (step <= warmup_steps) the rate grows linearly.")
        else:
            expect(rb < ra, f"{_lr_text(b, d_model, warmup)} = {rb!r} is not below {_lr_text(a, d_model, warmup)} "
                            f"= {ra!r}: after warmup the rate decays like 1/sqrt(step).")


@check("training.noam_lr", weight=2)
def test_noam_matches_reference(student, ref):
    """various d_model, warmup_steps and steps: equal to the reference"""
    # step 0 and factor have checks of their own
    for d_model, warmup in [(128, 50), (30, 7), (1024, 8000)]:
        for step in (1, 2, warmup - 1, warmup, warmup + 1, 5 * warmup + 3):
            got, call = _noam(student, step, d_model, warmup)
            expect_close(got, ref.training.noam_lr(step, d_model, warmup), what=call, **LR_TOL)
