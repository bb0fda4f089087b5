"""Checks of the seq2seq module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
Weights are set through load_state_dict; an nn.LSTMCell's names (rnn.weight_ih) are
accepted as well as an nn.LSTM's (rnn.weight_ih_l0).
"""

import math

import torch

from grader.checks import check, expect, expect_close, expect_equal, expect_shape

PAD, BOS, EOS = 0, 1, 2


def _randn(rng, shape):
    return torch.from_numpy(rng.standard_normal(shape))


def _parameters(module):
    """The module's parameters by name (buffers are left out)."""
    state = module.state_dict(keep_vars=True)
    return {name: value for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _lstm_name(name):
    """An nn.LSTMCell's parameter name as the one-layer nn.LSTM's."""
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        if name == f"rnn.{kind}":
            return f"{name}_l0"
    return name


def _module(student, kind, args, state):
    """The learner's seq2seq.<kind>(*args) in float64, holding ``state`` (nn.LSTM names)."""
    module = getattr(student.seq2seq, kind)(*args)
    own = {_lstm_name(name): name for name in _parameters(module)}
    missing = [name for name in state if name not in own]
    expect(not missing, f"{kind}{args} has the parameters {sorted(own.values())}, without {missing}.")
    module.double()
    module.load_state_dict({own[name]: value for name, value in state.items()}, strict=False)
    return module


def _random_state(rng, kind, V, E, H):
    state = {"embed.weight": _randn(rng, (V, E)),
             "rnn.weight_ih_l0": _randn(rng, (4 * H, E)) / math.sqrt(E),
             "rnn.weight_hh_l0": _randn(rng, (4 * H, H)) / math.sqrt(H),
             "rnn.bias_ih_l0": 0.3 * _randn(rng, (4 * H,)), "rnn.bias_hh_l0": 0.3 * _randn(rng, (4 * H,))}
    if kind != "Encoder":
        state.update({"out.weight": _randn(rng, (V, H)) / math.sqrt(H), "out.bias": 0.3 * _randn(rng, (V,))})
    if kind == "AttentionDecoder":
        state.update({"W.weight": _randn(rng, (H, H)) / math.sqrt(H),
                      "W_c.weight": _randn(rng, (H, 2 * H)) / math.sqrt(2 * H)})
    return state


def _lstm(xs, h, c, state):
    """One row through the LSTM by hand, gates in PyTorch's order (i, f, g, o)."""
    H = h.shape[0]
    outs = []
    for x in xs:
        z = state["rnn.weight_ih_l0"] @ x + state["rnn.weight_hh_l0"] @ h + state["rnn.bias_ih_l0"] \
            + state["rnn.bias_hh_l0"]
        i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs), h, c


@check("seq2seq.Encoder", weight=2)
def test_encoder_one_row(student, rng):
    """one row, no padding: outputs and (h_n, c_n) are the LSTM's, step by step"""
    state = _random_state(rng, "Encoder", 6, 3, 4)
    module = _module(student, "Encoder", (6, 3, 4), state)
    src = torch.tensor([[3, 5, 1, 2]])
    outputs, (h_n, c_n) = module(src)
    zero = torch.zeros(4, dtype=torch.float64)
    want, h, c = _lstm(state["embed.weight"][src[0]], zero, zero, state)
    expect_close(outputs, want[None], what="the outputs of Encoder(6, 3, 4) on [[3, 5, 1, 2]]", rtol=1e-9, atol=1e-11)
    expect_close(h_n, h[None, None], what="h_n", rtol=1e-9, atol=1e-11)
    expect_close(c_n, c[None, None], what="c_n", rtol=1e-9, atol=1e-11)


@check("seq2seq.Encoder", weight=2)
def test_visible_encoder_padding(student, rng):
    """padding: a padded row's h_n is what the row alone gives, and its padded outputs are zeros"""
    module = _module(student, "Encoder", (6, 3, 4), _random_state(rng, "Encoder", 6, 3, 4))
    batch = torch.tensor([[3, 5, 1, 2], [4, 2, 0, 0]])
    outputs, (h_n, _) = module(batch)
    alone, (h_alone, _) = module(torch.tensor([[4, 2]]))
    expect_close(h_n[:, 1], h_alone[:, 0], what="h_n of row 1 ([4, 2, 0, 0]) against the row [4, 2] alone",
                 rtol=1e-9, atol=1e-11)
    expect_close(outputs[1, :2], alone[0], what="the outputs of row 1 at its real positions", rtol=1e-9, atol=1e-11)
    expect_close(outputs[1, 2:], torch.zeros(2, 4, dtype=torch.float64), what="the outputs of row 1 at its padding")


@check("seq2seq.Decoder", weight=2)
def test_decoder_steps(student, rng):
    """from a given state: logits are out(the LSTM's outputs); one token at a time gives the same"""
    state = _random_state(rng, "Decoder", 6, 3, 4)
    module = _module(student, "Decoder", (6, 3, 4), state)
    tgt = torch.tensor([[1, 4, 3]])
    h0, c0 = 0.5 * _randn(rng, (1, 1, 4)), 0.5 * _randn(rng, (1, 1, 4))
    logits, (h, c) = module(tgt, (h0, c0))
    outs, h_want, c_want = _lstm(state["embed.weight"][tgt[0]], h0[0, 0], c0[0, 0], state)
    want = outs @ state["out.weight"].T + state["out.bias"]
    expect_close(logits, want[None], what="the logits of Decoder(6, 3, 4) on [[1, 4, 3]]", rtol=1e-9, atol=1e-11)
    expect_close(h, h_want[None, None], what="the returned h", rtol=1e-9, atol=1e-11)
    first, state1 = module(tgt[:, :2], (h0, c0))
    second, _ = module(tgt[:, 2:], state1)
    expect_close(second, want[None, 2:], what="the logits of token 2 fed alone, from the state of tokens 0-1",
                 rtol=1e-9, atol=1e-11)


