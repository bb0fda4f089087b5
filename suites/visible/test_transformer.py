"""Checks of the transformer module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import math

import torch
import torch.nn.functional as F

from grader.checks import check, expect, expect_close, expect_shape

D, H, FF = 8, 2, 16


def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _causal(size):
    return torch.ones(size, size, dtype=torch.bool).tril()


def _pad_mask(lengths, size):
    return (torch.arange(size)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(1)


def _names(module, expected, call):
    """The module's parameters must be ``expected``; buffers of its own are allowed."""
    state = dict(module.state_dict(keep_vars=True))
    names = sorted(name for name, value in state.items() if isinstance(value, torch.nn.Parameter))
    expect(names == sorted(expected), f"{call} has the parameters {names}; expected exactly {sorted(expected)} "
                                      "(buffers are free; parameters are not).")


def _layer(student, name, *args, **kwargs):
    """The learner's EncoderLayer/DecoderLayer in float64, eval() mode (unless told otherwise)."""
    train = kwargs.pop("train", False)
    module = getattr(student.transformer, name)(*args, **kwargs)
    module.double()
    module.train() if train else module.eval()
    return module


def _enc_layer_names():
    names = [f"self_attn.w_{c}.{k}" for c in "qkvo" for k in ("weight", "bias")]
    names += [f"ff.linear{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]
    return names + [f"norm{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]


def _dec_layer_names():
    names = [f"{a}.w_{c}.{k}" for a in ("self_attn", "cross_attn") for c in "qkvo" for k in ("weight", "bias")]
    names += [f"ff.linear{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]
    return names + [f"norm{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")]


def _normalised(what, out):
    """Every position of ``out`` has mean 0 and (biased) variance 1 over its features."""
    expect_close(out.mean(-1), torch.zeros(out.shape[:-1], dtype=out.dtype), what=f"{what}: the mean of every "
                 "position's features (a final norm with weight 1 and bias 0 makes it 0)", atol=1e-9)
    expect_close(out.var(-1, unbiased=False), torch.ones(out.shape[:-1], dtype=out.dtype), what=f"{what}: the "
                 "variance of every position's features (about 1 after the final norm)", rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- LayerNorm

@check("transformer.LayerNorm")
def test_visible_ln_parameters(student):
    """the parameters are weight (ones) and bias (zeros), both of shape (d_model,)"""
    module = student.transformer.LayerNorm(5)
    _names(module, ["weight", "bias"], "LayerNorm(5)")
    state = dict(module.state_dict())
    expect_close(state["weight"], torch.ones(5), what="LayerNorm(5).weight")
    expect_close(state["bias"], torch.zeros(5), what="LayerNorm(5).bias")


@check("transformer.LayerNorm", weight=2)
def test_ln_tiny_example(student):
    """[1, 0, 0, 0] becomes about [1.732, -0.577, -0.577, -0.577] (biased variance, eps 1e-5), float64 kept"""
    module = student.transformer.LayerNorm(4)
    module.double()
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    want = torch.tensor([[0.75, -0.25, -0.25, -0.25]], dtype=torch.float64) / math.sqrt(0.1875 + 1e-5)
    expect_close(module(x), want, what="LayerNorm(4)([1, 0, 0, 0])", same_dtype=True, rtol=1e-9, atol=1e-11)


@check("transformer.LayerNorm")
def test_ln_eps_and_constant_rows(student):
    """eps sits inside the square root, and a constant vector gives zeros, not NaN"""
    module = student.transformer.LayerNorm(2, eps=0.5)
    module.double()
    x = torch.tensor([[1.0, -1.0], [4.0, 4.0]], dtype=torch.float64)
    want = torch.tensor([[1.0 / math.sqrt(1.5), -1.0 / math.sqrt(1.5)], [0.0, 0.0]], dtype=torch.float64)
    expect_close(module(x), want, what="LayerNorm(2, eps=0.5)([[1, -1], [4, 4]])", rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- FeedForward

@check("transformer.FeedForward", weight=2)
def test_ff_tiny_example(student):
    """a tiny example with hand-set weights: the ReLU cuts the negative hidden units"""
    state = {"linear1.weight": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], dtype=torch.float64),
             "linear1.bias": torch.tensor([0.0, -1.0, 0.5], dtype=torch.float64),
             "linear2.weight": torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], dtype=torch.float64),
             "linear2.bias": torch.tensor([0.1, -0.1], dtype=torch.float64)}
    module = student.transformer.FeedForward(2, 3)
    _names(module, list(state), "FeedForward(2, 3)")
    module.double()
    module.load_state_dict(state)
    module.eval()
    x = torch.tensor([[[2.0, 3.0], [-1.0, 0.5]]], dtype=torch.float64)
    want = torch.tensor([[[6.1, -2.1], [0.1, -0.1]]], dtype=torch.float64)
    expect_close(module(x), want, what="FeedForward(2, 3)(x)", rtol=1e-9, atol=1e-11)


