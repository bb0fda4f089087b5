"""Hidden checks of the rnn module: one RNN step, backprop through time, the
vanishing-gradient curve and gradient clipping (numpy, float64, batch first)."""

import numpy as np
import torch

from grader.checks import CheckFailed, arguments_after, check, describe, expect, expect_close, expect_shape, expect_tuple, numerical_gradients

GRAD_TOL = dict(rtol=1e-5, atol=1e-7)      # central differences in float64
TORCH_TOL = dict(rtol=1e-7, atol=1e-10)    # same float64 arithmetic, other order of operations
STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


# ---------------------------------------------------------------- helpers


def _rnn_inputs(rng, N, T, D, H):
    x = rng.standard_normal((N, T, D))
    h0 = 0.5 * rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, H)) / np.sqrt(H)
    b = 0.1 * rng.standard_normal(H)
    return x, h0, Wx, Wh, b


def _step_inputs(rng, N, D, H):
    x, prev_h, Wx, Wh, b = _rnn_inputs(rng, N, 1, D, H)
    return x[:, 0], prev_h, Wx, Wh, b


def _step_forward(mod, *args):
    return expect_tuple(mod.rnn.rnn_step_forward(*args), ("next_h", "cache"), "rnn_step_forward")


def _step_backward(mod, dnext_h, cache):
    return expect_tuple(mod.rnn.rnn_step_backward(dnext_h, cache), STEP_GRADS, "rnn_step_backward")


def _forward(mod, *args):
    return expect_tuple(mod.rnn.rnn_forward(*args), ("h", "cache"), "rnn_forward")


def _backward(mod, dh, cache):
    return expect_tuple(mod.rnn.rnn_backward(dh, cache), SEQ_GRADS, "rnn_backward")


def _clip(mod, grads, max_norm):
    out = expect_tuple(mod.rnn.clip_grad_norm([g.copy() for g in grads], max_norm),
                   ("clipped_grads", "total_norm"), "clip_grad_norm")
    clipped, total = out
    expect(isinstance(clipped, (list, tuple)) and len(clipped) == len(grads),
           f"clipped_grads should be a list of {len(grads)} arrays, one per gradient given, "
           f"but it is {describe(clipped)}.")
    return list(clipped), total


def _torch_rnn(rng, D, H):
    """A float64 torch.nn.RNN with random weights, and the same weights as (Wx, Wh, b)."""
    rnn = torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) / np.sqrt(H)))
    Wx = rnn.weight_ih_l0.detach().numpy().T.copy()
    Wh = rnn.weight_hh_l0.detach().numpy().T.copy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy().copy()
    return rnn, Wx, Wh, b


# fixed inputs of the hand-computed checks
def _fixed_step():
    x = np.linspace(-0.4, 1.2, 6).reshape(2, 3)
    prev_h = np.linspace(-0.2, 0.5, 8).reshape(2, 4)
    Wx = np.linspace(-0.3, 0.7, 12).reshape(3, 4)
    Wh = np.linspace(-0.4, 0.1, 16).reshape(4, 4)
    b = np.linspace(-0.2, 0.4, 4)
    return x, prev_h, Wx, Wh, b


def _fixed_step_small():
    x = np.linspace(-0.5, 0.7, 4).reshape(2, 2)
    prev_h = np.linspace(0.3, -0.6, 6).reshape(2, 3)
    Wx = np.linspace(-0.8, 0.6, 6).reshape(2, 3)
    Wh = np.linspace(0.5, -0.5, 9).reshape(3, 3)
    b = np.array([0.1, -0.2, 0.05])
    dnext_h = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    return x, prev_h, Wx, Wh, b, dnext_h


def _fixed_seq(H=3):
    x = np.linspace(-1.0, 1.0, 12).reshape(2, 3, 2)
    h0 = np.linspace(0.4, -0.4, 2 * H).reshape(2, H)
    Wx = np.linspace(-0.7, 0.9, 2 * H).reshape(2, H)
    Wh = np.linspace(0.6, -0.6, H * H).reshape(H, H)
    b = np.linspace(0.1, -0.1, H)
    return x, h0, Wx, Wh, b


