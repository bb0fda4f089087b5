"""Variants of the training exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/training.py (which imports torch).
"""

WRONG = {
    "training.cross_entropy": {
        # a stub: a 0-dim zero of the logits' dtype passes the type and finiteness properties only
        "returns_zeros_of_the_right_shape": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    return logits.new_zeros(())
''',
        # log(softmax) without the max shift: exp(1e4) overflows to inf, inf / inf = NaN
        "no_max_shift": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - logits.exp().sum(-1, keepdim=True).log()
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # log of a (shifted, stable) softmax: the probabilities underflow to 0 and log(0) = -inf
        "log_of_softmax": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    e = (logits - logits.max(-1, keepdim=True).values).exp()
    log_probs = (e / e.sum(-1, keepdim=True)).log()
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return torch.where(keep, per, torch.zeros_like(per)).sum() / keep.sum()
''',
        # the nll from the log-sum-exp, but the smoothing term, when there is one, from
        # log(softmax): with huge logits the unlikely classes get p = 0 and -log p = inf
        "smoothing_term_from_softmax": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    per = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    if label_smoothing > 0:
        smooth = -torch.log(torch.softmax(logits, dim=-1)).mean(-1)
        per = (1 - label_smoothing) * per + label_smoothing * smooth
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # makes the ignored targets a valid index by writing 0 into the CALLER's target tensor
        "zeroes_ignored_targets_in_place": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    keep = (target != ignore_index).reshape(-1)
    target[target == ignore_index] = 0
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    nll = -log_probs.gather(-1, target[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # the mean over ALL positions: padding dilutes the loss
        "divides_by_all_positions": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return (per * keep).sum() / target.numel()
''',
        # clamps the count to 1: 0 instead of the documented NaN when everything is ignored
        "count_clamped_to_one": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum().clamp(min=1)
''',
        # the nll is masked but the smoothing term counts the ignored positions too
        "smoothing_term_not_masked": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    nll = nll.masked_fill(~keep, 0.0).sum() / keep.sum()
    smooth = -log_probs.mean(-1).mean()
    return (1 - label_smoothing) * nll + label_smoothing * smooth
''',
        # Szegedy's other convention: eps spread over the C - 1 wrong classes only
        "smoothing_over_other_classes": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    q = torch.full_like(log_probs, label_smoothing / (C - 1))
    q.scatter_(-1, safe[:, None], 1.0 - label_smoothing)
    per = -(q * log_probs).sum(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # the smoothing term sums -log p over the classes instead of averaging it
        "smoothing_sum_not_mean": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.sum(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # label_smoothing is accepted and then forgotten
        "smoothing_ignored": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    return nll.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # hard-codes PyTorch's default -100 instead of using ignore_index
        "hardcoded_minus_100": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != -100
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # no ignore_index at all, and clamps the targets so that -100 does not crash the gather
        "no_padding_handling": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    nll = -log_probs.gather(-1, target.clamp(min=0)[:, None]).squeeze(-1)
    return ((1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)).mean()
''',
        # computes in float64 "for accuracy" and returns float64 for float32 logits
        "returns_float64": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C).double(), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # keepdim leftovers: a (1,)-shaped loss instead of a 0-dim one
        "shape_one_not_scalar": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None])
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1, keepdim=True)
    return per.masked_fill(~keep[:, None], 0.0).sum(0) / keep.sum()
''',
        # returns a Python float: the graph is gone
        "returns_item": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return (per.masked_fill(~keep, 0.0).sum() / keep.sum()).item()
''',
        # the max used for the shift is a Python number taken from the whole batch, and the
        # loss is rebuilt from .tolist(): right value, no gradient
        "rebuilt_from_values": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    total = sum(v for v, k in zip(per.tolist(), keep.tolist()) if k)
    return torch.tensor(total / int(keep.sum()), dtype=logits.dtype)
''',
        # flattens the logits (B, T, C) in a different order than the targets (B, T)
        "transposed_flatten": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    if logits.dim() == 3:
        logits = logits.transpose(0, 1)
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # the log-sum-exp over the wrong axis (the positions, not the classes)
        "logsumexp_wrong_axis": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, 0, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
        # ignored positions are given class 0's loss instead of none (masks the target, not the loss)
        "masks_target_not_loss": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = logits - torch.logsumexp(logits, -1, keepdim=True)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.sum() / keep.sum()
''',
        # the library's log_softmax: forbidden here (the exercise is to write the log-sum-exp)
        "uses_log_softmax": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    logits, target = logits.reshape(-1, C), target.reshape(-1)
    keep = target != ignore_index
    log_probs = torch.log_softmax(logits, dim=-1)
    safe = target.masked_fill(~keep, 0)
    nll = -log_probs.gather(-1, safe[:, None]).squeeze(-1)
    per = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    return per.masked_fill(~keep, 0.0).sum() / keep.sum()