@check("transformer.FeedForward")
def test_ff_dropout_inside(student, rng):
    """with dropout=1.0 in train() mode every hidden unit is dropped: only linear2's bias is left"""
    module = student.transformer.FeedForward(4, 6, dropout=1.0)
    module.double()
    module.train()
    bias = dict(module.state_dict())["linear2.bias"]
    expect_close(module(_randn(rng, (2, 3, 4))), bias.expand(2, 3, 4), what="FeedForward(4, 6, dropout=1.0)(x)")


# ---------------------------------------------------------------- EncoderLayer

@check("transformer.EncoderLayer")
def test_visible_enc_layer_parameters_and_shape(student, rng):
    """self_attn, ff, norm1, norm2; output (B, T, d_model) in the input's dtype"""
    module = _layer(student, "EncoderLayer", D, H, FF)
    _names(module, _enc_layer_names(), "EncoderLayer(8, 2, 16)")
    out = module(_randn(rng, (2, 5, D)))
    expect_shape(out, (2, 5, D), what="the output")
    expect(out.dtype == torch.float64, f"the output has dtype {out.dtype}; expected float64 like the input.")


@check("transformer.EncoderLayer", weight=2)
def test_enc_layer_post_norm_by_hand(student, rng):
    """post-norm with dropout=1.0 in train() mode drops both sub-layers: the output is norm2(norm1(x))"""
    module = _layer(student, "EncoderLayer", D, H, FF, dropout=1.0, train=True)
    x = _randn(rng, (2, 3, D))
    expect_close(module(x), F.layer_norm(F.layer_norm(x, (D,)), (D,)),
                 what="the output (norm1 and norm2 still have weight 1 and bias 0)", rtol=1e-7, atol=1e-9)


