"""Hidden checks of the transformer module: layer norm, the feed-forward network, the
encoder and decoder layers and stacks, and the whole Transformer (torch, batch first,
float32 and float64), compared with torch.nn.LayerNorm and torch.nn.Transformer(batch_first=True)
loaded with the same weights (masks inverted: torch uses True = may NOT attend)."""

import math
import re

import torch
import torch.nn.functional as F

from grader.checks import check, expect, expect_close, expect_gradients_close, expect_shape, plain_state, vjp

TOL64 = dict(rtol=1e-9, atol=1e-11)       # float64, the same formula in another order
TOL32 = dict(rtol=1e-4, atol=1e-5)        # float32
TORCH64 = dict(rtol=1e-7, atol=1e-9)      # float64 against torch.nn
GRAD64 = dict(rtol=1e-7, atol=1e-9)

D, H, FF = 8, 2, 16                       # the default layer size of these checks


# ---------------------------------------------------------------- helpers

def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _random_state(module, rng, dtype=torch.float64):
    """Random weights for every entry of ``module``'s state_dict: matrices scaled by
    1/sqrt(fan_in), norm gains near 1, small biases."""
    state = {}
    for name, value in module.state_dict().items():
        shape = tuple(value.shape)
        if len(shape) == 2:
            v = rng.standard_normal(shape) / math.sqrt(shape[1])
        elif re.search(r"norm\d?\.weight$", name) or name == "weight":
            v = 1.0 + 0.2 * rng.standard_normal(shape)
        else:
            v = 0.2 * rng.standard_normal(shape)
        state[name] = torch.from_numpy(v).to(dtype)
    return state


def _pad_mask(lengths, size):
    """bool (B, 1, size): True at the first lengths[b] positions."""
    return (torch.arange(size)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(1)


def _causal(size):
    return torch.ones(size, size, dtype=torch.bool).tril()


def _parameters(module):
    """The module's parameters by name. Buffers (a mask, a scale, the positional table),
    persistent or not, are the learner's business: state_dict(keep_vars=True) keeps
    parameters as nn.Parameter, so they can be told apart (also through the worker's proxy)."""
    state = module.state_dict(keep_vars=True)
    return {name: value for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _load(module, state, call):
    """Give the learner's module the parameters in ``state``; its own extra buffers stay as they are."""
    missed, unexpected = module.load_state_dict(state, strict=False)[:2]
    not_loaded = sorted(set(state) & set(missed)) + sorted(unexpected)
    expect(not not_loaded, f"{call}.load_state_dict could not set {not_loaded}.")


def _check_names(module, expected, call):
    names = sorted(_parameters(module))
    want = sorted(expected)
    if names != want:
        missing = [n for n in want if n not in names]
        extra = [n for n in names if n not in want]
        text = f"{call} has the parameters {names}; expected exactly {want} (buffers are free; parameters are not)"
        if missing:
            text += f" (missing: {missing}"
            text += f"; unexpected: {extra})" if extra else ")"
        elif extra:
            text += f" (unexpected: {extra})"
        expect(False, text + ".")


def _convert(module, dtype):
    """module.double() or module.float() (a dtype cannot be sent to the learner's process)."""
    if dtype == torch.float64:
        module.double()
    else:
        module.float()


def _call_text(name, args, kwargs):
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _pair(student, ref, rng, name, args, kwargs=None, dtype=torch.float64, train=False):
    """The learner's transformer.<name>(*args, **kwargs) and the reference, with the same
    random weights in dtype, in eval() mode (or train())."""
    kwargs = dict(kwargs or {})
    theirs = getattr(ref.transformer, name)(*args, **kwargs).to(dtype)
    state = _random_state(theirs, rng, dtype)
    theirs.load_state_dict(state)
    mine = getattr(student.transformer, name)(*args, **kwargs)
    call = _call_text(name, args, kwargs)
    _check_names(mine, state, call)
    _convert(mine, dtype)
    _load(mine, plain_state(theirs), call)
    (mine.train() if train else mine.eval())
    (theirs.train() if train else theirs.eval())
    return mine, theirs, state


def _twin(student, name, args, kwargs, state, dtype=torch.float64):
    """Another learner's transformer.<name>(*args, **kwargs) holding ``state``, in eval() mode."""
    module = getattr(student.transformer, name)(*args, **kwargs)
    _convert(module, dtype)
    _load(module, {k: v.to(dtype) for k, v in state.items()}, _call_text(name, args, kwargs))
    module.eval()
    return module


def _keeps_dtype(student, ref, rng, name, args, kwargs, inputs, call):
    """The learner's transformer.<name> in float32 and float64, with plain inputs made by
    ``inputs(dtype)``: the output must have the dtype of the module and its inputs."""
    for dtype in (torch.float32, torch.float64):
        mine, _, _ = _pair(student, ref, rng, name, args, kwargs, dtype=dtype)
        out = mine(*inputs(dtype))
        got = torch.as_tensor(out).dtype
        expect(got == dtype, f"{call} in {_dtype_name(dtype)} returned {_dtype_name(got)}; expected "
                             f"{_dtype_name(dtype)} (keep the caller's dtype).")


def _stack_pair(student, ref, rng, stack, layer_args, layer_kwargs, num_layers, dtype=torch.float64):
    """The learner's Encoder/Decoder over a reference layer and the reference stack, with
    the same random weights (different in every layer)."""
    layer_name = "EncoderLayer" if stack == "Encoder" else "DecoderLayer"
    ref_layer = getattr(ref.transformer, layer_name)(*layer_args, **layer_kwargs)
    theirs = getattr(ref.transformer, stack)(ref_layer, num_layers).to(dtype)
    state = _random_state(theirs, rng, dtype)
    theirs.load_state_dict(state)
    layer = getattr(student.transformer, layer_name)(*layer_args, **layer_kwargs)
    mine = getattr(student.transformer, stack)(layer, num_layers)
    call = f"{stack}({_call_text(layer_name, layer_args, layer_kwargs)}, {num_layers})"
    _check_names(mine, state, call)
    _convert(mine, dtype)
    _load(mine, plain_state(theirs), call)
    mine.eval()
    theirs.eval()
    return mine, theirs, state


def _to_torch_names(state, keep=lambda name: True):
    """Our state_dict in torch.nn.Transformer* naming: w_q, w_k, w_v stacked into
    in_proj_weight / in_proj_bias, w_o -> out_proj, cross_attn -> multihead_attn,
    ff.linear1/2 -> linear1/2."""
    out, stacked = {}, {}
    for name, value in state.items():
        if not keep(name):
            continue
        m = re.match(r"(.*?)(self_attn|cross_attn)\.w_([qkvo])\.(weight|bias)$", name)
        if m:
            prefix, attn, which, kind = m.groups()
            attn = "self_attn" if attn == "self_attn" else "multihead_attn"
            if which == "o":
                out[f"{prefix}{attn}.out_proj.{kind}"] = value
            else:
                stacked.setdefault(f"{prefix}{attn}.in_proj_{kind}", {})[which] = value
            continue
        out[name.replace("ff.linear", "linear")] = value
    for name, parts in stacked.items():
        out[name] = torch.cat([parts[c] for c in "qkv"])
    return out


def _torch_layer(kind, d, h, ff, activation="relu", norm_first=False):
    cls = torch.nn.TransformerEncoderLayer if kind == "encoder" else torch.nn.TransformerDecoderLayer
    return cls(d, h, ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first,
               dtype=torch.float64)


def _torch_encoder_layer(state, d, h, ff, activation="relu", norm_first=False):
    m = _torch_layer("encoder", d, h, ff, activation, norm_first)
    m.load_state_dict(_to_torch_names(state))
    return m.eval()


def _torch_decoder_layer(state, d, h, ff, activation="relu", norm_first=False):
    m = _torch_layer("decoder", d, h, ff, activation, norm_first)
    m.load_state_dict(_to_torch_names(state))
    return m.eval()


def _torch_encoder(state, d, h, ff, n, activation="relu", norm_first=False):
    m = torch.nn.TransformerEncoder(_torch_layer("encoder", d, h, ff, activation, norm_first), n,
                                    norm=torch.nn.LayerNorm(d, dtype=torch.float64), enable_nested_tensor=False)
    m.load_state_dict(_to_torch_names(state))
    return m.eval()


def _torch_decoder(state, d, h, ff, n, activation="relu", norm_first=False):
    m = torch.nn.TransformerDecoder(_torch_layer("decoder", d, h, ff, activation, norm_first), n,
                                    norm=torch.nn.LayerNorm(d, dtype=torch.float64))
    m.load_state_dict(_to_torch_names(state))
    return m.eval()


def _torch_masks(mask, h):
    """(attn_mask, key_padding_mask) for torch.nn from our True = may-attend mask."""
    if mask is None:
        return None, None
    if mask.dim() == 3 and mask.shape[1] == 1:
        return None, ~mask[:, 0]
    if mask.dim() == 2:
        return ~mask, None
    return (~mask).repeat_interleave(h, dim=0), None


def _torch_encode(module, x, mask, h):
    attn, pad = _torch_masks(mask, h)
    return module(x, attn, pad)


def _torch_decode(module, x, memory, tgt_mask, memory_mask, h):
    t_attn, t_pad = _torch_masks(tgt_mask, h)
    m_attn, m_pad = _torch_masks(memory_mask, h)
    return module(x, memory, tgt_mask=t_attn, memory_mask=m_attn, tgt_key_padding_mask=t_pad,
                  memory_key_padding_mask=m_pad)


def _enc_layer_names():
    names = [f"self_attn.w_{c}.{k}" for c in "qkvo" for k in ("weight", "bias")]
    names += [f"ff.linear{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]
    names += [f"norm{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]
    return names


def _dec_layer_names():
    names = [f"{a}.w_{c}.{k}" for a in ("self_attn", "cross_attn") for c in "qkvo" for k in ("weight", "bias")]
    names += [f"ff.linear{i}.{k}" for i in (1, 2) for k in ("weight", "bias")]
    names += [f"norm{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")]
    return names


# ---------------------------------------------------------------- LayerNorm

def _ln(student, d, eps=None, dtype=torch.float64, weight=None, bias=None):
    module = student.transformer.LayerNorm(d) if eps is None else student.transformer.LayerNorm(d, eps=eps)
    _check_names(module, ["weight", "bias"], f"LayerNorm({d})")
    _convert(module, dtype)
    if weight is not None:
        _load(module, {"weight": weight, "bias": bias}, f"LayerNorm({d})")
    return module


@check("transformer.LayerNorm", kind="property")
def test_ln_parameters(student):
    """the parameters are weight (ones) and bias (zeros), both of shape (d_model,)"""
    module = student.transformer.LayerNorm(5)
    _check_names(module, ["weight", "bias"], "LayerNorm(5)")
    state = dict(module.state_dict())
    expect_close(state["weight"], torch.ones(5), what="LayerNorm(5).weight at initialisation")
    expect_close(state["bias"], torch.zeros(5), what="LayerNorm(5).bias at initialisation")


@check("transformer.LayerNorm", weight=2)
def test_ln_fixed_value(student):
    """[1, 0, 0, 0] becomes about [1.732, -0.577, -0.577, -0.577] (biased variance), float32 and float64"""
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [2.0, 4.0, 6.0, 8.0]], dtype=dtype)
        # mean 0.25, variance 0.1875; mean 5, variance 5
        want = torch.tensor([[0.75, -0.25, -0.25, -0.25], [-3.0, -1.0, 1.0, 3.0]], dtype=torch.float64)
        want = (want / torch.tensor([[math.sqrt(0.1875 + 1e-5)], [math.sqrt(5.0 + 1e-5)]], dtype=torch.float64)).to(dtype)
        tol = TOL64 if dtype == torch.float64 else TOL32
        expect_close(_ln(student, 4, dtype=dtype)(x), want, what=f"LayerNorm(4) of a {_dtype_name(dtype)} input",
                     **tol)


@check("transformer.LayerNorm", weight=2)
def test_ln_eps_inside_root(student):
    """eps goes inside the square root: LayerNorm(2, eps=0.5) turns [1, -1] into [1/sqrt(1.5), -1/sqrt(1.5)]"""
    x = torch.tensor([[1.0, -1.0], [3.0, 5.0]], dtype=torch.float64)
    want = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64) / math.sqrt(1.5)
    expect_close(_ln(student, 2, eps=0.5)(x), want, what="LayerNorm(2, eps=0.5)(x)", **TOL64)


