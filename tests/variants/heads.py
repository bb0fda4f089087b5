"""Variants of the heads exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/heads.py (tests.support.make_submission).
"""

WRONG = {
    "heads.mean_pool": {
        # padding averaged in
        "ignores_mask": '''
def mean_pool(h, mask=None):
    return h.mean(dim=1)
''',
        # padding zeroed but divided by T instead of the number of real tokens
        "divides_by_T": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    return (h * mask.unsqueeze(-1)).sum(dim=1) / h.shape[1]
''',
        # 0 / 0 = NaN for a row without real tokens
        "no_clamp_nan": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1)
''',
        # values fixed after the fact: right numbers, NaN gradients
        "nan_to_num_after_divide": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    m = mask.unsqueeze(-1).to(h.dtype)
    return torch.nan_to_num((h * m).sum(dim=1) / m.sum(dim=1))
''',
        "where_after_divide": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    m = mask.unsqueeze(-1).to(h.dtype)
    count = m.sum(dim=1)
    return torch.where(count > 0, (h * m).sum(dim=1) / count, torch.zeros_like(count))
''',
        # True read as "padding"
        "mask_inverted": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    m = (~mask).unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
''',
        # lengths = number of real tokens, then the first `length` positions: right only for right padding
        "assumes_right_padding": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    lengths = mask.sum(dim=1)
    rows = []
    for b in range(h.shape[0]):
        n = int(lengths[b])
        rows.append(h[b, :n].mean(dim=0) if n > 0 else torch.zeros_like(h[b, 0]))
    return torch.stack(rows)
''',
        # a loop into torch.zeros(...) without dtype: float64 comes back as float32
        "loop_default_dtype": '''
def mean_pool(h, mask=None):
    if mask is None:
        mask = torch.ones(h.shape[:2], dtype=torch.bool)
    out = torch.zeros(h.shape[0], h.shape[2])
    for b in range(h.shape[0]):
        if mask[b].any():
            out[b] = h[b, mask[b]].mean(dim=0)
    return out
''',
        # forgets that the mask is optional
        "mask_required": '''
def mean_pool(h, mask=None):
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
''',
        # decoder-style pooling: the last real token's vector instead of the mean (depends on order)
        "last_real_token": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h[:, -1]
    last = mask.shape[1] - 1 - mask.flip(1).to(torch.int64).argmax(dim=1)
    pooled = h[torch.arange(h.shape[0]), last]
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))
''',
        # zeroes the padding of the caller's h in place: right values, but autograd refuses it
        "masked_fill_in_place": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.mean(dim=1)
    keep = mask.unsqueeze(-1)
    h.masked_fill_(~keep, 0.0)
    return h.sum(dim=1) / keep.sum(dim=1).clamp(min=1).to(h.dtype)
''',
        # a stub: zeros of the right shape and dtype (earns nothing: its passes are all properties)
        "returns_zeros_of_the_right_shape": '''
def mean_pool(h, mask=None):
    return torch.zeros(h.shape[0], h.shape[2], dtype=h.dtype)
''',
    },
    "heads.cls_pool": {
        # a stub: zeros of the right shape and dtype
        "returns_zeros_of_the_right_shape": '''
def cls_pool(h):
    return torch.zeros(h.shape[0], h.shape[2], dtype=h.dtype)
''',
        "last_position": '''
def cls_pool(h):
    return h[:, -1]
''',
        "first_sequence": '''
def cls_pool(h):
    return h[0]
''',
        "keeps_time_axis": '''
def cls_pool(h):
    return h[:, :1]
''',
        "first_feature": '''
def cls_pool(h):
    return h[..., 0]
''',
        "casts_to_float32": '''
def cls_pool(h):
    return h[:, 0].float()
''',
        "detached": '''
def cls_pool(h):
    return h[:, 0].detach()
''',
        "mean_instead": '''
def cls_pool(h):
    return h.mean(dim=1)
''',
    },
    "heads.mlm_mask": {
        # the 80/10/10 forgotten: every chosen token becomes [MASK]
        "always_mask_id": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    inputs = tokens.clone()
    inputs[chosen] = mask_id
    return inputs, labels
''',
        # the classic slip of the Hugging Face recipe: the "random" draw with 0.1 instead of 0.5
        # among the 20% left, so only 2% of the chosen tokens become random
        "random_prob_not_conditional": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = torch.bernoulli(torch.full(tokens.shape, mask_prob), generator=generator).bool() & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    inputs = tokens.clone()
    replaced = torch.bernoulli(torch.full(tokens.shape, 0.8), generator=generator).bool() & chosen
    inputs[replaced] = mask_id
    rand = torch.bernoulli(torch.full(tokens.shape, 0.1), generator=generator).bool() & chosen & ~replaced
    random_ids = torch.randint(vocab_size, tokens.shape, generator=generator)
    inputs[rand] = random_ids[rand]
    return inputs, labels
''',
        # the 10% random drawn over ALL tokens, not only the chosen ones
        "random_over_all_tokens": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = (u >= 0.8) & (u < 0.9) & ~special
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # labels only where [MASK] was put: random and unchanged chosen tokens get -100
        "labels_only_at_mask": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    u = torch.rand(tokens.shape, generator=generator)
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    inputs = tokens.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = torch.randint(vocab_size, tokens.shape, generator=generator)[to_random]
    labels = torch.where(to_mask, tokens, torch.full_like(tokens, -100))
    return inputs, labels
''',
        # inputs aliases tokens, so the labels read the already-replaced ids
        "aliases_tokens": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    return inputs, labels
''',
        # 0 instead of -100 where not chosen
        "labels_zero": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.zeros_like(tokens))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # special ids forgotten
        "specials_not_excluded": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    chosen = torch.rand(tokens.shape, generator=generator) < mask_prob
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # 15% hard-coded
        "ignores_mask_prob": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < 0.15) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # torch.randint(vocab_size - 1): the last id is never drawn
        "random_upper_bound_off_by_one": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(0, vocab_size - 1, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # the "random" token taken from the batch itself (shuffled): never a token absent from it
        "random_from_batch": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    flat = tokens.reshape(-1)
    shuffled = flat[torch.randperm(flat.numel(), generator=generator)].reshape(tokens.shape)
    inputs[rand] = shuffled[rand]
    return inputs, labels
''',
        # the generator is ignored: torch's global generator decides
        "ignores_generator": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape)[rand]
    return inputs, labels
''',
        # the generator used for the choice but forgotten for the random ids
        "generator_forgotten_once": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape)[rand]
    return inputs, labels
