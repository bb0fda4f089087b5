"""Hidden checks for the lstm module (numpy LSTM, forward and backward)."""

import itertools

import numpy as np

from grader.checks import CheckFailed, check, expect, expect_close, expect_tuple, numerical_gradients

GATES = ("i", "f", "g", "o")
ORDER_HELP = ("the columns of Wx, Wh and b hold the gates in the order i, f, g, o: "
              "0:H input gate, H:2H forget gate, 2H:3H candidate g, 3H:4H output gate")


# ---------------------------------------------------------------- helpers


def _step_fwd(mod, *args):
    return expect_tuple(mod.lstm.lstm_step_forward(*args), ("next_h", "next_c", "cache"), "lstm_step_forward")


def _step_bwd(mod, *args):
    return expect_tuple(mod.lstm.lstm_step_backward(*args),
                        ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), "lstm_step_backward")


def _fwd(mod, *args):
    return expect_tuple(mod.lstm.lstm_forward(*args), ("h", "cache"), "lstm_forward")


def _bwd(mod, *args):
    return expect_tuple(mod.lstm.lstm_backward(*args), ("dx", "dh0", "dWx", "dWh", "db"), "lstm_backward")


def _weights(rng, D, H, scale=0.5):
    Wx = scale * rng.standard_normal((D, 4 * H))
    Wh = scale * rng.standard_normal((H, 4 * H))
    b = scale * rng.standard_normal(4 * H)
    return Wx, Wh, b


def _step_inputs(rng, N, D, H):
    x = rng.standard_normal((N, D))
    prev_h = rng.standard_normal((N, H))
    prev_c = rng.standard_normal((N, H))
    return (x, prev_h, prev_c) + _weights(rng, D, H)


def _seq_inputs(rng, N, T, D, H):
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    return (x, h0) + _weights(rng, D, H)


def _shape_note(N, T, D, H):
    return f"with N={N}, T={T}, D={D}, H={H}" if T is not None else f"with N={N}, D={D}, H={H}"


def _compare(actual, expected, names, where, rtol=1e-6, atol=1e-8):
    for got, want, name in zip(actual, expected, names):
        try:
            expect_close(got, want, what=name, rtol=rtol, atol=atol)
        except CheckFailed as exc:
            raise CheckFailed(f"{where}: {exc}") from None


def _permute_blocks(Wx, Wh, b, perm):
    """Weights whose gate block j is block perm[j] of the given ones."""
    H = Wh.shape[0]
    cols = np.concatenate([np.arange(k * H, (k + 1) * H) for k in perm])
    return Wx[:, cols], Wh[:, cols], b[cols]


def _order_diagnosis(got, run_ref, Wx, Wh, b):
    """If ``got`` matches the reference run with the gate blocks in another order, say which."""
    for perm in itertools.permutations(range(4)):
        if perm == (0, 1, 2, 3):
            continue
        want = run_ref(*_permute_blocks(Wx, Wh, b, perm))
        if np.shape(got) == np.shape(want) and np.allclose(got, want, rtol=1e-6, atol=1e-8):
            # the learner reads block perm[j] as gate j, so block k holds gate GATES[perm.index(k)]
            order = ", ".join(GATES[perm.index(k)] for k in range(4))
            return f"your result is what the order {order} gives; {ORDER_HELP}."
    return None


def _torch_lstm(rng, D, H, scale=0.5, b_ih=None, b_hh=None):
    """A float64 torch.nn.LSTM with random weights and the matching (Wx, Wh, b)."""
    import torch

    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    w_ih = scale * rng.standard_normal((4 * H, D))
    w_hh = scale * rng.standard_normal((4 * H, H))
    b_ih = scale * rng.standard_normal(4 * H) if b_ih is None else b_ih
    b_hh = scale * rng.standard_normal(4 * H) if b_hh is None else b_hh
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(w_ih))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w_hh))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        lstm.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    return lstm, w_ih.T.copy(), w_hh.T.copy(), b_ih + b_hh


def _torch_run(lstm, x, h0, c0=None, dh=None):
    """Hidden states of ``lstm`` on x (N, T, D); with ``dh`` also the autograd gradients."""
    import torch

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.zeros_like(h0t) if c0 is None else torch.tensor(c0[None], requires_grad=True)
    for p in lstm.parameters():
        p.grad = None
    out, (hn, cn) = lstm(xt, (h0t, c0t))
    if dh is None:
        return out.detach().numpy(), cn[0].detach().numpy()
    (out * torch.from_numpy(dh)).sum().backward()
    grads = (
        xt.grad.numpy(), h0t.grad[0].numpy(),
        c0t.grad[0].numpy() if c0 is not None else None,
        lstm.weight_ih_l0.grad.numpy().T, lstm.weight_hh_l0.grad.numpy().T,
        lstm.bias_ih_l0.grad.numpy(),
    )
    return out.detach().numpy(), grads


