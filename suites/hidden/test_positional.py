"""Hidden checks of the positional module: the sinusoidal table, the module that adds it,
learned positional embeddings, rotary embeddings, and the relative position biases of T5 and
ALiBi (torch, batch first)."""

import math
import types

import numpy as np
import torch

from grader.checks import (arguments_after, check, describe, expect, expect_close, expect_equal, expect_gradients_close,
                           expect_shape, to_numpy, vjp)

F64 = dict(rtol=1e-9, atol=1e-10)         # float64 against float64, other order of operations
F32 = dict(rtol=1e-5, atol=2e-5)          # float32 results (angles up to ~60 radians)
TABLE = dict(rtol=1e-6, atol=1e-6)        # x + table where the table may be float32 and x float64
ROPE = dict(rtol=1e-5, atol=1e-5)         # float64 RoPE at positions < ~50: accepts angles computed in float32
# Precision at large positions is judged on float32 results, so that it needs nothing else of the
# dtype handling: a float64 angle rounded once to float32 is off by ~6e-8, while a float32 angle of
# ~4000 radians is off by ~2e-4, which moves sin and cos by as much.
LONG = dict(rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- helpers

def _np(value):
    """A result as a float64 numpy array (tensors that required grad in the worker may arrive requiring grad)."""
    return np.asarray(to_numpy(value), dtype=np.float64)


def _t(rng, *shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _pe64(max_len, d_model):
    """The table in float64, straight from the formula (no learner code)."""
    p = np.arange(max_len, dtype=np.float64)[:, None]
    j = np.arange(d_model)
    angle = p / 10000.0 ** (2 * (j // 2) / d_model)
    return torch.from_numpy(np.where(j % 2 == 0, np.sin(angle), np.cos(angle)))


def _worker_torch(student):
    """The torch module of the process that runs the learner's code."""
    handle = student.positional.torch
    return handle if isinstance(handle, types.ModuleType) else handle.value()


def _pe(mod, max_len, d_model):
    return mod.positional.sinusoidal_positional_encoding(max_len, d_model)


def _pe_f64(student, max_len, d_model):
    return student.positional.sinusoidal_positional_encoding(max_len, d_model, torch.float64)


def _check_dtype(result, want, call):
    dtype = str(getattr(result, "dtype", type(result).__name__)).replace("torch.", "")
    expect(isinstance(result, torch.Tensor) and dtype == want,
           f"{call} should return a {want} tensor, but it returned {describe(result)}.")


# ---------------------------------------------------------------- sinusoidal_positional_encoding

@check("positional.sinusoidal_positional_encoding", weight=2)
def test_pe_fixed_values(student):
    """hand-computed table for max_len=3, d_model=4"""
    got = _pe(student, 3, 4)
    expected = np.array([[0.0, 1.0, 0.0, 1.0],
                         [0.841470984808, 0.540302305868, 0.009999833334, 0.999950000417],
                         [0.909297426826, -0.416146836547, 0.019998666693, 0.999800006667]])
    expect_close(got, expected, what="sinusoidal_positional_encoding(3, 4)", rtol=1e-5, atol=1e-6)


@check("positional.sinusoidal_positional_encoding")
def test_pe_row_zero(student):
    """row 0 (position 0) is [0, 1, 0, 1, ...]: sin 0 and cos 0"""
    for d in (6, 8):                                   # even widths: odd ones have a check of their own
        got = _pe(student, 4, d)
        expect_shape(got, (4, d), what=f"sinusoidal_positional_encoding(4, {d})")
        expect_close(got[0], (np.arange(d) % 2 == 1).astype(np.float64),
                     what=f"row 0 of sinusoidal_positional_encoding(4, {d})", atol=1e-7)


@check("positional.sinusoidal_positional_encoding")
def test_pe_pairs_share_frequency(student):
    """columns 2i and 2i+1 are the sin and cos of the same angle: sin^2 + cos^2 = 1 per pair"""
    got = _np(_pe(student, 30, 8))
    expect_shape(got, (30, 8), what="sinusoidal_positional_encoding(30, 8)")
    norms = got[:, 0::2] ** 2 + got[:, 1::2] ** 2
    expect_close(norms, np.ones((30, 4)), what="PE[:, 2i]^2 + PE[:, 2i+1]^2 of sinusoidal_positional_encoding(30, 8) "
                 "(each pair should be the sin and cos of one angle; are the columns interleaved?)", atol=1e-5)


@check("positional.sinusoidal_positional_encoding", weight=2)
def test_pe_odd_d_model(student):
    """odd d_model: shape (max_len, d_model), the last column is a sine without its cosine"""
    got = _pe(student, 3, 5)
    expected = np.array([[0.0, 1.0, 0.0, 1.0, 0.0],
                         [0.841470984808, 0.540302305868, 0.02511622291, 0.999684537915, 0.000630957303],
                         [0.909297426826, -0.416146836547, 0.050216599387, 0.998738350693, 0.001261914354]])
    expect_close(got, expected, what="sinusoidal_positional_encoding(3, 5)", rtol=1e-5, atol=1e-6)
    for max_len, d in ((20, 7), (6, 1), (9, 3)):
        expect_close(_pe(student, max_len, d), _pe64(max_len, d).float(),
                     what=f"sinusoidal_positional_encoding({max_len}, {d})", **F32)


@check("positional.sinusoidal_positional_encoding", weight=2)
def test_pe_random_shapes(student, ref):
    """equals the reference for several sizes"""
    for max_len, d in ((60, 16), (10, 2), (17, 10), (2, 32)):
        want = _pe(ref, max_len, d)
        expect_close(_pe(student, max_len, d), want, what=f"sinusoidal_positional_encoding({max_len}, {d})",
                     **F32)


@check("positional.sinusoidal_positional_encoding")
def test_pe_max_len_one(student):
    """max_len=1: a single row [0, 1, 0, 1, ...]"""
    expect_close(_pe(student, 1, 6), np.array([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]]),
                 what="sinusoidal_positional_encoding(1, 6)", atol=1e-7)


@check("positional.sinusoidal_positional_encoding", kind="property")
def test_pe_default_dtype(student):
    """dtype=None gives torch's default dtype (float32, and float64 when that is the default)"""
    _check_dtype(_pe(student, 5, 4), "float32", "sinusoidal_positional_encoding(5, 4) (dtype=None)")
    wtorch = _worker_torch(student)
    fn = student.positional.sinusoidal_positional_encoding
    try:
        wtorch.set_default_dtype(torch.float64)
        got = fn(5, 4)
    finally:
        wtorch.set_default_dtype(torch.float32)
    _check_dtype(got, "float64", "after torch.set_default_dtype(torch.float64), sinusoidal_positional_encoding(5, 4)")


@check("positional.sinusoidal_positional_encoding", kind="property")
def test_pe_dtype_float64(student):
    """dtype=torch.float64 is honoured"""
    got = _pe_f64(student, 20, 6)
    _check_dtype(got, "float64", "sinusoidal_positional_encoding(20, 6, dtype=torch.float64)")
    expect_shape(got, (20, 6), what="sinusoidal_positional_encoding(20, 6, dtype=torch.float64)")


@check("positional.sinusoidal_positional_encoding", weight=2)
def test_pe_long_table_precision(student):
    """a long table (max_len=4096) is accurate at every position: compute the angles in float64"""
    expect_close(_pe(student, 4096, 32), _pe64(4096, 32), what="sinusoidal_positional_encoding(4096, 32) "
                 "(an angle of 4000 radians computed in float32 is wrong by ~2e-4; rounding the finished table "
                 "to float32 costs only ~6e-8)", **LONG)


# ---------------------------------------------------------------- PositionalEncoding

@check("positional.PositionalEncoding", weight=2)
def test_pe_module_adds_table(student, rng):
    """forward(x) = x + PE[:T] for T < max_len (B=3, T=5, d_model=8, max_len=20)"""
    mod = student.positional.PositionalEncoding(8, max_len=20)
    x = _t(rng, 3, 5, 8)
    expect_close(mod(x), x + _pe64(20, 8)[:5], what="PositionalEncoding(8, max_len=20)(x) for x of shape (3, 5, 8)",
                 **TABLE)


@check("positional.PositionalEncoding")
def test_pe_module_shapes(student, rng):
    """batch of one, T=1, T=max_len, odd d_model, B > T"""
    for B, T, d, max_len in ((1, 6, 4, 10), (2, 1, 6, 10), (2, 12, 6, 12), (3, 4, 7, 9), (6, 2, 4, 8)):
        mod = student.positional.PositionalEncoding(d, max_len=max_len)
        x = _t(rng, B, T, d)
        expect_close(mod(x), x + _pe64(max_len, d)[:T],
                     what=f"PositionalEncoding({d}, max_len={max_len})(x) for x of shape {(B, T, d)}", **TABLE)


@check("positional.PositionalEncoding")
def test_pe_module_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    mod = student.positional.PositionalEncoding(6, max_len=16)
    for dtype, tol in ((torch.float32, F32), (torch.float64, TABLE)):
        x = _t(rng, 2, 7, 6, dtype=dtype)
        expect_close(mod(x), (x.double() + _pe64(16, 6)[:7]).to(dtype), same_dtype=True,
                     what=f"PositionalEncoding(6, max_len=16)(x) for a {str(dtype)[6:]} x", **tol)


@check("positional.PositionalEncoding", kind="property")
def test_pe_module_no_parameters(student, rng):
    """the table is not trained: the module has no parameters"""
    mod = student.positional.PositionalEncoding(8, max_len=12, dropout=0.1)
    state = mod.state_dict(keep_vars=True)
    params = [name for name, value in state.items() if isinstance(value, torch.nn.Parameter)]
    expect(not params, f"PositionalEncoding(8, max_len=12) has parameters {params}: the sinusoidal table is fixed, "
                       "not trained; keep it in a buffer (register_buffer), not in an nn.Parameter.")
    x = _t(rng, 2, 3, 8)
    _, _, param_grads = vjp(mod.eval(), (x,), _t(rng, 2, 3, 8))
    expect(not param_grads, f"PositionalEncoding(8, max_len=12) has trainable parameters {sorted(param_grads)}; "
                            "it should have none (parameters() must be empty).")


@check("positional.PositionalEncoding", kind="property")
def test_pe_module_buffer(student):
    """the table is a non-persistent buffer: in module buffers, not in state_dict()"""
    mod = student.positional.PositionalEncoding(6, max_len=10)
    # a table kept as an nn.Parameter is the no-parameters check's business, not this one's
    held = {**dict(mod._buffers), **dict(mod._parameters)}
    tables = [name for name, value in held.items() if isinstance(value, torch.Tensor) and value.numel() == 60]
    shapes = {name: tuple(value.shape) for name, value in held.items() if isinstance(value, torch.Tensor)}
    expect(bool(tables), "PositionalEncoding(6, max_len=10) keeps no (10, 6) table among its buffers "
                         f"(its buffers: {shapes or 'none'}). Register it with "
                         "self.register_buffer(name, table, persistent=False), so that .to(device) and .double() "
                         "convert it with the module.")
    state = mod.state_dict(keep_vars=True)
    saved = sorted(name for name, value in state.items() if not isinstance(value, torch.nn.Parameter))
    expect(not saved, f"PositionalEncoding(6, max_len=10).state_dict() saves the buffers {saved}; it should not: "
                      "register the table with persistent=False (it can always be recomputed, and a model's "
                      "state_dict should hold only its trained weights).")


@check("positional.PositionalEncoding")
def test_pe_module_eval_no_dropout(student, rng):
    """in eval() mode dropout is off: deterministic, equal to x + PE[:T]"""
    mod = student.positional.PositionalEncoding(8, max_len=16, dropout=0.5)
    mod.eval()
    x = _t(rng, 4, 6, 8)
    first, second = mod(x), mod(x)
    what = "PositionalEncoding(8, max_len=16, dropout=0.5) in eval() mode, (x) for x of shape (4, 6, 8)"
    expect_close(first, x + _pe64(16, 8)[:6], what=what, **TABLE)
    expect_close(second, first, what=what + ", called a second time", rtol=0, atol=0)


@check("positional.PositionalEncoding")
def test_pe_module_train_dropout(student, rng):
    """in training mode dropout(p) zeroes entries of x + PE and scales the rest by 1/(1-p)"""
    mod = student.positional.PositionalEncoding(8, max_len=16, dropout=0.5)
    x = _t(rng, 4, 10, 8)
    got = _np(mod(x))
    expect_shape(got, (4, 10, 8), what="PositionalEncoding(8, max_len=16, dropout=0.5)(x)")
    full = (x + _pe64(16, 8)[:10]).numpy()
    zero = got == 0
    frac = zero.mean()
    expect(0.3 < frac < 0.7, f"PositionalEncoding(8, max_len=16, dropout=0.5) in training mode zeroed {frac:.0%} of the "
                             "entries; dropout with p=0.5 should zero about half of them (apply self.dropout to "
                             "x + PE).")
    expect_close(got[~zero], 2 * full[~zero], what="the entries dropout kept (they should be (x + PE) / (1 - p), with "
                 "the dropout applied after adding the encoding)", **TABLE)


@check("positional.PositionalEncoding")
def test_pe_module_gradient(student, rng):
    """the gradient with respect to x is the upstream gradient (adding a constant)"""
    mod = student.positional.PositionalEncoding(6, max_len=10)
    x, up = _t(rng, 2, 4, 6), _t(rng, 2, 4, 6)
    out, (dx,), _ = vjp(mod, (x,), up)
    expect_close(out, x + _pe64(10, 6)[:4], what="PositionalEncoding(6, max_len=10)(x)", **TABLE)
    expect_gradients_close([dx], [up], ["x"], **TABLE)


@check("positional.PositionalEncoding")
def test_pe_module_default_max_len(student, rng):
    """max_len defaults to 5000: a sequence of 4000 positions works"""
    mod = student.positional.PositionalEncoding(4)
    x = _t(rng, 1, 4000, 4)
    expect_close(mod(x), x + _pe64(4000, 4), what="PositionalEncoding(4)(x) for x of shape (1, 4000, 4)",
                 rtol=1e-6, atol=1e-4)


# ---------------------------------------------------------------- LearnedPositionalEmbedding

def _learned(student, rng, max_len, d, dtype=torch.float64):
    """A learner's module with known weights (float64 unless dtype says otherwise)."""
    mod = student.positional.LearnedPositionalEmbedding(max_len, d)
    if dtype == torch.float64:
        mod.double()
    weight = _t(rng, max_len, d, dtype=dtype)
    state = dict(mod.state_dict())         # buffers of the learner's own (a position_ids table) stay as they are
    state["embedding.weight"] = weight
    mod.load_state_dict(state)
    return mod, weight


@check("positional.LearnedPositionalEmbedding", kind="property")
def test_learned_state_dict(student):
    """one parameter, embedding.weight of shape (max_len, d_model)"""
    mod = student.positional.LearnedPositionalEmbedding(12, 5)
    state = mod.state_dict(keep_vars=True)
    params = sorted(name for name, value in state.items() if isinstance(value, torch.nn.Parameter))
    expect(params == ["embedding.weight"],
           f"the parameters in LearnedPositionalEmbedding(12, 5).state_dict() are {params}; expected only "
           "'embedding.weight' (self.embedding = nn.Embedding(max_len, d_model)). Buffers of your own may stay.")
    expect_shape(state["embedding.weight"], (12, 5), what="embedding.weight of LearnedPositionalEmbedding(12, 5)")
    expect(isinstance(state["embedding.weight"], torch.nn.Parameter) and state["embedding.weight"].requires_grad,
           "embedding.weight should be a trainable parameter (requires_grad=True).")


@check("positional.LearnedPositionalEmbedding", weight=2)
def test_learned_adds_rows(student, rng):
    """with known weights, forward(x) = x + weight[:T] (T < max_len, B=1, T=1, T=max_len, B > T)"""
    for B, T, d, max_len in ((3, 5, 4, 10), (1, 6, 3, 8), (2, 1, 5, 7), (2, 9, 4, 9), (6, 2, 3, 5)):
        mod, weight = _learned(student, rng, max_len, d)
        x = _t(rng, B, T, d)
        expect_close(mod(x), x + weight[:T], what=f"LearnedPositionalEmbedding({max_len}, {d})(x) for x of shape "
                     f"{(B, T, d)}, after load_state_dict", **TABLE)


@check("positional.LearnedPositionalEmbedding")
def test_learned_uses_own_weight(student, rng):
    """without loading anything, forward(x) = x + the module's own embedding.weight[:T]"""
    mod = student.positional.LearnedPositionalEmbedding(8, 4)
    weight = mod.embedding.weight
    expect_shape(weight, (8, 4), what="embedding.weight")
    x = _t(rng, 2, 5, 4, dtype=torch.float32)
    expect_close(mod(x), x + weight[:5], what="LearnedPositionalEmbedding(8, 4)(x) for x of shape (2, 5, 4)", **F32)
    expect_close(mod(x), x + weight[:5], what="LearnedPositionalEmbedding(8, 4)(x), called a second time", **F32)


@check("positional.LearnedPositionalEmbedding")
def test_learned_dtypes(student, rng):
    """float32 module and input give float32; after .double(), float64"""
    for dtype, tol in ((torch.float32, F32), (torch.float64, F64)):
        mod, weight = _learned(student, rng, 7, 4, dtype=dtype)
        x = _t(rng, 2, 3, 4, dtype=dtype)
        expect_close(mod(x), x + weight[:3], same_dtype=True,
                     what=f"LearnedPositionalEmbedding(7, 4) ({str(dtype)[6:]}) on a {str(dtype)[6:]} x", **tol)


@check("positional.LearnedPositionalEmbedding", weight=2)
def test_learned_gradient(student, rng):
    """gradients: x gets the upstream gradient; rows 0..T-1 of the weight get it summed over the batch, the rest 0"""
    mod, weight = _learned(student, rng, 9, 4)
    x, up = _t(rng, 3, 5, 4), _t(rng, 3, 5, 4)
    out, (dx,), param_grads = vjp(mod, (x,), up)
    expect_close(out, x + weight[:5], what="LearnedPositionalEmbedding(9, 4)(x)", **TABLE)
    dw = torch.zeros(9, 4, dtype=torch.float64)
    dw[:5] = up.sum(0)
    expect_gradients_close([dx], [up], ["x"], **TABLE)
    expect(list(param_grads) == ["embedding.weight"],
           f"the trainable parameters of LearnedPositionalEmbedding(9, 4) are {sorted(param_grads)}; "
           "expected only embedding.weight.")
    expect_gradients_close(param_grads, {"embedding.weight": dw}, (), **TABLE)


# ---------------------------------------------------------------- apply_rotary

X_FIXED = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.0]], dtype=torch.float64)