''',
        # labels made with a float fill value
        "float_labels": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    chosen = (torch.rand(tokens.shape, generator=generator) < mask_prob) & ~special
    labels = torch.full(tokens.shape, -100.0)
    labels[chosen] = tokens[chosen].float()
    u = torch.rand(tokens.shape, generator=generator)
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = mask_id
    rand = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rand] = torch.randint(vocab_size, tokens.shape, generator=generator)[rand]
    return inputs, labels
''',
        # Hugging Face's DataCollatorForLanguageModeling recipe, which owns its batch: labels are a
        # clone, but the replacements are written into the caller's tokens
        "hf_collator_in_place": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    labels = tokens.clone()
    probability_matrix = torch.full(labels.shape, mask_prob)
    special_tokens_mask = torch.isin(labels, torch.tensor(list(special_ids), dtype=labels.dtype))
    probability_matrix.masked_fill_(special_tokens_mask, value=0.0)
    masked_indices = torch.bernoulli(probability_matrix, generator=generator).bool()
    labels[~masked_indices] = -100
    indices_replaced = torch.bernoulli(torch.full(labels.shape, 0.8), generator=generator).bool() & masked_indices
    tokens[indices_replaced] = mask_id
    indices_random = (torch.bernoulli(torch.full(labels.shape, 0.5), generator=generator).bool()
                      & masked_indices & ~indices_replaced)
    random_words = torch.randint(vocab_size, labels.shape, dtype=torch.long, generator=generator)
    tokens[indices_random] = random_words[indices_random]
    return tokens, labels
