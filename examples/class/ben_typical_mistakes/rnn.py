"""Recurrent networks and backpropagation through time (numpy).

A vanilla RNN reads a sequence x_0, x_1, ..., x_{T-1} one step at a time and
carries a hidden state h that summarises what it has seen so far:

    h_t = tanh(x_t Wx + h_{t-1} Wh + b)

Shapes, batch first and in float64: a batch of sequences x is (N, T, D), the
hidden state h_t is (N, H), Wx is (D, H), Wh is (H, H), b is (H,). The initial
state h_{-1} is called h0 and is given by the caller.

Weight sharing. The same Wx, Wh and b are used at every time step. An RNN is
therefore one small layer applied T times, not T different layers: it can read
sequences of any length with a fixed number of parameters. Unrolled in time it
looks like a T-layer deep network whose layers all share their weights.

Backpropagation through time (BPTT). Backprop on the unrolled network:

  - walk the steps from the last one (t = T-1) back to the first (t = 0);
  - the hidden state h_t is used twice: it is an output (the loss may depend on
    it directly, through the upstream gradient dh[:, t]) and it is the input of
    step t+1. Its total gradient is the SUM of the two: the upstream gradient
    dh[:, t] plus the gradient flowing back from the future, dL/dh_t coming out
    of step t+1's backward pass;
  - a shared weight receives a gradient from every step that used it, so dWx,
    dWh and db are SUMS over all time steps;
  - the gradient that flows out of step 0 towards h0 is dh0.

Vanishing and exploding gradients. Going back one step multiplies the gradient
by the derivative of tanh (a number between 0 and 1 per unit) and then by Wh^T:

    dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) Wh^T

So the gradient that reaches step t from step T-1 has been multiplied T-1-t
times. If each multiplication shrinks it by a factor 0.7, after 7 steps only
0.7^7 = 0.08 of it is left; even a factor 0.95 leaves 0.95^100 = 0.006 after
100 steps. The early steps then receive almost no learning signal: the RNN
cannot learn long-range dependencies. This is the vanishing gradient. When the
factor is above one (large Wh, unsaturated tanh) the same product explodes
instead: 1.05^100 = 131, and a single update can throw the weights far away.
hidden_grad_norms draws this curve, ||dL/dh_t|| against t, so you can watch it.

Gradient clipping. Exploding gradients have a cheap fix: before the update,
measure the global norm of all gradients together (the square root of the sum
of the squares of every entry of every gradient array) and, if it is larger
than a threshold max_norm, scale all of them down by the same factor so that
their global norm becomes max_norm. The direction of the update is kept, only
its length is limited. This is torch.nn.utils.clip_grad_norm_.

Clipping does nothing for vanishing gradients: you cannot scale up a signal
that has already disappeared. The fix there is architectural: the LSTM of the
next module adds a cell state that is updated additively, through gates, so
gradients can flow back over many steps without being squashed at each one.

In this module you write, in order:

    rnn_step_forward / rnn_step_backward   one time step and its gradients
    rnn_forward / rnn_backward             the whole sequence (BPTT)
    hidden_grad_norms                      the vanishing-gradient curve
    clip_grad_norm                         global gradient-norm clipping

rnn_forward must use rnn_step_forward, and rnn_backward and hidden_grad_norms
must use rnn_step_backward. A cache is yours to design (any Python object):
whatever your forward returns as its cache is what your backward receives.
Treat the caches of single steps as opaque in the sequence-level functions:
only pass them back to rnn_step_backward.
"""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with a tanh nonlinearity.

    Inputs:
        x       (N, D)  the inputs of this step, one row per sequence in the batch
        prev_h  (N, H)  the hidden state of the previous step
        Wx      (D, H)  input-to-hidden weights
        Wh      (H, H)  hidden-to-hidden weights
        b       (H,)    bias

    Computes
        next_h = tanh(x Wx + prev_h Wh + b)          (N, H)
    where products are matrix products and b is broadcast over the batch.

    Returns (next_h, cache): cache holds whatever rnn_step_backward will need
    (the inputs and the weights; the output is worth keeping too: the
    derivative of tanh can be written with it).
    """
    # BEGIN SOLUTION
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache
    # END SOLUTION


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    # END SOLUTION


def rnn_forward(x, h0, Wx, Wh, b):
    """Run the RNN over whole sequences, one rnn_step_forward per time step.

    Inputs:
        x   (N, T, D)  N sequences of T inputs each (batch first)
        h0  (N, H)     the initial hidden state
        Wx  (D, H), Wh (H, H), b (H,)   shared by all time steps

    For t = 0 .. T-1:  h_t = tanh(x_t Wx + h_{t-1} Wh + b), with h_{-1} = h0
    and x_t = x[:, t].

    Returns (h, cache):
        h      (N, T, H)  h[:, t] is the hidden state after step t (h0 itself
                          is not included)
        cache  what your rnn_backward and hidden_grad_norms will need, for
               instance the cache of every step, in order.
    Call rnn_step_forward for each step; do not re-implement it here.
    """
    # BEGIN SOLUTION
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))  # (N, T, H)
    caches = []
    prev_h = h0  # (N, H)
    for t in range(T):
        prev_h, cache_t = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache_t)
    return h, caches
    # END SOLUTION


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = dh[:, -1]
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev_h, dWx, dWh, db
    # END SOLUTION


def hidden_grad_norms(dh_last, cache):
    """How the gradient of the last hidden state fades (or grows) going back in time.

    Inputs:
        dh_last  (N, H)  upstream gradient of the LAST hidden state h_{T-1};
                         no other hidden state receives an upstream gradient
        cache            what your rnn_forward returned

    Returns norms, an array of shape (T,) with
        norms[t] = ||dL/dh_t||
    the Frobenius norm (square root of the sum of squares over all N*H entries)
    of the whole gradient at step t. So norms[T-1] = ||dh_last||, and each
    earlier entry comes from passing the gradient one more step back with
    rnn_step_backward (only its dprev_h matters here; this is the hidden-state
    gradient, not the gradient of the weights).
    """
    # BEGIN SOLUTION
    T = len(cache)
    norms = np.zeros(T)  # (T,)
    dh_t = dh_last  # (N, H)
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh_t)
        dh_t = rnn_step_backward(dh_t, cache[t])[1]
    return norms
    # END SOLUTION


def clip_grad_norm(grads, max_norm):
    """Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_.

    Inputs:
        grads     a list of arrays of any shapes (e.g. [dWx, dWh, db])
        max_norm  a positive float

    total_norm is the norm of all the gradients taken together, as if they
    were concatenated into one long vector:
        total_norm = sqrt(sum over every array g of sum(g^2))
    If total_norm > max_norm, every array is multiplied by the SAME factor
        max_norm / (total_norm + 1e-6)
    (so the global norm becomes max_norm and the direction is kept);
    otherwise the arrays are returned unchanged.

    Returns (clipped_grads, total_norm): clipped_grads a new list of new
    arrays, in the same order (do not modify the arrays you were given), and
    total_norm as a Python float, measured BEFORE clipping.
    """
    # BEGIN SOLUTION
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0
    return [g * scale for g in grads], total_norm
    # END SOLUTION