@check("transformer.LayerNorm")
def test_ln_constant_row(student):
    """a constant vector (variance 0) becomes the bias, not NaN"""
    bias = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    module = _ln(student, 3, weight=torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64), bias=bias)
    x = torch.tensor([[[3.0, 3.0, 3.0], [-2.0, -2.0, -2.0]]], dtype=torch.float64)
    expect_close(module(x), bias.expand(1, 2, 3), what="LayerNorm of constant vectors", **TOL64)


@check("transformer.LayerNorm", weight=2)
def test_ln_matches_torch(student, rng):
    """the same as torch.nn.LayerNorm with random weight and bias, float32 and float64, odd widths, 2-4 axes"""
    for dtype, tol in ((torch.float64, TOL64), (torch.float32, TOL32)):
        for shape in [(2, 5, 6), (1, 1, 3), (3, 7), (2, 2, 3, 5)]:
            d = shape[-1]
            theirs = torch.nn.LayerNorm(d, dtype=dtype)
            with torch.no_grad():
                theirs.weight.copy_(1 + 0.3 * _randn(rng, (d,), dtype))
                theirs.bias.copy_(0.3 * _randn(rng, (d,), dtype))
            x = 2.0 * _randn(rng, shape, dtype) + 0.5
            mine = _ln(student, d, dtype=dtype, weight=theirs.weight.detach().clone(),
                       bias=theirs.bias.detach().clone())
            expect_close(mine(x), theirs(x), what=f"LayerNorm({d}) of a {_dtype_name(dtype)} {shape} input",
                         **tol)


@check("transformer.LayerNorm", kind="property")
def test_ln_each_position_alone(student, rng):
    """each position is normalised on its own: changing one position leaves the others unchanged"""
    module = _ln(student, 6)
    x = _randn(rng, (2, 4, 6))
    out = module(x)
    changed = x.clone()
    changed[1, 2] = 10.0 * _randn(rng, (6,)) + 3.0
    again = module(changed)
    keep = torch.ones(2, 4, dtype=torch.bool)
    keep[1, 2] = False
    expect_close(again[keep], out[keep], what="the outputs at the unchanged positions after changing x[1, 2]",
                 **TOL64)


@check("transformer.LayerNorm")
def test_ln_large_mean_float32(student, rng):
    """float32 vectors with a large mean (1000 + noise) are normalised accurately"""
    x64 = 1000.0 + _randn(rng, (3, 4, 16))
    x = x64.float()
    want = F.layer_norm(x.double(), (16,)).float()
    expect_close(_ln(student, 16, dtype=torch.float32)(x), want, what="LayerNorm(16) of float32 vectors near 1000",
                 rtol=1e-3, atol=2e-3)