# ---------------------------------------------------------------- rnn_step_forward

@check("rnn.rnn_step_forward", weight=2)
def test_step_forward_fixed_values(student):
    """hand-computed values on a small fixed input (N=2, D=3, H=4)"""
    next_h, _ = _step_forward(student, *_fixed_step())
    expected = np.array([[0.123487708841, 0.287314230233, 0.43589492205, 0.56399101775],
                         [-0.0126053928939, 0.441474363368, 0.744601093218, 0.895176361848]])
    expect_close(next_h, expected, what="next_h")


@check("rnn.rnn_step_forward", kind="property")
def test_step_forward_keeps_float64(student, rng):
    """float64 in, float64 out"""
    next_h, _ = _step_forward(student, *_step_inputs(rng, 3, 4, 5))
    expect(isinstance(next_h, np.ndarray) and next_h.dtype == np.float64,
           f"next_h should be a float64 array like the inputs, but it is {describe(next_h)}.")


@check("rnn.rnn_step_forward")
def test_step_forward_zero_input_and_state(student, rng):
    """zero input and zero previous state leave only the bias"""
    _, _, Wx, Wh, b = _step_inputs(rng, 2, 3, 4)
    next_h, _ = _step_forward(student, np.zeros((2, 3)), np.zeros((2, 4)), Wx, Wh, b)
    expect_close(next_h, np.tanh(np.broadcast_to(b, (2, 4))), what="next_h")


@check("rnn.rnn_step_forward", weight=2)
def test_step_forward_random_shapes(student, ref, rng):
    """random inputs of several shapes: batch of one, D != H, one unit"""
    for N, D, H in [(1, 3, 5), (4, 7, 2), (3, 5, 5), (2, 1, 1)]:
        args = _step_inputs(rng, N, D, H)
        want, _ = _step_forward(ref, *args)
        got, _ = _step_forward(student, *args)
        expect_close(got, want, what=f"next_h (N={N}, D={D}, H={H})")


@check("rnn.rnn_step_forward")
def test_step_forward_saturates(student, rng):
    """large pre-activations saturate towards ±1 without overflow"""
    x, prev_h, Wx, Wh, b = _step_inputs(rng, 2, 3, 4)
    scale = (1000 + np.abs(b).max()) / np.abs(x @ Wx + prev_h @ Wh).min()   # every |pre-activation| >= 1000
    args = (scale * x, scale * prev_h, Wx, Wh, b)
    next_h, _ = _step_forward(student, *args)
    expect(np.all(np.isfinite(np.asarray(next_h, dtype=np.float64))),
           "next_h contains inf or NaN for large pre-activations; np.tanh handles them without overflow.")
    expect_close(next_h, np.tanh(args[0] @ Wx + args[1] @ Wh + b), what="next_h")


@check("rnn.rnn_step_forward", weight=2)
def test_step_forward_matches_torch(student, rng):
    """one step equals torch.nn.RNN with Wx = weight_ih.T, Wh = weight_hh.T, b = bias_ih + bias_hh"""
    rnn, Wx, Wh, b = _torch_rnn(rng, 4, 3)
    x, prev_h = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    with torch.no_grad():
        want = rnn(torch.from_numpy(x[:, None]), torch.from_numpy(prev_h[None]))[0][:, 0].numpy()
    got, _ = _step_forward(student, x, prev_h, Wx, Wh, b)
    expect_close(got, want, what="next_h", **TORCH_TOL)


# ---------------------------------------------------------------- rnn_step_backward

@check("rnn.rnn_step_backward", weight=2)
def test_step_backward_fixed_values(student):
    """hand-computed gradients on a small fixed input (N=2, D=2, H=3)"""
    *args, dnext_h = _fixed_step_small()
    _, cache = _step_forward(student, *args)
    grads = _step_backward(student, dnext_h, cache)
    expected = (
        np.array([[0.872530534149, -0.328440192346],
                  [-0.623225317276, 0.585075308479]]),
        np.array([[-0.593769282081, -0.0576216363243, 0.478526009433],
                  [0.48371889177, -0.0557010304426, -0.595120952655]]),
        np.array([[0.385518385943, 0.472166765795, 0.288714313708],
                  [0.202815767533, 0.47842989718, 0.468644228952]]),
        np.array([[-0.243096540035, -0.319299735479, -0.211750591307],
                  [-0.160880361751, -0.322118144602, -0.292719053167],
                  [-0.0786641834667, -0.324936553725, -0.373687515027]]),
        np.array([-0.456756546024, 0.0156578284616, 0.449824788111]),
    )
    for name, got, want in zip(STEP_GRADS, grads, expected):
        expect_close(got, want, what=name)


