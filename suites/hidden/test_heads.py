"""Hidden checks of the heads module: mean and CLS pooling, BERT's masked-language-model
masking (checked by its statistics, not draw by draw), and ViT's patches (torch)."""

import math

import numpy as np
import torch

from grader.checks import (arguments_after, check, describe, expect, expect_close, expect_equal, expect_gradients_close,
                           expect_shape, expect_tuple, reference_once, to_numpy, vjp)

TOL = dict(rtol=1e-6, atol=1e-7)          # values: tight for these exact computations, yet loose enough
                                          # that a float64 -> float32 slip is reported once, by the dtype check
GRAD = dict(rtol=1e-6, atol=1e-7)
SIGMAS = 6.0                              # statistical checks: a correct implementation never fails


# ---------------------------------------------------------------- helpers

def _randn(rng, shape, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


def _expect_tensor(value, what):
    expect(isinstance(value, torch.Tensor), f"{what} should be a torch tensor, but it is {describe(value)}.")


def _random_mask(rng, B, T, p=0.6):
    """A (B, T) padding mask with padding anywhere, and at least one real token per row."""
    mask = rng.random((B, T)) < p
    mask[np.arange(B), rng.integers(0, T, size=B)] = True
    return torch.from_numpy(mask)


def _right_padded_mask(rng, B, T):
    """A (B, T) padding mask with the padding at the end of each row, and at least one real token."""
    lengths = rng.integers(1, T + 1, size=B)
    return torch.from_numpy(np.arange(T)[None, :] < lengths[:, None])


def _after(student, fn, first, **kwargs):
    """``first`` as the call ``fn(first, **kwargs)`` left it."""
    return arguments_after(student, fn, first, **kwargs)[1][0]


def _expect_no_nan(value, what, advice):
    arr = np.asarray(value.detach().numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    if np.isnan(arr).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        expect(False, f"{what} contains NaN (first at index {where}). {advice}")


EMPTY_ROW_ADVICE = ("A row with no real token has nothing to average (0 / 0): its pooled vector must be zeros. "
                    "Divide by the count clamped to at least 1 (the sum is 0 anyway); replacing NaN after the "
                    "division (nan_to_num, torch.where) fixes the values but not the gradients.")


def _mlm(student, tokens, mask_id, vocab_size, mask_prob, special_ids=(), seed=0, generator=True):
    """The learner's (inputs, labels) as int64 numpy arrays, after checking their kind and shape."""
    kwargs = dict(mask_prob=mask_prob, special_ids=special_ids)
    if generator:
        kwargs["generator"] = student.fixtures.make_generator(seed)
    result = student.heads.mlm_mask(tokens.clone(), mask_id, vocab_size, **kwargs)   # a copy: see the type check
    inputs, labels = expect_tuple(result, ("inputs", "labels"), "mlm_mask")
    shape = tuple(tokens.shape)
    for name, value in (("inputs", inputs), ("labels", labels)):
        _expect_tensor(value, name)
        expect(tuple(value.shape) == shape,
               f"{name} has shape {tuple(value.shape)}; expected {shape}, the shape of tokens.")
    return inputs.numpy().astype(np.int64), labels.numpy().astype(np.int64)


def _tokens(rng, shape, low, high):
    return torch.from_numpy(rng.integers(low, high, size=shape)).long()


def _expect_fraction(count, total, p, what, hint=""):
    """count / total must be p within SIGMAS standard deviations of a binomial(total, p)."""
    sigma = math.sqrt(max(p * (1 - p), 1e-12) / total)
    got = count / total
    expect(abs(got - p) <= SIGMAS * sigma + 1e-12,
           f"{what}: {count} of {total} ({100 * got:.2f}%); expected {100 * p:.2f}% "
           f"(a correct implementation stays within {100 * SIGMAS * sigma:.2f} points of it).{hint}")


def _expect_dtype_and_shape(result, dtype, shape, call):
    """``result`` must be a tensor of ``dtype`` (a name: "float32") and ``shape``."""
    _expect_tensor(result, call)
    got = str(result.dtype).replace("torch.", "")
    expect(got == dtype, f"{call} returned a {got} tensor; expected {dtype}, the dtype of the input (a tensor made "
                         "without dtype= is float32; take the dtype from the input).")
    expect_shape(result, shape, what=call)


def _split_by_hand(images, p):
    """patches[b, n] = images[b, :, r*p:(r+1)*p, c*p:(c+1)*p] flattened, n = r * cols + c."""
    B, C, H, W = images.shape
    rows, cols = H // p, W // p
    out = torch.empty(B, rows * cols, C * p * p, dtype=images.dtype)
    for r in range(rows):
        for c in range(cols):
            out[:, r * cols + c] = images[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(B, -1)
    return out


def ref_mean(h, mask):
    """The masked mean written out row by row (zeros for a row without real tokens)."""
    out = torch.zeros(h.shape[0], h.shape[2], dtype=h.dtype)
    for b in range(h.shape[0]):
        if mask[b].any():
            out[b] = h[b, mask[b]].mean(dim=0)
    return out


# ---------------------------------------------------------------- mean_pool

@check("heads.mean_pool", weight=2)
def test_mean_fixed_values(student):
    """hand-computed means: a padded row, a full row, and mask=None"""
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                      [[-1.0, 0.0], [2.0, 2.0], [8.0, -5.0]]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    expect_close(student.heads.mean_pool(h, mask), np.array([[2.0, 3.0], [3.0, -1.0]]),
                 what="mean_pool(h, mask)", **TOL)
    expect_close(student.heads.mean_pool(h), np.array([[3.0, 4.0], [3.0, -1.0]]),
                 what="mean_pool(h) without a mask", **TOL)


@check("heads.mean_pool")
def test_mean_no_mask(student, rng):
    """mask=None averages every position (compared with torch.mean; B = 1, T = 1, odd D)"""
    for shape in [(2, 5, 3), (1, 1, 4), (1, 6, 7)]:
        h = _randn(rng, shape)
        expect_close(student.heads.mean_pool(h), h.mean(dim=1), what=f"mean_pool(h) for h {shape}", **TOL)
        expect_close(student.heads.mean_pool(h, None), h.mean(dim=1),
                     what=f"mean_pool(h, None) for h {shape}", **TOL)


@check("heads.mean_pool", weight=2)
def test_mean_matches_reference(student, ref, rng):
    """random inputs with padding anywhere in the rows, compared with the reference"""
    for B, T, D in [(3, 6, 4), (1, 1, 3), (1, 5, 2), (4, 3, 5)]:
        h = _randn(rng, (B, T, D))
        mask = _random_mask(rng, B, T)
        expect_close(student.heads.mean_pool(h, mask), ref.heads.mean_pool(h, mask),
                     what=f"mean_pool(h, mask) for h ({B}, {T}, {D})", **TOL)


@check("heads.mean_pool", weight=2)
def test_mean_fully_padded_row(student, ref, rng):
    """a row with no real token gives zeros, never NaN, and zero gradients; the other rows are unaffected"""
    h = _randn(rng, (3, 4, 5))
    mask = torch.tensor([[True, True, False, False], [False, False, False, False], [True, True, True, False]])
    got = student.heads.mean_pool(h, mask)
    _expect_tensor(got, "mean_pool(h, mask)")
    _expect_no_nan(got, "mean_pool(h, mask)", EMPTY_ROW_ADVICE)
    expect_close(got[1], np.zeros(5), what="the pooled vector of row 1, which is all padding", **TOL)
    expect_close(got, ref_mean(h, mask), what="mean_pool(h, mask)", **TOL)
    upstream = _randn(rng, (3, 5))
    _, want, _ = vjp(ref.heads.mean_pool, (h, mask), upstream)
    _, grads, _ = vjp(student.heads.mean_pool, (h, mask), upstream)
    if grads and isinstance(grads[0], torch.Tensor):
        _expect_no_nan(grads[0], "the gradient of h (row 1 is all padding)", EMPTY_ROW_ADVICE)
    expect_gradients_close(grads, want, ("h",), **GRAD)


@check("heads.mean_pool")
def test_mean_padding_values_ignored(student, rng):
    """what is stored at padding positions changes nothing (zeros there, or values near 1e6)"""
    h = _randn(rng, (3, 7, 4))
    mask = _right_padded_mask(rng, 3, 7)
    mask[0, 4:] = False                              # some padding in every row
    mask[:, -1] = False
    noisy = h.clone()
    noisy[~mask] = 1e6 * _randn(rng, (int((~mask).sum()), 4))
    clean = h.masked_fill(~mask[..., None], 0.0)
    expect_close(student.heads.mean_pool(noisy, mask), student.heads.mean_pool(clean, mask),
                 what="mean_pool with large values at the padding positions (compared with zeros there)", **TOL)
    expect_close(student.heads.mean_pool(noisy, mask), ref_mean(h, mask), what="mean_pool(h, mask)", **TOL)


@check("heads.mean_pool", kind="property")
def test_mean_order_blind(student, rng):
    """"I ate pizza" and "pizza ate I" pool to the same vector, and so does any reordering of a row"""
    emb = _randn(rng, (4, 6))                        # 0: I, 1: ate, 2: pizza, 3: <pad>
    a = emb[torch.tensor([[0, 1, 2, 3, 3]])]         # "I ate pizza <pad> <pad>"
    b = emb[torch.tensor([[2, 1, 0, 3, 3]])]         # "pizza ate I <pad> <pad>"
    mask = torch.tensor([[True, True, True, False, False]])
    expect_close(student.heads.mean_pool(b, mask), student.heads.mean_pool(a, mask),
                 what='the pooled vector of "pizza ate I" (compared with that of "I ate pizza")', **TOL)
    h = _randn(rng, (3, 6, 4))
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] * 5 + [False]])
    perm = torch.tensor([3, 0, 2, 1, 4, 5])          # the first four positions, real in every row, reordered
    expect_close(student.heads.mean_pool(h[:, perm], mask), student.heads.mean_pool(h, mask),
                 what=f"the pooled vectors after reordering the positions as {perm.tolist()} (the real tokens "
                      "among themselves, the padding left at the end; compared with the original order)", **TOL)


