"""Checks of the rnn module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import numpy as np

from grader.checks import check, describe, expect, expect_close, expect_shape, expect_tuple, numerical_gradients

GRAD_TOL = dict(rtol=1e-5, atol=1e-7)      # central differences in float64
STEP_GRADS = ("dx", "dprev_h", "dWx", "dWh", "db")
SEQ_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


def _rnn_inputs(rng, N, T, D, H):
    x = rng.standard_normal((N, T, D))
    h0 = 0.5 * rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, H)) / np.sqrt(H)
    b = 0.1 * rng.standard_normal(H)
    return x, h0, Wx, Wh, b


def _tiny_step():
    x = np.array([[1.0, -1.0]])
    prev_h = np.array([[0.5, -0.5]])
    Wx = np.array([[0.1, 0.2], [0.3, 0.4]])
    Wh = np.array([[0.5, -0.5], [0.25, 0.75]])
    b = np.array([0.1, -0.1])
    return x, prev_h, Wx, Wh, b


def _tiny_seq():
    x = np.array([[[1.0], [0.5], [-1.0]]])       # N=1, T=3, D=1
    h0 = np.array([[0.2, -0.4]])
    Wx = np.array([[0.6, -0.3]])
    Wh = np.array([[0.5, 0.1], [-0.2, 0.4]])
    b = np.array([0.05, 0.0])
    return x, h0, Wx, Wh, b


def _forward(student, *args):
    return expect_tuple(student.rnn.rnn_forward(*args), ("h", "cache"), "rnn_forward")


def _norms(student, dh_last, *args):
    _, cache = _forward(student, *args)
    return student.rnn.hidden_grad_norms(dh_last, cache)


# ---------------------------------------------------------------- rnn_step_forward

@check("rnn.rnn_step_forward", weight=2)
def test_step_forward_tiny_example(student):
    """a tiny example (N=1, D=2, H=2)"""
    next_h, _ = expect_tuple(student.rnn.rnn_step_forward(*_tiny_step()), ("next_h", "cache"), "rnn_step_forward")
    expected = np.array([[0.0249947929684, -0.728254205982]])
    expect_close(next_h, expected, what="next_h")


@check("rnn.rnn_step_forward", kind="property")
def test_step_forward_shape(student, rng):
    """next_h has shape (N, H) when D != H"""
    x, prev_h, Wx, Wh, b = _rnn_inputs(rng, 3, 1, 4, 2)
    next_h, _ = expect_tuple(student.rnn.rnn_step_forward(x[:, 0], prev_h, Wx, Wh, b), ("next_h", "cache"),
                         "rnn_step_forward")
    expect_shape(next_h, (3, 2), what="next_h")


# ---------------------------------------------------------------- rnn_step_backward

@check("rnn.rnn_step_backward", weight=2)
def test_visible_step_backward_gradient_check(student, rng):
    """gradient check: every gradient agrees with central differences of your forward step"""
    x, prev_h, Wx, Wh, b = _rnn_inputs(rng, 2, 1, 4, 3)
    args = (x[:, 0], prev_h, Wx, Wh, b)
    dnext_h = rng.standard_normal((2, 3))
    _, cache = expect_tuple(student.rnn.rnn_step_forward(*args), ("next_h", "cache"), "rnn_step_forward")
    grads = expect_tuple(student.rnn.rnn_step_backward(dnext_h, cache), STEP_GRADS, "rnn_step_backward")
    numeric = numerical_gradients(student, student.rnn.rnn_step_forward, args, dnext_h, range(len(args)))
    for name, got, want in zip(STEP_GRADS, grads, numeric):
        expect_close(got, want, what=name, **GRAD_TOL)


@check("rnn.rnn_step_backward", kind="property")
def test_step_backward_shapes(student, rng):
    """each gradient has the shape of what it is the gradient of (N=3, D=5, H=2)"""
    x, prev_h, Wx, Wh, b = _rnn_inputs(rng, 3, 1, 5, 2)
    _, cache = expect_tuple(student.rnn.rnn_step_forward(x[:, 0], prev_h, Wx, Wh, b), ("next_h", "cache"),
                        "rnn_step_forward")
    grads = expect_tuple(student.rnn.rnn_step_backward(rng.standard_normal((3, 2)), cache), STEP_GRADS,
                     "rnn_step_backward")
    for name, got, shape in zip(STEP_GRADS, grads, [(3, 5), (3, 2), (5, 2), (2, 2), (2,)]):
        expect_shape(got, shape, what=name)


# ---------------------------------------------------------------- rnn_forward

@check("rnn.rnn_forward", weight=2)
def test_forward_tiny_example(student):
    """a tiny example (N=1, T=3, D=1, H=2)"""
    h, _ = _forward(student, *_tiny_seq())
    expected = np.array([[[0.680476006113, -0.413644442187],
                          [0.648651335305, -0.242482649929],
                          [-0.17534680343, 0.261643687395]]])
    expect_close(h, expected, what="h")


@check("rnn.rnn_forward", kind="property")
def test_forward_shape(student, rng):
    """h is batch first, (N, T, H), with N, T, D, H all different"""
    h, _ = _forward(student, *_rnn_inputs(rng, 2, 5, 3, 4))
    expect_shape(h, (2, 5, 4), what="h")


# ---------------------------------------------------------------- rnn_backward

@check("rnn.rnn_backward", weight=2)
def test_visible_backward_gradient_check(student, rng):
    """gradient check with T=3 and an upstream gradient on every hidden state"""
    args = _rnn_inputs(rng, 2, 3, 4, 5)
    dh = rng.standard_normal((2, 3, 5))
    _, cache = _forward(student, *args)
    grads = expect_tuple(student.rnn.rnn_backward(dh, cache), SEQ_GRADS, "rnn_backward")
    numeric = numerical_gradients(student, student.rnn.rnn_forward, args, dh, range(len(args)))
    for name, got, want in zip(SEQ_GRADS, grads, numeric):
        expect_close(got, want, what=name, **GRAD_TOL)


@check("rnn.rnn_backward", kind="property")
def test_backward_shapes(student, rng):
    """each gradient has the shape of what it is the gradient of (N=2, T=4, D=3, H=5)"""
    _, cache = _forward(student, *_rnn_inputs(rng, 2, 4, 3, 5))
    grads = expect_tuple(student.rnn.rnn_backward(rng.standard_normal((2, 4, 5)), cache), SEQ_GRADS, "rnn_backward")
    for name, got, shape in zip(SEQ_GRADS, grads, [(2, 4, 3), (2, 5), (3, 5), (5, 5), (5,)]):
        expect_shape(got, shape, what=name)


# ---------------------------------------------------------------- hidden_grad_norms

@check("rnn.hidden_grad_norms")
def test_visible_norms_last_entry(student, rng):
    """one entry per step, and the last one is the norm of dh_last itself"""
    dh_last = rng.standard_normal((2, 4))
    norms = _norms(student, dh_last, *_rnn_inputs(rng, 2, 6, 3, 4))
    expect_shape(norms, (6,), what="norms")
    expect_close(np.asarray(norms)[-1], np.linalg.norm(dh_last), what="norms[T-1]")


@check("rnn.hidden_grad_norms", weight=2)
def test_visible_norms_vanish_small_weights(student, rng):
    """small recurrent weights: the gradient shrinks going back in time"""
    x, h0, Wx, _, b = _rnn_inputs(rng, 2, 6, 3, 4)
    Wh = 0.1 * rng.standard_normal((4, 4))
    norms = np.asarray(_norms(student, rng.standard_normal((2, 4)), x, h0, Wx, Wh, b), dtype=np.float64)
    expect_shape(norms, (6,), what="norms")
    expect(norms[0] < norms[-1] and np.all(np.diff(norms) > 0),
           "the gradient at t=0 should be smaller than at t=T-1 when Wh is small, and the norms should grow "
           f"with t, but norms = [{', '.join(f'{v:.3g}' for v in norms)}].")


# ---------------------------------------------------------------- clip_grad_norm

@check("rnn.clip_grad_norm", weight=2)
def test_clip_tiny_example(student):
    """a gradient above max_norm is scaled down to it"""
    clipped, total = expect_tuple(student.rnn.clip_grad_norm([np.array([3.0, 4.0])], 1.0),
                              ("clipped_grads", "total_norm"), "clip_grad_norm")
    expect_close(total, 5.0, what="total_norm")
    expect(isinstance(clipped, (list, tuple)) and len(clipped) == 1,
           f"clipped_grads should be a list of one array, but it is {describe(clipped)}.")
    expect_close(clipped[0], np.array([0.6, 0.8]), what="clipped_grads[0]", rtol=1e-5)


@check("rnn.clip_grad_norm")
def test_clip_below_max_norm(student):
    """gradients whose global norm is below max_norm come back unchanged"""
    grads = [np.array([[1.0, -2.0], [0.0, 2.0]]), np.array([0.5, -0.5])]
    clipped, total = expect_tuple(student.rnn.clip_grad_norm([g.copy() for g in grads], 10.0),
                              ("clipped_grads", "total_norm"), "clip_grad_norm")
    expect_close(total, np.sqrt(9.5), what="total_norm")
    expect(isinstance(clipped, (list, tuple)) and len(clipped) == 2,
           f"clipped_grads should be a list of two arrays, but it is {describe(clipped)}.")
    for i, (got, want) in enumerate(zip(clipped, grads)):
        expect_close(got, want, what=f"clipped_grads[{i}]")
