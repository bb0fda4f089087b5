"""Hidden checks of the seq2seq module: the padding-proof Encoder, the bottleneck Decoder,
Luong's AttentionDecoder and greedy translate (torch, batch first, float32 and float64).

The learner's modules get the reference's weights through state dicts. A learner who loops
over time with an nn.LSTMCell holds the LSTM's weights as ``rnn.weight_ih`` instead of
``rnn.weight_ih_l0`` (grader.content.bottleneck.lstm_names): both names are accepted, and extra
buffers are left alone.

One mistake, one check: the decoders' value checks start from a zero state (the state has
its own check), and use unpadded sources (the mask has its own check). translate's fixed
checks use a hand-set counting model whose next token depends only on the newest token
(and, after bos, on the source), so that how the state flows shows only in the checks
against the reference, which name it.
"""

import math

import torch

from grader.checks import (CheckFailed, check, describe, expect, expect_close, expect_equal,
                           expect_gradients_close, expect_shape, plain_state, vjp)
from grader.content.bottleneck import lstm_names

PAD, BOS, EOS = 0, 1, 2
TOL64 = dict(rtol=1e-9, atol=1e-11)       # float64, the same formula in another order
TOL32 = dict(rtol=1e-4, atol=1e-5)        # float32
GRAD64 = dict(rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- helpers

def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _t(values):
    return torch.tensor(values, dtype=torch.float64)


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _parameters(module):
    """The module's parameters by name (buffers, persistent or not, are the learner's business)."""
    state = module.state_dict(keep_vars=True)
    return {name: value for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _lstm_shapes(E, H):
    return {"rnn.weight_ih_l0": (4 * H, E), "rnn.weight_hh_l0": (4 * H, H),
            "rnn.bias_ih_l0": (4 * H,), "rnn.bias_hh_l0": (4 * H,)}


def _expected_shapes(kind, V, E, H):
    shapes = {"embed.weight": (V, E), **_lstm_shapes(E, H)}
    if kind in ("Decoder", "AttentionDecoder"):
        shapes.update({"out.weight": (V, H), "out.bias": (V,)})
    if kind == "AttentionDecoder":
        shapes.update({"W.weight": (H, H), "W_c.weight": (H, 2 * H)})
    return shapes


def _args(kind, V, E, H, pad=PAD):
    return (V, E, H, pad) if kind == "Encoder" and pad != PAD else (V, E, H)


def _call(kind, args):
    return f"{kind}({', '.join(repr(a) for a in args)})"


def _check_parameters(module, kind, V, E, H, call):
    """The learner's parameters, by the nn.LSTM's names, must be exactly the syllabus's."""
    params = lstm_names(_parameters(module))
    want = _expected_shapes(kind, V, E, H)
    names, wanted = sorted(params), sorted(want)
    if names != wanted:
        missing = [n for n in wanted if n not in names]
        extra = [n for n in names if n not in wanted]
        text = (f"{call} has the parameters {names}; expected exactly {wanted} (an nn.LSTMCell's rnn.weight_ih "
                "counts as rnn.weight_ih_l0; buffers are free, parameters are not)")
        text += f" (missing: {missing})" if missing else ""
        text += f" (unexpected: {extra})" if extra else ""
        expect(False, text + ".")
    for name, shape in want.items():
        expect_shape(params[name], shape, what=f"the parameter {name} of {call}")


def _load(module, state, call):
    """Give the learner's module the parameters in ``state`` (nn.LSTM names), under its own
    names (an nn.LSTMCell's, if it has one); its extra buffers stay as they are."""
    own = {}
    for name in _parameters(module):
        own[next(iter(lstm_names({name: None})))] = name
    renamed = {own.get(key, key): value for key, value in state.items()}
    missed, unexpected = module.load_state_dict(renamed, strict=False)[:2]
    not_loaded = sorted(set(renamed) & set(missed)) + sorted(unexpected)
    expect(not not_loaded, f"{call}.load_state_dict could not set {not_loaded}: the parameters should be "
                           "embed, rnn (an nn.LSTM or nn.LSTMCell), and for a decoder out (and W, W_c).")


def _convert(module, dtype):
    """module.double() or module.float() (a dtype cannot be sent to the learner's process)."""
    if dtype == torch.float64:
        module.double()
    else:
        module.float()


def _random_state(kind, V, E, H, rng, dtype=torch.float64):
    """Random weights for every parameter: matrices scaled by 1/sqrt(fan_in), small biases."""
    state = {}
    for name, shape in _expected_shapes(kind, V, E, H).items():
        if name == "embed.weight":
            value = rng.standard_normal(shape)
        elif len(shape) == 2:
            value = 1.5 * rng.standard_normal(shape) / math.sqrt(shape[1])
        else:
            value = 0.3 * rng.standard_normal(shape)
        state[name] = torch.from_numpy(value).to(dtype)
    return state


def _ref_module(ref, kind, args, state, dtype=torch.float64):
    module = getattr(ref.seq2seq, kind)(*args)
    _convert(module, dtype)
    module.load_state_dict(state)
    return module


def _student_module(student, kind, args, state, dtype=torch.float64):
    call = _call(kind, args)
    module = getattr(student.seq2seq, kind)(*args)
    _convert(module, dtype)
    _load(module, state, call)
    return module


def _pair(student, ref, rng, kind, V, E, H, dtype=torch.float64, pad=PAD, state=None):
    """The learner's module and the reference, holding the same (random) weights in dtype."""
    args = _args(kind, V, E, H, pad)
    state = state if state is not None else _random_state(kind, V, E, H, rng, dtype)
    theirs = _ref_module(ref, kind, args, state, dtype)
    return _student_module(student, kind, args, plain_state(theirs), dtype), theirs


def _tokens(rng, B, S, low=3, high=8, lengths=None, pad=PAD):
    src = torch.from_numpy(rng.integers(low, high, size=(B, S)))
    if lengths is not None:
        for b, n in enumerate(lengths):
            src[b, n:] = pad
    return src


def _zero_state(B, H, dtype=torch.float64):
    return torch.zeros(1, B, H, dtype=dtype), torch.zeros(1, B, H, dtype=dtype)


def _random_lstm_state(rng, B, H, dtype=torch.float64):
    return 0.8 * _randn(rng, (1, B, H), dtype), 0.8 * _randn(rng, (1, B, H), dtype)


def _split(result, names, call):
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise CheckFailed(f"{call} should return a tuple ({', '.join(names)}), but it returned {describe(result)}.")
    return tuple(result)


def _state_pair(state, call):
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise CheckFailed(f"the state that {call} returned is {describe(state)}; expected a pair (h, c), "
                          "each (1, B, H).")
    return tuple(state)


def _encode(module, src, call):
    outputs, state = _split(module(src), ("outputs", "(h_n, c_n)"), call)
    return (outputs, *_state_pair(state, call))


def _decode(module, kind, tgt, state, enc=None, mask=None, call="the decoder"):
    if kind == "Decoder":
        logits, new_state = _split(module(tgt, state), ("logits", "state"), call)
        weights = None
    else:
        result = module(tgt, state, enc) if mask is None else module(tgt, state, enc, mask)
        logits, weights, new_state = _split(result, ("logits", "weights", "state"), call)
    return logits, weights, _state_pair(new_state, call)


def _grads_by_lstm_names(grads):
    return lstm_names(dict(grads)) if isinstance(grads, dict) else grads


# ---------------------------------------------------------------- LSTM by hand

def _sigmoid(x):
    return 1.0 / (1.0 + torch.exp(-x))


def _lstm_by_hand(xs, h, c, state):
    """One row through a one-layer LSTM, step by step, PyTorch's gate order (i, f, g, o)."""
    H = h.shape[0]
    w_ih, w_hh = state["rnn.weight_ih_l0"], state["rnn.weight_hh_l0"]
    b = state["rnn.bias_ih_l0"] + state["rnn.bias_hh_l0"]
    outs = []
    for x in xs:
        z = w_ih @ x + w_hh @ h + b
        i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs), h, c


def _hand_lstm_state(E, H):
    """Hand-set LSTM weights (small sizes), different for every gate and not symmetric."""
    w_ih = torch.tensor([[(0.3 * (r + 1) - 0.7 * k) * (-1) ** r for k in range(E)] for r in range(4 * H)],
                        dtype=torch.float64) / 2
    w_hh = torch.tensor([[0.25 * ((r + 2 * k) % 5) - 0.5 for k in range(H)] for r in range(4 * H)],
                        dtype=torch.float64)
    b_ih = torch.tensor([0.1 * ((3 * r) % 7) - 0.3 for r in range(4 * H)], dtype=torch.float64)
    b_hh = torch.tensor([0.05 * (r % 4) for r in range(4 * H)], dtype=torch.float64)
    return {"rnn.weight_ih_l0": w_ih, "rnn.weight_hh_l0": w_hh, "rnn.bias_ih_l0": b_ih, "rnn.bias_hh_l0": b_hh}


def _hand_embedding(V, E):
    return torch.tensor([[math.sin(1.3 * v + 0.7 * k) for k in range(E)] for v in range(V)], dtype=torch.float64)


# ---------------------------------------------------------------- Encoder

@check("seq2seq.Encoder", kind="property")
def test_encoder_parameters(student):
    """the parameters are embed (nn.Embedding(V, E)) and rnn (one LSTM layer E -> H, or an nn.LSTMCell)"""
    module = student.seq2seq.Encoder(7, 3, 5)
    _check_parameters(module, "Encoder", 7, 3, 5, "Encoder(7, 3, 5)")


@check("seq2seq.Encoder", weight=2)
def test_encoder_fixed_values(student):
    """fixed values: hand-set embedding and LSTM (V=5, E=2, H=2), one row of 3 tokens, no padding"""
    V, E, H = 5, 2, 2
    state = {"embed.weight": _hand_embedding(V, E), **_hand_lstm_state(E, H)}
    module = _student_module(student, "Encoder", (V, E, H), state)
    src = torch.tensor([[3, 1, 4]])
    call = "Encoder(5, 2, 2) with hand-set weights, on src = [[3, 1, 4]]"
    outputs, h_n, c_n = _encode(module, src, call)
    want, h, c = _lstm_by_hand(state["embed.weight"][src[0]], torch.zeros(H, dtype=torch.float64),
                               torch.zeros(H, dtype=torch.float64), state)
    expect_close(outputs, want[None], what=f"the outputs of {call}", **TOL64)
    expect_close(h_n, h[None, None], what=f"h_n of {call}", **TOL64)
    expect_close(c_n, c[None, None], what=f"c_n of {call}", **TOL64)


@check("seq2seq.Encoder", weight=2)
def test_encoder_matches_reference(student, ref, rng):
    """random weights, no padding (B=3, S=5, float64): outputs, h_n and c_n equal the reference's"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 8, 4, 6)
    src = _tokens(rng, 3, 5, low=1, high=8)
    call = "Encoder(8, 4, 6) on a (3, 5) source without padding"
    got = _encode(mine, src, call)
    want = theirs(src)
    for name, g, w in zip(("outputs", "h_n", "c_n"), got, (want[0], *want[1])):
        expect_close(g, w, what=f"{name} of {call}", **TOL64)


@check("seq2seq.Encoder", weight=3)
def test_encoder_padding_final_state(student, ref, rng):
    """padding: each row's h_n and c_n are its state after its last real token, as for the row alone"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 8, 4, 6)
    lengths = [5, 2, 4, 1]
    src = _tokens(rng, 4, 5, lengths=lengths)
    call = f"Encoder(8, 4, 6) on a (4, 5) source padded with 0 after lengths {lengths}"
    _, h_n, c_n = _encode(mine, src, call)
    for b, n in enumerate(lengths):
        _, (h, c) = theirs(src[b:b + 1, :n])
        where = f" of row {b} (length {n}; it should be the row's state after its own {n} tokens)"
        expect_close(torch.as_tensor(h_n)[:, b], h[:, 0], what=f"h_n{where}, {call}", **TOL64)
        expect_close(torch.as_tensor(c_n)[:, b], c[:, 0], what=f"c_n{where}, {call}", **TOL64)
    mixed = torch.tensor([[6, 3, 0, 0], [4, 0, 0, 0]])
    _, h_n, _ = _encode(mine, mixed, "Encoder(8, 4, 6) on [[6, 3, 0, 0], [4, 0, 0, 0]]")
    _, (h, _) = theirs(mixed)
    expect_close(h_n, h, what="h_n of Encoder(8, 4, 6) on [[6, 3, 0, 0], [4, 0, 0, 0]] (lengths 2 and 1)", **TOL64)


@check("seq2seq.Encoder", weight=2)
def test_encoder_padding_outputs(student, ref, rng):
    """padding: the outputs at real positions are the row's own; at padded positions, zeros"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 8, 4, 6)
    lengths = [3, 5, 1]
    src = _tokens(rng, 3, 5, lengths=lengths)
    call = f"Encoder(8, 4, 6) on a (3, 5) source padded with 0 after lengths {lengths}"
    outputs, _, _ = _encode(mine, src, call)
    expect_shape(outputs, (3, 5, 6), what=f"the outputs of {call}")
    outputs = torch.as_tensor(outputs)
    for b, n in enumerate(lengths):
        alone, _ = theirs(src[b:b + 1, :n])
        expect_close(outputs[b, :n], alone[0], what=f"the outputs of row {b} at its {n} real positions, {call}",
                     **TOL64)
        expect_close(outputs[b, n:], torch.zeros(5 - n, 6, dtype=torch.float64),
                     what=f"the outputs of row {b} at its padded positions {n}..4 (they should be zeros), {call}")


@check("seq2seq.Encoder", weight=1)
def test_encoder_other_pad_id(student, ref, rng):
    """pad_id is an argument: with Encoder(..., pad_id=3), a token 0 is a real token"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 6, 3, 4, pad=3)
    src = torch.tensor([[1, 5, 0, 0], [4, 0, 2, 0], [0, 1, 2, 4]])
    call = "Encoder(6, 3, 4, pad_id=3) on [[1, 5, 0, 0], [4, 0, 2, 0], [0, 1, 2, 4]] (no padding: 0 is a real token)"
    outputs, h_n, c_n = _encode(mine, src, call)
    want, (h, c) = theirs(src)
    expect_close(h_n, h, what=f"h_n of {call}", **TOL64)
    expect_close(c_n, c, what=f"c_n of {call}", **TOL64)
    expect_close(outputs, want, what=f"the outputs of {call}", **TOL64)


@check("seq2seq.Encoder", weight=1)
def test_encoder_shapes(student, ref, rng):
    """shapes: batch 1, S = 1, B > S; outputs (B, S, H), h_n and c_n (1, B, H)"""
    for B, S in [(1, 4), (3, 1), (5, 2), (1, 1)]:
        mine, theirs = _pair(student, ref, rng, "Encoder", 7, 3, 5)
        src = _tokens(rng, B, S, low=1, high=7)
        call = f"Encoder(7, 3, 5) on a ({B}, {S}) source"
        outputs, h_n, c_n = _encode(mine, src, call)
        expect_shape(outputs, (B, S, 5), what=f"the outputs of {call}")
        expect_shape(h_n, (1, B, 5), what=f"h_n of {call}")
        expect_shape(c_n, (1, B, 5), what=f"c_n of {call}")
        want, (h, c) = theirs(src)
        expect_close(outputs, want, what=f"the outputs of {call}", **TOL64)
        expect_close(h_n, h, what=f"h_n of {call}", **TOL64)


@check("seq2seq.Encoder", weight=1)
def test_encoder_float32(student, ref, rng):
    """float32: a float32 module gives float32 outputs and state, close to the reference's (no padding)"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 8, 4, 6, dtype=torch.float32)
    src = _tokens(rng, 3, 4, low=1, high=8)
    call = "Encoder(8, 4, 6) converted with .float(), on a (3, 4) source"
    got = _encode(mine, src, call)
    want = theirs(src)
    for name, g, w in zip(("outputs", "h_n", "c_n"), got, (want[0], *want[1])):
        expect(isinstance(g, torch.Tensor) and g.dtype == torch.float32,
               f"{name} of {call} is {describe(g)}; expected a float32 tensor (keep the module's dtype).")
        expect_close(g, w, what=f"{name} of {call}", **TOL32)


@check("seq2seq.Encoder", weight=2)
def test_encoder_gradients(student, ref, rng):
    """gradients of every parameter from the outputs equal the reference's (float64, no padding)"""
    mine, theirs = _pair(student, ref, rng, "Encoder", 7, 3, 4)
    src = _tokens(rng, 2, 4, low=1, high=7)
    up = _randn(rng, (2, 4, 4))
    _, _, got = vjp(mine, (src,), up, output=0)
    _, _, want = vjp(theirs, (src,), up, output=0)
    expect_gradients_close(_grads_by_lstm_names(got), want, None, **GRAD64)


# ---------------------------------------------------------------- Decoder and AttentionDecoder: shared

def _decoder_pair(student, ref, rng, kind, V=7, E=3, H=4, dtype=torch.float64):
    return _pair(student, ref, rng, kind, V, E, H, dtype=dtype)


def _enc_outputs(rng, B, S, H, dtype=torch.float64):
    return _randn(rng, (B, S, H), dtype)


def _compare_decoders(mine, theirs, kind, tgt, state, enc=None, mask=None, call="", tol=TOL64):
    got_logits, got_weights, got_state = _decode(mine, kind, tgt, state, enc, mask, call)
    want = theirs(tgt, state) if kind == "Decoder" else theirs(tgt, state, enc, mask)
    expect_close(got_logits, want[0], what=f"the logits of {call}", **tol)
    if kind == "AttentionDecoder":
        expect_close(got_weights, want[1], what=f"the weights of {call}", **tol)
    return got_logits, got_weights, got_state


def _state_check(student, ref, rng, kind):
    """Starts from the given state, returns the state after the last step, and goes on from it."""
    mine, theirs = _decoder_pair(student, ref, rng, kind)
    B, T, S, H = 2, 4, 3, 4
    tgt = _tokens(rng, B, T, low=1, high=7)
    state = _random_lstm_state(rng, B, H)
    enc = _enc_outputs(rng, B, S, H) if kind == "AttentionDecoder" else None
    call = f"{kind}(7, 3, 4) on a (2, 4) target from a random nonzero state (h, c)"
    # the returned state against the reference's (it depends on embed and rnn alone); the logits
    # against the learner's own call on the whole target, so a mistake in the logits costs
    # the value checks, not this one
    whole_logits, whole_weights, got_state = _decode(mine, kind, tgt, state, enc, None, call)
    want_state = (theirs(tgt, state) if kind == "Decoder" else theirs(tgt, state, enc))[-1]
    for name, g, w in zip(("h", "c"), got_state, want_state):
        expect_close(g, w, what=f"the returned state's {name} of {call}", **TOL64)
    current = state
    for t in range(T):
        step_call = f"{kind}(7, 3, 4) on token {t} alone (tgt_in[:, {t}:{t + 1}]), from the state the call on token " \
                    f"{t - 1} returned" if t else f"{kind}(7, 3, 4) on token 0 alone, from the same nonzero state"
        logits, weights, current = _decode(mine, kind, tgt[:, t:t + 1], current, enc, None, step_call)
        expect_close(logits, torch.as_tensor(whole_logits)[:, t:t + 1],
                     what=f"the logits of {step_call} (they should equal step {t} of the call on the whole target)",
                     **TOL64)
        if kind == "AttentionDecoder":
            expect_close(weights, torch.as_tensor(whole_weights)[:, t:t + 1],
                         what=f"the weights of {step_call} (step {t} of the call on the whole target)", **TOL64)


def _shapes_check(student, ref, rng, kind):
    V, H = 7, 4
    for B, T, S in [(1, 1, 3), (1, 4, 2), (3, 1, 5), (2, 3, 1)]:
        mine, theirs = _decoder_pair(student, ref, rng, kind, V=V, H=H)
        tgt = _tokens(rng, B, T, low=1, high=7)
        enc = _enc_outputs(rng, B, S, H) if kind == "AttentionDecoder" else None
        call = f"{kind}(7, 3, 4) on a ({B}, {T}) target" + (f" and a source of length {S}" if enc is not None else "")
        logits, weights, state = _compare_decoders(mine, theirs, kind, tgt, _zero_state(B, H), enc, call=call)
        expect_shape(logits, (B, T, V), what=f"the logits of {call}")
        if kind == "AttentionDecoder":
            expect_shape(weights, (B, T, S), what=f"the weights of {call}")
        for name, part in zip(("h", "c"), state):
            expect_shape(part, (1, B, H), what=f"the returned state's {name} of {call}")


def _float32_check(student, ref, rng, kind):
    mine, theirs = _decoder_pair(student, ref, rng, kind, dtype=torch.float32)
    tgt = _tokens(rng, 2, 3, low=1, high=7)
    enc, mask = None, None
    if kind == "AttentionDecoder":
        enc = _enc_outputs(rng, 2, 4, 4, torch.float32)
    state = _zero_state(2, 4, torch.float32)
    call = f"{kind}(7, 3, 4) converted with .float(), on float32 inputs from the zero state"
    logits, weights, new_state = _compare_decoders(mine, theirs, kind, tgt, state, enc, mask, call=call, tol=TOL32)
    named = [("the logits", logits), ("h of the returned state", new_state[0])]
    if kind == "AttentionDecoder":
        named.append(("the weights", weights))
    for name, value in named:
        expect(isinstance(value, torch.Tensor) and value.dtype == torch.float32,
               f"{name} of {call} is {describe(value)}; expected a float32 tensor (keep the module's dtype).")


# ---------------------------------------------------------------- Decoder

@check("seq2seq.Decoder", kind="property")
def test_decoder_parameters(student):
    """the parameters are embed (nn.Embedding(V, E)), rnn (one LSTM layer E -> H) and out (nn.Linear(H, V))"""
    _check_parameters(student.seq2seq.Decoder(7, 3, 5), "Decoder", 7, 3, 5, "Decoder(7, 3, 5)")


@check("seq2seq.Decoder", weight=2)
def test_decoder_fixed_values(student):
    """fixed values: hand-set weights (V=4, E=2, H=2), one row of 3 tokens from the zero state"""
    V, E, H = 4, 2, 2
    state = {"embed.weight": _hand_embedding(V, E), **_hand_lstm_state(E, H),
             "out.weight": _t([[1.0, -2.0], [0.5, 0.0], [-1.0, 1.5], [2.0, 1.0]]), "out.bias": _t([0.1, 0.0, -0.2, 0.3])}
    module = _student_module(student, "Decoder", (V, E, H), state)
    tgt = torch.tensor([[1, 3, 2]])
    call = "Decoder(4, 2, 2) with hand-set weights, on tgt_in = [[1, 3, 2]] from the zero state"
    logits, _, _ = _decode(module, "Decoder", tgt, _zero_state(1, H), call=call)
    outs, _, _ = _lstm_by_hand(state["embed.weight"][tgt[0]], torch.zeros(H, dtype=torch.float64),
                               torch.zeros(H, dtype=torch.float64), state)
    want = outs @ state["out.weight"].T + state["out.bias"]
    expect_close(logits, want[None], what=f"the logits of {call}", **TOL64)


@check("seq2seq.Decoder", weight=2)
def test_decoder_matches_reference(student, ref, rng):
    """random weights (B=3, T=5, float64), from the zero state: the logits equal the reference's"""
    mine, theirs = _decoder_pair(student, ref, rng, "Decoder")
    tgt = _tokens(rng, 3, 5, low=1, high=7)
    _compare_decoders(mine, theirs, "Decoder", tgt, _zero_state(3, 4), call="Decoder(7, 3, 4) on a (3, 5) target")


@check("seq2seq.Decoder", weight=2)
def test_decoder_state(student, ref, rng):
    """the state: starts from the given (h, c), returns the last step's; one token at a time equals the whole target"""
    _state_check(student, ref, rng, "Decoder")


@check("seq2seq.Decoder", weight=1)
def test_decoder_shapes(student, ref, rng):
    """shapes: batch 1 and T = 1; logits (B, T, V), h and c (1, B, H)"""
    _shapes_check(student, ref, rng, "Decoder")


@check("seq2seq.Decoder", weight=1)
def test_decoder_float32(student, ref, rng):
    """float32: a float32 module gives float32 logits and state, close to the reference's (zero state)"""
    _float32_check(student, ref, rng, "Decoder")


@check("seq2seq.Decoder", weight=2)
def test_decoder_gradients(student, ref, rng):
    """gradients of every parameter from the logits equal the reference's (float64, zero state)"""
    mine, theirs = _decoder_pair(student, ref, rng, "Decoder")
    tgt = _tokens(rng, 2, 3, low=1, high=7)
    up = _randn(rng, (2, 3, 7))
    _, _, got = vjp(mine, (tgt, _zero_state(2, 4)), up, output=0)
    _, _, want = vjp(theirs, (tgt, _zero_state(2, 4)), up, output=0)
    expect_gradients_close(_grads_by_lstm_names(got), want, None, **GRAD64)


# ---------------------------------------------------------------- AttentionDecoder

@check("seq2seq.AttentionDecoder", kind="property")
def test_attention_decoder_parameters(student):
    """the parameters are embed, rnn, W (H x H, no bias), W_c (2H -> H, no bias) and out (nn.Linear(H, V))"""
    _check_parameters(student.seq2seq.AttentionDecoder(7, 3, 5), "AttentionDecoder", 7, 3, 5,
                      "AttentionDecoder(7, 3, 5)")


def _attention_by_hand(state, tgt, enc, H):
    """Logits (T, V) and weights (T, S) of one row, written out step by step."""
    outs, _, _ = _lstm_by_hand(state["embed.weight"][tgt], torch.zeros(H, dtype=torch.float64),
                               torch.zeros(H, dtype=torch.float64), state)
    W, W_c = state["W.weight"], state["W_c.weight"]
    logits, weights = [], []
    for s in outs:
        scores = torch.stack([s @ W @ h for h in enc])              # s^T W h_i
        a = torch.exp(scores - scores.max())
        a = a / a.sum()
        context = (a[:, None] * enc).sum(0)
        hidden = torch.tanh(W_c @ torch.cat([context, s]))           # the context first
        logits.append(state["out.weight"] @ hidden + state["out.bias"])
        weights.append(a)
    return torch.stack(logits), torch.stack(weights)


@check("seq2seq.AttentionDecoder", weight=3)
def test_attention_decoder_fixed_values(student):
    """fixed values: hand-set weights (V=4, E=2, H=2, S=3), 2 steps from the zero state; W and W_c not symmetric"""
    V, E, H = 4, 2, 2
    state = {"embed.weight": _hand_embedding(V, E), **_hand_lstm_state(E, H),
             "W.weight": _t([[2.0, -1.0], [1.5, 0.5]]),
             "W_c.weight": _t([[1.0, -0.5, 0.25, 2.0], [-1.5, 0.5, 1.0, 0.0]]),
             "out.weight": _t([[1.0, -2.0], [0.5, 0.0], [-1.0, 1.5], [2.0, 1.0]]), "out.bias": _t([0.1, 0.0, -0.2, 0.3])}
    module = _student_module(student, "AttentionDecoder", (V, E, H), state)
    tgt = torch.tensor([[1, 3]])
    enc = _t([[[1.0, -1.0], [0.5, 2.0], [-2.0, 0.3]]])
    call = ("AttentionDecoder(4, 2, 2) with hand-set weights, on tgt_in = [[1, 3]], enc_outputs = "
            "[[[1, -1], [0.5, 2], [-2, 0.3]]], from the zero state")
    logits, weights, _ = _decode(module, "AttentionDecoder", tgt, _zero_state(1, H), enc, None, call)
    want_logits, want_weights = _attention_by_hand(state, tgt[0], enc[0], H)
    expect_close(weights, want_weights[None], what=f"the weights of {call}", **TOL64)
    expect_close(logits, want_logits[None], what=f"the logits of {call}", **TOL64)


@check("seq2seq.AttentionDecoder", weight=3)
def test_attention_decoder_matches_reference(student, ref, rng):
    """random weights, no mask (B=2, T=3, S=5, float64), zero state: logits and weights equal the reference's"""
    mine, theirs = _decoder_pair(student, ref, rng, "AttentionDecoder")
    tgt = _tokens(rng, 2, 3, low=1, high=7)
    enc = _enc_outputs(rng, 2, 5, 4)
    _compare_decoders(mine, theirs, "AttentionDecoder", tgt, _zero_state(2, 4), enc,
                      call="AttentionDecoder(7, 3, 4) on a (2, 3) target and (2, 5, 4) encoder outputs")
    ones = torch.ones(2, 5, dtype=torch.bool)
    _compare_decoders(mine, theirs, "AttentionDecoder", tgt, _zero_state(2, 4), enc, ones,
                      call="AttentionDecoder(7, 3, 4) with a src_mask that is True everywhere")


@check("seq2seq.AttentionDecoder", weight=3)
def test_attention_decoder_mask(student, ref, rng):
    """src_mask: padded source positions get zero weight, the others sum to 1; logits as the reference's"""
    mine, theirs = _decoder_pair(student, ref, rng, "AttentionDecoder")
    tgt = _tokens(rng, 3, 4, low=1, high=7)
    enc = 2.0 * _enc_outputs(rng, 3, 5, 4)
    mask = torch.tensor([[True, True, True, False, False], [True, True, True, True, True],
                         [True, False, False, False, False]])
    call = ("AttentionDecoder(7, 3, 4) on a (3, 4) target and (3, 5, 4) encoder outputs with src_mask = "
            "[[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]")
    logits, weights, _ = _decode(mine, "AttentionDecoder", tgt, _zero_state(3, 4), enc, mask, call)
    expect_shape(weights, (3, 4, 5), what=f"the weights of {call}")
    weights = torch.as_tensor(weights)
    hidden = ~mask[:, None, :].expand(3, 4, 5)
    expect_close(torch.where(hidden, weights, torch.zeros_like(weights)), torch.zeros(3, 4, 5, dtype=torch.float64),
                 what=f"the weights at the masked (padded) source positions of {call}")
    expect_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64),
                 what=f"the weights summed over the source positions, {call}", rtol=1e-9, atol=1e-12)
    want_logits, want_weights, _ = theirs(tgt, _zero_state(3, 4), enc, mask)
    expect_close(weights, want_weights, what=f"the weights of {call}", **TOL64)
    expect_close(logits, want_logits, what=f"the logits of {call}", **TOL64)