@check("heads.mean_pool", kind="property")
def test_mean_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    h = _randn(rng, (2, 5, 3))
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        _expect_dtype_and_shape(student.heads.mean_pool(h.to(dtype), mask), name, (2, 3),
                                f"mean_pool(h, mask) for a {name} h of shape (2, 5, 3)")


@check("heads.mean_pool", weight=2)
def test_mean_gradient(student, ref, rng):
    """gradient with respect to h equals the reference's (float64; padding at the end of the rows)"""
    h = _randn(rng, (3, 5, 4))
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    upstream = _randn(rng, (3, 4))
    _, want, _ = vjp(ref.heads.mean_pool, (h, mask), upstream)
    _, got, _ = vjp(student.heads.mean_pool, (h, mask), upstream)
    expect_gradients_close(got, want, ("h",), **GRAD)


# ---------------------------------------------------------------- cls_pool

@check("heads.cls_pool", weight=2)
def test_cls_fixed_values(student):
    """the first position's vector of each sequence, shape (B, D)"""
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                      [[-1.0, 0.5], [2.0, 2.0], [8.0, -5.0]]], dtype=torch.float64)
    expect_close(student.heads.cls_pool(h), np.array([[1.0, 2.0], [-1.0, 0.5]]), what="cls_pool(h)", **TOL)


@check("heads.cls_pool", weight=2)
def test_cls_matches_reference(student, ref, rng):
    """random inputs compared with the reference (B = 1, T = 1, odd D)"""
    for shape in [(3, 4, 5), (1, 1, 3), (1, 6, 2), (2, 1, 7)]:
        h = _randn(rng, shape)
        got = student.heads.cls_pool(h)
        expect_shape(got, (shape[0], shape[2]), what=f"cls_pool(h) for h {shape}")
        expect_close(got, ref.heads.cls_pool(h), what=f"cls_pool(h) for h {shape}", **TOL)


@check("heads.cls_pool", kind="property")
def test_cls_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    h = _randn(rng, (2, 3, 4))
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        _expect_dtype_and_shape(student.heads.cls_pool(h.to(dtype)), name, (2, 4),
                                f"cls_pool(h) for a {name} h of shape (2, 3, 4)")


@check("heads.cls_pool")
def test_cls_gradient(student, ref, rng):
    """gradient check against the reference: only position 0 receives a gradient"""
    h = _randn(rng, (2, 4, 3))
    upstream = _randn(rng, (2, 3))
    _, want, _ = vjp(ref.heads.cls_pool, (h,), upstream)
    _, got, _ = vjp(student.heads.cls_pool, (h,), upstream)
    expect_gradients_close(got, want, ("h",), **GRAD)


# ---------------------------------------------------------------- mlm_mask

@check("heads.mlm_mask", kind="property")
def test_mlm_returns_long_tensors(student, rng):
    """returns (inputs, labels), two int64 tensors shaped like tokens"""
    for shape in [(3, 7), (2, 40)]:
        tokens = _tokens(rng, shape, 3, 30)
        gen = student.fixtures.make_generator(5)
        result = student.heads.mlm_mask(tokens.clone(), 2, 30, mask_prob=0.5, special_ids=(0, 1), generator=gen)
        inputs, labels = expect_tuple(result, ("inputs", "labels"), "mlm_mask")
        for name, value in (("inputs", inputs), ("labels", labels)):
            _expect_tensor(value, name)
            expect(value.dtype == torch.int64,
                   f"{name} has dtype {str(value.dtype).replace('torch.', '')}; expected int64 (long), like "
                   "tokens: token ids and the labels of cross-entropy are integers.")
            expect_shape(value, shape, what=name)


@check("heads.mlm_mask", kind="property")
def test_mlm_leaves_tokens_unchanged(student, rng):
    """tokens itself is not modified: mlm_mask works on a copy"""
    tokens = _tokens(rng, (4, 30), 3, 30)
    gen = student.fixtures.make_generator(5)
    after = _after(student, student.heads.mlm_mask, tokens.clone(), mask_id=2, vocab_size=30, mask_prob=0.5,
                                 generator=gen)
    expect_equal(after, tokens.numpy(), what="tokens after mlm_mask(tokens, 2, 30, mask_prob=0.5) (it must stay as "
                 "the caller gave it: make inputs = tokens.clone() and replace the chosen tokens in the copy)")


