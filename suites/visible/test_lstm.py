"""Checks you can run yourself for the lstm module: `course check lstm.<exercise>`."""

import numpy as np

from grader.checks import check, expect_close, expect_shape, expect_tuple, numerical_gradients


def _step_fwd(student, *args):
    return expect_tuple(student.lstm.lstm_step_forward(*args), ("next_h", "next_c", "cache"), "lstm_step_forward")


def _step_bwd(student, *args):
    return expect_tuple(student.lstm.lstm_step_backward(*args),
                        ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), "lstm_step_backward")


def _fwd(student, *args):
    return expect_tuple(student.lstm.lstm_forward(*args), ("h", "cache"), "lstm_forward")


def _bwd(student, *args):
    return expect_tuple(student.lstm.lstm_backward(*args), ("dx", "dh0", "dWx", "dWh", "db"), "lstm_backward")


def _random_weights(rng, D, H):
    return (0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
            0.5 * rng.standard_normal(4 * H))


# ---------------------------------------------------------------- lstm_step_forward

def _tiny_step():
    x = np.array([[1.0, -2.0]])
    prev_h = np.array([[0.5]])
    prev_c = np.array([[-1.0]])
    Wx = np.array([[0.1, -0.2, 0.3, 0.4], [-0.5, 0.6, -0.7, 0.8]])
    Wh = np.array([[0.9, -1.0, 1.1, -1.2]])
    b = np.array([0.1, 0.2, -0.3, 0.4])
    return x, prev_h, prev_c, Wx, Wh, b


@check("lstm.lstm_step_forward")
def test_step_forward_tiny(student):
    """known values on a tiny input (N=1, D=2, H=1)"""
    next_h, next_c, _ = _step_fwd(student, *_tiny_step())
    expect_close(next_c, np.array([[0.6511380755039162]]), what="next_c")
    expect_close(next_h, np.array([[0.11323698693450365]]), what="next_h")


@check("lstm.lstm_step_forward", kind="property")
def test_step_forward_shapes(student, rng):
    """next_h and next_c have shape (N, H) (N=3, D=4, H=5)"""
    N, D, H = 3, 4, 5
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, *_random_weights(rng, D, H))
    expect_shape(next_h, (N, H), what="next_h")
    expect_shape(next_c, (N, H), what="next_c")


@check("lstm.lstm_step_forward")
def test_visible_step_forward_keeps_memory(student, rng):
    """forget gate open and input gate shut: the cell state is kept, and next_h = 0.5 * tanh of it (o = 0.5)"""
    N, D, H = 2, 3, 2
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh = np.zeros((D, 4 * H)), np.zeros((H, 4 * H))
    Wx[:, 2 * H:3 * H] = rng.standard_normal((D, H))          # the candidate g is not zero
    b = np.concatenate([np.full(H, -40.0), np.full(H, 40.0), np.zeros(H), np.zeros(H)])
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    expect_close(next_c, prev_c, what="next_c")
    # the output gate's block of Wx, Wh and b is zero, so o = sigmoid(0) = 0.5
    expect_close(next_h, 0.5 * np.tanh(prev_c), what="next_h")


# ---------------------------------------------------------------- lstm_step_backward