@check("seq2seq.AttentionDecoder", weight=2)
def test_attention_decoder_state(student, ref, rng):
    """the state: starts from the given (h, c), returns the last step's; one token at a time equals the whole target"""
    _state_check(student, ref, rng, "AttentionDecoder")


@check("seq2seq.AttentionDecoder", weight=1)
def test_attention_decoder_shapes(student, ref, rng):
    """shapes: batch 1, T = 1, S = 1, S != T; logits (B, T, V), weights (B, T, S), h and c (1, B, H)"""
    _shapes_check(student, ref, rng, "AttentionDecoder")


@check("seq2seq.AttentionDecoder", weight=1)
def test_attention_decoder_float32(student, ref, rng):
    """float32: a float32 module gives float32 logits, weights and state, close to the reference's (no mask)"""
    _float32_check(student, ref, rng, "AttentionDecoder")


@check("seq2seq.AttentionDecoder", weight=2)
def test_attention_decoder_gradients(student, ref, rng):
    """gradients of every parameter and of enc_outputs equal the reference's (float64, no mask)"""
    mine, theirs = _decoder_pair(student, ref, rng, "AttentionDecoder")
    tgt = _tokens(rng, 2, 3, low=1, high=7)
    enc = _enc_outputs(rng, 2, 4, 4)
    up = _randn(rng, (2, 3, 7))
    args = (tgt, _zero_state(2, 4), enc)
    _, got, got_params = vjp(mine, args, up, output=0, wrt=[2])
    _, want, want_params = vjp(theirs, args, up, output=0, wrt=[2])
    expect_gradients_close(got, want, ["enc_outputs"], **GRAD64)
    expect_gradients_close(_grads_by_lstm_names(got_params), want_params, None, **GRAD64)


