"""Checks of the decoding module that you can run yourself with `course check`.

They are a subset of what grading runs: passing them is a good sign, not a guarantee.
The models here are toy models with the Transformer's interface (model.encode, model.decode)
whose next-token probabilities are known, made by the grader (grader/fixtures.py).
"""

import math

import torch

from grader import fixtures
from grader.checks import CheckFailed, check, describe, expect, expect_close, expect_equal

PAD, BOS, EOS = 0, 1, 2


def _chain_model(student):
    """A counting model: after bos comes the word s + 2 for a source row of tokens s, then
    every word w is followed by w + 1 up to 9, which is followed by eos."""
    return student.fixtures.MarkovLM(*fixtures.counting_chain())


def _trap_model(student):
    """pad 0, bos 1, eos 2, a 3, b 4. After bos: a .53, b .42; after a: eos .34; after b: eos .93."""
    probs = torch.tensor([
        [0.21, 0.05, 0.30, 0.25, 0.19],
        [0.011, 0.009, 0.03, 0.53, 0.42],
        [0.21, 0.05, 0.30, 0.25, 0.19],
        [0.011, 0.009, 0.34, 0.33, 0.31],
        [0.011, 0.009, 0.93, 0.02, 0.03],
    ], dtype=torch.float64)
    return student.fixtures.MarkovLM(probs.log())


def _prefix_table():
    """Logits of 11 states over 7 tokens for PrefixLM, whose state depends on the whole prefix
    (seen through tgt_mask) and on the source (seen through src_mask)."""
    i = torch.arange(11 * 7, dtype=torch.float64).reshape(11, 7)
    table = 2.5 * torch.sin(1.7 * i + 0.3)
    table[:, [PAD, BOS]] -= 4.0
    return table


def _expect_tokens(got, want, where):
    expect(isinstance(got, torch.Tensor), f"{where}: greedy_decode should return a tensor, but it returned {describe(got)}.")
    if tuple(got.shape) != tuple(want.shape) or not torch.equal(got.to(torch.int64), want):
        raise CheckFailed(f"{where}:\n  got:      {got.tolist()}\n  expected: {want.tolist()}")


def _hyps(result, call):
    expect(isinstance(result, (list, tuple)) and len(result) > 0,
           f"{call} should return a non-empty list of (tokens, logprob) pairs, but it returned {describe(result)}.")
    out = []
    for item in result:
        tokens = item[0] if isinstance(item, (list, tuple)) and len(item) == 2 else None
        expect(isinstance(tokens, (torch.Tensor, list, tuple)),
               f"{call} returned the item {describe(item)}; expected a pair (tokens as a 1-D integer tensor or a "
               "list of ints, logprob).")
        out.append((tokens.tolist() if isinstance(tokens, torch.Tensor) else [int(t) for t in tokens], float(item[1])))
    return out


# ---------------------------------------------------------------- greedy_decode

@check("decoding.greedy_decode", weight=2)
def test_greedy_batch(student):
    """a batch of 3 rows finishing at different steps: pad after eos, stop when all have finished"""
    model = _chain_model(student)
    src = torch.tensor([[1, 1, 1], [5, 5, 5], [3, 3, 3]])
    got = student.decoding.greedy_decode(model, src, 12, BOS, EOS, pad_id=PAD)
    want = torch.tensor([[1, 3, 4, 5, 6, 7, 8, 9, 2],
                         [1, 7, 8, 9, 2, 0, 0, 0, 0],
                         [1, 5, 6, 7, 8, 9, 2, 0, 0]])
    _expect_tokens(got, want, "greedy_decode(model, src, max_len=12, bos_id=1, eos_id=2, pad_id=0)")
    expect(got.dtype == torch.int64, f"greedy_decode returned dtype {got.dtype}; token ids are torch.long (int64).")