@check("rnn.rnn_step_backward", weight=3)
def test_step_backward_gradient_check(student, rng):
    """gradient check: every gradient agrees with central differences of your forward step"""
    args = _step_inputs(rng, 2, 4, 5)
    dnext_h = rng.standard_normal((2, 5))
    _, cache = _step_forward(student, *args)
    grads = _step_backward(student, dnext_h, cache)
    numeric = numerical_gradients(student, student.rnn.rnn_step_forward, args, dnext_h, range(len(args)))
    for name, got, want in zip(STEP_GRADS, grads, numeric):
        expect_close(got, want, what=name, **GRAD_TOL)


@check("rnn.rnn_step_backward", weight=2)
def test_step_backward_random_shapes(student, ref, rng):
    """random inputs of several shapes: batch of one, D != H, one unit"""
    for N, D, H in [(1, 3, 5), (4, 7, 2), (3, 5, 5), (2, 1, 1)]:
        args = _step_inputs(rng, N, D, H)
        dnext_h = rng.standard_normal((N, H))
        want = _step_backward(ref, dnext_h, _step_forward(ref, *args)[1])
        got = _step_backward(student, dnext_h, _step_forward(student, *args)[1])
        for name, g, w in zip(STEP_GRADS, got, want):
            expect_close(g, w, what=f"{name} (N={N}, D={D}, H={H})")


@check("rnn.rnn_step_backward", kind="property")
def test_step_backward_sums_over_batch(student, rng):
    """a batch of three identical rows: weight gradients add up over the batch"""
    x, prev_h, Wx, Wh, b = _step_inputs(rng, 1, 4, 3)
    dnext_h = rng.standard_normal((1, 3))
    one = _step_backward(student, dnext_h, _step_forward(student, x, prev_h, Wx, Wh, b)[1])
    tiled = (np.repeat(x, 3, axis=0), np.repeat(prev_h, 3, axis=0), Wx, Wh, b)
    three = _step_backward(student, np.repeat(dnext_h, 3, axis=0), _step_forward(student, *tiled)[1])
    for name, g1, g3 in zip(STEP_GRADS[2:], one[2:], three[2:]):
        g1, g3 = np.asarray(g1, dtype=np.float64), np.asarray(g3, dtype=np.float64)
        expect(g1.shape == g3.shape and np.allclose(g3, 3 * g1, rtol=1e-6, atol=1e-10),
               f"{name} for a batch of 3 identical rows should be 3 times {name} for one of those rows "
               f"(a weight's gradient is a sum over the batch), but it is {describe(g3)} "
               f"against {describe(g1)} for one row.")
    for name, g1, g3 in zip(STEP_GRADS[:2], one[:2], three[:2]):
        expect_close(g3, np.repeat(np.asarray(g1, dtype=np.float64), 3, axis=0), what=name)


@check("rnn.rnn_step_backward", kind="property")
def test_step_backward_saturated_units(student, rng):
    """saturated tanh units pass (almost) no gradient"""
    x, prev_h, Wx, Wh, b = _step_inputs(rng, 2, 3, 4)
    scale = (20 + np.abs(b).max()) / np.abs(x @ Wx + prev_h @ Wh).min()   # every |pre-activation| >= 20
    args = (scale * x, scale * prev_h, Wx, Wh, b)
    dnext_h = rng.standard_normal((2, 4))
    _, cache = _step_forward(student, *args)
    dx, dprev_h, dWx, dWh, db = _step_backward(student, dnext_h, cache)
    for name, g in zip(STEP_GRADS, (dx, dprev_h, dWx, dWh, db)):
        expect(np.abs(np.asarray(g, dtype=np.float64)).max() < 1e-6,
               f"{name} should be almost zero when every tanh unit is saturated (tanh' = 1 - next_h^2 is about 0); "
               f"its largest entry is {np.abs(np.asarray(g, dtype=np.float64)).max():.3g}. "
               "Did you multiply by the derivative of tanh?")