# ---------------------------------------------------------------- translate: a hand-set counting model

def _counting_states(V, bos, succ, attention):
    """An encoder and a decoder (embeddings one-hot, E = H = V) that count: after bos comes
    succ(s) for a source whose last token is s, then succ(y) after every y.

    The encoder's cell keeps (nearly) only its last token: c = tanh(3) e_s. The decoder's
    forget gate is open at bos (c stays the encoder's) and shut at every other token (c
    becomes tanh(3) e_y), so its output is e_s at bos and e_y afterwards, whatever came
    before; out maps coordinate k to succ(k). With attention, W = 0 (uniform weights) and
    W_c = [0, 3 I] (h~ = tanh(3 s)): the same chain."""
    eye = torch.eye(V, dtype=torch.float64)
    zeros = torch.zeros(V, V, dtype=torch.float64)
    big = 10.0

    def lstm(w_i, w_f, b_i, b_f):
        return {"rnn.weight_ih_l0": torch.cat([w_i, w_f, 3.0 * eye, zeros]),
                "rnn.weight_hh_l0": torch.zeros(4 * V, V, dtype=torch.float64),
                "rnn.bias_ih_l0": torch.cat([torch.full((V,), b_i), torch.full((V,), b_f),
                                             torch.zeros(V), torch.full((V,), big)]).to(torch.float64),
                "rnn.bias_hh_l0": torch.zeros(4 * V, dtype=torch.float64)}

    encoder = {"embed.weight": eye.clone(), **lstm(zeros, zeros, big, -big)}
    not_bos = torch.ones(V, V, dtype=torch.float64)
    not_bos[:, bos] = 0.0
    decoder = {"embed.weight": eye.clone(), **lstm(2 * big * not_bos, -2 * big * not_bos, -big, big)}
    table = torch.zeros(V, V, dtype=torch.float64)
    for k, after in succ.items():
        table[after, k] = 1.0
    decoder["out.weight"] = 10.0 * table
    decoder["out.bias"] = torch.zeros(V, dtype=torch.float64)
    if attention:
        decoder["W.weight"] = zeros.clone()
        decoder["W_c.weight"] = torch.cat([zeros, 3.0 * eye], dim=1)
    return encoder, decoder