@check("transformer.LayerNorm", kind="property")
def test_ln_keeps_dtype(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    for dtype in (torch.float32, torch.float64):
        out = _ln(student, 6, dtype=dtype)(_randn(rng, (2, 3, 6), dtype))
        got = torch.as_tensor(out).dtype
        expect(got == dtype, f"LayerNorm(6) of a {_dtype_name(dtype)} (2, 3, 6) input returned {_dtype_name(got)}; "
                             f"expected {_dtype_name(dtype)} (keep the caller's dtype).")


@check("transformer.LayerNorm", weight=2)
def test_ln_gradients(student, ref, rng):
    """gradients of x, weight and bias (float64)"""
    d = 5
    w, b = 1 + 0.3 * _randn(rng, (d,)), 0.3 * _randn(rng, (d,))
    mine = _ln(student, d, weight=w, bias=b)
    theirs = ref.transformer.LayerNorm(d).double()
    theirs.load_state_dict({"weight": w, "bias": b})
    x, up = _randn(rng, (2, 3, d)), _randn(rng, (2, 3, d))
    _, got, got_params = vjp(mine, (x,), up)
    _, want, want_params = vjp(theirs, (x,), up)
    expect_gradients_close(got, want, ["x"], **GRAD64)
    expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- FeedForward

def _ff_expected(state, x, activation="relu"):
    act = F.relu if activation == "relu" else F.gelu
    h = act(F.linear(x, state["linear1.weight"], state["linear1.bias"]))
    return F.linear(h, state["linear2.weight"], state["linear2.bias"])


FF_NAMES = ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]


@check("transformer.FeedForward", kind="property")
def test_ff_parameters(student):
    """the parameters are linear1 = nn.Linear(d_model, d_ff) and linear2 = nn.Linear(d_ff, d_model)"""
    module = student.transformer.FeedForward(6, 10)
    _check_names(module, FF_NAMES, "FeedForward(6, 10)")
    state = dict(module.state_dict())
    for name, shape in zip(FF_NAMES, [(10, 6), (10,), (6, 10), (6,)]):
        expect_shape(state[name], shape, what=f"FeedForward(6, 10): {name}")


@check("transformer.FeedForward", weight=2)
def test_ff_fixed_value(student):
    """a tiny example with hand-set weights: the ReLU cuts the negative hidden units"""
    state = {"linear1.weight": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], dtype=torch.float64),
             "linear1.bias": torch.tensor([0.0, -1.0, 0.5], dtype=torch.float64),
             "linear2.weight": torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], dtype=torch.float64),
             "linear2.bias": torch.tensor([0.1, -0.1], dtype=torch.float64)}
    module = student.transformer.FeedForward(2, 3)
    module.double()
    module.load_state_dict(state)
    module.eval()
    x = torch.tensor([[[2.0, 3.0], [-1.0, 0.5]]], dtype=torch.float64)
    # hidden: [2, 2, 0] -> relu [2, 2, 0]; [-1, -0.5, -1] -> [0, 0, 0]
    want = torch.tensor([[[6.1, -2.1], [0.1, -0.1]]], dtype=torch.float64)
    expect_close(module(x), want, what="FeedForward(2, 3)(x)", **TOL64)


@check("transformer.FeedForward", weight=2)
def test_ff_matches_formula(student, ref, rng):
    """linear2(relu(linear1(x))) with random weights, float32 and float64, odd d_ff, batch 1 and T = 1"""
    for dtype, tol in ((torch.float64, TOL64), (torch.float32, TOL32)):
        for shape, d_ff in [((2, 5, 6), 7), ((1, 1, 4), 3)]:
            d = shape[-1]
            mine, _, state = _pair(student, ref, rng, "FeedForward", (d, d_ff), dtype=dtype)
            x = _randn(rng, shape, dtype)
            expect_close(mine(x), _ff_expected(state, x), what=f"FeedForward({d}, {d_ff}) of a "
                         f"{_dtype_name(dtype)} {shape} input", **tol)