@check("rnn.rnn_step_backward", weight=2)
def test_step_backward_matches_torch(student, rng):
    """gradients equal torch autograd through torch.nn.RNN (one step)"""
    rnn, Wx, Wh, b = _torch_rnn(rng, 4, 3)
    x, prev_h, dnext_h = rng.standard_normal((5, 4)), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    xt = torch.from_numpy(x[:, None]).requires_grad_()
    ht = torch.from_numpy(prev_h[None]).requires_grad_()
    (rnn(xt, ht)[0][:, 0] * torch.from_numpy(dnext_h)).sum().backward()
    want = (xt.grad[:, 0], ht.grad[0], rnn.weight_ih_l0.grad.T, rnn.weight_hh_l0.grad.T, rnn.bias_ih_l0.grad)
    _, cache = _step_forward(student, x, prev_h, Wx, Wh, b)
    for name, got, w in zip(STEP_GRADS, _step_backward(student, dnext_h, cache), want):
        expect_close(got, w.numpy(), what=name, **TORCH_TOL)


# ---------------------------------------------------------------- rnn_forward

@check("rnn.rnn_forward", weight=2)
def test_forward_fixed_values(student):
    """hand-computed hidden states on a small fixed input (N=2, T=3, D=2, H=3)"""
    h, _ = _forward(student, *_fixed_seq())
    expected = np.array([[[0.685423658484, 0.0494142670063, -0.629364811649],
                          [0.77580581625, 0.515239288002, 0.10454139567],
                          [0.651948230088, 0.339014008292, -0.0725955972134]],
                         [[0.142300386904, 0.261424100027, 0.373083129108],
                          [-0.0400369512046, 0.0922483874442, 0.221355661194],
                          [-0.28150779286, 0.150316496746, 0.531510000848]]])
    expect_close(h, expected, what="h")


@check("rnn.rnn_forward", kind="property")
def test_forward_shape_batch_first(student, rng):
    """h is batch first, (N, T, H), with N, T, D, H all different"""
    h, _ = _forward(student, *_rnn_inputs(rng, 2, 5, 3, 4))
    expect_shape(h, (2, 5, 4), what="h")


@check("rnn.rnn_forward", weight=2)
def test_forward_random_shapes(student, ref, rng):
    """random inputs of several shapes: batch of one, T=1, D != H, longer sequences"""
    for N, T, D, H in [(1, 4, 3, 5), (3, 1, 4, 2), (2, 6, 7, 3), (4, 12, 5, 5)]:
        args = _rnn_inputs(rng, N, T, D, H)
        want, _ = _forward(ref, *args)
        got, _ = _forward(student, *args)
        expect_close(got, want, what=f"h (N={N}, T={T}, D={D}, H={H})")


@check("rnn.rnn_forward")
def test_forward_uses_h0(student, rng):
    """the initial state h0 feeds the first step"""
    x, h0, Wx, Wh, b = _rnn_inputs(rng, 2, 3, 4, 5)
    h, _ = _forward(student, x, 3 * h0, Wx, Wh, b)
    h = np.asarray(h, dtype=np.float64)
    expect(h.shape == (2, 3, 5), f"h has shape {h.shape}; expected shape (2, 3, 5).")
    expect_close(h[:, 0], np.tanh(x[:, 0] @ Wx + 3 * h0 @ Wh + b), what="h[:, 0] (the state after step 0)")


@check("rnn.rnn_forward")
def test_forward_one_step(student, rng):
    """T=1: the sequence is a single step"""
    x, h0, Wx, Wh, b = _rnn_inputs(rng, 3, 1, 2, 4)
    h, _ = _forward(student, x, h0, Wx, Wh, b)
    expect_close(h, np.tanh(x[:, 0] @ Wx + h0 @ Wh + b)[:, None], what="h")