def _rope(mod, x, positions=None, **kw):
    return mod.positional.apply_rotary(x, positions, **kw) if positions is not None \
        else mod.positional.apply_rotary(x, **kw)


def _half_split(x, positions, base=10000.0):
    """RoPE in the GPT-NeoX / Hugging Face layout: x[i] pairs with x[i + d/2]."""
    d = x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    ang = positions.double()[:, None] * inv
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    rot = torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1)
    return x * cos + rot * sin


def _llama(x, positions, base=10000.0):
    """RoPE as Meta's LLaMA code computes it: complex numbers e^(i m theta) times (x[2i] + i x[2i+1])."""
    d = x.shape[-1]
    freqs = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    cis = torch.polar(torch.ones(len(positions), d // 2, dtype=torch.float64), torch.outer(positions.double(), freqs))
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(xc * cis).flatten(-2)


@check("positional.apply_rotary", weight=2)
def test_rope_fixed_values(student):
    """hand-computed rotation of a (3, 4) input at the default positions 0, 1, 2"""
    expected = np.array([[1.0, 2.0, 3.0, 4.0],
                         [-1.142639663748, 1.922075596544, 2.959850667913, 4.029799501669],
                         [0.701224008552, 0.87079554996, 1.999600013333, 0.039997333387]])
    expect_close(_rope(student, X_FIXED), expected, what="apply_rotary(x) for a fixed x of shape (3, 4)", **ROPE)


@check("positional.apply_rotary")
def test_rope_fixed_values_positions_base(student):
    """hand-computed rotation with positions [2, 5, 10] and base 100"""
    expected = np.array([[-2.234741690199, 0.077003753731, 2.145522410343, 4.51627430375],
                         [2.20151073479, -0.391599903737, 0.715045531254, 4.948606863374],
                         [-0.963556875428, 0.567060973632, 1.080604611736, 1.682941969616]])
    got = _rope(student, X_FIXED, torch.tensor([2, 5, 10]), base=100.0)
    expect_close(got, expected, what="apply_rotary(x, positions=[2, 5, 10], base=100.0) for a fixed x of shape (3, 4)",
                 **ROPE)


@check("positional.apply_rotary", weight=2)
def test_rope_random_shapes(student, ref, rng):
    """equals the reference with default positions: (B, h, T, d), (T, d), d=2, T=1"""
    for shape in ((2, 3, 5, 8), (4, 6), (1, 1, 1, 2), (2, 7, 10), (3, 2, 16)):
        x = _t(rng, *shape)
        expect_close(_rope(student, x), _rope(ref, x), what=f"apply_rotary(x) for x of shape {shape}", **ROPE)


@check("positional.apply_rotary", weight=2)
def test_rope_custom_positions(student, ref, rng):
    """custom positions (integers, floats, not in order) and bases"""
    cases = (((2, 4, 6), torch.tensor([3, 0, 7, 1]), 10000.0),
             ((3, 5, 8), torch.tensor([40, 17, 2, 39, 25]), 10000.0),
             ((2, 2, 3, 4), torch.tensor([0.5, 2.25, 7.0], dtype=torch.float64), 500.0),
             ((4, 8), torch.arange(10, 14), 10.0))
    for shape, positions, base in cases:
        x = _t(rng, *shape)
        want = ref.positional.apply_rotary(x, positions, base=base)
        got = student.positional.apply_rotary(x, positions, base=base)
        expect_close(got, want, what=f"apply_rotary(x, positions={positions.tolist()}, base={base}) for x of shape "
                     f"{shape}", **ROPE)


@check("positional.apply_rotary")
def test_rope_large_positions_precision(student, rng):
    """large positions (up to 4096) are rotated accurately: compute the angles in float64"""
    x = _t(rng, 2, 5, 64, dtype=torch.float32)       # d = 64: many pairs turn by thousands of radians
    positions = torch.tensor([1000, 17, 4095, 999, 2048])
    expect_close(student.positional.apply_rotary(x, positions), _llama(x, positions),
                 what=f"apply_rotary(x, positions={positions.tolist()}) for a float32 x of shape (2, 5, 64) "
                 "(an angle of 4000 radians computed in float32 is off by ~2e-4; rounding its cos and sin to "
                 "float32 costs only ~6e-8)", **LONG)


@check("positional.apply_rotary", kind="property")
def test_rope_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    pos = torch.tensor([4, 1, 9, 0, 3, 12])
    for dtype in (torch.float32, torch.float64):
        x = _t(rng, 2, 6, 8, dtype=dtype)
        call = f"apply_rotary(x, positions={pos.tolist()}) for a {str(dtype)[6:]} x of shape (2, 6, 8)"
        got = _rope(student, x, pos)
        _check_dtype(got, str(dtype)[6:], call + " (convert cos and sin to x's dtype)")
        expect_shape(got, (2, 6, 8), what=call)


@check("positional.apply_rotary", kind="property")
def test_rope_preserves_pair_norms(student, rng):
    """a rotation keeps the length of every pair (x[2i], x[2i+1])"""
    x = _t(rng, 2, 9, 10)
    got = _np(_rope(student, x, torch.arange(3, 12)))
    expect_shape(got, (2, 9, 10), what="apply_rotary(x) for x of shape (2, 9, 10)")
    xn = x.numpy()
    expect_close(got[..., 0::2] ** 2 + got[..., 1::2] ** 2, xn[..., 0::2] ** 2 + xn[..., 1::2] ** 2,
                 what="the squared length of each pair (x[2i], x[2i+1]) after apply_rotary (before: the input's)", **ROPE)


@check("positional.apply_rotary", weight=2, kind="property")
def test_rope_relative_position(student, rng):
    """rope(q at m) . rope(k at n) depends only on m - n"""
    d = 8
    q, k = _t(rng, d), _t(rng, d)
    for offset, pairs in ((3, ((3, 0), (5, 2), (10, 7), (33, 30))), (-4, ((0, 4), (6, 10), (20, 24)))):
        m = torch.tensor([a for a, _ in pairs])
        n = torch.tensor([b for _, b in pairs])
        rq = _np(_rope(student, q.expand(len(pairs), d).clone(), m))
        rk = _np(_rope(student, k.expand(len(pairs), d).clone(), n))
        dots = (rq * rk).sum(-1)
        expect(np.allclose(dots, dots[0], rtol=1e-6, atol=1e-5),
               f"the dot products rope(q, m) . rope(k, n) for (m, n) in {list(pairs)}, all with m - n = {offset}, are "
               f"{np.array2string(dots, precision=6)}; they should all be equal (rotate every pair by "
               "position * theta_i, with the same theta_i for q and k).")


@check("positional.apply_rotary", kind="property")
def test_rope_position_zero_identity(student, rng):
    """position 0 is not rotated: the first row is unchanged, and positions of 0 change nothing"""
    x = _t(rng, 2, 5, 6)
    got = _np(_rope(student, x))
    expect_shape(got, (2, 5, 6), what="apply_rotary(x) for x of shape (2, 5, 6)")
    expect_close(got[:, 0], x[:, 0], what="row 0 (position 0) of apply_rotary(x)", **ROPE)
    expect_close(_rope(student, x, torch.zeros(5, dtype=torch.long)), x,
                 what="apply_rotary(x, positions=[0, 0, 0, 0, 0])", **ROPE)


@check("positional.apply_rotary")
def test_rope_interleaved_pairs(student):
    """pairs are interleaved (x[2i], x[2i+1]), not half-split (x[i], x[i + d/2])"""
    # one sequence of two rows at the default positions 0 and 1; row 1 holds only feature 1
    x = torch.tensor([[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)
    call = "apply_rotary(x) for x = [[[0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]]]"
    got = _np(_rope(student, x))
    want = np.array([[[0.0] * 6, [-math.sin(1.0), math.cos(1.0), 0.0, 0.0, 0.0, 0.0]]])
    half = _half_split(x, torch.arange(2)).numpy()
    if got.shape == half.shape and np.allclose(got, half, atol=1e-9):
        expect(False, f"{call} rotated feature 1 of row 1 together with feature 4: {describe(got[0, 1])}. That is "
                      "the half-split layout (GPT-NeoX, rotate_half); this course rotates neighbouring features: "
                      f"(x[0], x[1]), (x[2], x[3]), ... Expected {describe(want[0, 1])}.")
    expect_close(got, want, what=f"{call} (feature 1 is the second member of pair 0, whose angle is 1 radian at "
                 "position 1)", **ROPE)


@check("positional.apply_rotary")
def test_rope_matches_llama(student, rng):
    """equals the complex-number formulation of Meta's LLaMA code (x[2i] + i x[2i+1]) * e^(i m theta_i)"""
    x = _t(rng, 2, 3, 7, 8)
    expect_close(_rope(student, x), _llama(x, torch.arange(7)), what="apply_rotary(x) for x of shape (2, 3, 7, 8)",
                 **ROPE)


@check("positional.apply_rotary", weight=2)
def test_rope_gradient(student, ref, rng):
    """gradient with respect to x equals the reference's (float64 autograd)"""
    for shape in ((2, 3, 4, 6), (2, 5, 8)):              # default positions: custom ones have checks of their own
        x, up = _t(rng, *shape), _t(rng, *shape)
        _, want, _ = vjp(ref.positional.apply_rotary, (x,), up, wrt=[0])
        out, got, _ = vjp(student.positional.apply_rotary, (x,), up, wrt=[0])
        expect_shape(out, shape, what=f"apply_rotary(x) for x of shape {shape}")
        expect_gradients_close(got, want, ["x"], **ROPE)


@check("positional.apply_rotary", kind="property")
def test_rope_leaves_x_unchanged(student, rng):
    """x itself is not modified: apply_rotary returns a new tensor"""
    x = _t(rng, 2, 3, 5, 8)
    positions = torch.tensor([3, 0, 7, 1, 12])
    after = arguments_after(student, student.positional.apply_rotary, x.clone(), positions=positions)[1][0]
    expect_close(after, x, what=f"x after apply_rotary(x, positions={positions.tolist()}) (it must stay as the "
                 "caller gave it: build the result in new tensors, e.g. torch.stack or torch.cat, rather than "
                 "assigning into x[..., 0::2])", rtol=0, atol=0)


# ---------------------------------------------------------------- relative_position_bucket

def _bucket_formula(n, bidirectional=True, num_buckets=32, max_distance=128):
    """T5's bucket of one integer distance n = key - query, by hand (Python floats)."""
    offset = 0
    if bidirectional:
        num_buckets //= 2
        offset = num_buckets if n > 0 else 0
    distance = abs(n) if bidirectional else max(-n, 0)
    exact = num_buckets // 2
    if distance < exact:
        return offset + distance
    grown = int(math.log(distance / exact) / math.log(max_distance / exact) * (num_buckets - exact))
    return offset + min(num_buckets - 1, exact + grown)


def _bucket_table(values, *settings):
    return np.array([_bucket_formula(int(v), *settings) for v in np.asarray(values).ravel()],
                    dtype=np.int64).reshape(np.shape(values))


def _buckets(mod, n, *settings):
    return mod.positional.relative_position_bucket(n, *settings)


def _settings_text(bidirectional=True, num_buckets=32, max_distance=128):
    return f"bidirectional={bidirectional}, num_buckets={num_buckets}, max_distance={max_distance}"


FAR = [-1000000, -5000, -1000, -129, -128, -127, -20, -9, -8, -7, -3, -1, 0, 1, 3, 7, 8, 9, 20, 127, 128, 129,
       1000, 5000, 1000000]


@check("positional.relative_position_bucket", weight=2)
def test_bucket_fixed_bidirectional(student):
    """hand-computed buckets, bidirectional, num_buckets=32, max_distance=128 (16 per sign, 8 exact)"""
    n = torch.tensor([-128, -127, -64, -20, -16, -9, -8, -7, -3, -1, 0, 1, 3, 7, 8, 9, 16, 20, 64, 127, 128])
    # |n| < 8: |n| itself; else 8 + int(log(|n|/8) / log(16) * 8), capped at 15; n > 0 adds 16
    expected = np.array([15, 15, 14, 10, 10, 8, 8, 7, 3, 1, 0, 17, 19, 23, 24, 24, 26, 26, 30, 31, 31])
    expect_equal(_buckets(student, n), expected,
                 what=f"relative_position_bucket(n) for n = {n.tolist()} (the default settings)")


@check("positional.relative_position_bucket", weight=2)
def test_bucket_fixed_causal(student):
    """hand-computed buckets, causal (bidirectional=False): the future is bucket 0, the past has all 32 buckets"""
    n = torch.tensor([-128, -100, -40, -20, -16, -15, -7, -1, 0, 1, 2, 15, 16, 40, 500])
    # distance = max(-n, 0); < 16: itself; else 16 + int(log(d/16) / log(8) * 16), capped at 31
    expected = np.array([31, 30, 23, 17, 16, 15, 7, 1, 0, 0, 0, 0, 0, 0, 0])
    expect_equal(_buckets(student, n, False),
                 expected, what=f"relative_position_bucket(n, bidirectional=False) for n = {n.tolist()} (keys in "
                 "the future, n > 0, all go to bucket 0; only the past, n < 0, gets buckets of its own)")


@check("positional.relative_position_bucket")
def test_bucket_exact_range(student):
    """small distances are buckets of their own: 0 .. max_exact-1, then the first log bucket"""
    for settings, n in (((True, 32, 128), torch.arange(-9, 10)), ((False, 32, 128), torch.arange(-17, 1)),
                        ((True, 20, 64), torch.arange(-6, 7)), ((False, 12, 40), torch.arange(-7, 1))):
        expect_equal(_buckets(student, n, *settings), _bucket_table(n.numpy(), *settings),
                     what=f"relative_position_bucket(n, {_settings_text(*settings)}) for n = {n.tolist()} "
                     "(distances below max_exact = half of the buckets of one sign are their own bucket)")


@check("positional.relative_position_bucket", weight=2)
def test_bucket_odd_and_small_num_buckets(student):
    """odd and small num_buckets: bidirectional 9, 7, 5 and 4; causal 7, 5 and 2"""
    cases = {(True, 9, 20): [-30, -20, -19, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 19, 20, 30],
             (True, 7, 12): [-12, -6, -3, -2, -1, 0, 1, 2, 3, 6, 12],
             (True, 5, 6): [-6, -2, -1, 0, 1, 2, 6],
             (True, 4, 10): [-20, -9, -1, 0, 1, 9, 20],
             (False, 7, 16): [-40, -16, -15, -8, -4, -3, -2, -1, 0, 1, 5],
             (False, 5, 9): [-9, -8, -4, -3, -2, -1, 0, 3],
             (False, 2, 5): [-7, -5, -4, -1, 0, 2]}
    for settings, values in cases.items():
        n = torch.tensor(values)
        expect_equal(_buckets(student, n, *settings), _bucket_table(values, *settings),
                     what=f"relative_position_bucket(n, {_settings_text(*settings)}) for n = {values} (with "
                     "bidirectional=True num_buckets // 2 buckets go to each sign; for an odd num_buckets the "
                     "last bucket is never used)")


@check("positional.relative_position_bucket")
def test_bucket_clamps_far_distances(student):
    """distances at and beyond max_distance all share the last bucket of their sign"""
    for settings in ((True, 32, 128), (False, 32, 128), (True, 16, 50), (False, 10, 30)):
        n = torch.tensor(FAR)
        expect_equal(_buckets(student, n, *settings), _bucket_table(FAR, *settings),
                     what=f"relative_position_bucket(n, {_settings_text(*settings)}) for n = {FAR} (cap the "
                     "logarithmic bucket at num_buckets - 1 of the buckets of that sign)")


@check("positional.relative_position_bucket", weight=2)
def test_bucket_matches_reference(student, ref, rng):
    """equals the reference on tables of key - query positions, any shape, for several settings"""
    for settings in ((True, 32, 128), (False, 32, 128), (True, 8, 20), (False, 16, 64), (True, 33, 100),
                     (False, 31, 70)):
        q = torch.arange(150)[:, None]
        k = torch.from_numpy(rng.integers(-400, 400, size=(3, 1, 40)))
        n = k - q                                                          # (3, 150, 40)
        expect_equal(_buckets(student, n, *settings), _buckets(ref, n, *settings),
                     what=f"relative_position_bucket(n, {_settings_text(*settings)}) for n of shape (3, 150, 40)")


@check("positional.relative_position_bucket", kind="property")
def test_bucket_dtype_and_shape(student):
    """the result is an int64 (long) tensor of the input's shape"""
    n = torch.arange(-12, 12).reshape(2, 3, 4)
    for settings in ((True, 32, 128), (False, 32, 128)):
        got = _buckets(student, n, *settings)
        call = f"relative_position_bucket(n, {_settings_text(*settings)}) for an int64 n of shape (2, 3, 4)"
        _check_dtype(got, "int64", call + " (buckets are indices: return a long tensor, e.g. with .long())")
        expect_shape(got, (2, 3, 4), what=call)


# ---------------------------------------------------------------- RelativePositionBias

def _rel_bias(student, settings, weight=None, double=True):
    """A learner's RelativePositionBias(h, bidirectional, num_buckets, max_distance), with known weights."""
    num_heads, bidirectional, num_buckets, max_distance = settings
    mod = student.positional.RelativePositionBias(num_heads, bidirectional, num_buckets, max_distance)
    if double:
        mod.double()
    if weight is not None:
        state = dict(mod.state_dict())              # buffers of the learner's own stay as they are
        state["bias.weight"] = weight
        mod.load_state_dict(state)
    return mod


def _rel_expected(weight, settings, T_q, T_k):
    """(1, h, T_q, T_k): weight[bucket(k - q), j] at [0, j, q, k], by hand."""
    _, bidirectional, num_buckets, max_distance = settings
    n = np.arange(T_k)[None, :] - np.arange(T_q)[:, None]
    buckets = _bucket_table(n, bidirectional, num_buckets, max_distance)
    return np.asarray(weight)[buckets].transpose(2, 0, 1)[None]


def _call_text(settings, T_q, T_k):
    h, bidirectional, num_buckets, max_distance = settings
    return (f"RelativePositionBias({h}, bidirectional={bidirectional}, num_buckets={num_buckets}, "
            f"max_distance={max_distance})({T_q}, {T_k})")


@check("positional.RelativePositionBias", kind="property")
def test_rel_bias_state_dict(student):
    """one parameter, bias.weight of shape (num_buckets, num_heads)"""
    mod = student.positional.RelativePositionBias(3, num_buckets=10, max_distance=20)
    state = mod.state_dict(keep_vars=True)
    params = sorted(name for name, value in state.items() if isinstance(value, torch.nn.Parameter))
    expect(params == ["bias.weight"],
           f"the parameters in RelativePositionBias(3, num_buckets=10, max_distance=20).state_dict() are {params}; "
           "expected only 'bias.weight' (self.bias = nn.Embedding(num_buckets, num_heads)).")
    expect_shape(state["bias.weight"], (10, 3), what="bias.weight of RelativePositionBias(3, num_buckets=10)")
    expect(state["bias.weight"].requires_grad, "bias.weight should be a trainable parameter (requires_grad=True).")


@check("positional.RelativePositionBias", weight=2)
def test_rel_bias_fixed_bidirectional(student):
    """hand-computed, bidirectional: 2 heads, 8 buckets, max_distance 16, T_q=3, T_k=5"""
    settings = (2, True, 8, 16)
    weight = torch.tensor([[10.0 + b, 20.0 + b] for b in range(8)], dtype=torch.float64)  # head j: 10(j+1) + bucket
    # k - q = [[0, 1, 2, 3, 4], [-1, 0, 1, 2, 3], [-2, -1, 0, 1, 2]] -> buckets (4 per sign, 2 exact):
    buckets = np.array([[0, 5, 6, 6, 6], [1, 0, 5, 6, 6], [2, 1, 0, 5, 6]])
    expected = np.stack([10.0 + buckets, 20.0 + buckets])[None]
    expect_close(_rel_bias(student, settings, weight)(3, 5), expected,
                 what=_call_text(settings, 3, 5) + " with bias.weight[b] = [10 + b, 20 + b] (the table uses key - "
                 "query positions; is it transposed, or the sign flipped?)", **F64)


@check("positional.RelativePositionBias", weight=2)
def test_rel_bias_fixed_causal(student):
    """hand-computed, causal: 2 heads, 8 buckets, max_distance 16, T_q=5, T_k=3: the future is bucket 0"""
    settings = (2, False, 8, 16)
    weight = torch.tensor([[10.0 + b, 20.0 + b] for b in range(8)], dtype=torch.float64)
    buckets = np.array([[0, 0, 0], [1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]])
    expected = np.stack([10.0 + buckets, 20.0 + buckets])[None]
    expect_close(_rel_bias(student, settings, weight)(5, 3), expected,
                 what=_call_text(settings, 5, 3) + " with bias.weight[b] = [10 + b, 20 + b] (pass the module's "
                 "bidirectional to relative_position_bucket)", **F64)


@check("positional.RelativePositionBias", weight=2)
def test_rel_bias_matches_formula(student, rng):
    """with random weights: T_q != T_k, one head, odd num_buckets, sequences longer than max_distance"""
    for settings, T_q, T_k in (((4, True, 32, 128), 7, 7), ((1, True, 16, 40), 3, 9), ((3, False, 9, 30), 60, 50),
                               ((2, True, 11, 12), 1, 30), ((5, False, 32, 128), 200, 1)):
        weight = _t(rng, settings[2], settings[0])
        mod = _rel_bias(student, settings, weight)
        expect_close(mod(T_q, T_k), _rel_expected(weight, settings, T_q, T_k),
                     what=_call_text(settings, T_q, T_k) + " after load_state_dict", **TABLE)


@check("positional.RelativePositionBias")
def test_rel_bias_uses_own_weight(student):
    """without loading anything, the output is made of the module's own bias.weight (float32)"""
    settings = (3, True, 12, 30)
    mod = _rel_bias(student, settings, double=False)
    weight = _np(mod.bias.weight)
    expect_shape(weight, (12, 3), what="bias.weight of RelativePositionBias(3, num_buckets=12)")
    expect_close(mod(4, 6), _rel_expected(weight, settings, 4, 6), what=_call_text(settings, 4, 6), **F32)
    expect_close(mod(4, 6), _rel_expected(weight, settings, 4, 6), what=_call_text(settings, 4, 6) +
                 ", called a second time", **F32)


@check("positional.RelativePositionBias", kind="property")
def test_rel_bias_dtypes(student, rng):
    """float32 by default; float64 after .double()"""
    settings = (2, True, 8, 16)
    for double, want in ((False, "float32"), (True, "float64")):
        got = _rel_bias(student, settings, double=double)(3, 4)
        call = _call_text(settings, 3, 4) + (" after .double()" if double else "")
        _check_dtype(got, want, call + " (the result should have the dtype of bias.weight)")
        expect_shape(got, (1, 2, 3, 4), what=call)


@check("positional.RelativePositionBias", weight=2)
def test_rel_bias_gradient(student, rng):
    """the gradient of bias.weight: each bucket's row gets the upstream gradient summed over its (q, k) pairs"""
    for settings, T_q, T_k in (((3, True, 8, 16), 6, 9), ((2, False, 7, 12), 10, 4)):
        weight = _t(rng, settings[2], settings[0])
        mod = _rel_bias(student, settings, weight)
        up = _t(rng, 1, settings[0], T_q, T_k)
        out, _, param_grads = vjp(mod, (T_q, T_k), up)
        expect_close(out, _rel_expected(weight, settings, T_q, T_k), what=_call_text(settings, T_q, T_k), **TABLE)
        n = np.arange(T_k)[None, :] - np.arange(T_q)[:, None]
        buckets = _bucket_table(n, *settings[1:])
        want = np.zeros((settings[2], settings[0]))
        np.add.at(want, buckets, up[0].numpy().transpose(1, 2, 0))
        expect(list(param_grads) == ["bias.weight"],
               f"the trainable parameters of {_call_text(settings, T_q, T_k).split(')(')[0]}) are "
               f"{sorted(param_grads)}; expected only bias.weight.")
        expect_gradients_close(param_grads, {"bias.weight": torch.from_numpy(want)}, (), **TABLE)


# ---------------------------------------------------------------- alibi_bias

def _alibi_expected(h, T_q, T_k):
    slopes = 2.0 ** (-8.0 * np.arange(1, h + 1) / h)
    return slopes[:, None, None] * (np.arange(T_k)[None, None, :] - np.arange(T_q)[None, :, None])


@check("positional.alibi_bias", weight=2)
def test_alibi_fixed_values(student):
    """hand-computed: 2 heads (slopes 1/16 and 1/256), T_q=3, T_k=4"""
    past = np.array([[0.0, 1, 2, 3], [-1, 0, 1, 2], [-2, -1, 0, 1]])          # k - q
    expected = np.stack([past / 16, past / 256])
    expect_close(student.positional.alibi_bias(2, 3, 4), expected, what="alibi_bias(2, 3, 4)", rtol=1e-6, atol=1e-7)


@check("positional.alibi_bias", weight=2)
def test_alibi_slopes(student):
    """8 heads: the bias one step in the past is -1/2, -1/4, ..., -1/256 (head j = 1 .. 8 has slope 2^-j)"""
    got = _np(student.positional.alibi_bias(8, 2, 2))
    expect_shape(got, (8, 2, 2), what="alibi_bias(8, 2, 2)")
    expect_close(got[:, 1, 0], -(2.0 ** -np.arange(1, 9)), what="alibi_bias(8, 2, 2)[:, 1, 0] (query 1, key 0: "
                 "one step in the past; minus the slopes 2^(-8j/h) for j = 1 .. h, counted from 1)", rtol=1e-6)


@check("positional.alibi_bias", weight=2)
def test_alibi_matches_reference(student, ref):
    """equals the reference: one head, T_q != T_k, head counts that are not powers of 2"""
    for h, T_q, T_k in ((1, 5, 5), (4, 3, 7), (12, 6, 2), (6, 1, 9), (16, 20, 20), (3, 40, 33)):
        expect_close(student.positional.alibi_bias(h, T_q, T_k), ref.positional.alibi_bias(h, T_q, T_k),
                     what=f"alibi_bias({h}, {T_q}, {T_k})", rtol=1e-6, atol=1e-7)


@check("positional.alibi_bias")
def test_alibi_future_keeps_the_formula(student):
    """keys in the future (k > q) keep the same formula slope * (k - q), which the causal mask hides later"""
    got = _np(student.positional.alibi_bias(4, 3, 6))
    want = _alibi_expected(4, 3, 6)
    expect_shape(got, (4, 3, 6), what="alibi_bias(4, 3, 6)")
    future = np.triu(np.ones((3, 6), dtype=bool), k=1)
    expect_close(got[:, future], want[:, future], what="the entries k > q (the future) of alibi_bias(4, 3, 6) "
                 "(the same -slope * (q - k) as in the past, positive there: do not zero them, mask them or take "
                 "|q - k|)", rtol=1e-6, atol=1e-7)


@check("positional.alibi_bias", kind="property")
def test_alibi_penalises_the_past(student):
    """the diagonal is 0 and every key in the past gets a negative bias, larger for farther keys"""
    got = _np(student.positional.alibi_bias(3, 6, 6))
    expect_shape(got, (3, 6, 6), what="alibi_bias(3, 6, 6)")
    past = np.tril(np.ones((6, 6), dtype=bool), k=-1)
    expect(np.allclose(np.diagonal(got, axis1=1, axis2=2), 0.0) and (got[:, past] < 0).all()
           and (np.diff(got[:, 5, :5], axis=-1) > 0).all(),
           f"alibi_bias(3, 6, 6)[0] is {describe(got[0])}; the diagonal (k = q) should be 0 and the keys in the past "
           "(k < q) should get a penalty -slope * (q - k) < 0 that grows with the distance.")


@check("positional.alibi_bias", kind="property")
def test_alibi_default_dtype(student):
    """the result has torch's default dtype (float32, and float64 when that is the default)"""
    _check_dtype(student.positional.alibi_bias(2, 3, 3), "float32", "alibi_bias(2, 3, 3)")
    wtorch = _worker_torch(student)
    try:
        wtorch.set_default_dtype(torch.float64)
        got = student.positional.alibi_bias(2, 3, 3)
    finally:
        wtorch.set_default_dtype(torch.float32)
    _check_dtype(got, "float64", "after torch.set_default_dtype(torch.float64), alibi_bias(2, 3, 3)")