# ================================================================ lstm_step_forward

@check("lstm.lstm_step_forward", weight=2)
def test_step_forward_known_values(student):
    """known values on a small input (N=2, D=3, H=2)"""
    x = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.1]])
    prev_h = np.array([[0.2, -0.4], [0.7, 0.1]])
    prev_c = np.array([[1.0, -0.5], [-0.2, 0.3]])
    Wx = np.linspace(-0.6, 0.6, 24).reshape(3, 8)
    Wh = np.linspace(0.5, -0.5, 16).reshape(2, 8)
    b = np.array([0.1, -0.1, 0.5, 0.2, -0.3, 0.3, 0.0, 0.4])
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    expect_close(next_c, np.array([[1.0697302629534873, 0.15518968937129646],
                                   [-0.13059451267389718, 0.4930666292694812]]), what="next_c")
    expect_close(next_h, np.array([[0.5793991359722787, 0.12602302360614],
                                   [-0.07370110488191822, 0.3000069326332914]]), what="next_h")


@check("lstm.lstm_step_forward", weight=2)
def test_step_forward_matches_reference(student, ref, rng):
    """random inputs of several shapes, including a batch of one and D != H"""
    for N, D, H in [(1, 3, 2), (4, 5, 3), (3, 2, 6), (2, 1, 1)]:
        args = _step_inputs(rng, N, D, H)
        got = _step_fwd(student, *args)
        want = ref.lstm.lstm_step_forward(*args)
        _compare(got[:2], want[:2], ("next_h", "next_c"), _shape_note(N, None, D, H))


@check("lstm.lstm_step_forward", weight=2)
def test_step_forward_gate_order(student, ref, rng):
    """the gates are stacked in the order i, f, g, o (a bias that differs per gate)"""
    N, D, H = 3, 2, 4
    # very different biases per block make every gate recognisable
    bias = np.repeat([1.5, -1.0, 0.8, -2.0], H)
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H, scale=0.3, b_ih=bias, b_hh=np.zeros(4 * H))
    x, prev_h, prev_c = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
                         rng.standard_normal((N, H)))
    out, cn = _torch_run(lstm, x[:, None], prev_h, prev_c)
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    for got, want, name, index in ((next_c, cn, "next_c", 1), (next_h, out[:, 0], "next_h", 0)):
        try:
            expect_close(got, want, what=name)
        except CheckFailed as exc:
            note = _order_diagnosis(
                got, lambda *w: ref.lstm.lstm_step_forward(x, prev_h, prev_c, *w)[index], Wx, Wh, b)
            raise CheckFailed(f"{exc}\n{note}" if note else str(exc)) from None


@check("lstm.lstm_step_forward", weight=1)
def test_step_forward_matches_torch(student, rng):
    """same next_h and next_c as torch.nn.LSTM for one step"""
    N, D, H = 2, 3, 4
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H)
    x, prev_h, prev_c = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
                         rng.standard_normal((N, H)))
    out, cn = _torch_run(lstm, x[:, None], prev_h, prev_c)
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    expect_close(next_h, out[:, 0], what="next_h")
    expect_close(next_c, cn, what="next_c")


@check("lstm.lstm_step_forward", weight=1)
def test_step_forward_keeps_memory(student, rng):
    """forget gate open and input gate shut: the cell state is kept"""
    N, D, H = 2, 3, 3
    x, prev_h, prev_c, Wx, Wh, _ = _step_inputs(rng, N, D, H)
    Wx, Wh = 0.01 * Wx, 0.01 * Wh
    b = np.concatenate([np.full(H, -40.0), np.full(H, 40.0), np.zeros(H), np.zeros(H)])
    _, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    # next_h is left to the other checks: this one is about the cell state only
    try:
        expect_close(next_c, prev_c, what="next_c")
    except CheckFailed as exc:
        raise CheckFailed(f"{exc}\nWith f = 1 and i = 0, next_c = f * prev_c + i * g must equal prev_c.") from None