@check("rnn.rnn_forward", weight=2)
def test_forward_matches_torch(student, rng):
    """equals torch.nn.RNN(batch_first=True) with the same weights"""
    rnn, Wx, Wh, b = _torch_rnn(rng, 3, 4)
    x, h0 = rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 4))
    with torch.no_grad():
        want = rnn(torch.from_numpy(x), torch.from_numpy(h0[None]))[0].numpy()
    got, _ = _forward(student, x, h0, Wx, Wh, b)
    expect_close(got, want, what="h", **TORCH_TOL)


# ---------------------------------------------------------------- rnn_backward

@check("rnn.rnn_backward", weight=2)
def test_backward_fixed_values(student):
    """hand-computed gradients on a small fixed input (N=2, T=3, D=2, H=2)"""
    args = _fixed_seq(H=2)
    dh = np.linspace(-1.0, 1.0, 12).reshape(2, 3, 2)
    _, cache = _forward(student, *args)
    grads = _backward(student, dh, cache)
    expected = (
        np.array([[[0.628788291333, -0.608878223149],
                   [0.33427164724, -0.469359258962],
                   [0.141836156105, -0.148064961779]],
                  [[-0.520080935103, 0.304150736163],
                   [-0.764654426296, 0.415864807782],
                   [-0.689413111341, 0.978385071625]]]),
        np.array([[-0.558614645299, 0.369635240562],
                  [0.448014490713, -0.170159262736]]),
        np.array([[2.33380269082, 1.23265721072],
                  [2.55868894809, 1.2364102517]]),
        np.array([[-0.618703005918, -0.402428181985],
                  [0.351982703878, 0.318656450848]]),
        np.array([1.236874415, 0.0206417253873]),
    )
    for name, got, want in zip(SEQ_GRADS, grads, expected):
        expect_close(got, want, what=name)


@check("rnn.rnn_backward", weight=3)
def test_backward_gradient_check(student, rng):
    """gradient check with T=3 and an upstream gradient on every hidden state"""
    args = _rnn_inputs(rng, 2, 3, 4, 5)
    dh = rng.standard_normal((2, 3, 5))
    _, cache = _forward(student, *args)
    grads = _backward(student, dh, cache)
    numeric = numerical_gradients(student, student.rnn.rnn_forward, args, dh, range(len(args)))
    for name, got, want in zip(SEQ_GRADS, grads, numeric):
        expect_close(got, want, what=name, **GRAD_TOL)


@check("rnn.rnn_backward", weight=2)
def test_backward_gradient_check_last_step_only(student, rng):
    """gradient check with T=4 when only the last hidden state receives a gradient"""
    args = _rnn_inputs(rng, 2, 4, 3, 2)
    dh = np.zeros((2, 4, 2))
    dh[:, -1] = rng.standard_normal((2, 2))
    _, cache = _forward(student, *args)
    grads = _backward(student, dh, cache)
    numeric = numerical_gradients(student, student.rnn.rnn_forward, args, dh, range(len(args)))
    for name, got, want in zip(SEQ_GRADS, grads, numeric):
        expect_close(got, want, what=name, **GRAD_TOL)


@check("rnn.rnn_backward", weight=2)
def test_backward_random_shapes(student, ref, rng):
    """random inputs of several shapes: batch of one, T=1, D != H, longer sequences"""
    for N, T, D, H in [(1, 4, 3, 5), (3, 1, 4, 2), (2, 6, 7, 3), (4, 10, 5, 5)]:
        args = _rnn_inputs(rng, N, T, D, H)
        dh = rng.standard_normal((N, T, H))
        want = _backward(ref, dh, _forward(ref, *args)[1])
        got = _backward(student, dh, _forward(student, *args)[1])
        for name, g, w in zip(SEQ_GRADS, got, want):
            expect_close(g, w, what=f"{name} (N={N}, T={T}, D={D}, H={H})")


