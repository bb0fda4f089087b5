"""Long short-term memory (LSTM), forward and backward, in numpy.

Why the vanilla RNN forgets
---------------------------
A vanilla RNN computes h_t = tanh(a_t) with a_t = x_t Wx + h_{t-1} Wh + b. Backpropagating
through one step multiplies the gradient by the Jacobian of h_t with respect to h_{t-1}:

    dL/dh_{t-1} = (dL/dh_t * (1 - h_t**2)) Wh^T        i.e. multiplied by  diag(tanh'(a_t)) Wh^T

Going back k steps multiplies k such matrices together. Every tanh' is at most 1 (and small
when a unit saturates), so unless Wh is large the product shrinks geometrically: the gradient
from a loss at step t barely reaches step t - 20, and the network cannot learn long-range
dependencies. (If Wh is large the product can instead explode.)

The LSTM's fix: an additive memory
----------------------------------
The LSTM keeps, next to the hidden state h_t, a cell state c_t that is updated by addition:

    c_t = f_t * c_{t-1} + i_t * g_t          (elementwise)
    h_t = o_t * tanh(c_t)

Along the path c_{t-1} -> c_t the derivative is just the forget gate, dc_t/dc_{t-1} = f_t
(elementwise, no weight matrix, no squashing nonlinearity). Going back k steps multiplies the
gradient by f_t * f_{t-1} * ... , which stays close to 1 for as long as the network keeps its
forget gates open (near 1). This is the "constant error carousel": error can ride along the
cell state for many steps without vanishing, and the network learns when to keep, overwrite
or erase its memory.

The four gates
--------------
All four are computed from the same pre-activation a = x_t Wx + h_{t-1} Wh + b, of shape (N, 4H),
split into four blocks of H columns:

    i = sigmoid(a[:, 0H:1H])   input gate:  how much of the candidate to write      (0..1)
    f = sigmoid(a[:, 1H:2H])   forget gate: how much of the old cell state to keep  (0..1)
    g = tanh(a[:, 2H:3H])      candidate ("cell gate"): the new content to write    (-1..1)
    o = sigmoid(a[:, 3H:4H])   output gate: how much of the memory to show as h_t   (0..1)

Shapes and conventions
----------------------
Everything is float64 and batch first: x (N, T, D), hidden and cell states (N, H),
Wx (D, 4H), Wh (H, 4H), b (4H,). The blocks are stacked in the order i, f, g, o, which is
the order PyTorch uses. So with

    Wx = lstm.weight_ih_l0.T,   Wh = lstm.weight_hh_l0.T,   b = lstm.bias_ih_l0 + lstm.bias_hh_l0

your lstm_forward gives the same hidden states as torch.nn.LSTM(D, H, batch_first=True).
(PyTorch keeps two bias vectors; only their sum matters.)

A forward function returns its result and a cache: whatever you need later for the backward
pass (its layout is up to you). A backward function takes the upstream gradient and that cache.
The helper `sigmoid` below is given to you: it is numerically stable (no overflow for large
negative inputs); use it for the three sigmoid gates.
"""

import numpy as np


