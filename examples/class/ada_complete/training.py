"""Training a Transformer: the loss with padding and label smoothing, and the Noam schedule (torch).

The model ends in a linear layer that gives, at every position, one score per
word of the vocabulary: logits of shape (..., C), e.g. (B, T, C) for a batch of
B target sequences of length T and a vocabulary of C classes. Training
maximises the probability of the right next token, i.e. minimises the
cross-entropy

    p = softmax(logits)            over the C classes, at each position
    loss at a position = -log p[target]

averaged over the positions. This is exactly what F.cross_entropy computes on
the flattened inputs, logits.reshape(-1, C) and target.reshape(-1); in this
module you write it yourself.

Log-sum-exp. Never compute log(softmax(z)) as two steps: for large scores
exp(z) overflows (exp(1000) is inf in float64, exp(89) already in float32),
and for very unlikely classes p underflows to 0 and log(0) = -inf. Work with
log-probabilities directly:

    log p_c = z_c - log(sum_k exp(z_k))
            = (z_c - m) - log(sum_k exp(z_k - m))      with m = max_k z_k

Subtracting the row's maximum changes nothing mathematically (it cancels) but
makes the largest exponent exp(0) = 1: nothing overflows, the sum is at least
1, and its log is finite. torch.logsumexp does exactly this shift for you and
you may use it; log_softmax and the library losses are what you replace here.

Padding must be ignored. A batch is one tensor, so the shorter target
sequences are filled up with a pad token (see the masking module). Those
positions are not text: nothing should be predicted there. If they counted,

  - the model would be trained to predict "pad after pad", an easy and useless
    task that takes a share of the gradient and of the model's capacity;
  - the loss of a sentence would depend on the batch it sits in: the more
    padding, the more easy positions, the lower the average, and a batch of
    short sentences would weigh less than one of long sentences.

So the targets at pad positions carry a special value, ignore_index (PyTorch's
default is -100; often the pad id itself, e.g. 0): those positions contribute
nothing to the loss, and the mean is taken over the OTHER positions only (sum
of their losses / how many there are, not / the total number of positions).
Their logits then receive a gradient of exactly zero. If every target is
ignored there is nothing to average: the result is 0 / 0 = NaN, which is what
F.cross_entropy returns too (we match it; a training loop should simply skip
such a batch).

Label smoothing. With one-hot targets the loss keeps pushing the right logit
up relative to the others forever: -log p[target] reaches 0 only when p[target]
is exactly 1, i.e. with infinitely large logit gaps. The model becomes
over-confident and calibrates badly. Label smoothing (Szegedy et al. 2016; the
Transformer paper uses eps = 0.1) replaces the one-hot target by a mixture:

    q = (1 - eps) * one_hot(target) + eps * uniform
      i.e. q[target] = 1 - eps + eps / C  and  q[c] = eps / C  for every other c

and the loss becomes the cross-entropy to q, -sum_c q[c] log p[c], which splits
into the two terms PyTorch uses:

    (1 - eps) * (-log p[target])  +  eps * mean over the C classes of (-log p[c])

(this is PyTorch's definition: the uniform part spreads eps over ALL C classes,
the target included, not over the C - 1 others). Both terms are averaged over
the non-ignored positions only. The best the model can now do is to predict
p = q itself, and the loss of that perfect model is the entropy of q, which is
not 0: with eps = 0.1 it is 0.50 nats for C = 10 classes and 1.25 nats for
C = 10 000. So a smoothed loss
never approaches 0; compare runs at the same eps, or look at the accuracy.

Warmup: the Noam schedule. The Transformer is trained with Adam and a learning
rate that first grows linearly and then decays like 1 / sqrt(step):

    lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

The two expressions in the min are equal at step = warmup_steps, where the
rate peaks. Why not start at the peak? At the beginning the weights are random
and Adam's estimates of the gradients' second moments are based on a handful
of steps, so its updates are large and noisy; post-layer-norm Transformers in
particular diverge or get stuck if the first updates are big. A small rate
that grows gives those statistics (and the layer norms' inputs) time to
settle; the decay afterwards lets the model converge. d_model^-0.5 scales the
rate down for wider models. Step 0 (before the first update) counts as step 1
so that the formula never divides by zero.

In this module you write:

    cross_entropy   the mean cross-entropy over the non-ignored positions, with
                    optional label smoothing, equal to F.cross_entropy
    noam_lr         the learning rate of the Noam schedule at a given step
"""