@check("rnn.rnn_backward")
def test_backward_early_gradient_reaches_h0(student, rng):
    """an upstream gradient on the first hidden state only reaches dx[:, 0] and dh0"""
    args = _rnn_inputs(rng, 2, 4, 3, 5)
    dh = np.zeros((2, 4, 5))
    dh[:, 0] = rng.standard_normal((2, 5))
    _, cache = _forward(student, *args)
    dx, dh0, dWx, dWh, db = _backward(student, dh, cache)
    x, h0, Wx, Wh, b = args
    da = dh[:, 0] * (1 - np.tanh(x[:, 0] @ Wx + h0 @ Wh + b) ** 2)
    dx = np.asarray(dx, dtype=np.float64)
    expect(dx.shape == (2, 4, 3), f"dx has shape {dx.shape}; expected shape (2, 4, 3).")
    expect(np.allclose(dx[:, 1:], 0),
           "dx[:, t] for t > 0 should be zero when only h_0 receives a gradient: the inputs of later "
           "steps do not influence h_0. Is the upstream gradient dh[:, t] added at the right step?")
    expect_close(dx[:, 0], da @ Wx.T, what="dx[:, 0]")
    expect_close(dh0, da @ Wh.T, what="dh0")


@check("rnn.rnn_backward", weight=2)
def test_backward_matches_torch(student, rng):
    """gradients equal torch autograd through torch.nn.RNN"""
    rnn, Wx, Wh, b = _torch_rnn(rng, 3, 4)
    x, h0, dh = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 6, 4))
    xt = torch.from_numpy(x).requires_grad_()
    ht = torch.from_numpy(h0[None]).requires_grad_()
    (rnn(xt, ht)[0] * torch.from_numpy(dh)).sum().backward()
    want = (xt.grad, ht.grad[0], rnn.weight_ih_l0.grad.T, rnn.weight_hh_l0.grad.T, rnn.bias_ih_l0.grad)
    _, cache = _forward(student, x, h0, Wx, Wh, b)
    for name, got, w in zip(SEQ_GRADS, _backward(student, dh, cache), want):
        expect_close(got, w.numpy(), what=name, **TORCH_TOL)


# ---------------------------------------------------------------- hidden_grad_norms

def _show(norms):
    return "[" + ", ".join(f"{v:.3g}" for v in norms) + "]"


def _norms(mod, dh_last, *args):
    _, cache = _forward(mod, *args)
    return mod.rnn.hidden_grad_norms(dh_last, cache)


@check("rnn.hidden_grad_norms", weight=2)
def test_norms_fixed_values(student):
    """hand-computed curve on a small fixed input (N=2, T=3, D=2, H=3)"""
    dh_last = np.linspace(1.0, -1.5, 6).reshape(2, 3)
    expected = np.array([0.610245206595, 1.73981301575, 2.17944947177])
    expect_close(_norms(student, dh_last, *_fixed_seq()), expected, what="norms")


@check("rnn.hidden_grad_norms")
def test_norms_last_entry(student, rng):
    """one entry per step, and the last one is the norm of dh_last itself"""
    args = _rnn_inputs(rng, 3, 5, 4, 6)
    dh_last = rng.standard_normal((3, 6))
    norms = _norms(student, dh_last, *args)
    expect_shape(norms, (5,), what="norms")
    expect_close(np.asarray(norms)[-1], np.linalg.norm(dh_last), what="norms[T-1]")


@check("rnn.hidden_grad_norms", weight=2)
def test_norms_random_shapes(student, ref, rng):
    """random inputs of several shapes: batch of one, T=1, D != H, longer sequences"""
    for N, T, D, H in [(1, 5, 3, 4), (3, 1, 2, 5), (2, 6, 7, 3), (4, 15, 5, 5)]:
        args = _rnn_inputs(rng, N, T, D, H)
        dh_last = rng.standard_normal((N, H))
        want = _norms(ref, dh_last, *args)
        got = _norms(student, dh_last, *args)
        expect_close(got, want, what=f"norms (N={N}, T={T}, D={D}, H={H})")