@check("seq2seq.AttentionDecoder", weight=2)
def test_attention_decoder_values(student, rng):
    """one row, 2 steps: s_t scores every h_i with s^T W h, h~ = tanh(W_c [c; s]), logits = out(h~)"""
    state = _random_state(rng, "AttentionDecoder", 6, 3, 4)
    module = _module(student, "AttentionDecoder", (6, 3, 4), state)
    tgt = torch.tensor([[1, 5]])
    enc = _randn(rng, (1, 3, 4))
    zero = torch.zeros(1, 1, 4, dtype=torch.float64)
    logits, weights, _ = module(tgt, (zero, zero), enc)
    outs, _, _ = _lstm(state["embed.weight"][tgt[0]], zero[0, 0], zero[0, 0], state)
    want_logits, want_weights = [], []
    for s in outs:
        a = torch.softmax(torch.stack([s @ state["W.weight"] @ h for h in enc[0]]), dim=0)
        context = (a[:, None] * enc[0]).sum(0)
        hidden = torch.tanh(state["W_c.weight"] @ torch.cat([context, s]))
        want_logits.append(state["out.weight"] @ hidden + state["out.bias"])
        want_weights.append(a)
    expect_close(weights, torch.stack(want_weights)[None], what="the weights", rtol=1e-9, atol=1e-11)
    expect_close(logits, torch.stack(want_logits)[None], what="the logits", rtol=1e-9, atol=1e-11)


@check("seq2seq.AttentionDecoder", weight=2)
def test_visible_attention_mask(student, rng):
    """src_mask: the masked source positions get zero weight, the others sum to 1"""
    module = _module(student, "AttentionDecoder", (6, 3, 4), _random_state(rng, "AttentionDecoder", 6, 3, 4))
    zero = torch.zeros(1, 2, 4, dtype=torch.float64)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    logits, weights, _ = module(torch.tensor([[1, 3, 4], [1, 5, 2]]), (zero, zero), _randn(rng, (2, 4, 4)), mask)
    expect_shape(logits, (2, 3, 6), what="the logits")
    expect_shape(weights, (2, 3, 4), what="the weights")
    expect_close(weights[0, :, 2:], torch.zeros(3, 2, dtype=torch.float64), what="the weights of row 0 at its padding")
    expect_close(weights.sum(-1), torch.ones(2, 3, dtype=torch.float64), what="the weights summed over the source",
                 rtol=1e-9, atol=1e-12)


def _counting_models(student, attention):
    """Hand-set modules that count: after bos comes s + 1 for a source ending with s, then
    3 -> 4 -> ... -> 9 -> eos (see the hidden suite's description in the module's docstring)."""
    V, big = 10, 10.0
    eye, zeros = torch.eye(V, dtype=torch.float64), torch.zeros(V, V, dtype=torch.float64)

    def lstm(w_i, w_f, b_i, b_f):
        return {"rnn.weight_ih_l0": torch.cat([w_i, w_f, 3.0 * eye, zeros]),
                "rnn.weight_hh_l0": torch.zeros(4 * V, V, dtype=torch.float64),
                "rnn.bias_ih_l0": torch.cat([torch.full((V,), b_i), torch.full((V,), b_f), torch.zeros(V),
                                             torch.full((V,), big)]).double(),
                "rnn.bias_hh_l0": torch.zeros(4 * V, dtype=torch.float64)}

    not_bos = torch.ones(V, V, dtype=torch.float64)
    not_bos[:, BOS] = 0.0
    table = torch.zeros(V, V, dtype=torch.float64)
    for k, after in {0: 3, 1: 3, 2: 5, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 2}.items():
        table[after, k] = 1.0
    decoder = {"embed.weight": eye.clone(), **lstm(2 * big * not_bos, -2 * big * not_bos, -big, big),
               "out.weight": 10.0 * table, "out.bias": torch.zeros(V, dtype=torch.float64)}
    kind = "Decoder"
    if attention:
        decoder.update({"W.weight": zeros.clone(), "W_c.weight": torch.cat([zeros, 3.0 * eye], dim=1)})
        kind = "AttentionDecoder"
    encoder = _module(student, "Encoder", (V, V, V), {"embed.weight": eye.clone(), **lstm(zeros, zeros, big, -big)})
    return encoder, _module(student, kind, (V, V, V), decoder)


@check("seq2seq.translate", weight=2)
def test_translate_counting(student):
    """a counting model, both decoders: bos first, pad after eos, stop when every row has finished"""
    src = torch.tensor([[7, 3], [5, 7], [8, 5]])
    want = torch.tensor([[1, 4, 5, 6, 7, 8, 9, 2], [1, 8, 9, 2, 0, 0, 0, 0], [1, 6, 7, 8, 9, 2, 0, 0]])
    for attention in (False, True):
        encoder, decoder = _counting_models(student, attention)
        got = student.seq2seq.translate(encoder, decoder, src, 12, BOS, EOS, pad_id=PAD)
        expect_equal(got, want, what=f"translate(..., max_len=12) with the {'AttentionDecoder' if attention else 'Decoder'}")
        got = student.seq2seq.translate(encoder, decoder, src, 3, BOS, EOS, pad_id=PAD)
        expect_equal(got, want[:, :3], what="translate(..., max_len=3) (3 tokens, bos included)")