@check("transformer.EncoderLayer", weight=2)
def test_enc_layer_padding(student, rng):
    """with a padding mask, changing the padded positions leaves the real positions' outputs unchanged"""
    module = _layer(student, "EncoderLayer", D, H, FF)
    x = _randn(rng, (2, 5, D))
    mask = _pad_mask([3, 5], 5)
    out = module(x, mask)
    changed = x.clone()
    changed[0, 3:] = _randn(rng, (2, D))
    expect_close(module(changed, mask)[0, :3], out[0, :3], what="sequence 0's 3 real positions after changing its "
                 "padding", rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- DecoderLayer

@check("transformer.DecoderLayer")
def test_visible_dec_layer_parameters_and_shape(student, rng):
    """self_attn, cross_attn, ff, norm1-3; output (B, T, d_model) with a memory of another length"""
    module = _layer(student, "DecoderLayer", D, H, FF)
    _names(module, _dec_layer_names(), "DecoderLayer(8, 2, 16)")
    out = module(_randn(rng, (2, 3, D)), _randn(rng, (2, 6, D)))
    expect_shape(out, (2, 3, D), what="the output for x (2, 3, 8) and memory (2, 6, 8)")


@check("transformer.DecoderLayer", weight=2)
def test_visible_dec_layer_causal(student, rng):
    """with a causal tgt_mask, the output at position t does not change when later positions change"""
    module = _layer(student, "DecoderLayer", D, H, FF)
    x, memory = _randn(rng, (2, 5, D)), _randn(rng, (2, 3, D))
    out = module(x, memory, _causal(5))
    changed = x.clone()
    changed[:, 3:] = _randn(rng, (2, 2, D))
    expect_close(module(changed, memory, _causal(5))[:, :3], out[:, :3],
                 what="the outputs at positions 0-2 after changing positions 3-4", rtol=1e-9, atol=1e-11)


@check("transformer.DecoderLayer")
def test_visible_dec_layer_memory_padding(student, rng):
    """with a memory_mask, changing the padded memory positions changes nothing"""
    module = _layer(student, "DecoderLayer", D, H, FF)
    x, memory = _randn(rng, (2, 3, D)), _randn(rng, (2, 4, D))
    pad = _pad_mask([2, 4], 4)
    out = module(x, memory, _causal(3), pad)
    changed = memory.clone()
    changed[0, 2:] = _randn(rng, (2, D))
    expect_close(module(x, changed, _causal(3), pad), out, what="the output after changing padded memory positions",
                 rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- Encoder and Decoder

@check("transformer.Encoder")
def test_visible_encoder_structure(student):
    """layers.0 .. layers.N-1 (copies of the layer) and a final norm"""
    encoder = student.transformer.Encoder(student.transformer.EncoderLayer(D, H, FF), 2)
    want = [f"layers.{i}.{n}" for i in range(2) for n in _enc_layer_names()] + ["norm.weight", "norm.bias"]
    _names(encoder, want, "Encoder(EncoderLayer(8, 2, 16), 2)")


@check("transformer.Encoder")
def test_encoder_final_norm(student, rng):
    """pre-norm layers too: the final norm makes every output position mean 0, variance 1"""
    encoder = student.transformer.Encoder(student.transformer.EncoderLayer(D, H, FF, norm_first=True), 2)
    encoder.double()
    encoder.eval()
    out = encoder(3.0 * _randn(rng, (2, 4, D)) + 1.0)
    expect_shape(out, (2, 4, D), what="the output")
    _normalised("the encoder's output", out)


@check("transformer.Decoder")
def test_visible_decoder_structure_and_norm(student, rng):
    """layers and a final norm; the output is normalised and keeps (B, T, d_model)"""
    decoder = student.transformer.Decoder(student.transformer.DecoderLayer(D, H, FF, norm_first=True), 2)
    want = [f"layers.{i}.{n}" for i in range(2) for n in _dec_layer_names()] + ["norm.weight", "norm.bias"]
    _names(decoder, want, "Decoder(DecoderLayer(8, 2, 16, norm_first=True), 2)")
    decoder.double()
    decoder.eval()
    out = decoder(_randn(rng, (2, 3, D)), _randn(rng, (2, 5, D)), _causal(3))
    expect_shape(out, (2, 3, D), what="the output")
    _normalised("the decoder's output", out)


# ---------------------------------------------------------------- Transformer

@check("transformer.Transformer")
def test_model_parts_and_shape(student, rng):
    """src_embed, tgt_embed, pos_encoding, encoder, decoder, generator; logits (B, T_tgt, tgt_vocab)"""
    model = student.transformer.Transformer(11, 13, d_model=8, num_heads=2, num_encoder_layers=1,
                                            num_decoder_layers=1, d_ff=16, max_len=20)
    state = dict(model.state_dict())
    for name, shape in (("src_embed.weight", (11, 8)), ("tgt_embed.weight", (13, 8)),
                        ("generator.weight", (13, 8)), ("generator.bias", (13,)), ("encoder.norm.weight", (8,)),
                        ("decoder.norm.weight", (8,))):
        expect(name in state, f"Transformer(11, 13, d_model=8, ...) has no parameter {name}.")
        expect_shape(state[name], shape, what=name)
    model.eval()
    src = torch.from_numpy(rng.integers(1, 11, size=(2, 6))).long()
    tgt = torch.from_numpy(rng.integers(1, 13, size=(2, 4))).long()
    out = model(src, tgt, None, _causal(4))
    expect_shape(out, (2, 4, 13), what="the logits for src (2, 6) and tgt (2, 4)")


@check("transformer.Transformer", weight=2)
def test_visible_model_causal(student, rng):
    """with a causal tgt_mask, the logits at position t do not change when later target tokens change"""
    model = student.transformer.Transformer(11, 13, d_model=8, num_heads=2, num_encoder_layers=1,
                                            num_decoder_layers=1, d_ff=16, max_len=20)
    model.double()
    model.eval()
    src = torch.from_numpy(rng.integers(1, 11, size=(2, 5))).long()
    tgt = torch.from_numpy(rng.integers(1, 13, size=(2, 4))).long()
    out = model(src, tgt, None, _causal(4))
    changed = tgt.clone()
    changed[:, 2:] = (changed[:, 2:] + 5) % 13
    expect_close(model(src, changed, None, _causal(4))[:, :2], out[:, :2],
                 what="the logits at positions 0-1 after changing target tokens 2-3", rtol=1e-9, atol=1e-11)