@check("rnn.hidden_grad_norms", weight=2)
def test_norms_match_torch_autograd(student, rng):
    """equals ||dL/dh_t|| from torch autograd on the unrolled RNN"""
    x, h0, Wx, Wh, b = _rnn_inputs(rng, 3, 6, 4, 5)
    dh_last = rng.standard_normal((3, 5))
    Wh_t = torch.from_numpy(Wh).requires_grad_()
    h, hs = torch.from_numpy(h0), []
    for t in range(6):
        h = torch.tanh(torch.from_numpy(x[:, t]) @ torch.from_numpy(Wx) + h @ Wh_t + torch.from_numpy(b))
        h.retain_grad()
        hs.append(h)
    (hs[-1] * torch.from_numpy(dh_last)).sum().backward()
    want = np.array([float(h.grad.norm()) for h in hs])
    expect_close(_norms(student, dh_last, x, h0, Wx, Wh, b), want, what="norms")


@check("rnn.hidden_grad_norms")
def test_norms_vanish_small_weights(student, rng):
    """small recurrent weights: the gradient shrinks going back in time"""
    x, h0, Wx, Wh, b = _rnn_inputs(rng, 2, 8, 3, 5)
    Wh = 0.1 * rng.standard_normal((5, 5))
    norms = np.asarray(_norms(student, rng.standard_normal((2, 5)), x, h0, Wx, Wh, b), dtype=np.float64)
    expect_shape(norms, (8,), what="norms")
    expect(norms[0] < 0.01 * norms[-1],
           "the gradient at t=0 should be far smaller than at t=T-1 when Wh is small "
           f"(Wh = 0.1 * random, T=8), but norms = {_show(norms)}.")
    expect(np.all(np.diff(norms) > 0),
           f"with a small Wh the norms should grow with t (shrink going back), but norms = "
           f"{_show(norms)}.")


@check("rnn.hidden_grad_norms")
def test_norms_explode_large_weights(student, rng):
    """large recurrent weights and an unsaturated tanh: the gradient grows going back in time"""
    D, H, T = 3, 5, 5
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    Wh = 4.0 * q                                  # every singular value is 4
    x = 1e-4 * rng.standard_normal((2, T, D))     # tiny inputs: tanh stays in its linear range
    Wx = rng.standard_normal((D, H)) / np.sqrt(D)
    norms = np.asarray(_norms(student, rng.standard_normal((2, H)), x, np.zeros((2, H)), Wx, Wh, np.zeros(H)),
                       dtype=np.float64)
    expect_shape(norms, (T,), what="norms")
    expect(norms[0] > 10 * norms[-1],
           "the gradient at t=0 should be much larger than at t=T-1 when every singular value of Wh is 4 "
           f"and tanh is not saturated, but norms = {_show(norms)}.")
    expect(np.all(np.diff(norms) < 0),
           f"with a large Wh the norms should shrink with t (grow going back), but norms = "
           f"{_show(norms)}.")


# ---------------------------------------------------------------- clip_grad_norm

def _some_grads(rng, scale):
    return [scale * rng.standard_normal(shape) for shape in [(3, 4), (4, 4), (4,), (2, 3, 2)]]


@check("rnn.clip_grad_norm", weight=2)
def test_clip_fixed_values(student):
    """hand-computed example with two arrays above max_norm"""
    grads = [np.array([[3.0, 0.0], [0.0, 4.0]]), np.array([12.0])]
    clipped, total = _clip(student, grads, 6.5)
    expect_close(total, 13.0, what="total_norm")
    expect_close(clipped[0], np.array([[1.5, 0.0], [0.0, 2.0]]), what="clipped_grads[0]")
    expect_close(clipped[1], np.array([6.0]), what="clipped_grads[1]")


@check("rnn.clip_grad_norm", weight=2)
def test_clip_below_max_norm_unchanged(student, rng):
    """gradients whose global norm is below max_norm come back unchanged"""
    grads = _some_grads(rng, 0.1)
    total_norm = float(np.sqrt(sum((g**2).sum() for g in grads)))
    clipped, total = _clip(student, grads, 2 * total_norm)
    expect_close(total, total_norm, what="total_norm")
    for i, (got, want) in enumerate(zip(clipped, grads)):
        try:
            expect_close(got, want, what=f"clipped_grads[{i}]")
        except CheckFailed as failure:
            raise CheckFailed(f"the global norm ({total_norm:.4g}) is below max_norm ({2 * total_norm:.4g}), so the "
                              f"gradients should come back unchanged.\n{failure}") from None


