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
    raise NotImplementedError("rnn.rnn_step_forward is not written yet; `course hint rnn.rnn_step_forward` gives a hint")


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one RNN time step.

    Inputs:
        dnext_h  (N, H)  upstream gradient dL/dnext_h
        cache            what your rnn_step_forward returned

    The step is next_h = tanh(a) with a = x Wx + prev_h Wh + b. Apply the
    chain rule in two stages:
      1. through the tanh, elementwise: the derivative of tanh can be written
         with its output, tanh'(a) = 1 - tanh(a)^2 = 1 - next_h^2;
      2. through the affine map a, as in a fully connected layer: the gradient
         of a matrix product X W is the upstream gradient times W^T for X, and
         X^T times the upstream gradient for W. This applies twice, to
         (x, Wx) and to (prev_h, Wh). b was added to every row of the batch,
         so its gradient sums over the batch.

    Returns (dx, dprev_h, dWx, dWh, db), each with the shape of what it is
    the gradient of: (N, D), (N, H), (D, H), (H, H), (H,).
    """
    raise NotImplementedError("rnn.rnn_step_backward is not written yet; `course hint rnn.rnn_step_backward` gives a hint")


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
    raise NotImplementedError("rnn.rnn_forward is not written yet; `course hint rnn.rnn_forward` gives a hint")


def rnn_backward(dh, cache):
    """Backpropagation through time over whole sequences.

    Inputs:
        dh     (N, T, H)  upstream gradient of every hidden state: dh[:, t] is
                          dL/dh_t coming from whatever used h_t outside the RNN
        cache             what your rnn_forward returned

    Walk t = T-1 down to 0, calling rnn_step_backward once per step. The
    gradient that goes into step t is
        dh[:, t] + (dprev_h returned by step t+1)      (zero from the future at t = T-1)
    The weights are shared, so dWx, dWh and db are the sums of the per-step
    gradients; dx[:, t] is step t's dx; dh0 is the dprev_h of step 0.

    Returns (dx, dh0, dWx, dWh, db) with shapes
        (N, T, D), (N, H), (D, H), (H, H), (H,).
    """
    raise NotImplementedError("rnn.rnn_backward is not written yet; `course hint rnn.rnn_backward` gives a hint")


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
    raise NotImplementedError("rnn.hidden_grad_norms is not written yet; `course hint rnn.hidden_grad_norms` gives a hint")


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
    raise NotImplementedError("rnn.clip_grad_norm is not written yet; `course hint rnn.clip_grad_norm` gives a hint")