@check("decoding.greedy_decode")
def test_visible_greedy_max_len(student):
    """max_len counts bos: rows without eos stop at max_len tokens"""
    model = _chain_model(student)
    src = torch.tensor([[1, 1], [5, 5]])
    got = student.decoding.greedy_decode(model, src, 5, BOS, EOS, pad_id=PAD)
    _expect_tokens(got, torch.tensor([[1, 3, 4, 5, 6], [1, 7, 8, 9, 2]]),
                   "greedy_decode(model, src, max_len=5, bos_id=1, eos_id=2, pad_id=0)")


@check("decoding.greedy_decode", weight=2)
def test_greedy_prefix_model(student):
    """a model that reads the whole prefix (through the causal mask) and a padded source (src_mask)"""
    model = student.fixtures.PrefixLM(_prefix_table())
    src = torch.tensor([[4, 7, 5], [9, 3, 0], [6, 6, 6], [8, 0, 0]])
    mask = (src != PAD)[:, None, :]
    got = student.decoding.greedy_decode(model, src, 8, BOS, EOS, pad_id=PAD, src_mask=mask)
    want = torch.tensor([[1, 2, 0, 0, 0, 0, 0, 0], [1, 5, 6, 3, 5, 3, 5, 3],
                         [1, 5, 6, 3, 5, 3, 5, 3], [1, 3, 3, 3, 4, 4, 5, 3]])
    _expect_tokens(got, want, "greedy_decode(model, src, 8, bos_id=1, eos_id=2, pad_id=0, src_mask=mask) on a model "
                   "that needs the whole prefix, causal_mask(T) and src_mask at every step")


@check("decoding.greedy_decode", kind="property")
def test_greedy_mode_and_grad(student):
    """the model's mode is unchanged and no gradient is recorded"""
    model = _chain_model(student)
    model.train()
    student.decoding.greedy_decode(model, torch.tensor([[1, 1], [3, 3]]), 4, BOS, EOS)
    expect(bool(model.training), "greedy_decode switched the model out of training mode; leave its mode alone.")
    expect(not any(c.get("grad_enabled") for c in model.calls),
           "the model ran with gradients enabled: decode inside `with torch.no_grad():`.")


# ---------------------------------------------------------------- beam_search

@check("decoding.beam_search")
def test_beam_one_is_greedy(student):
    """beam_size = 1 returns greedy's sequence, a-then-eos, with log(.53) + log(.34)"""
    call = "beam_search(model, src, beam_size=1, max_len=5, bos_id=1, eos_id=2)"
    got = _hyps(student.decoding.beam_search(_trap_model(student), torch.tensor([[3, 4]]), 1, 5, BOS, EOS), call)
    expect(len(got) == 1, f"{call} returned {len(got)} hypotheses; expected 1.")
    expect_equal(got[0][0], [1, 3, 2], what="the tokens of the hypothesis")
    expect_close(got[0][1], math.log(0.53) + math.log(0.34), what="its logprob", rtol=1e-7, atol=1e-9)


@check("decoding.beam_search", weight=2)
def test_beam_two_beats_greedy(student):
    """beam_size = 2 finds bos b eos (p = .39), better than greedy's bos a eos (p = .18), best first"""
    call = "beam_search(model, src, beam_size=2, max_len=5, bos_id=1, eos_id=2)"
    got = _hyps(student.decoding.beam_search(_trap_model(student), torch.tensor([[3, 4]]), 2, 5, BOS, EOS), call)
    want = [([1, 4, 2], math.log(0.42) + math.log(0.93)), ([1, 3, 2], math.log(0.53) + math.log(0.34))]
    expect([t for t, _ in got] == [t for t, _ in want],
           f"{call} returned the hypotheses {[t for t, _ in got]}; expected {[t for t, _ in want]} (best first).")
    for (tokens, score), (_, expected) in zip(got, want):
        expect_close(score, expected, what=f"the logprob of {tokens}", rtol=1e-7, atol=1e-9)