def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + exp(-x)), elementwise."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])  # x < 0 here, so exp(x) cannot overflow
    out[~pos] = ex / (1.0 + ex)
    return out


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.

    Inputs:
        x       (N, D)   input at this step
        prev_h  (N, H)   previous hidden state
        prev_c  (N, H)   previous cell state
        Wx      (D, 4H)  input-to-gates weights
        Wh      (H, 4H)  hidden-to-gates weights
        b       (4H,)    gate biases

    Compute the pre-activation a = x Wx + prev_h Wh + b, of shape (N, 4H), and split its
    columns into four blocks of width H, in this order:
        i = sigmoid(block 0)   input gate
        f = sigmoid(block 1)   forget gate
        g = tanh(block 2)      candidate values
        o = sigmoid(block 3)   output gate
    Then
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)
    (all products elementwise).

    Returns a tuple (next_h, next_c, cache): next_h and next_c of shape (N, H), and a cache
    holding whatever lstm_step_backward will need (inputs, gate values, tanh(next_c), ...).
    """
    # BEGIN SOLUTION
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b               # (N, 4H)
    i = sigmoid(a[:, 0 * H:1 * H])             # (N, H)
    f = sigmoid(a[:, 1 * H:2 * H])             # (N, H)
    g = np.tanh(a[:, 2 * H:3 * H])             # (N, H)
    o = sigmoid(a[:, 3 * H:4 * H])             # (N, H)
    next_c = f * prev_c + i * g                # (N, H)
    tanh_c = np.tanh(next_c)                   # (N, H)
    next_h = o * tanh_c                        # (N, H)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
    return next_h, next_c, cache
    # END SOLUTION


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass for one LSTM time step.

    Inputs:
        dnext_h  (N, H)  gradient of the loss with respect to next_h
        dnext_c  (N, H)  gradient of the loss with respect to next_c coming from later
                         steps (next_c also influences next_h, so that is not all of it)
        cache            what your lstm_step_forward returned

    Work backwards through the forward formulas:
      - next_h = o * tanh(next_c): next_h gives o a gradient and gives next_c a second
        gradient, through tanh' = 1 - tanh(next_c)**2. Add it to dnext_c to get the total
        gradient dc of next_c.
      - next_c = f * prev_c + i * g: from dc get the gradients of f, prev_c, i and g.
      - through the nonlinearities: sigmoid'(a) = s * (1 - s) where s = sigmoid(a), and
        tanh'(a) = 1 - tanh(a)**2; put the four results side by side, in the order
        i, f, g, o, to get da of shape (N, 4H).
      - a = x Wx + prev_h Wh + b is an affine map: it gives dx, dprev_h, dWx, dWh and db
        just as in a linear layer (db adds up over the batch).

    Returns a tuple (dx, dprev_h, dprev_c, dWx, dWh, db) with the shapes of
    x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H) and b (4H,).
    """
    # BEGIN SOLUTION
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    do = dnext_h * tanh_c                                   # (N, H)
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c ** 2)        # (N, H) total gradient of next_c
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f                                        # (N, H)
    da = np.concatenate([
        di * i * (1.0 - i),
        df * f * (1.0 - f),
        dg * (1.0 - g ** 2),
        do * o * (1.0 - o),
    ], axis=1)                                              # (N, 4H)
    dx = da @ Wx.T                                          # (N, D)
    dprev_h = da @ Wh.T                                     # (N, H)
    dWx = x.T @ da                                          # (D, 4H)
    dWh = prev_h.T @ da                                     # (H, 4H)
    db = da.sum(axis=0)                                     # (4H,)
    return dx, dprev_h, dprev_c, dWx, dWh, db
    # END SOLUTION


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over a whole sequence.

    Inputs:
        x   (N, T, D)  input sequence, batch first
        h0  (N, H)     initial hidden state
        Wx  (D, 4H), Wh (H, 4H), b (4H,)   weights shared by every step

    The initial cell state is zero (as in torch.nn.LSTM when no c0 is given). For
    t = 0, 1, ..., T-1 call lstm_step_forward on x[:, t] and the previous hidden and cell
    states, and feed both new states into the next step. Keep every step's cache.

    Returns a tuple (h, cache): h of shape (N, T, H) holds the hidden state of every step
    (h[:, t] is the output of step t; the cell states are not returned), and cache holds
    what lstm_backward needs, e.g. the step caches.
    """
    # BEGIN SOLUTION
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))                    # (N, T, H)
    prev_h, prev_c = h0, np.zeros_like(h0)     # (N, H) each
    cache = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache
    # END SOLUTION


def lstm_backward(dh, cache):
    """Backpropagation through time for the LSTM of lstm_forward.

    Inputs:
        dh     (N, T, H)  upstream gradient of every hidden state: dh[:, t] is dL/dh[:, t]
                          coming from whatever uses the outputs (not through later steps)
        cache             what your lstm_forward returned

    Walk the steps from the last to the first, calling lstm_step_backward for each. The
    hidden state of step t receives gradient from two places: the upstream dh[:, t] and the
    step t+1 that used it as prev_h. The cell state of step t receives gradient only from
    step t+1 (the last cell state gets none). The weights are shared by all steps, so their
    gradients add up over time.

    Returns a tuple (dx, dh0, dWx, dWh, db) with the shapes of x (N, T, D), h0 (N, H),
    Wx (D, 4H), Wh (H, 4H) and b (4H,). There is no gradient for the initial cell state,
    which is a constant zero.
    """
    # BEGIN SOLUTION
    N, T, H = dh.shape
    dprev_h = np.zeros((N, H))                 # gradient reaching h_t from step t+1
    dprev_c = np.zeros((N, H))                 # gradient reaching c_t from step t+1
    dWx = dWh = db = 0.0
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dx = np.stack(dxs, axis=1)                 # (N, T, D)
    return dx, dprev_h, dWx, dWh, db
    # END SOLUTION