@check("heads.mlm_mask", weight=2)
def test_mlm_labels_and_inputs_agree(student, rng):
    """labels hold the original token where chosen and -100 elsewhere; unchosen inputs are unchanged"""
    tokens = _tokens(rng, (40, 50), 0, 99)
    inputs, labels = _mlm(student, tokens, 99, 100, 0.3, seed=11)
    t = tokens.numpy()
    chosen = labels != -100
    bad = np.argwhere(chosen & (labels != t))
    if len(bad):
        where = tuple(int(i) for i in bad[0])
        expect(False, f"labels{list(where)} is {labels[where]} but the original token there is {t[where]}: "
                      "at a chosen position the label is the ORIGINAL token (not what it was replaced by), and "
                      "everywhere else it is -100.")
    bad = np.argwhere(~chosen & (inputs != t))
    if len(bad):
        where = tuple(int(i) for i in bad[0])
        expect(False, f"inputs{list(where)} is {inputs[where]} but tokens{list(where)} is {t[where]}, and its "
                      "label is -100 (not chosen). Only chosen tokens may change; every chosen token (masked, "
                      "randomised or left unchanged) gets its original token as label.")
    expect(chosen.any() and not chosen.all(),
           f"with mask_prob=0.3, {int(chosen.sum())} of {chosen.size} labels are not -100; expected about 30%.")


@check("heads.mlm_mask", weight=2)
def test_mlm_chosen_fraction(student, rng):
    """each token is chosen with probability mask_prob (0.15 and 0.4, over 100,000 tokens)"""
    for p, seed in ((0.15, 1), (0.4, 2)):
        tokens = _tokens(rng, (200, 500), 0, 999)
        _, labels = _mlm(student, tokens, 999, 1000, p, seed=seed)
        _expect_fraction(int((labels != -100).sum()), labels.size, p,
                         f"with mask_prob={p}, the chosen tokens (labels != -100)",
                         " Compare one uniform draw per token with mask_prob.")


@check("heads.mlm_mask", weight=3)
def test_mlm_80_10_10(student, rng):
    """among the chosen tokens: 80% become mask_id, 10% a random token, 10% stay unchanged"""
    V = 1000
    tokens = _tokens(rng, (200, 500), 0, V - 1)               # mask_id = V - 1 is never an original token
    inputs, labels = _mlm(student, tokens, V - 1, V, 0.5, seed=3)
    t = tokens.numpy()
    chosen = labels != -100
    n = int(chosen.sum())
    expect(n > 1000, f"with mask_prob=0.5, only {n} of {t.size} tokens were chosen (labels != -100).")
    masked = int((chosen & (inputs == V - 1)).sum())
    unchanged = int((chosen & (inputs == t)).sum())
    randomised = n - masked - unchanged
    hint = " Draw ONE more uniform number u per chosen token: u < 0.8 mask, 0.8 <= u < 0.9 random, else unchanged."
    # a random draw may land on mask_id or on the original token itself (probability 1/V each)
    _expect_fraction(masked, n, 0.8 + 0.1 / V, "chosen tokens replaced by mask_id", hint)
    _expect_fraction(randomised, n, 0.1 * (1 - 2 / V), "chosen tokens replaced by another token", hint)
    _expect_fraction(unchanged, n, 0.1 + 0.1 / V, "chosen tokens left unchanged", hint)


@check("heads.mlm_mask", weight=2)
def test_mlm_special_ids(student, rng):
    """special ids are never chosen, and the other tokens still are with probability mask_prob"""
    tokens = _tokens(rng, (100, 400), 0, 500)
    specials = [0, 1, 2]
    tokens[torch.from_numpy(rng.random((100, 400)) < 0.3)] = 1
    tokens[:, 0] = 0
    tokens[:, -1] = 2
    inputs, labels = _mlm(student, tokens, 499, 500, 0.5, special_ids=specials, seed=4)
    t = tokens.numpy()
    special = np.isin(t, specials)
    bad = np.argwhere(special & ((labels != -100) | (inputs != t)))
    if len(bad):
        where = tuple(int(i) for i in bad[0])
        expect(False, f"tokens{list(where)} is the special id {t[where]} (special_ids={specials}), yet it was chosen: "
                      f"its label is {labels[where]} (expected -100) and its input {inputs[where]} (expected "
                      f"{t[where]}). Special tokens are never chosen.")
    _expect_fraction(int((labels[~special] != -100).sum()), int((~special).sum()), 0.5,
                     "with mask_prob=0.5, the chosen tokens among the non-special ones",
                     " mask_prob applies to every non-special token.")
    inputs, labels = _mlm(student, tokens[:4, :10], 499, 500, 1.0, special_ids=tuple(specials), seed=5)
    expect_equal(labels, np.where(np.isin(t[:4, :10], specials), -100, t[:4, :10]),
                 what="labels with mask_prob=1.0 and special_ids given as a tuple")


@check("heads.mlm_mask", weight=2)
def test_mlm_random_tokens_uniform(student, rng):
    """random replacements are uniform over 0 .. vocab_size-1, both ends included"""
    V, original, mask_id, N = 8, 3, 5, 100_000
    tokens = torch.full((200, N // 200), original, dtype=torch.int64)
    inputs, labels = _mlm(student, tokens, mask_id, V, 1.0, seed=6)
    expect(bool((labels == original).all()),
           "with mask_prob=1.0 and no special ids every token is chosen, so every label should be the "
           f"original token {original}, but {int((labels != original).sum())} of {N} are not.")
    outside = inputs[(inputs < 0) | (inputs >= V)]
    if outside.size:
        expect(False, f"inputs holds {outside[0]}, outside 0 .. vocab_size-1 = 0 .. {V - 1}.")
    counts = np.bincount(inputs.reshape(-1), minlength=V)
    expected = N * 0.1 / V          # 10% random, uniform over V ids (whether or not the original is excluded)
    for value in range(V):
        if value in (original, mask_id):
            continue
        expect(0.5 * expected <= counts[value] <= 1.5 * expected,
               f"with vocab_size={V}, every token chosen, the original token {original} and mask_id {mask_id}, "
               f"{counts[value]} of {N} tokens became {value}; expected about {expected:.0f} (10% random "
               f"replacements spread uniformly over the {V} ids 0 .. {V - 1}; torch.randint's upper bound is "
               "exclusive).")


@check("heads.mlm_mask", weight=2, kind="property")
def test_mlm_reproducible(student, rng):
    """the same generator seed gives the same result whatever the global seed; another seed does not"""
    tokens = _tokens(rng, (20, 100), 0, 49)
    first = _mlm_seeded(student, tokens, gen_seed=7, global_seed=1)
    again = _mlm_seeded(student, tokens, gen_seed=7, global_seed=2)
    for name, a, b in zip(("inputs", "labels"), first, again):
        expect(np.array_equal(a, b),
               f"two calls with a generator seeded with 7 gave different {name} (torch's global seed differed "
               "between them): pass generator=generator to EVERY random call (torch.rand, torch.randint, "
               "torch.bernoulli...), so that the generator alone decides the result.")
    other = _mlm_seeded(student, tokens, gen_seed=8, global_seed=1)
    expect(not (np.array_equal(first[0], other[0]) and np.array_equal(first[1], other[1])),
           "generators seeded with 7 and with 8 gave exactly the same masking: the generator's seed should "
           "decide the draws.")
    student.fixtures.seed_everything(9)
    a = _mlm(student, tokens, 49, 50, 0.3, generator=False)
    student.fixtures.seed_everything(9)
    b = _mlm(student, tokens, 49, 50, 0.3, generator=False)
    expect(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]),
           "without a generator, the same global seed (torch.manual_seed) should give the same masking.")