@check("decoding.beam_search")
def test_visible_beam_logprobs_are_sums(student):
    """each logprob is the sum of the model's log-probabilities of the tokens after bos"""
    table = _prefix_table()
    src = torch.tensor([[4, 7, 5, 0]])
    mask = (src != PAD)[:, None, :]
    call = "beam_search(model, src, beam_size=3, max_len=6, bos_id=1, eos_id=2, src_mask=mask)"
    got = _hyps(student.decoding.beam_search(student.fixtures.PrefixLM(table), src, 3, 6, BOS, EOS, src_mask=mask), call)
    here = fixtures.PrefixLM(table)
    for tokens, score in got:
        expect_close(score, fixtures.sequence_logprob(here, src, tokens, mask),
                     what=f"the logprob of {tokens} (sum of log_softmax over the tokens after bos)", rtol=1e-7, atol=1e-9)


@check("decoding.beam_search")
def test_beam_well_formed(student):
    """hypotheses start with bos, end at their eos (or at max_len), are sorted and are beam_size many"""
    call = "beam_search(model, src, beam_size=3, max_len=3, bos_id=1, eos_id=2)"
    got = _hyps(student.decoding.beam_search(_trap_model(student), torch.tensor([[3, 4]]), 3, 3, BOS, EOS), call)
    expect(len(got) == 3, f"{call} returned {len(got)} hypotheses; expected beam_size = 3.")
    for tokens, _ in got:
        expect(tokens[0] == BOS and len(tokens) <= 3 and (EOS not in tokens or tokens.index(EOS) == len(tokens) - 1),
               f"{call} returned the hypothesis {tokens}: it must start with bos (1), have at most max_len = 3 "
               "tokens and stop at its eos (2).")
    scores = [s for _, s in got]
    expect(scores == sorted(scores, reverse=True), f"{call} returned logprobs {scores}: not sorted best first.")


# ---------------------------------------------------------------- filter_logits

@check("decoding.filter_logits")
def test_visible_filter_examples(student):
    """probabilities .5 .3 .15 .05: top_k = 2 and top_p = 0.7 keep a and b; top_p = 0.85 keeps c too"""
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]], dtype=torch.float64).log()
    inf = float("-inf")
    for kwargs, keep in (({"top_k": 2}, [0, 1]), ({"top_p": 0.7}, [0, 1]), ({"top_p": 0.85}, [0, 1, 2]),
                         ({"top_k": 9}, [0, 1, 2, 3]), ({"top_p": 1e-9}, [0])):
        got = student.decoding.filter_logits(logits.clone(), **kwargs)
        want = torch.tensor([[float(logits[0, i]) if i in keep else inf for i in range(4)]], dtype=torch.float64)
        call = f"filter_logits(log([.5, .3, .15, .05]), {', '.join(f'{k}={v}' for k, v in kwargs.items())})"
        expect(isinstance(got, torch.Tensor) and torch.equal(got, want),
               f"{call} returned {describe(got)}; expected {want.tolist()} (kept entries unchanged, -inf elsewhere).")


# ---------------------------------------------------------------- sample_next

@check("decoding.sample_next")
def test_visible_sample_frequencies(student):
    """4000 draws at temperature 2 land on each token about as often as softmax(logits / 2) says"""
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(4000, 1)
    got = student.decoding.sample_next(logits, temperature=2.0, generator=student.fixtures.make_generator(0))
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (4000,) and got.dtype == torch.int64,
           f"sample_next(logits (4000, 4), temperature=2.0) returned {describe(got)}; expected a LongTensor (4000,).")
    freq = torch.bincount(got, minlength=4)[:4].double() / 4000
    want = torch.softmax(torch.tensor([2.0, 1.0, 0.0, -1.0], dtype=torch.float64) / 2, dim=0)
    expect(bool(((freq - want).abs() < 0.03).all()),
           f"sample_next drew the tokens with frequencies {[round(float(f), 3) for f in freq]}; softmax(logits / 2) is "
           f"{[round(float(p), 3) for p in want]}.")