@check("rnn.clip_grad_norm", weight=2)
def test_clip_above_max_norm_rescaled(student, rng):
    """above max_norm the global norm becomes max_norm and every direction is kept"""
    grads = _some_grads(rng, 1.0)
    total_norm = float(np.sqrt(sum((g**2).sum() for g in grads)))
    clipped, _ = _clip(student, grads, 0.5)
    arrays = [np.asarray(g, dtype=np.float64) for g in clipped]
    for i, (got, want) in enumerate(zip(arrays, grads)):
        expect_shape(got, want.shape, what=f"clipped_grads[{i}]")
    new_norm = float(np.sqrt(sum((g**2).sum() for g in arrays)))
    expect(abs(new_norm - 0.5) < 1e-5,
           f"after clipping, the global norm of all arrays together should be max_norm = 0.5, but it is {new_norm:.6g}.")
    for i, (got, want) in enumerate(zip(arrays, grads)):
        expect_close(got, want * (0.5 / total_norm), what=f"clipped_grads[{i}]", rtol=1e-5)


@check("rnn.clip_grad_norm")
def test_clip_returns_norm_before_clipping(student, rng):
    """total_norm is the global norm before clipping"""
    grads = _some_grads(rng, 2.0)
    total_norm = float(np.sqrt(sum((g**2).sum() for g in grads)))
    _, total = _clip(student, grads, 1.0)
    expect(np.ndim(total) == 0, f"total_norm should be a single number, but it is {describe(total)}.")
    expect_close(total, total_norm, what="total_norm")


@check("rnn.clip_grad_norm", weight=2)
def test_clip_global_norm_over_arrays(student, rng):
    """one norm for all arrays together (several arrays of different shapes, one small, one large)"""
    grads = [0.01 * rng.standard_normal((5, 3)), 10.0 * rng.standard_normal((3, 3)), rng.standard_normal(3)]
    clipped, total = _clip(student, grads, 1.0)
    ts = [torch.from_numpy(g.copy()) for g in grads]
    for t in ts:
        t.grad = t.clone()
    want_total = float(torch.nn.utils.clip_grad_norm_(ts, 1.0))
    expect_close(total, want_total, what="total_norm")
    for i, (got, t) in enumerate(zip(clipped, ts)):
        expect_close(got, t.grad.numpy(), what=f"clipped_grads[{i}]", rtol=1e-5)


@check("rnn.clip_grad_norm")
def test_clip_single_array(student, rng):
    """a list holding a single array"""
    g = 3.0 * rng.standard_normal((4, 2))
    norm = float(np.linalg.norm(g))
    clipped, total = _clip(student, [g], norm / 3)
    expect_close(total, norm, what="total_norm")
    expect_close(clipped[0], g / 3, what="clipped_grads[0]", rtol=1e-5)


@check("rnn.clip_grad_norm", kind="property")
def test_clip_leaves_inputs_unchanged(student, rng):
    """the arrays given are not modified (clipped_grads are new arrays)"""
    grads = _some_grads(rng, 1.0)
    given = [g.copy() for g in grads]
    _, (grads_after, _) = arguments_after(student, student.rnn.clip_grad_norm, given, 0.5)
    for i, (after, before) in enumerate(zip(grads_after, grads)):
        if isinstance(after, np.ndarray) and after.shape == before.shape and np.array_equal(after, before):
            continue
        if isinstance(after, np.ndarray) and after.shape == before.shape:
            where = tuple(int(k) for k in np.argwhere(after != before)[0])
            change = f"grads[{i}][{', '.join(map(str, where))}] went from {before[where]:.6g} to {after[where]:.6g}"
        else:
            change = f"grads[{i}] became {describe(after)}"
        raise CheckFailed(
            f"the call changed the caller's arrays: {change}. clipped_grads must be new arrays and the "
            "arrays given must stay as they were: g * scale makes a new array, while g *= scale, "
            "np.multiply(g, scale, out=g) or g[...] = ... write into the caller's array.")
