"""Checks of the heads module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
"""

import numpy as np
import torch

from grader.checks import check, describe, expect, expect_close, expect_equal, expect_shape, expect_tuple

TOL = dict(rtol=1e-6, atol=1e-7)


def _mlm(student, tokens, mask_prob, seed, special_ids=()):
    gen = student.fixtures.make_generator(seed)
    result = student.heads.mlm_mask(tokens.clone(), 9, 10, mask_prob=mask_prob, special_ids=special_ids, generator=gen)
    inputs, labels = expect_tuple(result, ("inputs", "labels"), "mlm_mask")
    for name, value in (("inputs", inputs), ("labels", labels)):
        expect(isinstance(value, torch.Tensor) and value.dtype == torch.int64,
               f"{name} should be an int64 (long) tensor, but it is {describe(value)}.")
        expect_shape(value, tuple(tokens.shape), what=name)
    return inputs.numpy(), labels.numpy()


# ---------------------------------------------------------------- mean_pool

@check("heads.mean_pool", weight=2)
def test_mean_tiny_example(student):
    """a tiny example: the padding of row 0 is left out, row 1 is all padding (zeros, not NaN)"""
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]],
                      [[5.0, 6.0], [7.0, 8.0], [9.0, 9.0]]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    expect_close(student.heads.mean_pool(h, mask), np.array([[2.0, 3.0], [0.0, 0.0]]), what="mean_pool(h, mask)",
                 **TOL)


@check("heads.mean_pool")
def test_mean_without_mask(student, rng):
    """mask=None: the plain mean over the time axis, shape (B, D)"""
    h = torch.from_numpy(rng.standard_normal((2, 4, 3)))
    expect_close(student.heads.mean_pool(h), h.mean(dim=1).numpy(), what="mean_pool(h)", **TOL)


@check("heads.mean_pool", kind="property")
def test_mean_word_order(student, rng):
    """"I ate pizza" and "pizza ate I" get the same pooled vector"""
    emb = torch.from_numpy(rng.standard_normal((3, 4)))      # I, ate, pizza
    a = student.heads.mean_pool(emb[torch.tensor([[0, 1, 2]])])
    b = student.heads.mean_pool(emb[torch.tensor([[2, 1, 0]])])
    expect_close(b, a, what='the pooled vector of "pizza ate I" (compared with "I ate pizza")', **TOL)


# ---------------------------------------------------------------- cls_pool

@check("heads.cls_pool")
def test_cls_tiny_example(student):
    """the vector at position 0 of each sequence, shape (B, D)"""
    h = torch.arange(12, dtype=torch.float64).reshape(2, 3, 2)
    expect_close(student.heads.cls_pool(h), np.array([[0.0, 1.0], [6.0, 7.0]]), what="cls_pool(h)", **TOL)


# ---------------------------------------------------------------- mlm_mask

@check("heads.mlm_mask", weight=2)
def test_mlm_labels(student, rng):
    """labels: the original token where chosen, -100 elsewhere; only chosen tokens change"""
    tokens = torch.from_numpy(rng.integers(0, 9, size=(8, 50)))
    inputs, labels = _mlm(student, tokens, 0.3, seed=1)
    t = tokens.numpy()
    chosen = labels != -100
    expect(bool((labels[chosen] == t[chosen]).all()),
           "at a chosen position (label != -100) the label must be the ORIGINAL token.")
    expect(bool((inputs[~chosen] == t[~chosen]).all()),
           "a token whose label is -100 (not chosen) must be left unchanged in inputs.")
    expect(0.1 < chosen.mean() < 0.5,
           f"with mask_prob=0.3, {100 * chosen.mean():.1f}% of the tokens were chosen; expected about 30%.")


@check("heads.mlm_mask")
def test_mlm_edges_and_specials(student, rng):
    """mask_prob=0 changes nothing; mask_prob=1 chooses every token except the special ids"""
    tokens = torch.from_numpy(rng.integers(0, 9, size=(4, 30)))
    inputs, labels = _mlm(student, tokens, 0.0, seed=2)
    expect_equal(inputs, tokens.numpy(), what="inputs with mask_prob=0.0")
    expect_equal(labels, np.full((4, 30), -100), what="labels with mask_prob=0.0")
    inputs, labels = _mlm(student, tokens, 1.0, seed=3, special_ids=(0, 1))
    t = tokens.numpy()
    expect_equal(labels, np.where(t <= 1, -100, t), what="labels with mask_prob=1.0 and special_ids=(0, 1)")


@check("heads.mlm_mask", kind="property")
def test_visible_mlm_reproducible(student, rng):
    """the same generator seed gives the same masking"""
    tokens = torch.from_numpy(rng.integers(0, 9, size=(4, 30)))
    student.fixtures.seed_everything(1)
    a = _mlm(student, tokens, 0.5, seed=4)
    student.fixtures.seed_everything(2)
    b = _mlm(student, tokens, 0.5, seed=4)
    expect(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]),
           "two calls with generators seeded alike gave different results: pass generator=generator to every "
           "random draw.")


# ---------------------------------------------------------------- patchify

@check("heads.patchify", weight=2)
def test_patchify_numbered_patches(student):
    """an image whose patch k holds the value k: patches come out in row-major order"""
    grid = torch.arange(6, dtype=torch.float64).reshape(2, 3)                 # 2 x 3 patches of 2 x 2
    images = grid.repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)[None, None]   # (1, 1, 4, 6)
    expected = np.repeat(np.arange(6.0)[None, :, None], 4, axis=2)            # (1, 6, 4)
    expect_close(student.heads.patchify(images, 2), expected, what="patchify(images, 2)", **TOL)


@check("heads.patchify", kind="property")
def test_patchify_shape(student, rng):
    """shape (B, N, C*p*p) for a non-square RGB image"""
    images = torch.from_numpy(rng.standard_normal((2, 3, 8, 4)))
    expect_shape(student.heads.patchify(images, 2), (2, 8, 12), what="patchify of images (2, 3, 8, 4) with p=2")