def _mlm_seeded(student, tokens, gen_seed, global_seed):
    student.fixtures.seed_everything(global_seed)
    return _mlm(student, tokens, 49, 50, 0.3, seed=gen_seed)


@check("heads.mlm_mask", weight=2)
def test_mlm_edge_probabilities(student, rng):
    """mask_prob=0 changes nothing; mask_prob=1 chooses every non-special token"""
    tokens = _tokens(rng, (10, 50), 0, 20)
    inputs, labels = _mlm(student, tokens, 20, 21, 0.0, seed=12)
    expect_equal(inputs, tokens.numpy(), what="inputs with mask_prob=0.0")
    expect_equal(labels, np.full(tokens.shape, -100), what="labels with mask_prob=0.0")
    inputs, labels = _mlm(student, tokens, 20, 21, 1.0, special_ids=[0], seed=13)
    t = tokens.numpy()
    expect_equal(labels, np.where(t == 0, -100, t), what="labels with mask_prob=1.0 and special_ids=[0]")


# ---------------------------------------------------------------- patchify

@check("heads.patchify", weight=2)
def test_patchify_row_major(student):
    """an image whose patch k holds the value k everywhere gives patches 0, 1, 2, ... in row-major order"""
    # B = 2, C = 1, H = 4, W = 6, p = 2: a 2 x 3 grid of patches; image b adds 10 * b
    grid = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    image = grid.repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)      # (4, 6)
    images = torch.stack([image, image + 10])[:, None]                         # (2, 1, 4, 6)
    expected = (torch.arange(6, dtype=torch.float64)[None, :, None] + torch.tensor([0.0, 10.0])[:, None, None])
    got = student.heads.patchify(images, 2)
    expect_close(got, expected.expand(2, 6, 4).numpy(), what="patchify(images, 2) (image 0: patch k holds k; "
                 "image 1: patch k holds 10 + k)", **TOL)
    images3 = images[:1].expand(1, 3, 4, 6).clone()                            # the same with C = 3
    expect_close(student.heads.patchify(images3, 2), expected[:1].expand(1, 6, 12).numpy(),
                 what="patchify of the same image with C = 3 channels", **TOL)


@check("heads.patchify", weight=2)
def test_patchify_channel_first_in_patch(student):
    """each patch is flattened in (C, p, p) order: channel 0 row by row, then channel 1"""
    # the value 100 c + 10 i + j at row i, column j of every patch, channel c: all patches are equal
    C, p = 2, 3
    c = torch.arange(C, dtype=torch.float64)[:, None, None]
    i = torch.arange(p, dtype=torch.float64)[None, :, None]
    j = torch.arange(p, dtype=torch.float64)[None, None, :]
    patch = 100 * c + 10 * i + j                                               # (C, p, p)
    images = patch.repeat(1, 2, 3)[None]                                       # (1, 2, 6, 9): 2 x 3 patches
    expected = patch.reshape(1, 1, -1).expand(1, 6, C * p * p)
    expect_close(student.heads.patchify(images, p), expected.numpy(),
                 what="patchify(images, 3) (every patch holds 100*channel + 10*row + column)", **TOL)