''',
        # a stub: nothing chosen, the right types
        "chooses_nothing": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    return tokens.clone(), torch.full_like(tokens, -100)
''',
    },
    "heads.patchify": {
        # a stub: zeros of the right shape and dtype
        "returns_zeros_of_the_right_shape": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    return torch.zeros(B, (H // p) * (W // p), C * p * p, dtype=images.dtype)
''',
        # reshape straight to (B, N, C*p*p): the numbers are not patches
        "reshape_without_permute": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    return images.reshape(B, (H // p) * (W // p), C * p * p)
''',
        # (p, p, C) order inside a patch, as in a channels-last einops pattern
        "channels_last_in_patch": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, (H // p) * (W // p), C * p * p)
''',
        # patches in column-major order
        "column_major_patches": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)
''',
        # H and W mixed up: right for square images only
        "height_width_swapped": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, W // p, p, H // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)
''',
        # reshape(B, C, p, H/p, p, W/p): strided "patches" of every (H/p)-th pixel
        "strided_not_contiguous_patches": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, p, H // p, p, W // p).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(B, (H // p) * (W // p), C * p * p)
''',
        # .view after permute: the tensor is no longer contiguous
        "view_after_permute": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.view(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.view(B, (H // p) * (W // p), C * p * p)
''',
        # a loop into torch.zeros without dtype: float64 images come back as float32
        "loop_default_dtype": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    cols = W // p
    out = torch.zeros(B, (H // p) * cols, C * p * p)
    for r in range(H // p):
        for c in range(cols):
            out[:, r * cols + c] = images[:, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(B, -1)
    return out
''',
        # done in numpy: right numbers, no gradient
        "through_numpy": '''
def patchify(images, patch_size):
    import numpy as np
    B, C, H, W = images.shape
    p = patch_size
    x = images.detach().numpy().reshape(B, C, H // p, p, W // p, p).transpose(0, 2, 4, 1, 3, 5)
    return torch.from_numpy(np.ascontiguousarray(x.reshape(B, (H // p) * (W // p), C * p * p)))
''',
    },
}

RIGHT = {
    "heads.mean_pool": {
        "einsum_weights": '''
def mean_pool(h, mask=None):
    if mask is None:
        mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
    w = mask.to(h.dtype)
    w = w / w.sum(dim=1, keepdim=True).clamp(min=1)
    return torch.einsum("bt,btd->bd", w, h)
''',
        "loop_rows": '''
def mean_pool(h, mask=None):
    rows = []
    for b in range(h.shape[0]):
        real = h[b] if mask is None else h[b][mask[b]]
        rows.append(real.mean(dim=0) if real.shape[0] > 0 else h.new_zeros(h.shape[2]))
    return torch.stack(rows)
''',
        # sentence-transformers' mean pooling: the mask expanded to h's size, the count clamped to 1e-9
        "sentence_transformers_clamp": '''
def mean_pool(h, mask=None):
    if mask is None:
        return torch.mean(h, 1)
    input_mask_expanded = mask.unsqueeze(-1).expand(h.size()).to(h.dtype)
    sum_embeddings = torch.sum(h * input_mask_expanded, 1)
    sum_mask = torch.clamp(input_mask_expanded.sum(1), min=1e-9)
    return sum_embeddings / sum_mask
''',
        "where_then_safe_divide": '''
def mean_pool(h, mask=None):
    if mask is None:
        return h.sum(dim=1) / h.shape[1]
    m = mask[..., None]
    total = torch.where(m, h, torch.zeros((), dtype=h.dtype)).sum(dim=1)
    count = m.sum(dim=1)
    safe = torch.where(count > 0, count, torch.ones_like(count)).to(h.dtype)
    return total / safe
''',
    },
    "heads.cls_pool": {
        "select": '''
def cls_pool(h):
    return h.select(1, 0)
''',
        "narrow_squeeze": '''
def cls_pool(h):
    return h.narrow(1, 0, 1).squeeze(1)
''',
        "index_select": '''
def cls_pool(h):
    return torch.index_select(h, 1, torch.zeros(1, dtype=torch.long, device=h.device))[:, 0, :]
''',
    },
    "heads.mlm_mask": {
        # the Hugging Face recipe: Bernoulli draws, 0.8 then 0.5 of the rest
        "bernoulli_recipe": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.isin(tokens, torch.tensor(list(special_ids), dtype=tokens.dtype))
    probs = torch.full(tokens.shape, float(mask_prob)).masked_fill(special, 0.0)
    chosen = torch.bernoulli(probs, generator=generator).bool()
    labels = tokens.masked_fill(~chosen, -100)
    replaced = torch.bernoulli(torch.full(tokens.shape, 0.8), generator=generator).bool() & chosen
    inputs = tokens.masked_fill(replaced, mask_id)
    rand = torch.bernoulli(torch.full(tokens.shape, 0.5), generator=generator).bool() & chosen & ~replaced
    random_ids = torch.randint(vocab_size, tokens.shape, dtype=tokens.dtype, generator=generator)
    inputs = torch.where(rand, random_ids, inputs)
    return inputs, labels
''',
        # another order of draws, and one categorical draw for the 80/10/10
        "multinomial_split": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    n = tokens.numel()
    random_ids = torch.randint(0, vocab_size, (n,), generator=generator).view(tokens.shape)
    kind = torch.multinomial(torch.tensor([0.8, 0.1, 0.1]), n, replacement=True,
                             generator=generator).view(tokens.shape)
    chosen = torch.rand(tokens.shape, generator=generator) < mask_prob
    for sid in special_ids:
        chosen = chosen & (tokens != sid)
    labels = torch.where(chosen, tokens, -100)
    inputs = torch.where(chosen & (kind == 0), mask_id, tokens)
    inputs = torch.where(chosen & (kind == 1), random_ids, inputs)
    return inputs, labels
''',
        # a random replacement never equal to the original token is fine too
        "random_excludes_original": '''
def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special = special | (tokens == sid)
    u = torch.rand((2,) + tuple(tokens.shape), generator=generator)
    chosen = (u[0] < mask_prob) & ~special
    shift = torch.randint(1, vocab_size, tokens.shape, generator=generator)
    random_ids = (tokens + shift) % vocab_size
    inputs = tokens.clone()
    inputs[chosen & (u[1] < 0.8)] = mask_id
    rand = chosen & (u[1] >= 0.8) & (u[1] < 0.9)
    inputs[rand] = random_ids[rand]
    labels = tokens.clone()
    labels[~chosen] = -100
    return inputs, labels
''',
    },
    "heads.patchify": {
        # ViT's own patch embedding: a convolution with an identity kernel and stride p
        "conv2d_identity": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    k = C * p * p
    weight = torch.eye(k, dtype=images.dtype, device=images.device).reshape(k, C, p, p)
    out = torch.nn.functional.conv2d(images, weight, stride=p)
    return out.flatten(2).transpose(1, 2)
''',
        "loop_stack": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    patches = []
    for top in range(0, H, p):
        for left in range(0, W, p):
            patches.append(images[:, :, top:top + p, left:left + p].reshape(B, -1))
    return torch.stack(patches, dim=1)
''',
        "rows_then_columns": '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    x = images.reshape(B, C, H // p, p, W, ).reshape(B, C, H // p, p, W // p, p)
    x = x.permute(0, 2, 4, 1, 3, 5).contiguous()
    return x.flatten(3).flatten(1, 2)
''',
    },
}


# ---------------------------------------------------------------- bert_pair, nsp_pairs, BertEmbeddings, ViT

_VIT_INIT = '''
    def __init__(self, image_size, patch_size, in_channels, num_classes, d_model, num_heads, num_layers, d_ff,
                 dropout=0.0):
        super().__init__()
        self.patch_size = patch_size
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Linear(in_channels * patch_size * patch_size, d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, num_patches + 1, d_model))
        self.dropout = nn.Dropout(dropout)
        layer = EncoderLayer(d_model, num_heads, d_ff, dropout, activation="gelu", norm_first=True)
        self.encoder = Encoder(layer, num_layers)
        self.head = nn.Linear(d_model, num_classes)
'''


def _vit(forward, init=_VIT_INIT):
    return "\nclass ViT(nn.Module):" + init + forward


_BERT_INIT = '''
    def __init__(self, vocab_size, d_model, max_len=512, num_segments=2, dropout=0.0):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.segment = nn.Embedding(num_segments, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.norm = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
'''


def _bert(forward, init=_BERT_INIT):
    return "\nclass BertEmbeddings(nn.Module):" + init + forward


_NSP_HEAD = '''
def nsp_pairs(sentences, generator=None):
    n = len(sentences)
    pairs = []
    for i in range(n - 1):
'''

WRONG.update({
    "heads.bert_pair": {
        # the first [SEP] counted in segment B
        "sep_starts_segment_b": '''
def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    tokens = torch.cat([torch.tensor([cls_id]), tokens_a, torch.tensor([sep_id]), tokens_b, torch.tensor([sep_id])])
    segments = torch.cat([torch.zeros(len(tokens_a) + 1, dtype=torch.long),
                          torch.ones(len(tokens_b) + 2, dtype=torch.long)])
    return tokens, segments
''',
        # [CLS] A [SEP] B: no closing [SEP]
        "no_final_sep": '''
def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    tokens = torch.cat([torch.tensor([cls_id]), tokens_a, torch.tensor([sep_id]), tokens_b])
    segments = torch.cat([torch.zeros(len(tokens_a) + 2, dtype=torch.long), torch.ones(len(tokens_b), dtype=torch.long)])
    return tokens, segments
''',
        # the last [SEP] given segment 0, like the first
        "every_sep_segment_a": '''
def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    tokens = torch.cat([torch.tensor([cls_id]), tokens_a, torch.tensor([sep_id]), tokens_b, torch.tensor([sep_id])])
    segments = (tokens != sep_id).long() * 0
    segments[len(tokens_a) + 2:-1] = 1
    return tokens, segments
''',
        # float segment ids (torch.zeros / torch.ones without dtype)
        "float_segments": '''
def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    tokens = torch.cat([torch.tensor([cls_id]), tokens_a, torch.tensor([sep_id]), tokens_b, torch.tensor([sep_id])])
    segments = torch.cat([torch.zeros(len(tokens_a) + 2), torch.ones(len(tokens_b) + 1)])
    return tokens, segments
''',
    },
    "heads.nsp_pairs": {
        # the negative drawn from the whole document: sometimes the true next sentence
        "negative_may_be_next": _NSP_HEAD + '''
        if torch.rand((), generator=generator) < 0.5:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = int(torch.randint(n, (), generator=generator))
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # redrawn only when it hits the next sentence: a itself may be the negative
        "negative_may_be_a": _NSP_HEAD + '''
        if torch.rand((), generator=generator) < 0.5:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = i + 1
            while j == i + 1:
                j = int(torch.randint(n, (), generator=generator))
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # never a negative
        "always_positive": '''
def nsp_pairs(sentences, generator=None):
    return [(sentences[i], sentences[i + 1], 1) for i in range(len(sentences) - 1)]
''',
        # the coin weighted towards positives (a threshold of 0.7, not 0.5)
        "unbalanced_coin": _NSP_HEAD + '''
        others = [j for j in range(n) if j not in (i, i + 1)]
        if torch.rand((), generator=generator) < 0.7 or not others:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = others[int(torch.randint(len(others), (), generator=generator))]
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # the negative is always the sentence two ahead (or the first one): not random
        "negative_two_ahead": _NSP_HEAD + '''
        if torch.rand((), generator=generator) < 0.5 or n == 2:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = i + 2 if i + 2 < n else (0 if i != 0 else 2)
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # a pair without any candidate negative is left out: a two-sentence document gives nothing
        "skips_without_candidates": _NSP_HEAD + '''
        others = [j for j in range(n) if j not in (i, i + 1)]
        if not others:
            continue
        if torch.rand((), generator=generator) < 0.5:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = others[int(torch.randint(len(others), (), generator=generator))]
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # non-overlapping pairs: (0, 1), (2, 3), ...
        "steps_of_two": '''
def nsp_pairs(sentences, generator=None):
    n = len(sentences)
    pairs = []
    for i in range(0, n - 1, 2):
        others = [j for j in range(n) if j not in (i, i + 1)]
        if torch.rand((), generator=generator) < 0.5 or not others:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            j = others[int(torch.randint(len(others), (), generator=generator))]
            pairs.append((sentences[i], sentences[j], 0))
    return pairs
''',
        # Python's random module: the generator is ignored
        "python_random": '''
def nsp_pairs(sentences, generator=None):
    import random
    n = len(sentences)
    pairs = []
    for i in range(n - 1):
        others = [j for j in range(n) if j not in (i, i + 1)]
        if random.random() < 0.5 or not others:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            pairs.append((sentences[i], sentences[random.choice(others)], 0))
    return pairs
''',
    },
    "heads.BertEmbeddings": {
        # the three embeddings summed, never normalised
        "no_norm": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.dropout(self.token(tokens) + self.segment(segments) + self.position(positions))
'''),
        # the position table exists but is never added
        "positions_not_added": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        return self.dropout(self.norm(self.token(tokens) + self.segment(segments)))
'''),
        # segments=None read as "no segment embedding"
        "no_segment_when_none": _bert('''
    def forward(self, tokens, segments=None):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        if segments is not None:
            x = x + self.segment(segments)
        return self.dropout(self.norm(x))
'''),
        # the Transformer's habit: token embeddings times sqrt(d_model)
        "scaled_by_sqrt_d": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token(tokens) * self.token.embedding_dim ** 0.5 + self.segment(segments) + self.position(positions)
        return self.dropout(self.norm(x))
'''),
        # dropout before the norm: the norm undoes the zeros
        "dropout_before_norm": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.norm(self.dropout(self.token(tokens) + self.segment(segments) + self.position(positions)))
'''),
        # the sum made in a float64 tensor: a float32 module gives float64
        "float64_accumulator": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = torch.zeros(*tokens.shape, self.token.embedding_dim, dtype=torch.float64)
        x = x + self.token(tokens) + self.segment(segments) + self.position(positions)
        return self.dropout(self.norm(x))
'''),
        # the positions looked up without gradient: their table never learns
        "positions_without_grad": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        with torch.no_grad():
            pos = self.position(torch.arange(tokens.shape[1], device=tokens.device))
        return self.dropout(self.norm(self.token(tokens) + self.segment(segments) + pos))
'''),
        # the positions as a bare parameter under another name
        "position_parameter": _bert('''
    def forward(self, tokens, segments=None):
        if segments is None:
            segments = torch.zeros_like(tokens)
        x = self.token(tokens) + self.segment(segments) + self.pos[:tokens.shape[1]]
        return self.dropout(self.norm(x))
''', init='''
    def __init__(self, vocab_size, d_model, max_len=512, num_segments=2, dropout=0.0):
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.segment = nn.Embedding(num_segments, d_model)
        self.pos = nn.Parameter(torch.randn(max_len, d_model))
        self.norm = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
'''),
    },
    "heads.ViT": {
        # the mean of every position's output classified, not the [CLS] vector
        "classifies_the_mean": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x)).mean(dim=1))
'''),
        # pos_embed made, never added
        "forgets_pos_embed": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(self.encoder(self.dropout(x))[:, 0])
'''),
        # [CLS] appended after the patches, and read there
        "cls_at_the_end": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size))
        x = torch.cat([x, self.cls_token.expand(x.shape[0], -1, -1)], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, -1])