@check("transformer.FeedForward", kind="property")
def test_ff_keeps_dtype(student, ref, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    _keeps_dtype(student, ref, rng, "FeedForward", (6, 12), {}, lambda dtype: (_randn(rng, (2, 3, 6), dtype),),
                 "FeedForward(6, 12) of a (2, 3, 6) input")


@check("transformer.FeedForward", weight=2)
def test_ff_gelu(student, ref, rng):
    """activation="gelu" uses the exact GELU (as F.gelu), not the ReLU nor the tanh approximation"""
    mine, _, state = _pair(student, ref, rng, "FeedForward", (4, 9), {"activation": "gelu"})
    x = 1.5 * _randn(rng, (2, 3, 4))
    expect_close(mine(x), _ff_expected(state, x, "gelu"), what='FeedForward(4, 9, activation="gelu")(x)', **TOL64)


@check("transformer.FeedForward", kind="property")
def test_ff_eval_and_train(student, ref, rng):
    """dropout=0.5: eval() gives the dropout-free result every time; train() makes two calls differ"""
    mine, _, state = _pair(student, ref, rng, "FeedForward", (6, 12), {"dropout": 0.5})
    x = _randn(rng, (2, 5, 6))
    want = _twin(student, "FeedForward", (6, 12), {"dropout": 0.0}, state)(x)
    expect_close(mine(x), want, what="FeedForward(6, 12, dropout=0.5) in eval() mode (expected the output of "
                 "FeedForward(6, 12, dropout=0.0) with the same weights)", **TOL64)
    expect_close(mine(x), want, what="a second call in eval() mode", **TOL64)
    mine.train()
    student.fixtures.seed_everything(1)
    first, second = mine(x), mine(x)
    expect(not torch.allclose(first, second),
           "FeedForward(6, 12, dropout=0.5) in train() mode gave the same output twice: dropout should zero a "
           "different random half of the hidden units at every call.")


@check("transformer.FeedForward")
def test_ff_dropout_placement(student, ref, rng):
    """the dropout acts on the hidden units: with dropout=1.0 in train() mode only linear2's bias is left"""
    mine, _, state = _pair(student, ref, rng, "FeedForward", (6, 12), {"dropout": 1.0}, train=True)
    x = _randn(rng, (2, 3, 6))
    expect_close(mine(x), state["linear2.bias"].expand(2, 3, 6),
                 what="FeedForward(6, 12, dropout=1.0)(x) in train() mode (every hidden unit dropped: "
                      "linear2 of zeros, i.e. linear2's bias)", **TOL64)


@check("transformer.FeedForward", weight=2)
def test_ff_gradients(student, ref, rng):
    """gradients of x and of every parameter (float64, relu and gelu)"""
    for activation in ("relu", "gelu"):
        mine, theirs, _ = _pair(student, ref, rng, "FeedForward", (4, 6), {"activation": activation})
        x, up = _randn(rng, (2, 3, 4)), _randn(rng, (2, 3, 4))
        _, got, got_params = vjp(mine, (x,), up)
        _, want, want_params = vjp(theirs, (x,), up)
        expect_gradients_close(got, want, ["x"], **GRAD64)
        expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- EncoderLayer

@check("transformer.EncoderLayer", kind="property")
def test_enc_layer_parameters(student):
    """the sub-modules are self_attn, ff, norm1 and norm2, with nothing else holding parameters"""
    _check_names(student.transformer.EncoderLayer(8, 2, 16), _enc_layer_names(), "EncoderLayer(8, 2, 16)")


@check("transformer.EncoderLayer", weight=3)
def test_enc_layer_matches_torch_post_norm(student, ref, rng):
    """post-norm: the same as torch.nn.TransformerEncoderLayer(batch_first=True), without and with a padding mask"""
    mine, _, state = _pair(student, ref, rng, "EncoderLayer", (D, H, FF))
    theirs = _torch_encoder_layer(state, D, H, FF)
    x = _randn(rng, (2, 5, D))
    expect_close(mine(x), _torch_encode(theirs, x, None, H), what="the output without a mask", **TORCH64)
    mask = _pad_mask([5, 3], 5)
    expect_close(mine(x, mask), _torch_encode(theirs, x, mask, H), what="the output with a (2, 1, 5) padding mask",
                 **TORCH64)


@check("transformer.EncoderLayer", weight=2)
def test_enc_layer_matches_torch_pre_norm(student, ref, rng):
    """norm_first=True (pre-norm): the same as torch.nn.TransformerEncoderLayer(norm_first=True)"""
    mine, _, state = _pair(student, ref, rng, "EncoderLayer", (D, H, FF), {"norm_first": True})
    theirs = _torch_encoder_layer(state, D, H, FF, norm_first=True)
    x = _randn(rng, (2, 5, D))
    mask = _pad_mask([4, 5], 5)
    expect_close(mine(x, mask), _torch_encode(theirs, x, mask, H), what="the output with a (2, 1, 5) padding mask",
                 **TORCH64)
    causal = _causal(5)
    expect_close(mine(x, causal), _torch_encode(theirs, x, causal, H), what="the output with a (5, 5) causal mask",
                 **TORCH64)


@check("transformer.EncoderLayer")
def test_enc_layer_gelu_and_heads(student, ref, rng):
    """activation="gelu" with 3 and 4 heads and a (B, T, T) mask: the same as torch.nn.TransformerEncoderLayer"""
    for d, h, norm_first in ((12, 4, False), (6, 3, True)):
        kwargs = {"activation": "gelu", "norm_first": norm_first}
        mine, _, state = _pair(student, ref, rng, "EncoderLayer", (d, h, 10), kwargs)
        theirs = _torch_encoder_layer(state, d, h, 10, "gelu", norm_first)
        x = _randn(rng, (2, 4, d))
        mask = torch.from_numpy(rng.random((2, 4, 4)) < 0.6) | torch.eye(4, dtype=torch.bool)
        expect_close(mine(x, mask), _torch_encode(theirs, x, mask, h),
                     what=f"the output of EncoderLayer({d}, {h}, 10, {kwargs}) with a (2, 4, 4) mask", **TORCH64)


@check("transformer.EncoderLayer", kind="property")
def test_enc_layer_keeps_dtype(student, ref, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    _keeps_dtype(student, ref, rng, "EncoderLayer", (D, H, FF), {}, lambda dtype: (_randn(rng, (2, 4, D), dtype),),
                 "EncoderLayer(8, 2, 16) of a (2, 4, 8) input")


@check("transformer.EncoderLayer")
def test_enc_layer_small_shapes(student, ref, rng):
    """batch 1 and T = 1 work (compared with the reference)"""
    for shape, norm_first in (((1, 4, D), False), ((3, 1, D), True), ((1, 1, D), False)):
        mine, theirs, _ = _pair(student, ref, rng, "EncoderLayer", (D, H, FF), {"norm_first": norm_first})
        x = _randn(rng, shape)
        expect_close(mine(x), theirs(x), what=f"the output for a {shape} input (norm_first={norm_first})", **TOL64)


@check("transformer.EncoderLayer", weight=2, kind="property")
def test_enc_layer_padding_changes_nothing(student, ref, rng):
    """with a padding mask, changing the padded positions leaves the real positions' outputs unchanged"""
    for norm_first in (False, True):
        mine, _, _ = _pair(student, ref, rng, "EncoderLayer", (D, H, FF), {"norm_first": norm_first})
        x = _randn(rng, (2, 6, D))
        mask = _pad_mask([4, 2], 6)
        out = mine(x, mask)
        changed = x.clone()
        changed[0, 4:] = _randn(rng, (2, D))
        changed[1, 2:] = _randn(rng, (4, D))
        again = mine(changed, mask)
        expect_close(again[0, :4], out[0, :4], what=f"sequence 0's 4 real positions after changing its padding "
                     f"(norm_first={norm_first})", **TOL64)
        expect_close(again[1, :2], out[1, :2], what=f"sequence 1's 2 real positions after changing its padding "
                     f"(norm_first={norm_first})", **TOL64)


@check("transformer.EncoderLayer", kind="property")
def test_enc_layer_eval_and_train(student, ref, rng):
    """dropout=0.5: eval() switches dropout off (the dropout-free result, twice); train() makes two calls differ"""
    mine, _, state = _pair(student, ref, rng, "EncoderLayer", (D, H, FF), {"dropout": 0.5})
    x = _randn(rng, (2, 4, D))
    want = _twin(student, "EncoderLayer", (D, H, FF), {"dropout": 0.0}, state)(x)
    expect_close(mine(x), want, what="EncoderLayer(8, 2, 16, dropout=0.5) in eval() mode (expected the output of "
                 "EncoderLayer(8, 2, 16, dropout=0.0) with the same weights)", **TOL64)
    expect_close(mine(x), want, what="a second call in eval() mode", **TOL64)
    mine.train()
    student.fixtures.seed_everything(2)
    expect(not torch.allclose(mine(x), mine(x)),
           "EncoderLayer(8, 2, 16, dropout=0.5) in train() mode gave the same output twice: dropout should be active.")


@check("transformer.EncoderLayer", weight=2)
def test_enc_layer_dropout_placement(student, ref, rng):
    """dropout acts on each sub-layer's output before the residual addition (dropout=1.0 in train() mode)"""
    x = _randn(rng, (2, 3, D))
    for norm_first in (False, True):
        mine, theirs, state = _pair(student, ref, rng, "EncoderLayer", (D, H, FF),
                                    {"dropout": 1.0, "norm_first": norm_first}, train=True)
        if norm_first:
            want, how = x, "x itself (x + 0 + 0)"
        else:
            norm1 = F.layer_norm(x, (D,), state["norm1.weight"], state["norm1.bias"])
            want = F.layer_norm(norm1, (D,), state["norm2.weight"], state["norm2.bias"])
            how = "norm2(norm1(x)), both sub-layers dropped"
        expect_close(mine(x), want, what=f"the output with dropout=1.0 in train() mode, norm_first={norm_first} "
                     f"(expected {how})", **TOL64)


@check("transformer.EncoderLayer", weight=2)
def test_enc_layer_gradients(student, ref, rng):
    """gradients of x and of every parameter (float64, padding mask, post-norm and pre-norm)"""
    for norm_first in (False, True):
        mine, theirs, _ = _pair(student, ref, rng, "EncoderLayer", (6, 3, 10), {"norm_first": norm_first})
        x, up = _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
        mask = _pad_mask([4, 3], 4)
        _, got, got_params = vjp(mine, (x, mask), up)
        _, want, want_params = vjp(theirs, (x, mask), up)
        expect_gradients_close(got, want, ["x"], **GRAD64)
        expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- DecoderLayer

@check("transformer.DecoderLayer", kind="property")
def test_dec_layer_parameters(student):
    """the sub-modules are self_attn, cross_attn, ff, norm1, norm2 and norm3, nothing else with parameters"""
    _check_names(student.transformer.DecoderLayer(8, 2, 16), _dec_layer_names(), "DecoderLayer(8, 2, 16)")


@check("transformer.DecoderLayer", weight=3)
def test_dec_layer_matches_torch_post_norm(student, ref, rng):
    """post-norm: the same as torch.nn.TransformerDecoderLayer, causal tgt_mask, padded memory, S != T"""
    mine, _, state = _pair(student, ref, rng, "DecoderLayer", (D, H, FF))
    theirs = _torch_decoder_layer(state, D, H, FF)
    x, memory = _randn(rng, (2, 4, D)), _randn(rng, (2, 6, D))
    expect_close(mine(x, memory), _torch_decode(theirs, x, memory, None, None, H), what="the output without masks",
                 **TORCH64)
    causal, pad = _causal(4), _pad_mask([6, 3], 6)
    expect_close(mine(x, memory, causal, pad), _torch_decode(theirs, x, memory, causal, pad, H),
                 what="the output with a causal (4, 4) tgt_mask and a (2, 1, 6) memory_mask", **TORCH64)


@check("transformer.DecoderLayer", weight=2)
def test_dec_layer_matches_torch_pre_norm(student, ref, rng):
    """norm_first=True (pre-norm): the same as torch.nn.TransformerDecoderLayer(norm_first=True)"""
    mine, _, state = _pair(student, ref, rng, "DecoderLayer", (D, H, FF), {"norm_first": True})
    theirs = _torch_decoder_layer(state, D, H, FF, norm_first=True)
    x, memory = _randn(rng, (2, 5, D)), _randn(rng, (2, 3, D))
    tgt_mask = _pad_mask([5, 4], 5) & _causal(5)
    pad = _pad_mask([2, 3], 3)
    expect_close(mine(x, memory, tgt_mask, pad), _torch_decode(theirs, x, memory, tgt_mask, pad, H),
                 what="the output with a (2, 5, 5) tgt_mask and a (2, 1, 3) memory_mask", **TORCH64)


@check("transformer.DecoderLayer")
def test_dec_layer_gelu_and_heads(student, ref, rng):
    """activation="gelu" with 3 and 4 heads: the same as torch.nn.TransformerDecoderLayer"""
    for d, h, norm_first in ((12, 4, False), (6, 3, True)):
        kwargs = {"activation": "gelu", "norm_first": norm_first}
        mine, _, state = _pair(student, ref, rng, "DecoderLayer", (d, h, 10), kwargs)
        theirs = _torch_decoder_layer(state, d, h, 10, "gelu", norm_first)
        x, memory = _randn(rng, (2, 3, d)), _randn(rng, (2, 5, d))
        causal, pad = _causal(3), _pad_mask([5, 4], 5)
        expect_close(mine(x, memory, causal, pad), _torch_decode(theirs, x, memory, causal, pad, h),
                     what=f"the output of DecoderLayer({d}, {h}, 10, {kwargs})", **TORCH64)


@check("transformer.DecoderLayer", kind="property")
def test_dec_layer_keeps_dtype(student, ref, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    _keeps_dtype(student, ref, rng, "DecoderLayer", (D, H, FF), {},
                 lambda dtype: (_randn(rng, (2, 4, D), dtype), _randn(rng, (2, 5, D), dtype)),
                 "DecoderLayer(8, 2, 16) of x (2, 4, 8) and memory (2, 5, 8)")


@check("transformer.DecoderLayer")
def test_dec_layer_small_shapes(student, ref, rng):
    """batch 1, T = 1 and a memory of length 1 work (compared with the reference)"""
    for (B, T, S), norm_first in (((1, 3, 5), False), ((2, 1, 4), True), ((1, 1, 1), False)):
        mine, theirs, _ = _pair(student, ref, rng, "DecoderLayer", (D, H, FF), {"norm_first": norm_first})
        x, memory = _randn(rng, (B, T, D)), _randn(rng, (B, S, D))
        causal = _causal(T)
        expect_close(mine(x, memory, causal), theirs(x, memory, causal),
                     what=f"the output for x {(B, T, D)} and memory {(B, S, D)} (norm_first={norm_first})", **TOL64)


@check("transformer.DecoderLayer", weight=2, kind="property")
def test_dec_layer_causal(student, ref, rng):
    """with a causal tgt_mask, the output at position t does not change when later target positions change"""
    for norm_first in (False, True):
        mine, _, _ = _pair(student, ref, rng, "DecoderLayer", (D, H, FF), {"norm_first": norm_first})
        x, memory = _randn(rng, (2, 5, D)), _randn(rng, (2, 3, D))
        causal = _causal(5)
        out = mine(x, memory, causal)
        changed = x.clone()
        changed[:, 3:] = _randn(rng, (2, 2, D))
        again = mine(changed, memory, causal)
        expect_close(again[:, :3], out[:, :3], what=f"the outputs at positions 0-2 after changing positions 3-4 "
                     f"(norm_first={norm_first})", **TOL64)


@check("transformer.DecoderLayer", weight=2, kind="property")
def test_dec_layer_memory_padding(student, ref, rng):
    """with a memory_mask, changing the padded memory positions changes nothing"""
    for norm_first in (False, True):
        mine, _, _ = _pair(student, ref, rng, "DecoderLayer", (D, H, FF), {"norm_first": norm_first})
        x, memory = _randn(rng, (2, 3, D)), _randn(rng, (2, 5, D))
        pad = _pad_mask([3, 5], 5)
        out = mine(x, memory, _causal(3), pad)
        changed = memory.clone()
        changed[0, 3:] = _randn(rng, (2, D))
        again = mine(x, changed, _causal(3), pad)
        expect_close(again, out, what=f"the output after changing the padded memory positions "
                     f"(norm_first={norm_first})", **TOL64)


@check("transformer.DecoderLayer", kind="property")
def test_dec_layer_eval_and_train(student, ref, rng):
    """dropout=0.5: eval() switches dropout off (the dropout-free result, twice); train() makes two calls differ"""
    mine, _, state = _pair(student, ref, rng, "DecoderLayer", (D, H, FF), {"dropout": 0.5})
    x, memory = _randn(rng, (2, 4, D)), _randn(rng, (2, 3, D))
    want = _twin(student, "DecoderLayer", (D, H, FF), {"dropout": 0.0}, state)(x, memory)
    expect_close(mine(x, memory), want, what="DecoderLayer(8, 2, 16, dropout=0.5) in eval() mode (expected the output "
                 "of DecoderLayer(8, 2, 16, dropout=0.0) with the same weights)", **TOL64)
    expect_close(mine(x, memory), want, what="a second call in eval() mode", **TOL64)
    mine.train()
    student.fixtures.seed_everything(3)
    expect(not torch.allclose(mine(x, memory), mine(x, memory)),
           "DecoderLayer(8, 2, 16, dropout=0.5) in train() mode gave the same output twice: dropout should be active.")


@check("transformer.DecoderLayer", weight=2)
def test_dec_layer_dropout_placement(student, ref, rng):
    """dropout acts on each sub-layer's output before the residual addition (dropout=1.0 in train() mode)"""
    x, memory = _randn(rng, (2, 3, D)), _randn(rng, (2, 4, D))
    for norm_first in (False, True):
        mine, _, state = _pair(student, ref, rng, "DecoderLayer", (D, H, FF),
                               {"dropout": 1.0, "norm_first": norm_first}, train=True)
        if norm_first:
            want, how = x, "x itself (x + 0 + 0 + 0)"
        else:
            want = x
            for i in (1, 2, 3):
                want = F.layer_norm(want, (D,), state[f"norm{i}.weight"], state[f"norm{i}.bias"])
            how = "norm3(norm2(norm1(x))), all three sub-layers dropped"
        expect_close(mine(x, memory), want, what=f"the output with dropout=1.0 in train() mode, "
                     f"norm_first={norm_first} (expected {how})", **TOL64)


@check("transformer.DecoderLayer", weight=2)
def test_dec_layer_gradients(student, ref, rng):
    """gradients of x, memory and every parameter (float64, causal and padding masks, post- and pre-norm)"""
    for norm_first in (False, True):
        mine, theirs, _ = _pair(student, ref, rng, "DecoderLayer", (6, 3, 10), {"norm_first": norm_first})
        x, memory, up = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 3, 6))
        args = (x, memory, _causal(3), _pad_mask([4, 2], 4))
        _, got, got_params = vjp(mine, args, up)
        _, want, want_params = vjp(theirs, args, up)
        expect_gradients_close(got, want, ["x", "memory"], **GRAD64)
        expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- Encoder

def _stack_names(layer_names, n):
    return [f"layers.{i}.{name}" for i in range(n) for name in layer_names] + ["norm.weight", "norm.bias"]


@check("transformer.Encoder", weight=2, kind="property")
def test_encoder_structure(student):
    """layers holds num_layers deep copies of the layer (same weights, not shared), then a final norm"""
    layer = student.transformer.EncoderLayer(D, H, FF)
    layer_state = dict(layer.state_dict())
    encoder = student.transformer.Encoder(layer, 3)
    _check_names(encoder, _stack_names(_enc_layer_names(), 3), "Encoder(EncoderLayer(8, 2, 16), 3)")
    state = dict(encoder.state_dict())
    for i in range(3):
        for name, value in layer_state.items():
            expect_close(state[f"layers.{i}.{name}"], value, what=f"layers.{i}.{name} (a copy of the layer's {name})",
                         rtol=0, atol=0)
    expect_close(state["norm.weight"], torch.ones(D), what="norm.weight (a fresh LayerNorm(d_model))")
    # every copy must have its own weights: change the last layer only
    state["layers.2.ff.linear2.bias"] = state["layers.2.ff.linear2.bias"] + 1.0
    encoder.load_state_dict(state)
    again = dict(encoder.state_dict())
    expect_close(again["layers.0.ff.linear2.bias"], layer_state["ff.linear2.bias"],
                 what="layers.0.ff.linear2.bias after changing layers.2.ff.linear2.bias only (the layers must be "
                      "independent copies: copy.deepcopy, not the same module num_layers times)", rtol=0, atol=0)


@check("transformer.Encoder", weight=3)
def test_encoder_matches_torch(student, ref, rng):
    """post-norm stack of 3 layers with different weights and a padding mask: the same as torch.nn.TransformerEncoder"""
    mine, _, state = _stack_pair(student, ref, rng, "Encoder", (D, H, FF), {}, 3)
    theirs = _torch_encoder(state, D, H, FF, 3)
    x = _randn(rng, (2, 5, D))
    mask = _pad_mask([5, 3], 5)
    expect_close(mine(x, mask), _torch_encode(theirs, x, mask, H), what="the output with a (2, 1, 5) padding mask",
                 **TORCH64)
    expect_close(mine(x), _torch_encode(theirs, x, None, H), what="the output without a mask", **TORCH64)


@check("transformer.Encoder", weight=2)
def test_encoder_matches_torch_pre_norm(student, ref, rng):
    """pre-norm layers (norm_first=True): the final norm is applied too, as in torch.nn.TransformerEncoder"""
    mine, _, state = _stack_pair(student, ref, rng, "Encoder", (6, 3, 10), {"norm_first": True}, 2)
    theirs = _torch_encoder(state, 6, 3, 10, 2, norm_first=True)
    x = _randn(rng, (2, 4, 6))
    mask = _pad_mask([2, 4], 4)
    expect_close(mine(x, mask), _torch_encode(theirs, x, mask, 3), what="the output with a (2, 1, 4) padding mask",
                 **TORCH64)


@check("transformer.Encoder", kind="property")
def test_encoder_does_not_use_the_layer_itself(student, ref, rng):
    """changing the layer given to Encoder afterwards changes nothing (the stack holds copies)"""
    _, theirs, _ = _stack_pair(student, ref, rng, "Encoder", (D, H, FF), {}, 2)
    layer = student.transformer.EncoderLayer(D, H, FF)
    encoder = student.transformer.Encoder(layer, 2)
    encoder.double()
    _load(encoder, plain_state(theirs), "Encoder(EncoderLayer(8, 2, 16), 2)")
    encoder.eval()
    x = _randn(rng, (2, 3, D))
    out = encoder(x)
    layer.double()
    _load(layer, {k: v + 0.5 for k, v in _random_state(ref.transformer.EncoderLayer(D, H, FF), rng).items()},
          "EncoderLayer(8, 2, 16)")
    expect_close(encoder(x), out, what="the encoder's output after changing the original layer's weights", **TOL64)


@check("transformer.Encoder")
def test_encoder_small(student, ref, rng):
    """one layer; batch 1 and T = 1 (compared with the reference)"""
    for shape, n in (((1, 4, D), 1), ((2, 1, D), 2)):
        mine, theirs, _ = _stack_pair(student, ref, rng, "Encoder", (D, H, FF), {}, n)
        x = _randn(rng, shape)
        expect_close(mine(x), theirs(x), what=f"the output of a {n}-layer encoder for a {shape} input", **TOL64)


@check("transformer.Encoder", kind="property")
def test_encoder_padding_changes_nothing(student, ref, rng):
    """the mask reaches every layer: changing padded positions leaves the real positions' outputs unchanged"""
    mine, _, _ = _stack_pair(student, ref, rng, "Encoder", (D, H, FF), {}, 3)
    x = _randn(rng, (2, 5, D))
    mask = _pad_mask([3, 5], 5)
    out = mine(x, mask)
    changed = x.clone()
    changed[0, 3:] = _randn(rng, (2, D))
    again = mine(changed, mask)
    expect_close(again[0, :3], out[0, :3], what="sequence 0's real positions after changing its padding", **TOL64)


@check("transformer.Encoder", weight=2)
def test_encoder_gradients(student, ref, rng):
    """gradients of x and of every parameter of the stack (float64, padding mask)"""
    mine, theirs, _ = _stack_pair(student, ref, rng, "Encoder", (6, 3, 10), {}, 2)
    x, up = _randn(rng, (2, 4, 6)), _randn(rng, (2, 4, 6))
    mask = _pad_mask([4, 2], 4)
    _, got, got_params = vjp(mine, (x, mask), up)
    _, want, want_params = vjp(theirs, (x, mask), up)
    expect_gradients_close(got, want, ["x"], **GRAD64)
    expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- Decoder

@check("transformer.Decoder", weight=2, kind="property")
def test_decoder_structure(student):
    """layers holds num_layers deep copies of the layer (same weights, not shared), then a final norm"""
    layer = student.transformer.DecoderLayer(D, H, FF)
    layer_state = dict(layer.state_dict())
    decoder = student.transformer.Decoder(layer, 2)
    _check_names(decoder, _stack_names(_dec_layer_names(), 2), "Decoder(DecoderLayer(8, 2, 16), 2)")
    state = dict(decoder.state_dict())
    for i in range(2):
        for name, value in layer_state.items():
            expect_close(state[f"layers.{i}.{name}"], value, what=f"layers.{i}.{name} (a copy of the layer's {name})",
                         rtol=0, atol=0)
    expect_close(state["norm.weight"], torch.ones(D), what="norm.weight (a fresh LayerNorm(d_model))")
    state["layers.1.cross_attn.w_o.bias"] = state["layers.1.cross_attn.w_o.bias"] + 1.0
    decoder.load_state_dict(state)
    again = dict(decoder.state_dict())
    expect_close(again["layers.0.cross_attn.w_o.bias"], layer_state["cross_attn.w_o.bias"],
                 what="layers.0.cross_attn.w_o.bias after changing layers.1.cross_attn.w_o.bias only (the layers "
                      "must be independent copies: copy.deepcopy)", rtol=0, atol=0)


@check("transformer.Decoder", weight=3)
def test_decoder_matches_torch(student, ref, rng):
    """post-norm stack of 3 layers, causal tgt_mask, padded memory: the same as torch.nn.TransformerDecoder"""
    mine, _, state = _stack_pair(student, ref, rng, "Decoder", (D, H, FF), {}, 3)
    theirs = _torch_decoder(state, D, H, FF, 3)
    x, memory = _randn(rng, (2, 4, D)), _randn(rng, (2, 6, D))
    causal, pad = _causal(4), _pad_mask([6, 2], 6)
    expect_close(mine(x, memory, causal, pad), _torch_decode(theirs, x, memory, causal, pad, H),
                 what="the output with a causal (4, 4) tgt_mask and a (2, 1, 6) memory_mask", **TORCH64)


@check("transformer.Decoder", weight=2)
def test_decoder_matches_torch_pre_norm(student, ref, rng):
    """pre-norm layers (norm_first=True): the final norm is applied too, as in torch.nn.TransformerDecoder"""
    mine, _, state = _stack_pair(student, ref, rng, "Decoder", (6, 3, 10), {"norm_first": True}, 2)
    theirs = _torch_decoder(state, 6, 3, 10, 2, norm_first=True)
    x, memory = _randn(rng, (2, 3, 6)), _randn(rng, (2, 5, 6))
    causal, pad = _causal(3), _pad_mask([5, 3], 5)
    expect_close(mine(x, memory, causal, pad), _torch_decode(theirs, x, memory, causal, pad, 3),
                 what="the output with a causal (3, 3) tgt_mask and a (2, 1, 5) memory_mask", **TORCH64)


@check("transformer.Decoder")
def test_decoder_small(student, ref, rng):
    """one layer; batch 1, T = 1 (compared with the reference)"""
    for (B, T, S), n in (((1, 3, 4), 1), ((2, 1, 3), 2)):
        mine, theirs, _ = _stack_pair(student, ref, rng, "Decoder", (D, H, FF), {}, n)
        x, memory = _randn(rng, (B, T, D)), _randn(rng, (B, S, D))
        expect_close(mine(x, memory, _causal(T)), theirs(x, memory, _causal(T)),
                     what=f"the output of a {n}-layer decoder for x {(B, T, D)}, memory {(B, S, D)}", **TOL64)


@check("transformer.Decoder", weight=2, kind="property")
def test_decoder_causal_and_padding(student, ref, rng):
    """the masks reach every layer: later targets and padded memory positions change nothing"""
    mine, _, _ = _stack_pair(student, ref, rng, "Decoder", (D, H, FF), {}, 2)
    x, memory = _randn(rng, (2, 5, D)), _randn(rng, (2, 4, D))
    causal, pad = _causal(5), _pad_mask([2, 4], 4)
    out = mine(x, memory, causal, pad)
    changed = x.clone()
    changed[:, 2:] = _randn(rng, (2, 3, D))
    expect_close(mine(changed, memory, causal, pad)[:, :2], out[:, :2],
                 what="the outputs at positions 0-1 after changing target positions 2-4", **TOL64)
    changed = memory.clone()
    changed[0, 2:] = _randn(rng, (2, D))
    expect_close(mine(x, changed, causal, pad), out, what="the output after changing padded memory positions",
                 **TOL64)


@check("transformer.Decoder", weight=2)
def test_decoder_gradients(student, ref, rng):
    """gradients of x, memory and of every parameter of the stack (float64)"""
    mine, theirs, _ = _stack_pair(student, ref, rng, "Decoder", (6, 3, 10), {}, 2)
    x, memory, up = _randn(rng, (2, 3, 6)), _randn(rng, (2, 4, 6)), _randn(rng, (2, 3, 6))
    args = (x, memory, _causal(3), _pad_mask([4, 3], 4))
    _, got, got_params = vjp(mine, args, up)
    _, want, want_params = vjp(theirs, args, up)
    expect_gradients_close(got, want, ["x", "memory"], **GRAD64)
    expect_gradients_close(got_params, want_params, None, **GRAD64)


# ---------------------------------------------------------------- Transformer

SMALL = dict(d_model=8, num_heads=2, num_encoder_layers=2, num_decoder_layers=1, d_ff=16, dropout=0.1, max_len=50)


def _tokens(rng, shape, vocab, low=1):
    return torch.from_numpy(rng.integers(low, vocab, size=shape)).long()


def _model_pair(student, ref, rng, src_vocab=11, tgt_vocab=13, dtype=torch.float64, **overrides):
    config = {**SMALL, **overrides}
    return _pair(student, ref, rng, "Transformer", (src_vocab, tgt_vocab), config, dtype=dtype)


@check("transformer.Transformer", kind="property")
def test_model_parameters(student, ref):
    """the parameters: src_embed, tgt_embed, encoder, decoder and generator (pos_encoding has none)"""
    theirs = ref.transformer.Transformer(11, 13, **SMALL)
    want = {name: tuple(value.shape) for name, value in theirs.state_dict().items()}
    mine = student.transformer.Transformer(11, 13, **SMALL)
    _check_names(mine, want, _call_text("Transformer", (11, 13), SMALL))
    state = dict(mine.state_dict())
    for name in ("src_embed.weight", "tgt_embed.weight", "generator.weight", "generator.bias"):
        expect_shape(state[name], want[name], what=f"{name} of Transformer(11, 13, d_model=8, ...)")
    pe = mine.pos_encoding.pe
    expect_shape(pe, (50, 8), what="pos_encoding.pe (a PositionalEncoding(d_model, max_len, dropout))")


@check("transformer.Transformer", kind="property")
def test_model_xavier_init(student):
    """every matrix (embeddings included) starts Xavier-uniform; biases and norms keep their initial values"""
    student.fixtures.seed_everything(0)
    mine = student.transformer.Transformer(40, 48, d_model=32, num_heads=4, num_encoder_layers=1,
                                           num_decoder_layers=1, d_ff=64, max_len=20)
    for name, value in _parameters(mine).items():
        value = value.detach()
        if value.dim() == 2:
            fan_out, fan_in = value.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            largest = float(value.abs().max())
            expect(largest <= bound * (1 + 1e-6),
                   f"{name} {tuple(value.shape)} has an entry of size {largest:.4g}, beyond the Xavier-uniform bound "
                   f"sqrt(6 / (fan_in + fan_out)) = {bound:.4g}: initialise every parameter with more than one "
                   "dimension with nn.init.xavier_uniform_.")
            std, want = float(value.std()), bound / math.sqrt(3.0)
            expect(abs(std - want) <= 0.15 * want,
                   f"{name} {tuple(value.shape)} has standard deviation {std:.4g}; Xavier-uniform gives about "
                   f"{want:.4g}: initialise every parameter with more than one dimension with nn.init.xavier_uniform_.")
        elif re.search(r"norm\d?\.weight$", name):
            expect_close(value, torch.ones(value.shape), what=f"{name} (a norm's gain starts at 1)")


@check("transformer.Transformer", weight=3)
def test_model_matches_torch(student, ref, rng):
    """forward: embeddings * sqrt(d_model) + positions, then torch.nn.Transformer(batch_first=True), then generator"""
    mine, _, state = _model_pair(student, ref, rng)
    d = SMALL["d_model"]
    theirs = torch.nn.Transformer(d, SMALL["num_heads"], SMALL["num_encoder_layers"], SMALL["num_decoder_layers"],
                                  SMALL["d_ff"], dropout=0.0, batch_first=True, dtype=torch.float64)
    theirs.load_state_dict(_to_torch_names(state, keep=lambda n: n.startswith(("encoder.", "decoder."))))
    theirs.eval()
    src, tgt = _tokens(rng, (2, 6), 11), _tokens(rng, (2, 4), 13)
    src[1, 4:] = 0
    src_mask, tgt_mask = (src != 0).unsqueeze(1), _causal(4)
    pe = ref.positional.sinusoidal_positional_encoding(50, d).double()      # the buffer, made in float32
    src_x = F.embedding(src, state["src_embed.weight"]) * math.sqrt(d) + pe[:6]
    tgt_x = F.embedding(tgt, state["tgt_embed.weight"]) * math.sqrt(d) + pe[:4]
    hidden = theirs(src_x, tgt_x, tgt_mask=~tgt_mask, src_key_padding_mask=~src_mask[:, 0],
                    memory_key_padding_mask=~src_mask[:, 0])
    want = F.linear(hidden, state["generator.weight"], state["generator.bias"])
    expect_close(mine(src, tgt, src_mask, tgt_mask), want, what="the logits", **TORCH64)


@check("transformer.Transformer", weight=2)
def test_model_encode(student, ref, rng):
    """encode: src_embed(src) * sqrt(d_model), plus the positional encoding, through the encoder"""
    mine, theirs, state = _model_pair(student, ref, rng)
    src = _tokens(rng, (2, 5), 11)
    src_mask = _pad_mask([5, 3], 5)
    expect_close(mine.encode(src, src_mask), theirs.encode(src, src_mask), what="encode(src, src_mask)", **TOL64)
    expect_close(mine.encode(src), theirs.encode(src), what="encode(src) without a mask", **TOL64)


@check("transformer.Transformer", weight=2)
def test_model_decode(student, ref, rng):
    """decode returns the generator's logits (no softmax) for a given memory; src_mask is the memory mask"""
    mine, theirs, _ = _model_pair(student, ref, rng)
    tgt, memory = _tokens(rng, (2, 3), 13), _randn(rng, (2, 5, 8))
    src_mask, tgt_mask = _pad_mask([5, 2], 5), _causal(3)
    out = mine.decode(tgt, memory, src_mask, tgt_mask)
    expect_shape(out, (2, 3, 13), what="decode(tgt (2, 3), memory (2, 5, 8), ...) with tgt_vocab = 13")
    expect_close(out, theirs.decode(tgt, memory, src_mask, tgt_mask), what="decode(tgt, memory, src_mask, tgt_mask)",
                 **TOL64)


@check("transformer.Transformer", weight=2, kind="property")
def test_model_padded_source_changes_nothing(student, ref, rng):
    """padded source tokens change nothing in the logits: src_mask reaches the encoder AND the cross-attention"""
    mine, _, _ = _model_pair(student, ref, rng)
    src, tgt = _tokens(rng, (2, 6), 11), _tokens(rng, (2, 4), 13)
    src[0, 3:] = 0
    src_mask = (src != 0).unsqueeze(1)
    out = mine(src, tgt, src_mask, _causal(4))
    changed = src.clone()
    changed[0, 3:] = torch.tensor([5, 7, 9])
    again = mine(changed, tgt, src_mask, _causal(4))
    expect_close(again, out, what="the logits after changing the padded source tokens (masked by src_mask)", **TOL64)


@check("transformer.Transformer", weight=2, kind="property")
def test_model_causal(student, ref, rng):
    """with a causal tgt_mask, the logits at position t do not change when later target tokens change"""
    mine, _, _ = _model_pair(student, ref, rng)
    src, tgt = _tokens(rng, (2, 4), 11), _tokens(rng, (2, 5), 13)
    out = mine(src, tgt, None, _causal(5))
    changed = tgt.clone()
    changed[:, 3:] = (changed[:, 3:] + 3) % 13
    again = mine(src, changed, None, _causal(5))
    expect_close(again[:, :3], out[:, :3], what="the logits at positions 0-2 after changing target tokens 3-4",
                 **TOL64)


@check("transformer.Transformer")
def test_model_shapes(student, ref, rng):
    """logits (B, T_tgt, tgt_vocab) with S != T, batch 1, T = 1, 4 heads (compared with the reference)"""
    for (B, S, T), heads in (((1, 6, 3), 4), ((3, 2, 1), 2), ((1, 1, 1), 4)):
        mine, theirs, _ = _model_pair(student, ref, rng, src_vocab=9, tgt_vocab=7, num_heads=heads)
        src, tgt = _tokens(rng, (B, S), 9), _tokens(rng, (B, T), 7)
        out = mine(src, tgt, None, _causal(T))
        expect_shape(out, (B, T, 7), what=f"the logits for src {(B, S)}, tgt {(B, T)} and tgt_vocab = 7")
        expect_close(out, theirs(src, tgt, None, _causal(T)), what=f"the logits for src {(B, S)}, tgt {(B, T)}, "
                     f"{heads} heads", **TOL64)


@check("transformer.Transformer", kind="property")
def test_model_keeps_dtype(student, ref, rng):
    """a float32 model gives float32 logits; a float64 model float64 logits"""
    src, tgt = _tokens(rng, (2, 5), 11), _tokens(rng, (2, 4), 13)
    _keeps_dtype(student, ref, rng, "Transformer", (11, 13), SMALL, lambda dtype: (src, tgt, None, _causal(4)),
                 "Transformer(11, 13, d_model=8, ...)(src (2, 5), tgt (2, 4))")


@check("transformer.Transformer", kind="property")
def test_model_eval_and_train(student, ref, rng):
    """dropout=0.1: eval() gives the dropout-free logits twice; train() makes two calls differ"""
    mine, _, state = _model_pair(student, ref, rng)
    src, tgt = _tokens(rng, (2, 5), 11), _tokens(rng, (2, 4), 13)
    want = _twin(student, "Transformer", (11, 13), {**SMALL, "dropout": 0.0}, state)(src, tgt, None, _causal(4))
    expect_close(mine(src, tgt, None, _causal(4)), want, what="the logits in eval() mode (expected the logits of "
                 "Transformer(11, 13, ..., dropout=0.0) with the same weights)", **TOL64)
    expect_close(mine(src, tgt, None, _causal(4)), want, what="the logits of a second call in eval() mode", **TOL64)
    mine.train()
    student.fixtures.seed_everything(4)
    expect(not torch.allclose(mine(src, tgt, None, _causal(4)), mine(src, tgt, None, _causal(4))),
           "Transformer(..., dropout=0.1) in train() mode gave the same logits twice: dropout should be active.")


@check("transformer.Transformer", weight=2)
def test_model_gradients(student, ref, rng):
    """gradients of every parameter, embeddings and encoder included (float64, masks)"""
    mine, theirs, _ = _model_pair(student, ref, rng)
    src, tgt = _tokens(rng, (2, 5), 11), _tokens(rng, (2, 3), 13)
    src[1, 3:] = 0
    args = (src, tgt, (src != 0).unsqueeze(1), _causal(3))
    up = _randn(rng, (2, 3, 13))
    _, _, got = vjp(mine, args, up)
    _, _, want = vjp(theirs, args, up)
    expect_gradients_close(got, want, None, **GRAD64)