COUNT_V = 10
# pad 0, bos 1, eos 2; 3 -> 4 -> ... -> 9 -> eos; after eos the model would go on with 5
COUNT_SUCC = {0: 3, 1: 3, 2: 5, **{k: k + 1 for k in range(3, 9)}, 9: 2}


def _counting_models(student, attention=False, bos=BOS, succ=None, pad=PAD):
    enc_state, dec_state = _counting_states(COUNT_V, bos, succ or COUNT_SUCC, attention)
    kind = "AttentionDecoder" if attention else "Decoder"
    enc_args = (COUNT_V, COUNT_V, COUNT_V) if pad == PAD else (COUNT_V, COUNT_V, COUNT_V, pad)
    encoder = _student_module(student, "Encoder", enc_args, enc_state)
    decoder = _student_module(student, kind, (COUNT_V, COUNT_V, COUNT_V), dec_state)
    return encoder, decoder


def _translate(student, encoder, decoder, src, max_len, bos=BOS, eos=EOS, pad=PAD):
    return student.seq2seq.translate(encoder, decoder, src, max_len, bos, eos, pad_id=pad)


def _finish_steps(tokens, eos):
    return [row.index(eos) if eos in row else None for row in tokens.tolist()]


def _expect_tokens(got, want, where, judge_pad=True, judge_length=True, pad=PAD, eos=EOS):
    """translate's tokens must equal ``want``. Without ``judge_pad`` the positions after a row's
    eos are not judged; without ``judge_length`` extra columns of pad are allowed once every
    row has finished (each has a check of its own)."""
    try:
        expect(isinstance(got, torch.Tensor), f"translate should return a LongTensor (B, L), but it returned "
                                              f"{describe(got)}.")
        expect(got.dim() == 2 and not got.is_floating_point(),
               f"translate should return an integer (B, L) tensor, but it returned {describe(got)}.")
        B, L = want.shape
        expect(got.shape[0] == B, f"the result has {got.shape[0]} rows; expected one per source row, {B}.")
        all_finished = None not in _finish_steps(want, eos)
        if got.shape[1] != L and (judge_length or got.shape[1] < L or not all_finished):
            raise CheckFailed(f"the result has {got.shape[1]} columns; expected {L}.")
        if got.shape[1] > L:
            if judge_pad:
                expect_equal(got[:, L:], torch.full((B, got.shape[1] - L), pad),
                             what=f"the columns after {L} (every row has finished by then: pad_id={pad})")
            got = got[:, :L]
        if not judge_pad:
            after_eos = torch.zeros(B, L, dtype=torch.bool)
            for b, step in enumerate(_finish_steps(want, eos)):
                if step is not None:
                    after_eos[b, step + 1:] = True
            got = torch.where(after_eos, want.to(got.dtype), got)
        expect_equal(got.to(torch.int64), want,
                     what="the tokens" + ("" if judge_pad else " up to each row's eos"))
    except CheckFailed as exc:
        shown = got.tolist() if isinstance(got, torch.Tensor) and got.numel() <= 80 else describe(got)
        raise CheckFailed(f"{where}: {exc}\n  got:      {shown}\n  expected: {want.tolist()}") from None


