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


# ---------------------------------------------------------------- bert_pair

@check("heads.bert_pair", weight=2)
def test_visible_pair_example(student):
    """[CLS] 5 6 [SEP] 7 8 [SEP] with segments 0 0 0 0 1 1 1"""
    result = student.heads.bert_pair(torch.tensor([5, 6]), torch.tensor([7, 8]), 1, 2)
    tokens, segments = expect_tuple(result, ("tokens", "segments"), "bert_pair([5, 6], [7, 8], 1, 2)")
    expect_equal(tokens, np.array([1, 5, 6, 2, 7, 8, 2]), what="the tokens of bert_pair([5, 6], [7, 8], 1, 2)")
    expect_equal(segments, np.array([0, 0, 0, 0, 1, 1, 1]),
                 what="the segments of bert_pair([5, 6], [7, 8], 1, 2) (the first [SEP] is still segment 0)")


# ---------------------------------------------------------------- nsp_pairs

@check("heads.nsp_pairs", weight=2)
def test_visible_nsp_labels(student):
    """is_next = 1 pairs hold the next sentence, is_next = 0 pairs another one, about half each"""
    sentences = [f"sentence {i}" for i in range(201)]
    pairs = student.heads.nsp_pairs(list(sentences), generator=student.fixtures.make_generator(0))
    expect(isinstance(pairs, list) and len(pairs) == 200,
           f"nsp_pairs of 201 sentences returned {describe(pairs)}; expected a list of 200 (a, b, is_next).")
    for i, (a, b, is_next) in enumerate(pairs):
        expect(a == sentences[i], f"pair {i} has a = {a!r}; expected {sentences[i]!r}.")
        if is_next == 1:
            expect(b == sentences[i + 1], f"pair {i} is labelled 1 but b = {b!r} is not the next sentence.")
        else:
            expect(b not in (sentences[i], sentences[i + 1]),
                   f"pair {i} is labelled 0 but b = {b!r} is a itself or the next sentence.")
    positives = sum(int(p[2]) for p in pairs)
    expect(70 <= positives <= 130, f"{positives} of 200 pairs have is_next = 1; expected about 100.")


# ---------------------------------------------------------------- BertEmbeddings

@check("heads.BertEmbeddings", weight=2)
def test_visible_bert_shape_and_norm(student):
    """output (B, T, d_model); each vector has mean 0 (the norm's bias is 0 at the start)"""
    module = student.heads.BertEmbeddings(20, 8, max_len=16)
    out = module(torch.tensor([[3, 4, 5, 6], [7, 8, 9, 1]]), torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]]))
    expect_shape(out, (2, 4, 8), what="BertEmbeddings(20, 8, max_len=16) on (2, 4) tokens")
    expect_close(torch.as_tensor(out).detach().mean(-1), np.zeros((2, 4)),
                 what="the mean of each output vector (after the layer norm)", rtol=0, atol=1e-5)


# ---------------------------------------------------------------- ViT

@check("heads.ViT", weight=2)
def test_visible_vit_logits(student):
    """logits (B, num_classes) for a batch of 8 x 8 images cut into 4 x 4 patches"""
    torch.manual_seed(0)
    model = student.heads.ViT(8, 4, 1, 5, 16, 2, 2, 32)
    out = model(torch.randn(3, 1, 8, 8))
    expect_shape(out, (3, 5), what="ViT(8, 4, 1, 5, 16, 2, 2, 32) on (3, 1, 8, 8) images")
    names = sorted(n for n, v in dict(model.state_dict(keep_vars=True)).items()
                   if isinstance(v, torch.nn.Parameter) and ("." not in n or n.startswith(("patch_embed.", "head."))))
    expect(names == ["cls_token", "head.bias", "head.weight", "patch_embed.bias", "patch_embed.weight", "pos_embed"],
           f"the ViT's own parameters (outside the encoder) are {names}; expected cls_token, pos_embed, "
           "patch_embed and head.")