''',
    },
    "training.noam_lr": {
        # a stub: a constant Python float passes the type, step-0 and factor properties only
        "returns_zero": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    return 0.0
''',
        "step_zero_not_handled": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)
''',
        "off_by_one_step_plus_one": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = step + 1
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)
''',
        "max_instead_of_min": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return factor * d_model ** -0.5 * max(step ** -0.5, step * warmup_steps ** -1.5)
''',
        "warmup_power_minus_half": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -0.5)
''',
        "d_model_not_inverted": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return factor * d_model ** 0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)
''',
        "factor_ignored": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)
''',
        "inverse_decay_not_sqrt": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return factor * d_model ** -0.5 * warmup_steps ** 0.5 * min(step ** -1.0, step * warmup_steps ** -2.0)
''',
        "returns_tensor": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = torch.tensor(float(max(step, 1)), dtype=torch.float64)
    return factor * d_model ** -0.5 * torch.minimum(step.rsqrt(), step * warmup_steps ** -1.5)
''',
        "integer_division_in_warmup": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    step = max(step, 1)
    return float(factor * d_model ** -0.5 * min(step ** -0.5, (step // warmup_steps) * warmup_steps ** -0.5))
''',
    },
}

RIGHT = {
    "training.cross_entropy": {
        # torch.logsumexp, one-hot target distribution, torch.where for the padding
        "logsumexp_and_soft_targets": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    z = logits.reshape(-1, C)
    t = target.reshape(-1)
    keep = t != ignore_index
    log_p = z - torch.logsumexp(z, dim=-1, keepdim=True)
    one_hot = torch.nn.functional.one_hot(torch.where(keep, t, 0), C).to(z.dtype)
    q = (1 - label_smoothing) * one_hot + label_smoothing / C
    per = -(q * log_p).sum(dim=-1)
    per = torch.where(keep, per, torch.zeros_like(per))
    return per.sum() / keep.sum().to(z.dtype)
''',
        # select the kept rows first (boolean indexing), a detached max, then a plain mean
        "boolean_index_then_mean": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    keep = target.reshape(-1) != ignore_index
    z = logits.reshape(-1, C)[keep]
    t = target.reshape(-1)[keep]
    m = z.max(dim=-1, keepdim=True).values.detach() if z.numel() else torch.zeros(0, 1, dtype=z.dtype)
    log_p = z - m - torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))
    nll = -log_p[torch.arange(t.shape[0]), t]
    smooth = -log_p.sum(dim=-1) / C
    return ((1 - label_smoothing) * nll + label_smoothing * smooth).mean()
''',
        # an explicit loop over the positions, accumulating sums
        "loop_over_positions": '''
def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    C = logits.shape[-1]
    z = logits.reshape(-1, C)
    t = target.reshape(-1)
    total = logits.new_zeros(())
    count = 0
    for i in range(z.shape[0]):
        c = int(t[i])
        if c == ignore_index:
            continue
        m = z[i].max()
        log_p = z[i] - (m + torch.log(torch.exp(z[i] - m).sum()))
        total = total + (1 - label_smoothing) * -log_p[c] + label_smoothing * -log_p.mean()
        count += 1
    return total / count if count else total * float("nan")
''',
    },
    "training.noam_lr": {
        "math_sqrt_and_if": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    import math
    if step == 0:
        step = 1
    if step < warmup_steps:
        rate = step / (warmup_steps * math.sqrt(warmup_steps))
    else:
        rate = 1.0 / math.sqrt(step)
    return factor * rate / math.sqrt(d_model)
''',
        "numpy_float": '''
def noam_lr(step, d_model, warmup_steps, factor=1.0):
    import numpy as np
    s = np.float64(max(step, 1))
    return float(factor * np.minimum(s ** -0.5, s * np.float64(warmup_steps) ** -1.5) / np.sqrt(d_model))
''',
    },
}