@check("lstm.lstm_step_forward", weight=1)
def test_step_forward_saturated(student, ref, rng):
    """large pre-activations (saturated gates) give finite, correct values"""
    N, D, H = 3, 4, 2
    x, prev_h, prev_c, Wx, Wh, b = _step_inputs(rng, N, D, H)
    x, b = 80.0 * x, 80.0 * b
    next_h, next_c, _ = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    expect(np.all(np.isfinite(next_h)) and np.all(np.isfinite(next_c)),
           "next_h or next_c contains inf or NaN when the gates saturate; use the given sigmoid "
           "and np.tanh, which are stable for large inputs.")
    want = ref.lstm.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    _compare((next_h, next_c), want[:2], ("next_h", "next_c"), "with large inputs")


# ================================================================ lstm_step_backward

def _step_loss_grads(student, args, dnext_h, dnext_c, which):
    """Numerical gradients of sum(next_h * dnext_h) + sum(next_c * dnext_c), using the
    learner's forward, with respect to the inputs ``args[k]`` for k in ``which``."""
    df = np.concatenate([dnext_h.ravel(), dnext_c.ravel()])
    return numerical_gradients(student, student.lstm.lstm_step_forward, args, df, which, outputs=(0, 1))


STEP_BWD_NAMES = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")


@check("lstm.lstm_step_backward", weight=2)
def test_step_backward_matches_reference(student, ref, rng):
    """random inputs of several shapes, including a batch of one and D != H"""
    for N, D, H in [(1, 3, 2), (4, 5, 3), (3, 2, 6), (2, 1, 1)]:
        args = _step_inputs(rng, N, D, H)
        dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        _, _, cache = _step_fwd(student, *args)
        got = _step_bwd(student, dnext_h, dnext_c, cache)
        want = ref.lstm.lstm_step_backward(dnext_h, dnext_c, ref.lstm.lstm_step_forward(*args)[2])
        _compare(got, want, STEP_BWD_NAMES, _shape_note(N, None, D, H))


@check("lstm.lstm_step_backward", weight=2)
def test_step_backward_gradcheck_inputs(student, rng):
    """gradient check for x, prev_h and prev_c (dnext_h and dnext_c both nonzero)"""
    N, D, H = 2, 4, 3
    args = _step_inputs(rng, N, D, H)
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    _, _, cache = _step_fwd(student, *args)
    got = _step_bwd(student, dnext_h, dnext_c, cache)
    num = _step_loss_grads(student, args, dnext_h, dnext_c, (0, 1, 2))
    _compare(got[:3], num, STEP_BWD_NAMES[:3], "compared with a numerical gradient", rtol=1e-5, atol=1e-7)


@check("lstm.lstm_step_backward", weight=2)
def test_step_backward_gradcheck_weights(student, rng):
    """gradient check for Wx, Wh and b (dnext_h and dnext_c both nonzero)"""
    N, D, H = 2, 4, 3
    args = _step_inputs(rng, N, D, H)
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    _, _, cache = _step_fwd(student, *args)
    got = _step_bwd(student, dnext_h, dnext_c, cache)
    num = _step_loss_grads(student, args, dnext_h, dnext_c, (3, 4, 5))
    _compare(got[3:], num, STEP_BWD_NAMES[3:], "compared with a numerical gradient", rtol=1e-5, atol=1e-7)


@check("lstm.lstm_step_backward", weight=1)
def test_step_backward_only_cell(student, ref, rng):
    """gradient arriving only through the cell state (dnext_h = 0)"""
    N, D, H = 3, 2, 4
    args = _step_inputs(rng, N, D, H)
    dnext_h, dnext_c = np.zeros((N, H)), rng.standard_normal((N, H))
    _, _, cache = _step_fwd(student, *args)
    got = _step_bwd(student, dnext_h, dnext_c, cache)
    want = ref.lstm.lstm_step_backward(dnext_h, dnext_c, ref.lstm.lstm_step_forward(*args)[2])
    _compare(got, want, STEP_BWD_NAMES, "with dnext_h = 0")


@check("lstm.lstm_step_backward", weight=1)
def test_step_backward_only_hidden(student, ref, rng):
    """gradient arriving only through the hidden state (dnext_c = 0)"""
    N, D, H = 3, 2, 4
    args = _step_inputs(rng, N, D, H)
    dnext_h, dnext_c = rng.standard_normal((N, H)), np.zeros((N, H))
    _, _, cache = _step_fwd(student, *args)
    got = _step_bwd(student, dnext_h, dnext_c, cache)
    want = ref.lstm.lstm_step_backward(dnext_h, dnext_c, ref.lstm.lstm_step_forward(*args)[2])
    try:
        expect_close(got[2], want[2], what="dprev_c")
    except CheckFailed as exc:
        raise CheckFailed(f"with dnext_c = 0: {exc}\nnext_h = o * tanh(next_c) also depends on next_c, so "
                          "dnext_h reaches next_c (and through it prev_c, i, f and g).") from None
    _compare(got, want, STEP_BWD_NAMES, "with dnext_c = 0")