COUNT_SRC = torch.tensor([[7, 3], [5, 7], [8, 5]])
COUNT_WANT = torch.tensor([[1, 4, 5, 6, 7, 8, 9, 2],
                           [1, 8, 9, 2, 0, 0, 0, 0],
                           [1, 6, 7, 8, 9, 2, 0, 0]])
COUNT_TEXT = ("a hand-set counting model (after bos comes s + 1 for a source ending with token s, then "
              "3 -> 4 -> ... -> 9 -> eos)")


# ---------------------------------------------------------------- translate

@check("seq2seq.translate", weight=3)
def test_translate_fixed_chain(student):
    """fixed values: a hand-set counting model with the plain Decoder, 3 rows that finish at different steps"""
    encoder, decoder = _counting_models(student)
    got = _translate(student, encoder, decoder, COUNT_SRC, 12)
    _expect_tokens(got, COUNT_WANT, f"translate(encoder, decoder, src={COUNT_SRC.tolist()}, max_len=12, bos_id=1, "
                                    f"eos_id=2, pad_id=0) on {COUNT_TEXT}")


@check("seq2seq.translate", weight=2)
def test_translate_attention_decoder(student):
    """an AttentionDecoder works too: the counting model with attention, up to each row's eos"""
    encoder, decoder = _counting_models(student, attention=True)
    got = _translate(student, encoder, decoder, COUNT_SRC, 12)
    _expect_tokens(got, COUNT_WANT, f"translate(encoder, attention_decoder, src={COUNT_SRC.tolist()}, max_len=12, "
                                    f"bos_id=1, eos_id=2, pad_id=0) on {COUNT_TEXT}, with attention (an "
                                    "AttentionDecoder takes (tgt_in, state, enc_outputs, src_mask) and returns "
                                    "(logits, weights, state))", judge_pad=False, judge_length=False)