@check("lstm.lstm_step_backward")
def test_step_backward_tiny(student):
    """known values on a tiny input (N=1, D=2, H=1)"""
    _, _, cache = _step_fwd(student, *_tiny_step())
    got = _step_bwd(student, np.array([[1.5]]), np.array([[-0.5]]), cache)
    expected = (
        np.array([[0.03686942267240678, 0.16578105934112342]]),
        np.array([[-0.25942727754532063]]),
        np.array([[-0.04641791794579571]]),
        np.array([[-0.03900279648910543, 0.03924796194567261, -0.01960945731404883, 0.1362553297616662],
                  [0.07800559297821086, -0.07849592389134522, 0.03921891462809766, -0.2725106595233324]]),
        np.array([[-0.019501398244552715, 0.019623980972836304, -0.009804728657024414, 0.0681276648808331]]),
        np.array([-0.03900279648910543, 0.03924796194567261, -0.01960945731404883, 0.1362553297616662]),
    )
    for value, want, name in zip(got, expected, ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")):
        expect_close(value, want, what=name)


@check("lstm.lstm_step_backward")
def test_step_backward_gradcheck(student, rng):
    """gradient check of all six gradients (N=2, D=3, H=2; dnext_h and dnext_c both nonzero)"""
    N, D, H = 2, 3, 2
    args = (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))) \
        + _random_weights(rng, D, H)
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    df = np.concatenate([dnext_h.ravel(), dnext_c.ravel()])
    _, _, cache = _step_fwd(student, *args)
    got = _step_bwd(student, dnext_h, dnext_c, cache)
    numeric = numerical_gradients(student, student.lstm.lstm_step_forward, args, df, range(len(args)), outputs=(0, 1))
    for value, want, name in zip(got, numeric, ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")):
        expect_close(value, want, what=name, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- lstm_forward

@check("lstm.lstm_forward")
def test_forward_tiny(student):
    """known values on a tiny input (N=1, T=3, D=2, H=2)"""
    x = np.array([[[1.0, -0.5], [0.2, 0.3], [-0.4, 0.9]]])
    h0 = np.array([[0.3, -0.2]])
    Wx = np.linspace(-0.7, 0.8, 16).reshape(2, 8)
    Wh = np.linspace(0.4, -0.6, 16).reshape(2, 8)
    b = np.array([0.0, 0.1, 0.9, 0.2, -0.3, 0.4, 0.0, -0.1])
    h, _ = _fwd(student, x, h0, Wx, Wh, b)
    expected = np.array([[[-0.08997537130684907, 0.0020705547474849373],
                          [-0.13740687457551065, 0.13023968710171369],
                          [-0.05705980370759896, 0.3470692472356001]]])
    expect_close(h, expected, what="h")


@check("lstm.lstm_forward")
def test_forward_first_step(student, rng):
    """h has shape (N, T, H) and h[:, 0] is one lstm_step_forward from h0 and a zero cell state"""
    N, T, D, H = 2, 4, 3, 5
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    weights = _random_weights(rng, D, H)
    h, _ = _fwd(student, x, h0, *weights)
    expect_shape(h, (N, T, H), what="h")
    first, _, _ = _step_fwd(student, x[:, 0], h0, np.zeros((N, H)), *weights)
    expect_close(h[:, 0], first, what="h[:, 0]")


# ---------------------------------------------------------------- lstm_backward

def _seq_gradcheck(student, rng, which, names):
    N, T, D, H = 2, 3, 4, 3
    args = (rng.standard_normal((N, T, D)), rng.standard_normal((N, H))) + _random_weights(rng, D, H)
    dh = rng.standard_normal((N, T, H))
    _, cache = _fwd(student, *args)
    got = _bwd(student, dh, cache)
    numeric = numerical_gradients(student, student.lstm.lstm_forward, args, dh, which)
    for k, want, name in zip(which, numeric, names):
        expect_close(got[k], want, what=name, rtol=1e-5, atol=1e-7)


@check("lstm.lstm_backward")
def test_visible_backward_gradcheck_inputs(student, rng):
    """gradient check for x and h0 (N=2, T=3, D=4, H=3; a gradient on every hidden state)"""
    _seq_gradcheck(student, rng, (0, 1), ("dx", "dh0"))


@check("lstm.lstm_backward")
def test_visible_backward_gradcheck_weights(student, rng):
    """gradient check for Wx, Wh and b (N=2, T=3, D=4, H=3; a gradient on every hidden state)"""
    _seq_gradcheck(student, rng, (2, 3, 4), ("dWx", "dWh", "db"))


@check("lstm.lstm_backward")
def test_backward_tiny(student):
    """known values on a tiny input (N=1, T=2, D=1, H=1)"""
    x = np.array([[[0.5], [-1.0]]])
    h0 = np.array([[0.2]])
    Wx = np.array([[0.4, -0.3, 0.8, 0.6]])
    Wh = np.array([[-0.5, 0.7, 0.2, -0.9]])
    b = np.array([0.1, 0.5, -0.2, 0.3])
    _, cache = _fwd(student, x, h0, Wx, Wh, b)
    got = _bwd(student, np.array([[[1.0], [-2.0]]]), cache)
    expected = (
        np.array([[[-0.01889408241207808], [0.01577292122348403]]]),
        np.array([[-0.02762896244871227]]),
        np.array([[-0.14487700992162994, 0.02108622070794681, 0.11930795862038669, -0.09398276524132734]]),
        np.array([[0.010194782664053605, -0.0016385547418856388, -0.01874420648744715, 0.013121235725746075]]),
        np.array([0.13819993898554944, -0.02108622070794681, -0.17879897433941241, 0.13052029412722013]),
    )
    for value, want, name in zip(got, expected, ("dx", "dh0", "dWx", "dWh", "db")):
        expect_close(value, want, what=name)