'''),
        # patches cut column by column
        "column_major_patches": _vit('''
    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * p * p)
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, 0])
'''),
        # the paper's post-norm layers, and ReLU, the EncoderLayer's defaults
        "post_norm_layers": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, 0])
''', init=_VIT_INIT.replace('activation="gelu", norm_first=True', 'norm_first=False')),
        "relu_layers": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, 0])
''', init=_VIT_INIT.replace('activation="gelu", ', '')),
        # positions for the patches only: N rows, the [CLS] gets none
        "no_position_for_cls": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images, self.patch_size)) + self.pos_embed
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head(self.encoder(self.dropout(x))[:, 0])
''', init=_VIT_INIT.replace("num_patches + 1, d_model", "num_patches, d_model")),
        # the images made float64 "to be safe": a float32 model can no longer read them
        "images_to_float64": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images.double(), self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, 0])
'''),
        # the images detached: no gradient reaches them
        "images_detached": _vit('''
    def forward(self, images):
        x = self.patch_embed(patchify(images.detach(), self.patch_size))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.encoder(self.dropout(x))[:, 0])
'''),
    },
})

RIGHT.update({
    "heads.bert_pair": {
        "python_lists": '''
def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    a, b = [int(t) for t in tokens_a], [int(t) for t in tokens_b]
    tokens = [cls_id] + a + [sep_id] + b + [sep_id]
    segments = [0 if k <= len(a) + 1 else 1 for k in range(len(tokens))]
    return torch.tensor(tokens, dtype=torch.long), torch.tensor(segments, dtype=torch.long)