import torch


def cross_entropy(logits, target, ignore_index=-100, label_smoothing=0.0):
    """Mean cross-entropy of logits against integer targets, by hand.

    Inputs:
        logits           float (..., C): scores of the C classes at each position,
                         e.g. (N, C) or (B, T, C); float32 or float64
        target           int64 (...): the right class at each position (the
                         shape of logits without its last axis), or
                         ignore_index where the position must not count
        ignore_index     int: the target value of positions to ignore (-100 by
                         default, like PyTorch; often the pad id, e.g. 0)
        label_smoothing  float eps in [0, 1]: the share of the target
                         probability spread uniformly over the C classes
    Returns:
        loss             a 0-dim tensor of the logits' dtype, with a graph back to
                         the logits: the same value as
                         F.cross_entropy(logits.reshape(-1, C), target.reshape(-1),
                                         ignore_index=ignore_index,
                                         label_smoothing=label_smoothing)
                         i.e. over the non-ignored positions, the mean of
                             (1 - eps) * (-log p[target]) + eps * mean_c(-log p[c])
                         where p = softmax(logits) over the last axis. Ignored
                         positions get a gradient of exactly 0. If every
                         position is ignored the mean is 0 / 0 = NaN (as in
                         F.cross_entropy).

    Compute log p with a max-shifted log-sum-exp (torch.logsumexp is allowed),
    never log(softmax): logits of 1e4 must neither overflow nor give NaN.
    log_softmax, F.cross_entropy, F.nll_loss and the nn loss modules are not
    allowed. Beware of gathering at an ignored target such as -100: it is not a
    valid class index. Do not modify logits or target (no target[...] = 0 or
    masked_fill_ on them): the caller still needs its batch as it was.
    """
    # BEGIN SOLUTION
    num_classes = logits.shape[-1]
    logits = logits.reshape(-1, num_classes)  # (N, C)
    target = target.reshape(-1)  # (N,)
    keep = target != ignore_index  # (N,) True where the position counts

    # log p = (z - m) - log(sum exp(z - m)), m the row's max: nothing overflows
    shifted = logits - logits.max(dim=-1, keepdim=True).values  # (N, C), max 0
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()  # (N, C)

    safe_target = target.masked_fill(~keep, 0)  # any valid class at ignored positions
    nll = -log_probs.gather(-1, safe_target.unsqueeze(-1)).squeeze(-1)  # (N,)
    smooth = -log_probs.mean(dim=-1)  # (N,) mean over the classes of -log p
    per_position = (1.0 - label_smoothing) * nll + label_smoothing * smooth

    per_position = per_position.masked_fill(~keep, 0.0)  # ignored: no value, no gradient
    return per_position.sum() / keep.sum()  # 0 / 0 = NaN when all are ignored
    # END SOLUTION


def noam_lr(step, d_model, warmup_steps, factor=1.0):
    """The learning rate of the Noam schedule ("Attention Is All You Need", 5.3).

    Inputs:
        step          int >= 0, the number of the optimiser step; step 0 counts
                      as step 1
        d_model       int, the model width
        warmup_steps  int > 0, the number of warmup steps (where the rate peaks)
        factor        float, a constant multiplier
    Returns:
        lr            a Python float:
                      factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)
                      It grows linearly up to step = warmup_steps, then decays
                      like 1 / sqrt(step).
    """
    # BEGIN SOLUTION
    step = max(step, 1)
    return float(factor * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5))
    # END SOLUTION