@check("seq2seq.translate", weight=2)
def test_translate_pad_after_eos(student):
    """after its eos a row holds pad_id, whatever the model predicts there"""
    encoder, decoder = _counting_models(student)
    src = torch.tensor([[4, 7], [3, 8], [6, 3]])
    want = torch.tensor([[1, 8, 9, 2, 0, 0, 0, 0],
                         [1, 9, 2, 0, 0, 0, 0, 0],
                         [1, 4, 5, 6, 7, 8, 9, 2]])
    got = _translate(student, encoder, decoder, src, 10)
    _expect_tokens(got, want, "translate on a model that, after eos, would go on with 5, 6, ...; rows 0 and 1 "
                              "finish early and must be padded with pad_id=0", judge_length=False)


@check("seq2seq.translate", weight=2)
def test_translate_early_stop(student):
    """the loop stops as soon as every row has emitted eos (L < max_len)"""
    encoder, decoder = _counting_models(student)
    src = torch.tensor([[4, 5], [3, 7]])
    want = torch.tensor([[1, 6, 7, 8, 9, 2], [1, 8, 9, 2, 0, 0]])
    got = _translate(student, encoder, decoder, src, 40)
    _expect_tokens(got, want, "translate with max_len=40 where the longest row finishes after 5 new tokens (the "
                              "result must stop there, 6 columns, not run on to max_len)", judge_pad=False)