''',
    },
    "heads.nsp_pairs": {
        # a Bernoulli coin, and a negative redrawn until it is neither a nor the next sentence
        "bernoulli_and_redraw": '''
def nsp_pairs(sentences, generator=None):
    n = len(sentences)
    half = torch.tensor(0.5)
    out = []
    for i, a in enumerate(sentences[:-1]):
        if n == 2 or torch.bernoulli(half, generator=generator).item() == 1:
            out.append((a, sentences[i + 1], 1))
            continue
        while True:
            j = int(torch.randint(0, n, (1,), generator=generator)[0])
            if j != i and j != i + 1:
                break
        out.append((a, sentences[j], 0))
    return out
''',
    },
    "heads.BertEmbeddings": {
        # tables indexed directly, the default segment as row 0 of its table
        "tables_indexed": _bert('''
    def forward(self, tokens, segments=None):
        T = tokens.shape[1]
        seg = self.segment.weight[0] if segments is None else self.segment(segments)
        x = self.token(tokens) + seg + self.position.weight[:T].unsqueeze(0)
        return self.dropout(self.norm(x))
'''),
    },
    "heads.ViT": {
        # patches cut inline, embedded with F.linear, the [CLS] repeated, its output taken with narrow
        "inline_patches": _vit('''
    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        rows = [images[:, :, r:r + p, c:c + p].flatten(1) for r in range(0, H, p) for c in range(0, W, p)]
        x = torch.nn.functional.linear(torch.stack(rows, dim=1), self.patch_embed.weight, self.patch_embed.bias)
        x = torch.cat((self.cls_token.repeat(B, 1, 1), x), dim=1)
        x = self.dropout(x + self.pos_embed.expand(B, -1, -1))
        return self.head(self.encoder(x).narrow(1, 0, 1).squeeze(1))
'''),
    },
})