@check("decoding.sample_next")
def test_visible_sample_top_k_one(student):
    """top_k = 1 always gives the argmax, and the same seed gives the same draws"""
    logits = torch.tensor([[0.1, 0.9, 0.3], [2.0, -1.0, 0.5]])
    got = student.decoding.sample_next(logits, top_k=1, generator=student.fixtures.make_generator(1))
    _expect_tokens(got, torch.tensor([1, 0]), "sample_next(logits, top_k=1)")
    a = student.decoding.sample_next(logits.repeat(50, 1), generator=student.fixtures.make_generator(7))
    b = student.decoding.sample_next(logits.repeat(50, 1), generator=student.fixtures.make_generator(7))
    expect(torch.equal(a, b), "two calls with generators seeded alike drew different tokens: draw with the generator.")


# ---------------------------------------------------------------- sample_decode

@check("decoding.sample_decode")
def test_visible_sample_decode_top_k_one(student):
    """with top_k = 1 sampling gives greedy's batch: pad after eos, stop when all have finished"""
    src = torch.tensor([[1, 1, 1], [5, 5, 5], [3, 3, 3]])
    got = student.decoding.sample_decode(_chain_model(student), src, 12, BOS, EOS, pad_id=PAD, top_k=1,
                                         generator=student.fixtures.make_generator(0))
    want = torch.tensor([[1, 3, 4, 5, 6, 7, 8, 9, 2], [1, 7, 8, 9, 2, 0, 0, 0, 0], [1, 5, 6, 7, 8, 9, 2, 0, 0]])
    _expect_tokens(got, want, "sample_decode(model, src, max_len=12, bos_id=1, eos_id=2, pad_id=0, top_k=1)")


# ---------------------------------------------------------------- cached_greedy_decode

def _small_config(norm_first):
    return dict(src_vocab=11, tgt_vocab=13, d_model=16, num_heads=2, num_encoder_layers=1,
                num_decoder_layers=2, d_ff=32, dropout=0.0, max_len=64, norm_first=norm_first)


@check("decoding.cached_greedy_decode")
def test_visible_cache_matches_your_greedy(student):
    """the same tokens as your greedy_decode on small post-norm and pre-norm Transformers, padded sources"""
    src = torch.tensor([[4, 7, 5, 9, 3], [6, 8, 0, 0, 0], [10, 3, 3, 5, 0]])
    mask = (src != PAD)[:, None, :]
    for norm_first, seed in ((False, 3), (True, 4)):
        model = student.fixtures.logged_transformer(_small_config(norm_first), None, "float64", seed)
        want = student.decoding.greedy_decode(model, src, 10, BOS, EOS, pad_id=PAD, src_mask=mask)
        got = student.decoding.cached_greedy_decode(model, src, 10, BOS, EOS, pad_id=PAD, src_mask=mask)
        _expect_tokens(got, want, f"cached_greedy_decode(model, src, 10, 1, 2, src_mask=mask) against your "
                       f"greedy_decode, norm_first={norm_first}")


@check("decoding.cached_greedy_decode")
def test_visible_cache_one_position(student):
    """each step gives the decoder's projections one position per row, and the memory is projected once"""
    src = torch.tensor([[4, 7, 5, 9], [6, 8, 0, 0]])
    model = student.fixtures.logged_transformer(_small_config(False), None, "float64", 5)
    student.decoding.cached_greedy_decode(model, src, 8, BOS, -1, pad_id=PAD, src_mask=(src != PAD)[:, None, :])
    calls = list(model.calls)
    sizes = [c["vectors"] for c in calls if c["name"] == "decoder.layers.0.self_attn.w_q"]
    expect(sizes and max(sizes) <= 2, f"decoder.layers.0.self_attn.w_q received inputs of {sizes} vectors; with a "
                                      "cache each step passes one position per row (2 here).")
    memory = sum(c["vectors"] for c in calls if c["name"] == "decoder.layers.0.cross_attn.w_k")
    expect(memory <= 8, f"decoder.layers.0.cross_attn.w_k projected {memory} vectors in all; the memory holds 2 x 4 = 8: "
                        "project it once, before the loop.")