@check("heads.patchify", weight=2)
def test_patchify_matches_reference(student, ref, rng):
    """random images: C = 3, non-square, batch 1, p = 1, a single patch"""
    for B, C, H, W, p in [(2, 3, 8, 4, 2), (1, 3, 6, 9, 3), (1, 1, 4, 8, 4), (2, 2, 3, 2, 1), (1, 3, 5, 5, 5)]:
        images = _randn(rng, (B, C, H, W))
        got = student.heads.patchify(images, p)
        expect_shape(got, (B, (H // p) * (W // p), C * p * p), what=f"patchify of images {(B, C, H, W)} with p={p}")
        expect_close(got, ref.heads.patchify(images, p), what=f"patchify of images {(B, C, H, W)} with p={p}",
                     **TOL)
        expect_close(got, _split_by_hand(images, p), what=f"patchify of images {(B, C, H, W)} with p={p}", **TOL)


@check("heads.patchify", kind="property")
def test_patchify_dtypes(student, rng):
    """float32 in, float32 out; float64 in, float64 out"""
    images = _randn(rng, (2, 3, 4, 4))                # square: other shapes have checks of their own
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        _expect_dtype_and_shape(student.heads.patchify(images.to(dtype), 2), name, (2, 4, 12),
                                f"patchify(images, 2) for {name} images of shape (2, 3, 4, 4)")


@check("heads.patchify")
def test_patchify_gradient(student, ref, rng):
    """gradient check against the reference (float64): every pixel gets its patch entry's gradient"""
    images = _randn(rng, (2, 3, 4, 4))                # square: other shapes have checks of their own
    upstream = _randn(rng, (2, 4, 12))
    _, want, _ = vjp(ref.heads.patchify, (images, 2), upstream)
    _, got, _ = vjp(student.heads.patchify, (images, 2), upstream)
    expect_gradients_close(got, want, ("images",), **GRAD)


# ---------------------------------------------------------------- bert_pair

def _long(values):
    return torch.tensor(values, dtype=torch.int64)


def _pair(student, a, b, cls_id=1, sep_id=2):
    """The learner's (tokens, segments) for segments a and b (lists), as int64 numpy arrays."""
    call = f"bert_pair({a}, {b}, cls_id={cls_id}, sep_id={sep_id})"
    result = student.heads.bert_pair(_long(a), _long(b), cls_id, sep_id)
    tokens, segments = expect_tuple(result, ("tokens", "segments"), call)
    n = len(a) + len(b) + 3
    for name, value in (("tokens", tokens), ("segments", segments)):
        _expect_tensor(value, f"the {name} of {call}")
        expect_shape(value, (n,), what=f"the {name} of {call} (1-D: [CLS], {len(a)} + {len(b)} tokens, two [SEP])")
    return np.asarray(tokens, dtype=np.int64), np.asarray(segments, dtype=np.int64), call


def _pair_by_hand(a, b, cls_id, sep_id):
    return [cls_id, *a, sep_id, *b, sep_id], [0] * (len(a) + 2) + [1] * (len(b) + 1)


SEGMENT_ADVICE = (" Segment 0 is [CLS], A and the FIRST [SEP] (it closes segment A); segment 1 is B and the final "
                  "[SEP].")


@check("heads.bert_pair", weight=2)
def test_pair_fixed_example(student):
    """A = [5, 6], B = [7]: tokens [CLS] 5 6 [SEP] 7 [SEP], segments 0 0 0 0 1 1"""
    tokens, segments, call = _pair(student, [5, 6], [7], cls_id=1, sep_id=2)
    expect_equal(tokens, np.array([1, 5, 6, 2, 7, 2]), what=f"the tokens of {call}")
    expect_equal(segments, np.array([0, 0, 0, 0, 1, 1]), what=f"the segments of {call}")


@check("heads.bert_pair", weight=2)
def test_pair_segments(student, rng):
    """random lengths and ids: the first [SEP] is segment 0, B and the last [SEP] segment 1"""
    for la, lb in [(3, 4), (1, 1), (6, 2), (2, 7)]:
        a = rng.integers(5, 50, size=la).tolist()
        b = rng.integers(5, 50, size=lb).tolist()
        cls_id, sep_id = int(rng.integers(0, 3)), 3 + int(rng.integers(0, 2))
        tokens, segments, call = _pair(student, a, b, cls_id, sep_id)
        want_tokens, want_segments = _pair_by_hand(a, b, cls_id, sep_id)
        expect_equal(tokens, np.array(want_tokens), what=f"the tokens of {call}")
        if not np.array_equal(segments, want_segments):
            expect(False, f"the segments of {call} are {segments.tolist()}; expected {want_segments}."
                          + SEGMENT_ADVICE)


@check("heads.bert_pair")
def test_pair_empty_segments(student):
    """an empty A or B (or both) still gives [CLS], two [SEP]s, and the last [SEP] in segment 1"""
    for a, b in [([], [7, 8]), ([5, 6], []), ([], [])]:
        tokens, segments, call = _pair(student, a, b, cls_id=1, sep_id=2)
        want_tokens, want_segments = _pair_by_hand(a, b, 1, 2)
        expect_equal(tokens, np.array(want_tokens), what=f"the tokens of {call}")
        if not np.array_equal(segments, want_segments):
            expect(False, f"the segments of {call} are {segments.tolist()}; expected {want_segments}."
                          + SEGMENT_ADVICE)


@check("heads.bert_pair", kind="property")
def test_pair_dtypes(student):
    """tokens and segments are 1-D int64 (long) tensors"""
    result = student.heads.bert_pair(_long([4, 5, 6]), _long([7, 8]), 1, 2)
    tokens, segments = expect_tuple(result, ("tokens", "segments"), "bert_pair([4, 5, 6], [7, 8], 1, 2)")
    for name, value in (("tokens", tokens), ("segments", segments)):
        _expect_tensor(value, name)
        expect(value.dtype == torch.int64,
               f"{name} has dtype {str(value.dtype).replace('torch.', '')}; expected int64 (long): token and "
               "segment ids index embeddings. Give every piece you concatenate dtype=torch.long.")
        expect_shape(value, (8,), what=name)


# ---------------------------------------------------------------- nsp_pairs

def _document(n):
    return [f"s{i}" for i in range(n)]


def _nsp(student, sentences, seed):
    """The learner's pairs for ``sentences`` (a list of distinct strings), checked for form:
    a list of len - 1 triples (sentences[i], b, is_next) in order, b a sentence of the list."""
    call = f"nsp_pairs(a document of {len(sentences)} sentences, generator seeded with {seed})"
    pairs = student.heads.nsp_pairs(list(sentences), generator=student.fixtures.make_generator(seed))
    expect(isinstance(pairs, (list, tuple)), f"{call} returned {describe(pairs)}; expected a list of tuples.")
    expect(len(pairs) == len(sentences) - 1,
           f"{call} returned {len(pairs)} pairs; expected {len(sentences) - 1}, one per sentence that has a next "
           "sentence (positions 0 .. len - 2, each one's a).")
    position = {sentence: j for j, sentence in enumerate(sentences)}
    found = []
    # thousands of pairs per check: each message is written only for a pair that fails
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 3):
            expect(False, f"pair {i} of {call} is {describe(pair)}; expected a tuple (a, b, is_next).")
        a, b, label = pair
        if a != sentences[i]:
            expect(False, f"pair {i} of {call} has a = {a!r}; expected sentences[{i}] = {sentences[i]!r} "
                          "(the pairs follow the document's order).")
        if not (isinstance(b, str) and b in position):
            expect(False, f"pair {i} of {call} has b = {b!r}, which is not a sentence of the document.")
        if not (isinstance(label, (int, np.integer, torch.Tensor)) and not isinstance(label, bool)
                and int(label) in (0, 1)):
            expect(False, f"pair {i} of {call} has is_next = {describe(label)}; expected the int 1 or 0.")
        found.append((i, position[b], int(label)))
    return found, call


@check("heads.nsp_pairs", kind="property")
def test_nsp_form(student):
    """one (sentences[i], b, is_next) per i < len - 1, in order; is_next = 1 means b is sentences[i + 1]"""
    sentences = _document(9)
    found, call = _nsp(student, sentences, seed=3)
    for i, j, label in found:
        if label == 1:
            expect(j == i + 1, f"pair {i} of {call} has is_next = 1 but b = {sentences[j]!r}; the sentence after "
                               f"{sentences[i]!r} is {sentences[i + 1]!r}.")


@check("heads.nsp_pairs", weight=2)
def test_nsp_negatives(student):
    """a pair with is_next = 0 never has the true next sentence, nor a itself (20 documents)"""
    sentences = _document(12)
    negatives = 0
    for seed in range(20):
        found, call = _nsp(student, sentences, seed=seed)
        for i, j, label in found:
            if label == 0:
                negatives += 1
                expect(j != i + 1, f"pair {i} of {call} is ({sentences[i]!r}, {sentences[j]!r}, 0), but "
                                   f"{sentences[j]!r} IS the sentence after {sentences[i]!r}: a negative is drawn "
                                   "among the other sentences only (leave position i + 1 out of the draw).")
                expect(j != i, f"pair {i} of {call} is ({sentences[i]!r}, {sentences[i]!r}, 0): a negative b is "
                               "never a itself (leave positions i and i + 1 out of the draw).")
    expect(negatives > 0, "over 20 documents of 12 sentences (220 pairs) no pair had is_next = 0: half of them "
                          "should be negatives.")


@check("heads.nsp_pairs", weight=2)
def test_nsp_balance(student):
    """is_next = 1 half of the time (4,000 pairs over 10 seeds)"""
    sentences = _document(401)
    positives = total = 0
    for seed in range(10):
        found, _ = _nsp(student, sentences, seed=100 + seed)
        positives += sum(label for _, _, label in found)
        total += len(found)
    _expect_fraction(positives, total, 0.5, "pairs with is_next = 1",
                     " Draw one fair coin per pair: torch.rand((), generator=generator) < 0.5.")


@check("heads.nsp_pairs")
def test_nsp_uniform_negatives(student):
    """a negative b is drawn uniformly among the sentences other than a and the next one"""
    sentences = _document(5)
    counts = np.zeros((4, 5), dtype=np.int64)
    for seed in range(150):
        found, _ = _nsp(student, sentences, seed=1000 + seed)
        for i, j, label in found:
            if label == 0:
                counts[i, j] += 1
    for i in range(4):
        allowed = [j for j in range(5) if j not in (i, i + 1)]
        total = int(counts[i].sum())
        expect(total > 0, f"over 150 documents of 5 sentences, pair {i} was never a negative.")
        for j in allowed:
            _expect_fraction(int(counts[i, j]), total, 1 / len(allowed),
                             f"over 150 documents of 5 sentences, the negatives of pair {i} ({sentences[i]!r}) "
                             f"that drew {sentences[j]!r}",
                             f" Draw uniformly among the {len(allowed)} sentences other than a and the next one.")


@check("heads.nsp_pairs")
def test_nsp_two_sentences(student):
    """a document of 2 sentences gives its one pair, positive (there is no other sentence to draw)"""
    sentences = ["first", "second"]
    for seed in range(8):
        pairs = student.heads.nsp_pairs(list(sentences), generator=student.fixtures.make_generator(seed))
        expect(isinstance(pairs, (list, tuple)) and len(pairs) == 1 and isinstance(pairs[0], (list, tuple))
               and len(pairs[0]) == 3,
               f"nsp_pairs(['first', 'second']) returned {describe(pairs)}; expected [('first', 'second', 1)].")
        a, b, label = pairs[0]
        expect((a, b) == ("first", "second") and int(label) == 1,
               f"nsp_pairs(['first', 'second'], generator seeded with {seed}) returned {describe(pairs)}; expected "
               "[('first', 'second', 1)]: with two sentences, no other sentence can be a negative b.")


@check("heads.nsp_pairs", kind="property")
def test_nsp_reproducible(student):
    """the same generator seed gives the same pairs whatever the global seed; another seed does not"""
    sentences = _document(30)
    student.fixtures.seed_everything(1)
    first, _ = _nsp(student, sentences, seed=7)
    student.fixtures.seed_everything(2)
    again, _ = _nsp(student, sentences, seed=7)
    expect(first == again, "two calls with a generator seeded with 7 gave different pairs (torch's global seed "
                           "differed between them): pass generator=generator to EVERY random call.")
    other, _ = _nsp(student, sentences, seed=8)
    expect(first != other, "generators seeded with 7 and 8 gave exactly the same 29 pairs: the generator should "
                           "decide the draws.")


# ---------------------------------------------------------------- BertEmbeddings

def _module_parameters(module):
    state = module.state_dict(keep_vars=True)
    return {name: tuple(value.shape) for name, value in dict(state).items() if isinstance(value, torch.nn.Parameter)}


def _expect_parameters(module, want, call):
    got = _module_parameters(module)
    if sorted(got) != sorted(want):
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        expect(False, f"{call} has the parameters {sorted(got)}; expected exactly {sorted(want)}"
                      + (f" (missing: {missing})" if missing else "") + (f" (unexpected: {extra})" if extra else "")
                      + ". Buffers are free; parameters are not.")
    for name, shape in want.items():
        expect(got[name] == shape, f"the parameter {name} of {call} has shape {got[name]}; expected {shape}.")


def _load_into(module, state, call):
    missed, unexpected = module.load_state_dict(state, strict=False)[:2]
    not_loaded = sorted(set(state) & set(missed)) + sorted(unexpected)
    expect(not not_loaded, f"{call}.load_state_dict could not set {not_loaded}.")


def _set_dtype(module, dtype):
    if dtype == torch.float64:
        module.double()
    else:
        module.float()


def _bert_state(rng, V, D, L, S=2, dtype=torch.float64):
    return {"token.weight": _randn(rng, (V, D), dtype), "segment.weight": _randn(rng, (S, D), dtype),
            "position.weight": _randn(rng, (L, D), dtype), "norm.weight": 1 + 0.3 * _randn(rng, (D,), dtype),
            "norm.bias": 0.3 * _randn(rng, (D,), dtype)}


def _bert_pair(student, ref, state, args, dtype=torch.float64, dropout=0.0):
    call = f"BertEmbeddings({', '.join(map(str, args))}{', dropout=' + str(dropout) if dropout else ''})"
    mine = student.heads.BertEmbeddings(*args, dropout=dropout)
    _set_dtype(mine, dtype)
    _load_into(mine, state, call)
    theirs = ref.heads.BertEmbeddings(*args, dropout=dropout)
    _set_dtype(theirs, dtype)
    theirs.load_state_dict(state)
    return mine.eval(), theirs.eval(), call


def _layer_norm_by_hand(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _bert_by_hand(state, tokens, segments, positions=True, norm=True):
    s = {k: v.numpy() for k, v in state.items()}
    t, g = np.asarray(tokens), np.asarray(segments)
    x = s["token.weight"][t] + s["segment.weight"][g]
    if positions:
        x = x + s["position.weight"][np.arange(t.shape[1])][None]
    return _layer_norm_by_hand(x, s["norm.weight"], s["norm.bias"]) if norm else x


@check("heads.BertEmbeddings", kind="property")
def test_bert_parameters(student):
    """the parameters are token, segment, position (nn.Embedding) and norm (LayerNorm), nothing else"""
    module = student.heads.BertEmbeddings(11, 6, max_len=9, num_segments=3)
    _expect_parameters(module, {"token.weight": (11, 6), "segment.weight": (3, 6), "position.weight": (9, 6),
                                "norm.weight": (6,), "norm.bias": (6,)},
                       "BertEmbeddings(11, 6, max_len=9, num_segments=3)")


@check("heads.BertEmbeddings", weight=2)
def test_bert_hand_computed(student):
    """hand-set tables: the three embeddings summed, then layer-normalised (V=5, d=4, max_len=4)"""
    V, D, L = 5, 4, 4
    state = {"token.weight": torch.tensor([[(v + 1) * (k - 1.5) + 0.3 * k * k for k in range(D)] for v in range(V)],
                                          dtype=torch.float64),
             "segment.weight": torch.tensor([[0.5, -0.5, 0.25, 0.0], [-1.0, 2.0, 0.0, 1.0]], dtype=torch.float64),
             "position.weight": torch.tensor([[0.1 * p * (k + 1) - 0.2 * (p == k) for k in range(D)] for p in range(L)],
                                             dtype=torch.float64),
             "norm.weight": torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64),
             "norm.bias": torch.tensor([0.0, 0.1, -0.2, 0.3], dtype=torch.float64)}
    call = "BertEmbeddings(5, 4, max_len=4) with hand-set tables"
    module = student.heads.BertEmbeddings(V, D, max_len=L)
    module.double()
    _load_into(module, state, call)
    module.eval()
    tokens = torch.tensor([[1, 3, 0, 4], [2, 2, 2, 2]])
    segments = torch.tensor([[0, 0, 1, 1], [0, 1, 0, 1]])
    expect_close(module(tokens, segments), _bert_by_hand(state, tokens, segments),
                 what=f"{call}, on tokens [[1, 3, 0, 4], [2, 2, 2, 2]] and segments [[0, 0, 1, 1], [0, 1, 0, 1]]",
                 **TOL)


@check("heads.BertEmbeddings", weight=2)
def test_bert_matches_reference(student, ref, rng):
    """random tables and segment ids (B = 3, T = 7, three segments; B = 1, T = max_len) equal the reference's"""
    for B, T, V, D, L, S in [(3, 7, 20, 8, 10, 3), (1, 6, 9, 4, 6, 2)]:
        state = _bert_state(rng, V, D, L, S)
        mine, theirs, call = _bert_pair(student, ref, state, (V, D, L, S))
        tokens = _tokens(rng, (B, T), 0, V)
        segments = _tokens(rng, (B, T), 0, S)
        expect_close(mine(tokens, segments), theirs(tokens, segments),
                     what=f"{call} on ({B}, {T}) tokens and segments", **TOL)


@check("heads.BertEmbeddings")
def test_bert_segments_default(student, ref, rng):
    """segments=None means segment 0 everywhere (not no segment embedding at all)"""
    state = _bert_state(rng, 12, 6, 8)
    mine, theirs, call = _bert_pair(student, ref, state, (12, 6, 8))
    tokens = _tokens(rng, (2, 5), 0, 12)
    expect_close(mine(tokens), theirs(tokens, torch.zeros_like(tokens)),
                 what=f"{call}(tokens) without segments (compared with segments of zeros)", **TOL)


@check("heads.BertEmbeddings", weight=2)
def test_bert_positions_added(student, rng):
    """the same token at different positions gets different vectors: position t's embedding is added"""
    state = _bert_state(rng, 6, 5, 7)
    call = "BertEmbeddings(6, 5, max_len=7)"
    module = student.heads.BertEmbeddings(6, 5, max_len=7)
    module.double()
    _load_into(module, state, call)
    module.eval()
    tokens = torch.full((2, 6), 3, dtype=torch.int64)
    segments = torch.zeros_like(tokens)
    got = module(tokens, segments)
    want = _bert_by_hand(state, tokens, segments)
    if np.allclose(to_numpy(got), _bert_by_hand(state, tokens, segments, positions=False)):
        expect(False, f"{call} gives the token 3 the same vector at all 6 positions: position.weight[t] must be "
                      "added at position t (t = 0 .. T-1, the same for every row).")
    expect_close(got, want, what=f"{call} on a batch where every token is 3 (only the positions differ)", **TOL)


@check("heads.BertEmbeddings")
def test_bert_normalised(student, rng):
    """with the norm's weight 1 and bias 0, every output vector has mean 0 and variance 1"""
    state = _bert_state(rng, 10, 8, 6)
    state["norm.weight"] = torch.ones(8, dtype=torch.float64)
    state["norm.bias"] = torch.zeros(8, dtype=torch.float64)
    state["token.weight"] = 3.0 + 4.0 * state["token.weight"]
    call = "BertEmbeddings(10, 8, max_len=6) with norm.weight = 1, norm.bias = 0"
    module = student.heads.BertEmbeddings(10, 8, max_len=6)
    module.double()
    _load_into(module, state, call)
    module.eval()
    out = to_numpy(module(_tokens(rng, (3, 6), 0, 10), _tokens(rng, (3, 6), 0, 2)))
    expect_close(out.mean(-1), np.zeros((3, 6)), what=f"the mean of each output vector of {call} (the layer norm "
                 "comes after the sum)", rtol=0, atol=1e-9)
    expect_close(out.var(-1), np.ones((3, 6)), what=f"the variance of each output vector of {call} (the "
                 "vectors summed have a variance far above eps)", rtol=0, atol=1e-4)


@check("heads.BertEmbeddings")
def test_bert_dropout(student, ref, rng):
    """dropout=0.5 zeroes about half of the outputs in training mode and none in eval mode"""
    state = _bert_state(rng, 10, 16, 40)
    mine, theirs, call = _bert_pair(student, ref, state, (10, 16, 40), dropout=0.5)
    tokens = _tokens(rng, (25, 40), 0, 10)
    want = theirs(tokens)
    expect_close(mine(tokens), want, what=f"{call} in eval mode (dropout off)", **TOL)
    mine.train()
    student.fixtures.seed_everything(0)
    got = to_numpy(mine(tokens))
    kept = got != 0
    _expect_fraction(int((~kept).sum()), got.size, 0.5, f"{call} in training mode: outputs set to zero",
                     " The nn.Dropout(dropout) comes last, after the norm.")
    expect_close(got[kept], 2 * to_numpy(want)[kept], what=f"the outputs {call} kept in training mode (scaled by "
                 "1 / (1 - 0.5))", **TOL)


@check("heads.BertEmbeddings", kind="property")
def test_bert_float32(student, ref, rng):
    """a float32 module gives float32 outputs, close to the reference's"""
    state = _bert_state(rng, 10, 6, 8, dtype=torch.float32)
    mine, theirs, call = _bert_pair(student, ref, state, (10, 6, 8), dtype=torch.float32)
    tokens = _tokens(rng, (2, 5), 0, 10)
    got = mine(tokens)
    _expect_dtype_and_shape(got, "float32", (2, 5, 6), f"{call}.float() on (2, 5) tokens")
    expect_close(got, theirs(tokens), what=f"{call}.float() on (2, 5) tokens", rtol=1e-4, atol=1e-5)


@check("heads.BertEmbeddings")
def test_bert_gradients(student, ref, rng):
    """the gradients of the tables and of the norm equal the reference's (float64)"""
    state = _bert_state(rng, 9, 5, 6)
    mine, theirs, _ = _bert_pair(student, ref, state, (9, 5, 6))
    tokens = _tokens(rng, (2, 6), 0, 9)
    segments = _tokens(rng, (2, 6), 0, 2)
    upstream = _randn(rng, (2, 6, 5))
    _, _, got = vjp(mine, (tokens, segments), upstream)
    _, _, want = vjp(theirs, (tokens, segments), upstream)
    expect_gradients_close(got, want, None, **GRAD)


# ---------------------------------------------------------------- ViT

VIT_TOL = dict(rtol=1e-9, atol=1e-10)     # float64, the same computation in another order


def _vit_args(image, patch, channels, classes, d_model=8, heads=2, layers=2, d_ff=16):
    return (image, patch, channels, classes, d_model, heads, layers, d_ff)


def _vit_call(args):
    return f"ViT({', '.join(map(str, args))})"


def _vit_state(ref, rng, args):
    """Random float64 values for every parameter of the reference ViT built with ``args``
    (the cls token and the positions far from zero, so that forgetting one shows)."""
    torch.manual_seed(0)
    module = ref.heads.ViT(*args)
    state = {}
    for name, value in module.state_dict().items():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "encoder.norm.weight":
            new = 1 + 0.3 * _randn(rng, value.shape)
        elif value.dim() >= 2:
            new = _randn(rng, value.shape) / math.sqrt(value.shape[-1])
        else:
            new = 0.3 * _randn(rng, value.shape)
        state[name] = new
    state["cls_token"] = _randn(rng, state["cls_token"].shape)
    state["pos_embed"] = _randn(rng, state["pos_embed"].shape)
    return state


def _vit_learner(student, args, state, dtype=torch.float64):
    """The learner's ViT of ``args`` holding ``state`` in ``dtype``, and its call's text."""
    call = _vit_call(args)
    mine = student.heads.ViT(*args)
    _set_dtype(mine, dtype)
    _load_into(mine, state, call)
    return mine.eval(), call


def _vit_pair(student, ref, rng, args, dtype=torch.float64):
    state = {k: v.to(dtype) for k, v in _vit_state(ref, rng, args).items()}
    mine, call = _vit_learner(student, args, state, dtype)
    torch.manual_seed(0)
    theirs = ref.heads.ViT(*args)
    _set_dtype(theirs, dtype)
    theirs.load_state_dict(state)
    return mine, theirs.eval(), state, call


def _vit_variants(ref, state, args, images):
    """The logits of ViTs that differ from the syllabus in one or more ways, built here from
    the reference Encoder: {(cls_front, pool, positions, row_major, norm_first, activation): logits}."""
    image, p, C, classes, d_model, heads, layers, d_ff = args
    grid = image // p
    patches = _split_by_hand(images, p)                                          # row-major
    order = torch.tensor([c * grid + r for r in range(grid) for c in range(grid)])
    col_major = patches[:, order]                  # sequence position k holds the patch of column k // grid, row k % grid
    encoders = {}
    for norm_first in (True, False):
        for activation in ("gelu", "relu"):
            layer = ref.transformer.EncoderLayer(d_model, heads, d_ff, 0.0, activation=activation,
                                                 norm_first=norm_first)
            encoder = ref.transformer.Encoder(layer, layers).double()
            encoder.load_state_dict({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")})
            encoders[norm_first, activation] = encoder.eval()
    W, b = state["patch_embed.weight"], state["patch_embed.bias"]
    cls = state["cls_token"].expand(images.shape[0], 1, d_model)
    found = {}
    with torch.no_grad():
        for row_major in (True, False):
            x = (patches if row_major else col_major) @ W.T + b
            for cls_front in (True, False):
                seq = torch.cat([cls, x] if cls_front else [x, cls], dim=1)
                for positions in (True, False):
                    y = seq + state["pos_embed"] if positions else seq
                    for (norm_first, activation), encoder in encoders.items():
                        h = encoder(y)
                        pooled = {"cls": h[:, 0] if cls_front else h[:, -1], "mean": h.mean(dim=1),
                                  "first patch": h[:, 1] if cls_front else h[:, 0]}
                        for pool, v in pooled.items():
                            key = (cls_front, pool, positions, row_major, norm_first, activation)
                            found[key] = v @ state["head.weight"].T + state["head.bias"]
    return found


def _vit_family(ref, rng, args):
    """Random weights for a ViT of ``args``, two images, and the logits of every ViT of the
    family above on them: the same for every submission, so worked out once per run."""
    state = _vit_state(ref, rng, args)
    images = _randn(rng, (2, 2, 8, 8))
    return state, images, _vit_variants(ref, state, args, images)


FACETS = ("cls_front", "pool", "positions", "row_major", "norm_first", "activation")
SYLLABUS = dict(cls_front=True, pool="cls", positions=True, row_major=True, norm_first=True, activation="gelu")
DEVIATIONS = {
    ("cls_front", False): "puts the [CLS] vector AFTER the patches (it goes in front, at position 0)",
    ("pool", "mean"): "classifies the mean of the encoder's outputs (the head reads the [CLS] vector only)",
    ("pool", "first patch"): "classifies the first patch's output (the head reads the [CLS] vector)",
    ("positions", False): "never adds pos_embed",
    ("row_major", False): "reads the patches column by column (row-major: left to right, then top to bottom; "
                          "use the module's patchify)",
    ("norm_first", False): "uses post-norm encoder layers (ViT's are pre-norm: norm_first=True)",
    ("activation", "relu"): "uses ReLU in the feed-forward network (ViT's is GELU: activation=\"gelu\")",
}


def _vit_facet_check(student, ref, rng, facet):
    """The learner's logits must match a ViT of the family above whose ``facet`` is the
    syllabus's (whatever the other facets): one mistake costs the check that names it."""
    args = _vit_args(8, 2, 2, 3)
    state, images, found = reference_once(ref, rng, _vit_family, args)
    mine, call = _vit_learner(student, args, state)
    got = torch.as_tensor(to_numpy(mine(images)))
    expect_shape(got, (2, 3), what=f"the logits of {call} on (2, 2, 8, 8) images")
    matches = [key for key, logits in found.items() if torch.allclose(got, logits, rtol=1e-7, atol=1e-8)]
    if any(dict(zip(FACETS, key))[facet] == SYLLABUS[facet] for key in matches):
        return
    if matches:
        facets = dict(zip(FACETS, matches[0]))
        wrong = [DEVIATIONS[name, value] for name, value in facets.items() if value != SYLLABUS[name]]
        expect(False, f"the logits of {call} on (2, 2, 8, 8) images are those of a ViT that "
                      + "; and that ".join(wrong) + ".")
    want = found[tuple(SYLLABUS[name] for name in FACETS)]
    expect(False, f"the logits of {call} on (2, 2, 8, 8) images are {describe(got)}; the reference gives "
                  f"{describe(want)}. They match no ViT that differs from the syllabus only in where the [CLS] "
                  "vector sits, what the head reads, the positions, the order of the patches, the place of the "
                  "norms or the activation: look for the difference elsewhere (the check against the reference "
                  "tells the same).")


@check("heads.ViT", kind="property")
def test_vit_parameters(student, ref):
    """the parameters: patch_embed, cls_token (1, 1, d), pos_embed (1, N + 1, d), encoder, head"""
    args = _vit_args(12, 4, 3, 5)
    torch.manual_seed(0)
    want = _module_parameters(ref.heads.ViT(*args))
    _expect_parameters(student.heads.ViT(*args), want, _vit_call(args))


@check("heads.ViT", weight=3)
def test_vit_matches_reference(student, ref, rng):
    """random weights: the logits equal the reference's (C = 1 and 3, 1 to 9 patches, batch 1)"""
    for args, B in [(_vit_args(8, 4, 1, 4), 3), (_vit_args(6, 2, 3, 2, d_model=12, heads=3, layers=1), 1),
                    (_vit_args(4, 4, 2, 3, layers=3), 2)]:
        mine, theirs, _, call = _vit_pair(student, ref, rng, args)
        images = _randn(rng, (B, args[2], args[0], args[0]))
        got = mine(images)
        expect_shape(got, (B, args[3]), what=f"the logits of {call} on {B} images")
        expect_close(got, theirs(images), what=f"the logits of {call} on {B} images", **VIT_TOL)


@check("heads.ViT", weight=2)
def test_vit_classifies_cls(student, ref, rng):
    """the head reads the encoder's output at the [CLS] position, not a mean over positions"""
    _vit_facet_check(student, ref, rng, "pool")


@check("heads.ViT", weight=2)
def test_vit_cls_in_front(student, ref, rng):
    """the [CLS] vector is put in front of the patches, at position 0"""
    _vit_facet_check(student, ref, rng, "cls_front")


@check("heads.ViT", weight=2)
def test_vit_positions_added(student, ref, rng):
    """pos_embed is added to the [CLS] and patch vectors"""
    _vit_facet_check(student, ref, rng, "positions")


@check("heads.ViT")
def test_vit_row_major(student, ref, rng):
    """the patches are read in row-major order (the module's patchify)"""
    _vit_facet_check(student, ref, rng, "row_major")


@check("heads.ViT")
def test_vit_pre_norm(student, ref, rng):
    """the encoder's layers are pre-norm (norm_first=True) with GELU"""
    _vit_facet_check(student, ref, rng, "norm_first")
    _vit_facet_check(student, ref, rng, "activation")


@check("heads.ViT", kind="property")
def test_vit_float32(student, ref, rng):
    """a float32 ViT gives float32 logits, close to the reference's"""
    args = _vit_args(8, 4, 1, 3)
    mine, theirs, _, call = _vit_pair(student, ref, rng, args, dtype=torch.float32)
    images = _randn(rng, (2, 1, 8, 8), torch.float32)
    got = mine(images)
    _expect_dtype_and_shape(got, "float32", (2, 3), f"{call}.float() on (2, 1, 8, 8) images")
    expect_close(got, theirs(images), what=f"{call}.float() on (2, 1, 8, 8) images", rtol=1e-4, atol=1e-5)


@check("heads.ViT", weight=2)
def test_vit_gradients(student, ref, rng):
    """the gradients of every parameter and of the images equal the reference's (float64)"""
    args = _vit_args(4, 2, 1, 3, layers=1)
    mine, theirs, _, _ = _vit_pair(student, ref, rng, args)
    images = _randn(rng, (2, 1, 4, 4))
    upstream = _randn(rng, (2, 3))
    _, got_in, got = vjp(mine, (images,), upstream)
    _, want_in, want = vjp(theirs, (images,), upstream)
    expect_gradients_close(got, want, None, **GRAD)
    expect_gradients_close(got_in, want_in, ("images",), **GRAD)
