"""Hidden checks of the heads module: mean and CLS pooling, BERT's masked-language-model
masking (checked by its statistics, not draw by draw), and ViT's patches (torch)."""

import math

import numpy as np
import torch

from grader.checks import (arguments_after, check, describe, expect, expect_close, expect_equal, expect_gradients_close,
                           expect_shape, expect_tuple, vjp)

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