@check("lstm.lstm_step_backward", weight=1)
def test_step_backward_matches_torch(student, rng):
    """same gradients as torch autograd for one step"""
    N, D, H = 2, 3, 4
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H)
    x, prev_h, prev_c = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
                         rng.standard_normal((N, H)))
    dnext_h = rng.standard_normal((N, H))
    _, (tdx, tdh0, tdc0, tdWx, tdWh, tdb) = _torch_run(lstm, x[:, None], prev_h, prev_c, dh=dnext_h[:, None])
    _, _, cache = _step_fwd(student, x, prev_h, prev_c, Wx, Wh, b)
    got = _step_bwd(student, dnext_h, np.zeros((N, H)), cache)
    _compare(got, (tdx[:, 0], tdh0, tdc0, tdWx, tdWh, tdb), STEP_BWD_NAMES, "compared with torch autograd")


# ================================================================ lstm_forward

@check("lstm.lstm_forward", weight=2)
def test_forward_known_values(student):
    """known values on a small input (N=2, T=3, D=2, H=2)"""
    x = np.array([[[1.0, -0.5], [0.3, 0.8], [-1.2, 0.1]],
                  [[0.0, 0.4], [-0.7, -0.2], [0.5, 1.5]]])
    h0 = np.array([[0.1, -0.3], [0.6, 0.2]])
    Wx = np.linspace(-0.8, 0.7, 16).reshape(2, 8)
    Wh = np.linspace(0.6, -0.4, 16).reshape(2, 8)
    b = np.array([0.2, 0.0, 1.0, 0.5, -0.4, 0.3, 0.1, -0.2])
    h, _ = _fwd(student, x, h0, Wx, Wh, b)
    expected = np.array([
        [[-0.11009946385559302, -0.01767527595915784],
         [-0.17927876630478473, 0.11918902726360012],
         [-0.12631628814110968, 0.2342197245865895]],
        [[-0.030456928449509705, 0.1605302983873153],
         [-0.1027076480412985, 0.16794015537467016],
         [-0.12040081265706255, 0.3496780851589454]],
    ])
    expect_close(h, expected, what="h")


@check("lstm.lstm_forward", weight=2)
def test_forward_matches_reference(student, ref, rng):
    """random inputs of several shapes, including a batch of one, T=1 and D != H"""
    for N, T, D, H in [(1, 4, 3, 2), (3, 1, 2, 5), (2, 5, 4, 3), (1, 1, 1, 1)]:
        args = _seq_inputs(rng, N, T, D, H)
        h, _ = _fwd(student, *args)
        want, _ = ref.lstm.lstm_forward(*args)
        _compare((h,), (want,), ("h",), _shape_note(N, T, D, H))


@check("lstm.lstm_forward", weight=1)
def test_forward_initial_cell_zero(student, ref, rng):
    """the initial cell state is zero, whatever h0 is"""
    N, T, D, H = 2, 3, 3, 3
    x, h0, Wx, Wh, b = _seq_inputs(rng, N, T, D, H)
    h0 = 2.0 * h0
    h, _ = _fwd(student, x, h0, Wx, Wh, b)
    want, _ = ref.lstm.lstm_forward(x, h0, Wx, Wh, b)
    try:
        expect_close(h, want, what="h")
    except CheckFailed as exc:
        # what an LSTM started from c0 = h0 would give
        prev_h, prev_c, wrong = h0, h0, []
        for t in range(T):
            prev_h, prev_c, _ = ref.lstm.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
            wrong.append(prev_h)
        if np.allclose(h, np.stack(wrong, axis=1), rtol=1e-6, atol=1e-8):
            raise CheckFailed(f"{exc}\nIt looks like the first cell state is h0; it should be zeros.") from None
        raise


@check("lstm.lstm_forward", weight=1)
def test_forward_matches_torch(student, rng):
    """same hidden states as torch.nn.LSTM(batch_first=True)"""
    N, T, D, H = 3, 4, 2, 3
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    want, _ = _torch_run(lstm, x, h0)
    h, _ = _fwd(student, x, h0, Wx, Wh, b)
    expect_close(h, want, what="h")