@check("seq2seq.translate", weight=2)
def test_translate_max_len(student):
    """max_len counts bos: rows without eos stop at max_len tokens; max_len = 1 gives bos only"""
    encoder, decoder = _counting_models(student)
    src = torch.tensor([[5, 3], [6, 7], [4, 5]])
    got = _translate(student, encoder, decoder, src, 4)
    _expect_tokens(got, torch.tensor([[1, 4, 5, 6], [1, 8, 9, 2], [1, 6, 7, 8]]),
                   "translate with max_len=4 (4 tokens, bos included; rows 0 and 2 do not reach their eos)")
    got = _translate(student, encoder, decoder, src, 1)
    _expect_tokens(got, torch.tensor([[1], [1], [1]]), "translate with max_len=1 (only bos)")
    got = _translate(student, encoder, decoder, src[:1], 2)
    _expect_tokens(got, torch.tensor([[1, 4]]), "translate of one row with max_len=2")


@check("seq2seq.translate", weight=1)
def test_translate_other_special_ids(student):
    """bos_id, eos_id and pad_id are arguments: bos 0, eos 4 and pad 7 work too"""
    perm = [7, 0, 4, 3, 1, 5, 6, 2, 8, 9]            # old id i is called perm[i]
    succ = {perm[k]: perm[v] for k, v in COUNT_SUCC.items()}
    encoder, decoder = _counting_models(student, bos=perm[BOS], succ=succ, pad=perm[PAD])
    p = torch.as_tensor(perm)
    got = _translate(student, encoder, decoder, p[COUNT_SRC], 12, bos=0, eos=4, pad=7)
    _expect_tokens(got, p[COUNT_WANT], "translate(encoder, decoder, src, 12, bos_id=0, eos_id=4, pad_id=7) on the "
                                       "counting model with its tokens renamed", pad=7, eos=4)