@check("lstm.lstm_forward", weight=1)
def test_forward_gate_order(student, ref, rng):
    """the gates are stacked in the order i, f, g, o (a bias that differs per gate)"""
    N, T, D, H = 2, 3, 2, 3
    bias = np.repeat([1.5, -1.0, 0.8, -2.0], H)
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H, scale=0.3, b_ih=np.zeros(4 * H), b_hh=bias)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    want, _ = _torch_run(lstm, x, h0)
    h, _ = _fwd(student, x, h0, Wx, Wh, b)
    try:
        expect_close(h, want, what="h")
    except CheckFailed as exc:
        note = _order_diagnosis(h, lambda *w: ref.lstm.lstm_forward(x, h0, *w)[0], Wx, Wh, b)
        raise CheckFailed(f"{exc}\n{note}" if note else str(exc)) from None


@check("lstm.lstm_forward", weight=1)
def test_forward_long_sequence(student, ref, rng):
    """a long sequence (T=60)"""
    args = _seq_inputs(rng, 2, 60, 3, 4)
    h, _ = _fwd(student, *args)
    want, _ = ref.lstm.lstm_forward(*args)
    expect_close(h, want, what="h")


# ================================================================ lstm_backward

BWD_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


def _seq_grads(student, args, dh, which):
    """Numerical gradients of sum(h * dh), using the learner's lstm_forward, with respect
    to the inputs ``args[k]`` for k in ``which``."""
    return numerical_gradients(student, student.lstm.lstm_forward, args, dh, which)


def _seq_backward(student, args, dh):
    _, cache = _fwd(student, *args)
    return _bwd(student, dh, cache)


@check("lstm.lstm_backward", weight=2)
def test_backward_matches_reference(student, ref, rng):
    """random inputs of several shapes, including a batch of one, T=1 and D != H"""
    for N, T, D, H in [(1, 4, 3, 2), (3, 1, 2, 5), (2, 5, 4, 3), (1, 1, 1, 1)]:
        args = _seq_inputs(rng, N, T, D, H)
        dh = rng.standard_normal((N, T, H))
        got = _seq_backward(student, args, dh)
        want = ref.lstm.lstm_backward(dh, ref.lstm.lstm_forward(*args)[1])
        _compare(got, want, BWD_NAMES, _shape_note(N, T, D, H))


@check("lstm.lstm_backward", weight=2)
def test_backward_gradcheck_inputs(student, rng):
    """gradient check for x and h0 with T=3 and a gradient on every hidden state"""
    N, T, D, H = 2, 3, 4, 3
    args = _seq_inputs(rng, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    got = _seq_backward(student, args, dh)
    num = _seq_grads(student, args, dh, (0, 1))
    _compare(got[:2], num, BWD_NAMES[:2], "compared with a numerical gradient", rtol=1e-5, atol=1e-7)


@check("lstm.lstm_backward", weight=2)
def test_backward_gradcheck_weights(student, rng):
    """gradient check for Wx, Wh and b with T=3 and a gradient on every hidden state"""
    N, T, D, H = 2, 3, 4, 3
    args = _seq_inputs(rng, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    got = _seq_backward(student, args, dh)
    num = _seq_grads(student, args, dh, (2, 3, 4))
    _compare(got[2:], num, BWD_NAMES[2:], "compared with a numerical gradient", rtol=1e-5, atol=1e-7)


@check("lstm.lstm_backward", weight=1)
def test_backward_last_step_only(student, ref, rng):
    """only the last hidden state receives a gradient"""
    N, T, D, H = 2, 4, 3, 2
    args = _seq_inputs(rng, N, T, D, H)
    dh = np.zeros((N, T, H))
    dh[:, -1] = rng.standard_normal((N, H))
    got = _seq_backward(student, args, dh)
    want = ref.lstm.lstm_backward(dh, ref.lstm.lstm_forward(*args)[1])
    _compare(got, want, BWD_NAMES, "with dh zero except at the last step")


@check("lstm.lstm_backward", weight=1)
def test_backward_matches_torch(student, rng):
    """same gradients as torch autograd through torch.nn.LSTM"""
    N, T, D, H = 2, 4, 3, 2
    lstm, Wx, Wh, b = _torch_lstm(rng, D, H)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    _, (tdx, tdh0, _, tdWx, tdWh, tdb) = _torch_run(lstm, x, h0, dh=dh)
    got = _seq_backward(student, (x, h0, Wx, Wh, b), dh)
    _compare(got, (tdx, tdh0, tdWx, tdWh, tdb), BWD_NAMES, "compared with torch autograd")