def _random_case(ref, rng, attention, B, S, lengths, max_len, V=8, E=4, H=6):
    """Reference modules with random weights (float64) whose greedy translations of a random
    source are distinct rows that finish at different steps, all before max_len."""
    kind = "AttentionDecoder" if attention else "Decoder"
    case = None
    for _ in range(150):
        enc_state = _random_state("Encoder", V, E, H, rng)
        dec_state = _random_state(kind, V, E, H, rng)
        dec_state["out.weight"] *= 2.0               # decisive, varied predictions
        dec_state["out.bias"][EOS] += 1.0
        dec_state["out.bias"][[BOS, PAD]] -= 4.0
        src = _tokens(rng, B, S, low=1, high=V, lengths=lengths)
        src[:, 0] = torch.from_numpy(rng.integers(3, V, size=B))
        encoder = _ref_module(ref, "Encoder", (V, E, H), enc_state)
        decoder = _ref_module(ref, kind, (V, E, H), dec_state)
        want = ref.seq2seq.translate(encoder, decoder, src, max_len, BOS, EOS, pad_id=PAD)
        case = (enc_state, dec_state, src, want)
        steps = _finish_steps(want, EOS)
        if None in steps or max(steps) < 3:
            continue
        if B == 1 or (len(set(steps)) >= 2 and len({tuple(r) for r in want.tolist()}) >= min(B, 3)):
            return case
    return case


def _versus_reference(student, ref, rng, attention, sizes, max_len=12):
    kind = "AttentionDecoder" if attention else "Decoder"
    for B, S, lengths in sizes:
        enc_state, dec_state, src, want = _random_case(ref, rng, attention, B, S, lengths, max_len)
        encoder = _student_module(student, "Encoder", (8, 4, 6), enc_state)
        decoder = _student_module(student, kind, (8, 4, 6), dec_state)
        got = _translate(student, encoder, decoder, src, max_len)
        padded = "" if lengths is None else f" padded after lengths {lengths}"
        _expect_tokens(got, want, f"translate with an Encoder and a{'n' if attention else ''} {kind} of random "
                                  f"weights, a batch of {B}{padded} (max_len={max_len}); each step should feed "
                                  "the newest token alone, shape (B, 1), with the state the previous step returned",
                       judge_pad=False, judge_length=False)


@check("seq2seq.translate", weight=3)
def test_translate_decoder_vs_reference(student, ref, rng):
    """random models with the plain Decoder, against the reference: the state carried from step to step"""
    _versus_reference(student, ref, rng, False, [(4, 5, None), (1, 3, None)])


@check("seq2seq.translate", weight=3)
def test_translate_attention_vs_reference(student, ref, rng):
    """random AttentionDecoder models on padded sources, against the reference: enc_outputs and src != pad_id each step"""
    _versus_reference(student, ref, rng, True, [(4, 6, [6, 3, 5, 2]), (1, 4, [2])])


@check("seq2seq.translate", kind="property")
def test_translate_keeps_mode(student):
    """the modules' mode (train or eval) is the same after translate as before"""
    encoder, decoder = _counting_models(student)
    for enc_mode, dec_mode in (("train", "eval"), ("eval", "train")):
        getattr(encoder, enc_mode)()
        getattr(decoder, dec_mode)()
        _translate(student, encoder, decoder, COUNT_SRC, 6)
        for name, module, mode in (("encoder", encoder, enc_mode), ("decoder", decoder, dec_mode)):
            now = "training" if module.training else "eval"
            expect(bool(module.training) == (mode == "train"),
                   f"after {name}.{mode}(), translate left the {name} in {now} mode. Decoding must not "
                   "change the modules' mode.")


def _recorded_translate(student):
    """translate on the counting models, each module logging its calls (fixtures.record_calls)."""
    encoder, decoder = _counting_models(student, attention=True)
    encoder, decoder = student.fixtures.record_calls(encoder), student.fixtures.record_calls(decoder)
    tokens = _translate(student, encoder, decoder, COUNT_SRC, 6)
    return tokens, list(encoder.calls), list(decoder.calls)


@check("seq2seq.translate", kind="property")
def test_translate_one_new_token_per_step(student):
    """the source is encoded once, and each decoder call reads only the newest token, (B, 1)"""
    tokens, encoder_calls, decoder_calls = _recorded_translate(student)
    expect(len(encoder_calls) == 1,
           f"translate called the encoder {len(encoder_calls)} times for one batch; encode the source once.")
    read = [call["positions"] for call in decoder_calls]
    expect(read and all(n == 1 for n in read),
           f"translate's decoder calls read {read} target positions each; each step should feed the newest token "
           "alone, shape (B, 1), with the state the previous step returned (the state already holds the rest).")


@check("seq2seq.translate", kind="property")
def test_translate_records_no_gradients(student):
    """no gradients are recorded while decoding (torch.no_grad())"""
    _, encoder_calls, decoder_calls = _recorded_translate(student)
    recording = [i for i, call in enumerate(encoder_calls + decoder_calls) if call["grad"]]
    expect(not recording,
           f"gradients were being recorded in {len(recording)} of the {len(encoder_calls + decoder_calls)} calls of "
           "the encoder and the decoder during translate; decode inside torch.no_grad(), which saves the memory "
           "and time of a graph nobody will backpropagate through.")
