"""Hidden checks of the decoding module: greedy decoding of a batch and beam search for one
source (torch), on toy models with known next-token distributions (grader/fixtures.py):

- MarkovLM: the next token depends on the last token (and on the source), so brute force
  over all sequences gives the best hypothesis and every log-probability exactly;
- PrefixLM: the next token depends on the whole prefix through two rounds of masked
  "attention", so feeding only the last token or forgetting the causal mask changes it.

Every toy model takes src_mask into account (encode and decode), and logs its calls.

One mistake, one check: PrefixLM and padded sources appear only in the checks whose titles
name them (the whole prefix, src_mask); the other checks use MarkovLM and unpadded sources.
Greedy checks not about padding or stopping early do not judge what follows a row's eos.
"""

import math

import numpy as np

import torch

from grader import fixtures
from grader.checks import (CheckFailed, arguments_after, check, describe, expect, expect_close, expect_equal,
                           reference_once)

PAD, BOS, EOS = 0, 1, 2
LOGP_TOL = dict(rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- models

def _pair(student, kind, *args):
    """The same toy model twice: (here, for the expected values; in the learner's worker)."""
    return getattr(fixtures, kind)(*args), getattr(student.fixtures, kind)(*args)


def _relabel(table, bias, perm):
    """The same model with token i renamed perm[i]."""
    perm = torch.as_tensor(perm)
    new_table = torch.empty_like(table)
    new_table[perm[:, None], perm[None, :]] = table
    new_bias = torch.empty_like(bias)
    new_bias[perm] = bias
    return new_table, new_bias


def _random_markov(rng, V, bias_scale=0.4, eos_boost=0.0):
    """Random bigram logits; like a real model's, bos and pad are rarely predicted, and no token
    is likely to repeat itself (so greedy paths wander instead of looping on one token)."""
    table = torch.from_numpy(2.0 * rng.standard_normal((V, V)))
    table[:, EOS] += eos_boost
    table[:, [BOS, PAD]] -= 4.0
    table -= 3.0 * torch.eye(V, dtype=torch.float64)
    bias = torch.from_numpy(bias_scale * rng.standard_normal(V))
    table -= 14.0 * bias           # the context of a source of ids 1 .. 11 is about 14 (+- 4)
    return table, bias


def _random_prefix(rng, K, V, eos_boost=0.0):
    """Random logits for K states; like a real model's, they rarely predict bos or pad."""
    table = torch.from_numpy(2.0 * rng.standard_normal((K, V)))
    table[:, EOS] += eos_boost
    table[:, [BOS, PAD]] -= 4.0
    return table


def _src(rng, B, S, lengths=None, low=3, high=9):
    """Source ids in [low, high) with pad (0) after each row's length; and its mask (B, 1, S)."""
    src = torch.from_numpy(rng.integers(low, high, size=(B, S)))
    if lengths is None:
        return src, None
    for b, n in enumerate(lengths):
        src[b, n:] = PAD
    return src, (src != PAD)[:, None, :]


# ---------------------------------------------------------------- what the learner's code did

def _calls(model):
    try:
        calls = model.calls
        return list(calls) if isinstance(calls, (list, tuple)) else []
    except Exception:
        return []


def _diagnosis(model, src_mask_given):
    """A sentence about how the learner's code called the toy model, when something looks off."""
    calls = _calls(model)
    decodes = [c for c in calls if c.get("op") == "decode"]
    encodes = [c for c in calls if c.get("op") == "encode"]
    notes = []
    if decodes and all(c.get("tgt_mask") is None for c in decodes):
        notes.append("model.decode was always called with tgt_mask=None: pass causal_mask(T, device) "
                     "for the T tokens of the prefix")
    elif any(c.get("tgt_mask_causal") is False for c in decodes):
        notes.append("model.decode received a tgt_mask that is not causal_mask(T) for the T tokens it was given")
    if len(decodes) > 1 and all(c.get("tgt_shape", [0, 0])[1] == 1 for c in decodes):
        notes.append("model.decode received a single target position at every step: feed it the whole "
                     "prefix (bos and every token so far); the model needs all of it, not only the last token")
    if src_mask_given:
        if any(c.get("src_mask") is None for c in encodes):
            notes.append("model.encode was called without the src_mask it was given")
        if any(c.get("src_mask") is None for c in decodes):
            notes.append("model.decode was called without the src_mask (pass it at every step)")
    return ("\n  Note: " + "; ".join(notes) + ".") if notes else ""


def _fail_with(exc, where, model=None, src_mask_given=False):
    note = _diagnosis(model, src_mask_given) if model is not None else ""
    raise CheckFailed(f"{where}: {exc}{note}") from None


# ---------------------------------------------------------------- greedy helpers

def _greedy(mod, model, src, max_len, bos=BOS, eos=EOS, pad=PAD, src_mask=None):
    return mod.decoding.greedy_decode(model, src, max_len, bos, eos, pad_id=pad, src_mask=src_mask)


def _as_token_tensor(got):
    """greedy_decode's result as a tensor, whatever integer form it came in (a list of rows,
    an array): the type and dtype have a check of their own, the others judge the tokens."""
    if isinstance(got, torch.Tensor):
        return got
    try:
        return torch.as_tensor(got.tolist() if hasattr(got, "tolist") else got)
    except Exception:
        return got


def _expect_tokens(got, want, where, model=None, src_mask_given=False, judge_pad=True, judge_length=True,
                   pad=PAD, eos=EOS):
    """The decoded tokens must equal ``want``. Without ``judge_pad`` the positions after a row's
    eos are not judged (what goes there has checks of its own); without ``judge_length`` extra
    columns are allowed after every row has finished (stopping early has a check of its own)."""
    got = _as_token_tensor(got)
    try:
        expect(isinstance(got, torch.Tensor), f"greedy_decode should return a tensor, but it returned {describe(got)}.")
        expect(got.dim() == 2, f"greedy_decode should return a (B, L) tensor, but it returned {describe(got)}.")
        B, L = want.shape
        expect(got.shape[0] == B, f"the result has {got.shape[0]} rows; expected one per source row, {B}.")
        all_finished = all(step is not None for step in _finish_steps(want, eos))
        if got.shape[1] != L and (judge_length or got.shape[1] < L or not all_finished):
            raise CheckFailed(f"the result has {got.shape[1]} columns; expected {L}.\n  got:      "
                              f"{got.tolist()}\n  expected: {want.tolist()}")
        if got.shape[1] > L:           # every row finished within L columns: the rest is after eos
            if judge_pad:
                expect_equal(got[:, L:], torch.full((B, got.shape[1] - L), pad),
                             what=f"the columns after {L} (every row has finished by then: pad_id={pad})")
            got = got[:, :L]
        if not judge_pad:
            after_eos = torch.zeros(B, L, dtype=torch.bool)
            for b, step in enumerate(_finish_steps(want, eos)):
                if step is not None:
                    after_eos[b, step + 1:] = True
            got = torch.where(after_eos, want.to(got.dtype), got)
        expect_equal(got, want, what="the decoded tokens" + ("" if judge_pad else " up to each row's eos"))
    except CheckFailed as exc:
        if got is not None and isinstance(got, torch.Tensor) and got.numel() <= 80 and "got:" not in str(exc):
            exc = CheckFailed(f"{exc}\n  got:      {got.tolist()}\n  expected: {want.tolist()}")
        _fail_with(exc, where, model, src_mask_given)


def _pick(rng, make, accept, tries=60):
    """Draw test cases until one has the wanted property (deterministic for a given rng)."""
    case = None
    for _ in range(tries):
        case = make(rng)
        if accept(case):
            return case
    return case


def _finish_steps(tokens, eos):
    """For each row, the index of its first eos (or None)."""
    steps = []
    for row in tokens.tolist():
        steps.append(row.index(eos) if eos in row else None)
    return steps


# ---------------------------------------------------------------- greedy_decode

@check("decoding.greedy_decode", weight=3)
def test_greedy_fixed_chain(student):
    """fixed values: a batch of 3 whose rows finish at different steps, pad after eos, early stop"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[1, 1, 1], [5, 5, 5], [3, 3, 3]])
    got = _greedy(student, model, src, 12)
    want = torch.tensor([[1, 3, 4, 5, 6, 7, 8, 9, 2],
                         [1, 7, 8, 9, 2, 0, 0, 0, 0],
                         [1, 5, 6, 7, 8, 9, 2, 0, 0]])
    _expect_tokens(got, want, "greedy_decode(model, src, max_len=12, bos_id=1, eos_id=2, pad_id=0) on a "
                   "counting model (row b goes bos, s_b + 2, s_b + 3, ..., 9, eos)", model)


@check("decoding.greedy_decode", weight=2)
def test_greedy_pad_after_eos(student):
    """after its eos a row holds pad_id, whatever the model predicts there"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[6, 6], [7, 7], [1, 1]])
    got = _greedy(student, model, src, 10)
    want = torch.tensor([[1, 8, 9, 2, 0, 0, 0, 0, 0],
                         [1, 9, 2, 0, 0, 0, 0, 0, 0],
                         [1, 3, 4, 5, 6, 7, 8, 9, 2]])
    _expect_tokens(got, want, "greedy_decode on a model that, after eos, would go on with other tokens; "
                   "rows 0 and 1 finish early and must be padded with pad_id=0", model, judge_length=False)


@check("decoding.greedy_decode", weight=2)
def test_greedy_early_stop(student):
    """the loop stops as soon as every row has emitted eos (L < max_len)"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[4, 4, 4], [6, 6, 6]])
    got = _greedy(student, model, src, 40)
    want = torch.tensor([[1, 6, 7, 8, 9, 2], [1, 8, 9, 2, 0, 0]])
    _expect_tokens(got, want, "greedy_decode with max_len=40 where the longest row finishes after 5 new tokens "
                   "(the result must stop there, 6 columns, not run on to max_len)", model, judge_pad=False)
    longest = max([c.get("tgt_shape", [0, 0])[1] for c in _calls(model) if c.get("op") == "decode"] or [0])
    expect(longest <= 5,
           f"greedy_decode called model.decode on {longest} target positions, for sequences that were all "
           "finished after 5 new tokens (6 tokens with bos; the last decode needs 5 positions): stop the loop "
           "as soon as every row has emitted eos.")


@check("decoding.greedy_decode", weight=2)
def test_greedy_max_len(student):
    """max_len counts bos: rows without eos stop at max_len tokens; max_len = 1 gives bos only"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[1, 1], [5, 5], [3, 3]])
    got = _greedy(student, model, src, 4)
    _expect_tokens(got, torch.tensor([[1, 3, 4, 5], [1, 7, 8, 9], [1, 5, 6, 7]]),
                   "greedy_decode with max_len=4 (4 tokens, bos included; no row reaches its eos)", model)
    got = _greedy(student, model, src, 1)
    _expect_tokens(got, torch.tensor([[1], [1], [1]]), "greedy_decode with max_len=1 (only bos)", model)
    src = torch.tensor([[1, 1], [3, 3]])
    got = _greedy(student, model, src, 6)
    _expect_tokens(got, torch.tensor([[1, 3, 4, 5, 6, 7], [1, 5, 6, 7, 8, 9]]),
                   "greedy_decode with max_len=6 (no row reaches its eos: both are cut at 6 tokens)", model)


@check("decoding.greedy_decode", weight=2)
def test_greedy_other_special_ids(student):
    """bos_id, eos_id and pad_id are arguments: bos 0, eos 4 and pad 7 work too"""
    table, bias = fixtures.counting_chain()
    perm = [7, 0, 4, 3, 1, 5, 6, 2, 8, 9]            # old id i is called perm[i]
    table, bias = _relabel(table, bias, perm)
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[5, 5, 5], [1, 1, 1]])
    got = _greedy(student, model, src, 12, bos=0, eos=4, pad=7)
    old = torch.tensor([[1, 7, 8, 9, 2, 0, 0, 0, 0], [1, 3, 4, 5, 6, 7, 8, 9, 2]])
    want = torch.as_tensor(perm)[old]
    _expect_tokens(got, want, "greedy_decode(model, src, 12, bos_id=0, eos_id=4, pad_id=7)", model,
                   judge_length=False, pad=7, eos=4)


@check("decoding.greedy_decode", weight=4)
def test_greedy_prefix_model_vs_reference(student, ref, rng):
    """a model that reads the whole prefix through a causal mask: batches of 1 and 4"""
    V = 7

    def make(rng):
        table = _random_prefix(rng, 11, V, eos_boost=0.8)
        src, _ = _src(rng, 4, 5)
        want = ref.decoding.greedy_decode(fixtures.PrefixLM(table), src, 8, BOS, EOS, pad_id=PAD)
        return table, src, want

    def accept(case):
        # rows that finish at different steps, all before max_len: max_len has a check of its own
        steps = _finish_steps(case[2], EOS)
        return None not in steps and len(set(steps)) >= 2 and max(steps) >= 3

    for B in (4, 1):
        table, src, want = _pick(rng, make, accept)
        src = src[:B]
        if B == 1:
            want = ref.decoding.greedy_decode(fixtures.PrefixLM(table), src, 8, BOS, EOS, pad_id=PAD)
        _, model = _pair(student, "PrefixLM", table)
        got = _greedy(student, model, src, 8)
        _expect_tokens(got, want, f"greedy_decode of a batch of {B} on a model whose next token depends on the "
                       "whole prefix (max_len=8)", model, judge_pad=False, judge_length=False)


@check("decoding.greedy_decode", weight=2)
def test_greedy_markov_vs_reference(student, ref, rng):
    """random bigram models against the reference: several batch sizes and vocabularies"""
    for B, V, S, max_len in [(5, 6, 4, 7), (1, 5, 3, 6), (3, 9, 6, 9)]:
        def make(rng):
            table, bias = _random_markov(rng, V, bias_scale=0.6, eos_boost=1.5)
            src, _ = _src(rng, B, S, low=1, high=12)
            want = ref.decoding.greedy_decode(fixtures.MarkovLM(table, bias), src, max_len, BOS, EOS, pad_id=PAD)
            return table, bias, src, want

        def accept(case):
            want = case[3]
            steps = _finish_steps(want, EOS)
            distinct = len({tuple(row) for row in want.tolist()})
            # every row finishes before max_len (max_len has a check of its own), after >= 2 tokens
            return (None not in steps and (B == 1 or (distinct >= 2 and len(set(steps)) >= 2))
                    and max(steps) >= 3)

        table, bias, src, want = _pick(rng, make, accept)
        _, model = _pair(student, "MarkovLM", table, bias)
        got = _greedy(student, model, src, max_len)
        _expect_tokens(got, want, f"greedy_decode of a batch of {B} (vocabulary {V}, max_len={max_len})", model,
                       judge_pad=False, judge_length=False)


@check("decoding.greedy_decode", weight=2)
def test_greedy_src_mask(student, ref):
    """src_mask reaches model.encode and every model.decode (padded sources decode as if unpadded)"""
    table, bias = fixtures.counting_chain()
    local, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[7, 7, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0], [4, 0, 0, 0, 0, 0]])
    mask = (src != PAD)[:, None, :]
    want = torch.tensor([[1, 9, 2, 0, 0, 0, 0, 0, 0],
                         [1, 3, 4, 5, 6, 7, 8, 9, 2],
                         [1, 6, 7, 8, 9, 2, 0, 0, 0]])
    got = _greedy(student, model, src, 12, src_mask=mask)
    _expect_tokens(got, want, "greedy_decode with padded sources and their src_mask (B, 1, S): each row must "
                   "decode as its unpadded source would", model, src_mask_given=True, judge_pad=False,
                   judge_length=False)


# Plain, typical inputs for the property checks: two rows that run to max_len without eos,
# so that neither padding, stopping early nor a fully finished batch is involved.
_PLAIN_SRC = [[1, 1], [3, 3]]
_PLAIN_MAX_LEN = 4


@check("decoding.greedy_decode", kind="property")
def test_greedy_dtype_long(student):
    """the result is a LongTensor (int64), on the source's device"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    got = _greedy(student, model, torch.tensor(_PLAIN_SRC), _PLAIN_MAX_LEN)
    expect(isinstance(got, torch.Tensor), f"greedy_decode should return a tensor, but it returned {describe(got)}.")
    expect(got.dtype == torch.int64,
           f"greedy_decode returned a tensor of dtype {str(got.dtype).replace('torch.', '')}; token ids are "
           "int64 (torch.long): create the sequence with dtype=torch.long.")
    expect(str(got.device) == "cpu", f"greedy_decode returned a tensor on {got.device}; expected the source's device (cpu).")


@check("decoding.greedy_decode", kind="property")
def test_greedy_keeps_mode(student):
    """the model's mode (train or eval) is the same after decoding as before"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor(_PLAIN_SRC)
    for mode in ("train", "eval"):
        getattr(model, mode)()
        _greedy(student, model, src, _PLAIN_MAX_LEN)
        expect(bool(model.training) == (mode == "train"),
               f"after model.{mode}(), greedy_decode left the model in "
               f"{'training' if model.training else 'eval'} mode. Decoding must not change the model's mode: "
               "the caller decides (call model.eval() yourself before decoding, not inside greedy_decode).")


@check("decoding.greedy_decode", kind="property")
def test_greedy_no_grad(student):
    """no gradient is recorded: the model runs under torch.no_grad()"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    _greedy(student, model, torch.tensor(_PLAIN_SRC), _PLAIN_MAX_LEN)
    calls = _calls(model)
    expect(len(calls) > 0, "greedy_decode did not call the model.")
    recorded = [c["op"] for c in calls if c.get("grad_enabled")]
    expect(not recorded,
           f"model.{recorded[0] if recorded else ''} ran with gradients enabled: decoding is inference, "
           "run it inside `with torch.no_grad():` so that no graph is recorded.")


# ---------------------------------------------------------------- beam search helpers

def _beam(mod, model, src, beam_size, max_len, bos=BOS, eos=EOS, src_mask=None):
    return mod.decoding.beam_search(model, src, beam_size, max_len, bos, eos, src_mask=src_mask)


def _token_ids(tokens):
    """A hypothesis's tokens as a tuple of ints, or None. Lenient on purpose: a 1-D integer
    tensor of any dtype, a list or tuple of ints, an array; also a (1, n) tensor or whole
    numbers stored as floats, which only test_beam_types judges."""
    if isinstance(tokens, torch.Tensor) or hasattr(tokens, "tolist"):
        tokens = tokens.tolist()
        if isinstance(tokens, list) and len(tokens) == 1 and isinstance(tokens[0], list):
            tokens = tokens[0]                  # (1, n): the batch axis kept
    if not isinstance(tokens, (list, tuple)):
        return None
    ids = []
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t != int(t):
            return None
        ids.append(int(t))
    return tuple(ids)


def _number(logprob):
    """A logprob as a float, or None: a Python float or int, or any tensor or array of one number."""
    if hasattr(logprob, "numel") and logprob.numel() == 1:
        logprob = logprob.item()
    elif hasattr(logprob, "size") and getattr(logprob, "size", 0) == 1 and hasattr(logprob, "item"):
        logprob = logprob.item()
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
        return None
    return float(logprob)


def _as_hypotheses(result, call):
    """The result as a list of (tuple of ints, float), or a failure saying what it is."""
    if not isinstance(result, (list, tuple)):
        raise CheckFailed(f"{call} should return a list of (tokens, logprob) pairs, but it returned {describe(result)}.")
    out = []
    for i, item in enumerate(result):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise CheckFailed(f"{call} returned a list whose item {i} is {describe(item)}; expected a pair "
                              "(tokens, logprob).")
        tokens, logprob = _token_ids(item[0]), _number(item[1])
        if tokens is None:
            raise CheckFailed(f"in the result of {call}, the tokens of hypothesis {i} are {describe(item[0])}; "
                              "expected a 1-D integer tensor or a list of ints (bos, ..., eos).")
        if logprob is None:
            raise CheckFailed(f"in the result of {call}, the logprob of hypothesis {i} is {describe(item[1])}; "
                              "expected a number.")
        out.append((tokens, logprob))
    return out


def _show(hyps, limit=6):
    lines = [f"    {list(t)}  {s:.6f}" for t, s in hyps[:limit]]
    if len(hyps) > limit:
        lines.append(f"    ... ({len(hyps)} hypotheses)")
    return "\n".join(lines) if lines else "    (none)"


def _all_hypotheses(model, src, max_len, bos, eos, src_mask=None):
    """Every hypothesis (finished at its eos, or unfinished at max_len tokens) with its
    exact summed log-probability, best first: brute force, one decode per length."""
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        alive = [((bos,), 0.0)]
        done = []
        for _ in range(max_len - 1):
            if not alive:
                break
            tgt = torch.tensor([t for t, _ in alive])
            k, T = tgt.shape
            mem = memory.expand(k, *memory.shape[1:])
            mask = None if src_mask is None else src_mask.expand(k, *src_mask.shape[1:])
            logp = torch.log_softmax(model.decode(tgt, mem, mask, torch.ones(T, T, dtype=torch.bool).tril())[:, -1], -1)
            nxt = []
            for i, (tokens, score) in enumerate(alive):
                for v in range(logp.shape[-1]):
                    h = (tokens + (v,), score + float(logp[i, v]))
                    (done if v == eos else nxt).append(h)
            alive = nxt
        hyps = done + alive
    return sorted(hyps, key=lambda h: -h[1])


def _canonical(hyps):
    """Best first; hypotheses with the same logprob (to 1e-9) in a fixed order."""
    return sorted(hyps, key=lambda h: (-round(h[1], 9), h[0]))


def _compare_lists(got, want, call, model=None, src_mask_given=False):
    shown = got
    got, want = _canonical(got), _canonical(want)
    try:
        if len(got) != len(want):
            raise CheckFailed(f"the result holds {len(got)} hypotheses; expected {len(want)}.")
        for i, ((gt, gs), (wt, ws)) in enumerate(zip(got, want)):
            if gt != wt:
                raise CheckFailed(f"hypothesis {i} (best first) is {list(gt)}; expected {list(wt)}.")
            expect_close(gs, ws, what=f"the logprob of hypothesis {i} {list(gt)}", **LOGP_TOL)
    except CheckFailed as exc:
        exc = CheckFailed(f"{exc}\n  got (tokens, logprob):\n{_show(shown)}\n  expected:\n{_show(want)}")
        _fail_with(exc, call, model, src_mask_given)


def _trap_table():
    """Greedy takes 'a' (p = .53) and then eos (p = .34): p = .18. The best sequence is
    bos b eos: .42 * .93 = .39. Tokens: pad 0, bos 1, eos 2, a 3, b 4."""
    probs = torch.tensor([
        [0.21, 0.05, 0.30, 0.25, 0.19],     # after pad (unused)
        [0.011, 0.009, 0.03, 0.53, 0.42],     # after bos
        [0.21, 0.05, 0.30, 0.25, 0.19],     # after eos (unused)
        [0.011, 0.009, 0.34, 0.33, 0.31],     # after a
        [0.011, 0.009, 0.93, 0.02, 0.03],     # after b
    ], dtype=torch.float64)
    return probs.log()


# ---------------------------------------------------------------- beam_search

@check("decoding.beam_search", weight=2)
def test_beam_one_equals_greedy(student, ref, rng):
    """beam_size = 1 gives greedy decoding's sequence, with its summed log-probability"""
    for trial in range(3):
        table, bias = _random_markov(rng, 6, eos_boost=0.7 * trial)
        src, _ = _src(rng, 1, 4)
        local, model = _pair(student, "MarkovLM", table, bias)
        greedy = ref.decoding.greedy_decode(local, src, 7, BOS, EOS, pad_id=PAD)[0]
        tokens = tuple(int(t) for t in greedy.tolist())
        want = [(tokens, fixtures.sequence_logprob(local, src, tokens))]
        call = "beam_search(model, src, beam_size=1, max_len=7, bos_id=1, eos_id=2)"
        got = _as_hypotheses(_beam(student, model, src, 1, 7), call)
        _compare_lists(got, want, call + " (must equal greedy decoding)", model)


@check("decoding.beam_search", weight=3)
def test_beam_beats_greedy(student):
    """a wide beam finds the most probable sequence where greedy does not"""
    local, model = _pair(student, "MarkovLM", _trap_table())
    src = torch.tensor([[3, 4]])
    best = ((1, 4, 2), math.log(0.42) + math.log(0.93))
    greedy = ((1, 3, 2), math.log(0.53) + math.log(0.34))
    for beam_size in (2, 3):
        call = f"beam_search(model, src, beam_size={beam_size}, max_len=5, bos_id=1, eos_id=2)"
        got = _as_hypotheses(_beam(student, model, src, beam_size, 5), call)
        expect(len(got) > 0, f"{call} returned no hypothesis.")
        try:
            top = max(got, key=lambda h: h[1])     # the order has a check of its own
            expect(top[0] == best[0],
                   f"the best hypothesis is {list(top[0])}; expected {list(best[0])} (p = 0.42 * 0.93 = 0.39), "
                   f"more probable than greedy's {list(greedy[0])} (p = 0.53 * 0.34 = 0.18). A beam keeps the "
                   "beam_size best candidates of ALL alive hypotheses at every step.")
            expect_close(top[1], best[1], what="its logprob, log(0.42) + log(0.93)", **LOGP_TOL)
            expect(any(t == greedy[0] for t, _ in got),
                   f"greedy's sequence {list(greedy[0])} (the second most probable) is missing from the result.")
        except CheckFailed as exc:
            raise CheckFailed(f"{call}: {exc}\n  got (tokens, logprob):\n{_show(got)}") from None


@check("decoding.beam_search", weight=3)
def test_beam_exhaustive_is_brute_force(student, rng):
    """a beam as large as the search space returns every hypothesis, best first, with exact log-probs"""
    V, max_len = 5, 4                       # 1 + 4 + 16 finished, 64 unfinished hypotheses
    table, bias = _random_markov(rng, V, eos_boost=1.0)
    src, _ = _src(rng, 1, 5)
    local, model = _pair(student, "MarkovLM", table, bias)
    want = _all_hypotheses(local, src, max_len, BOS, EOS)
    call = "beam_search(model, src, beam_size=125, max_len=4, bos_id=1, eos_id=2)"
    got = _as_hypotheses(_beam(student, model, src, 125, max_len), call)
    _compare_lists(got, want, call + " (vocabulary 5: the beam never has to drop a candidate)", model)


@check("decoding.beam_search", weight=2)
def test_beam_brute_force_best(student, rng):
    """with a beam of 4 the best hypothesis is the brute-force best, where greedy's is not"""
    for V, max_len in [(4, 5), (5, 4)]:
        def make(rng):
            table, bias = _random_markov(rng, V, eos_boost=0.5)
            src, _ = _src(rng, 1, 3)
            local = fixtures.MarkovLM(table, bias)
            best = _all_hypotheses(local, src, max_len, BOS, EOS)[0]
            return (table, bias), src, best, _greedy_one(local, src, max_len)

        (table, bias), src, best, greedy = _pick(rng, make, lambda c: c[3] != c[2][0])
        _, model = _pair(student, "MarkovLM", table, bias)
        call = f"beam_search(model, src, beam_size=4, max_len={max_len}, bos_id=1, eos_id=2)"
        got = _as_hypotheses(_beam(student, model, src, 4, max_len), call)
        expect(len(got) > 0, f"{call} returned no hypothesis.")
        try:
            top = max(got, key=lambda h: h[1])     # the order has a check of its own
            expect(top[0] == best[0], f"the best hypothesis is {list(top[0])}; the most probable sequence "
                                         f"is {list(best[0])} (logprob {best[1]:.6f}).")
            expect_close(top[1], best[1], what="the best logprob", **LOGP_TOL)
        except CheckFailed as exc:
            _fail_with(CheckFailed(f"{exc}\n  got (tokens, logprob):\n{_show(got)}"), call, model)


def _greedy_one(model, src, max_len):
    """Greedy on one source, as a tuple (for choosing cases where greedy is not optimal)."""
    with torch.no_grad():
        memory = model.encode(src)
        ys = [BOS]
        while len(ys) < max_len and ys[-1] != EOS:
            T = len(ys)
            logits = model.decode(torch.tensor([ys]), memory, None, torch.ones(T, T, dtype=torch.bool).tril())
            ys.append(int(logits[0, -1].argmax()))
        return tuple(ys)


@check("decoding.beam_search", weight=2, kind="property")
def test_beam_hypotheses_well_formed(student, rng):
    """every hypothesis starts with bos and has at most max_len tokens; a finished one ends at its first eos"""
    table, bias = _random_markov(rng, 6, eos_boost=1.2)
    src, _ = _src(rng, 1, 4)
    _, model = _pair(student, "MarkovLM", table, bias)
    for beam_size, max_len in [(4, 6), (3, 3)]:
        call = f"beam_search(model, src, beam_size={beam_size}, max_len={max_len}, bos_id=1, eos_id=2)"
        got = _as_hypotheses(_beam(student, model, src, beam_size, max_len), call)
        expect(len(got) > 0, f"{call} returned no hypothesis.")
        for tokens, _ in got:
            expect(len(tokens) >= 1 and tokens[0] == BOS,
                   f"{call} returned the hypothesis {list(tokens)}, which does not start with bos_id=1.")
            expect(len(tokens) <= max_len,
                   f"{call} returned the hypothesis {list(tokens)} of {len(tokens)} tokens; at most max_len="
                   f"{max_len} tokens, bos included.")
            if EOS in tokens:
                first = tokens.index(EOS)
                expect(first == len(tokens) - 1,
                       f"{call} returned the hypothesis {list(tokens)}, which goes on after its eos (at position "
                       f"{first}): a hypothesis is finished when it emits eos; it leaves the beam and is never "
                       "extended (no pad either: its tokens end with eos).")
            else:
                expect(len(tokens) == max_len,
                       f"{call} returned the hypothesis {list(tokens)}, which has no eos but only {len(tokens)} "
                       f"tokens: an unfinished hypothesis can only come from the last step (max_len={max_len} tokens).")


@check("decoding.beam_search", weight=2, kind="property")
def test_beam_logprobs_are_sums(student, rng):
    """each logprob is the sum of the model's log-probabilities of the tokens after bos"""
    table, bias = _random_markov(rng, 7, eos_boost=0.8)
    src, _ = _src(rng, 1, 6)
    local, model = _pair(student, "MarkovLM", table, bias)
    call = "beam_search(model, src, beam_size=5, max_len=6, bos_id=1, eos_id=2)"
    got = _as_hypotheses(_beam(student, model, src, 5, 6), call)
    expect(len(got) > 0, f"{call} returned no hypothesis.")
    for tokens, score in got:
        if not tokens or tokens[0] != BOS:
            continue
        want = fixtures.sequence_logprob(local, src, tokens)
        try:
            expect_close(score, want, what=f"the logprob of {list(tokens)}", **LOGP_TOL)
        except CheckFailed as exc:
            _fail_with(CheckFailed(f"{exc} It is the sum, over the tokens after bos, of log_softmax of the logits "
                                   "at the position before each token (no length normalisation; log-probabilities, "
                                   "not probabilities)."), call, model)


@check("decoding.beam_search", weight=2, kind="property")
def test_beam_sorted_and_counted(student, rng):
    """beam_size distinct hypotheses, sorted best (highest logprob) first"""
    table, bias = _random_markov(rng, 7, eos_boost=1.5)
    src, _ = _src(rng, 1, 4)
    _, model = _pair(student, "MarkovLM", table, bias)
    for beam_size in (3, 5):
        call = f"beam_search(model, src, beam_size={beam_size}, max_len=6, bos_id=1, eos_id=2)"
        got = _as_hypotheses(_beam(student, model, src, beam_size, 6), call)
        expect(len(got) == beam_size, f"{call} returned {len(got)} hypotheses; expected beam_size={beam_size} "
                                      f"(the best of the finished and the unfinished ones together).\n{_show(got)}")
        expect(len(set(t for t, _ in got)) == len(got),
               f"{call} returned the same hypothesis twice (did the search start with beam_size copies of [bos]? "
               f"start with ONE hypothesis).\n{_show(got)}")
        scores = [s for _, s in got]
        expect(all(a >= b for a, b in zip(scores, scores[1:])),
               f"{call} returned hypotheses that are not sorted best first: logprobs {[round(s, 4) for s in scores]}.")


@check("decoding.beam_search")
def test_beam_keeps_unfinished(student, rng):
    """hypotheses still unfinished at max_len are returned (ranked with the finished ones)"""
    table, bias = _random_markov(rng, 6, eos_boost=-8.0)      # eos is very unlikely
    src, _ = _src(rng, 1, 3)
    local, model = _pair(student, "MarkovLM", table, bias)
    want = _all_hypotheses(local, src, 4, BOS, EOS)[:3]
    call = "beam_search(model, src, beam_size=3, max_len=4, bos_id=1, eos_id=2) on a model that rarely emits eos"
    got = _as_hypotheses(_beam(student, model, src, 3, 4), call)
    expect(len(got) > 0, f"{call} returned no hypothesis: when max_len is reached, keep the unfinished "
                         "hypotheses (ranked with the finished ones).")
    _compare_lists(got, want, call, model)


@check("decoding.beam_search", weight=2)
def test_beam_vs_reference(student, ref, rng):
    """the whole result equals the reference on a prefix model (beams 3 and 4, padded source)"""
    for beam_size, max_len, V in [(3, 7, 7), (4, 6, 6)]:
        table = _random_prefix(rng, 13, V, eos_boost=0.9)
        src, mask = _src(rng, 1, 5, lengths=[3])
        local, model = _pair(student, "PrefixLM", table)
        want = [(tuple(int(t) for t in tokens.tolist()), s)
                for tokens, s in ref.decoding.beam_search(local, src, beam_size, max_len, BOS, EOS, src_mask=mask)]
        call = f"beam_search(model, src, beam_size={beam_size}, max_len={max_len}, bos_id=1, eos_id=2, src_mask=mask)"
        got = _as_hypotheses(_beam(student, model, src, beam_size, max_len, src_mask=mask), call)
        _compare_lists(got, want, call + " (at every step the beam_size best candidates are kept; a kept "
                       "candidate ending with eos is finished and leaves the beam)", model, src_mask_given=True)


def _plain_table():
    """Plain, typical inputs for the property checks (beam 2, max_len 3): step 1 keeps a (.5)
    and b (.4); step 2 keeps bos a a (.25, alive) and bos b eos (.24, finished). Nothing
    finishes at step 1 and something is alive at the end: no early stop, no empty list.
    Tokens: pad 0, bos 1, eos 2, a 3, b 4."""
    probs = torch.tensor([
        [0.21, 0.05, 0.30, 0.25, 0.19],       # after pad (unused)
        [0.03, 0.02, 0.05, 0.50, 0.40],       # after bos
        [0.21, 0.05, 0.30, 0.25, 0.19],       # after eos (unused)
        [0.03, 0.02, 0.15, 0.50, 0.30],       # after a
        [0.03, 0.02, 0.60, 0.20, 0.15],       # after b
    ], dtype=torch.float64)
    return probs.log()


def _slot_table():
    """Step 1 keeps eos (.5, finished) and a (.3); b (.198) is third. Then a -> b (.6), b -> eos
    (.99). Tokens: pad 0, bos 1, eos 2, a 3, b 4."""
    probs = torch.tensor([
        [0.21, 0.05, 0.30, 0.25, 0.19],      # after pad (unused)
        [0.0012, 0.0008, 0.50, 0.30, 0.198],   # after bos
        [0.21, 0.05, 0.30, 0.25, 0.19],      # after eos (unused)
        [0.0012, 0.0008, 0.30, 0.098, 0.60],   # after a
        [0.0021, 0.0032, 0.99, 0.0019, 0.0028],  # after b
    ], dtype=torch.float64)
    return probs.log()


@check("decoding.beam_search", weight=2)
def test_beam_finished_take_a_slot(student):
    """fixed values: a candidate that ends with eos takes its place among the beam_size kept, then leaves the beam"""
    local, model = _pair(student, "MarkovLM", _slot_table())
    src = torch.tensor([[3, 4]])
    lp = _slot_table()
    want = [((1, 2), float(lp[1, 2])),
            ((1, 3, 4, 2), float(lp[1, 3] + lp[3, 4] + lp[4, 2]))]
    call = "beam_search(model, src, beam_size=2, max_len=4, bos_id=1, eos_id=2)"
    got = _as_hypotheses(_beam(student, model, src, 2, 4), call)
    _compare_lists(got, want, call + " where the first step's two best candidates are [1, 2] (finished, p = .5) "
                   "and [1, 3] (p = .3): the beam keeps those two, so [1, 3] is the only one left alive and "
                   "[1, 4] (p = .198, third) is dropped (do not refill the beam with the next-best candidates)",
                   model)


def _is_int_sequence(tokens):
    """A 1-D integer tensor (any integer dtype) or array, or a list or tuple of Python ints."""
    if isinstance(tokens, torch.Tensor):
        return tokens.dim() == 1 and not tokens.is_floating_point() and not tokens.is_complex() \
            and tokens.dtype != torch.bool
    if hasattr(tokens, "dtype") and hasattr(tokens, "ndim"):      # a numpy array
        return tokens.ndim == 1 and tokens.dtype.kind in "iu"
    return isinstance(tokens, (list, tuple)) and all(isinstance(t, int) and not isinstance(t, bool) for t in tokens)


def _is_scalar_number(logprob):
    """A Python float (or int), or a 0-d tensor or array, of a real number."""
    if isinstance(logprob, torch.Tensor):
        return logprob.dim() == 0 and logprob.is_floating_point()
    if hasattr(logprob, "dtype") and hasattr(logprob, "ndim"):
        return logprob.ndim == 0 and logprob.dtype.kind == "f"
    return isinstance(logprob, (int, float)) and not isinstance(logprob, bool)


@check("decoding.beam_search", kind="property")
def test_beam_types(student):
    """the result is a list of pairs: tokens a 1-D integer tensor or a list of ints, logprob a number"""
    _, model = _pair(student, "MarkovLM", _plain_table())
    result = _beam(student, model, torch.tensor([[3, 4]]), 2, 3)
    expect(isinstance(result, (list, tuple)) and len(result) > 0,
           f"beam_search should return a list of (tokens, logprob) pairs, but it returned {describe(result)}.")
    for item in result:
        expect(isinstance(item, (list, tuple)) and len(item) == 2,
               f"an item of beam_search's result is {describe(item)}; expected a pair (tokens, logprob).")
        tokens, logprob = item
        expect(_is_int_sequence(tokens),
               f"the tokens of a hypothesis are {describe(tokens)}; expected a 1-D integer tensor (a LongTensor "
               "of shape (n,), no batch axis) or a list of ints.")
        expect(_is_scalar_number(logprob),
               f"the logprob of a hypothesis is {describe(logprob)}; expected a number: a Python float "
               "(float(...) or .item()) or a 0-d tensor.")


@check("decoding.beam_search", kind="property")
def test_beam_keeps_mode(student):
    """the model's mode (train or eval) is the same after beam search as before"""
    _, model = _pair(student, "MarkovLM", _plain_table())
    for mode in ("train", "eval"):
        getattr(model, mode)()
        _beam(student, model, torch.tensor([[3, 4]]), 2, 3)
        expect(bool(model.training) == (mode == "train"),
               f"after model.{mode}(), beam_search left the model in "
               f"{'training' if model.training else 'eval'} mode. Decoding must not change the model's mode.")


@check("decoding.beam_search", kind="property")
def test_beam_no_grad(student):
    """no gradient is recorded: the model runs under torch.no_grad()"""
    _, model = _pair(student, "MarkovLM", _plain_table())
    _beam(student, model, torch.tensor([[3, 4]]), 2, 3)
    calls = _calls(model)
    expect(len(calls) > 0, "beam_search did not call the model.")
    recorded = [c["op"] for c in calls if c.get("grad_enabled")]
    expect(not recorded,
           f"model.{recorded[0] if recorded else ''} ran with gradients enabled: run beam search inside "
           "`with torch.no_grad():` so that no graph is recorded.")


# ================================================================ sampling
#
# Draws are judged two ways, and either is enough: the same tokens as the reference given a
# generator seeded alike (one torch.multinomial call on the (B, V) probabilities), or, for
# code that draws another way, frequencies over many rows that match the exact tempered and
# filtered probabilities (a chi-square bound, fixed seeds: deterministic). A token of
# probability 0 (filtered) must never be drawn, whichever way.

NEG_INF = float("-inf")


def _tokens_1d(got, B, call):
    """sample_next's result as a (B,) integer tensor (shape and dtype have a check of their own)."""
    got = _as_token_tensor(got)
    expect(isinstance(got, torch.Tensor), f"{call} should return a tensor of token ids, but it returned {describe(got)}.")
    expect(not got.is_floating_point(), f"{call} returned {describe(got)}; expected integer token ids.")
    expect(got.numel() == B, f"{call} returned {describe(got)}; expected one token per row, {B} of them.")
    return got.reshape(B).to(torch.int64)


def _chi_square_ok(counts, probs):
    """Whether counts (V,) are plausible draws from probs (V,): no draw of probability 0 and a
    chi-square statistic under df + 6 sqrt(2 df) + 4 (categories of expected < 5 lumped)."""
    n = counts.sum()
    zero = (probs <= 0) & (counts > 0)
    if bool(zero.any()):
        return False, f"token {int(torch.nonzero(zero)[0])} has probability 0 but was drawn"
    expected = n * probs
    big = expected >= 5
    obs = torch.cat([counts[big], counts[~big].sum().reshape(1)])
    exp = torch.cat([expected[big], expected[~big].sum().reshape(1)])
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    df = max(int(obs.numel()) - 1, 1)
    stat = float(((obs - exp) ** 2 / exp).sum())
    bound = df + 6 * math.sqrt(2 * df) + 4
    return stat <= bound, f"chi-square {stat:.1f} over {df} degrees of freedom (at most {bound:.1f} accepted)"


def _frequencies_match(tokens, groups, probs, V):
    """tokens (N,) drawn for rows of the distribution groups[i]; probs (G, V). None if they match,
    else a sentence saying where."""
    for g in range(probs.shape[0]):
        counts = torch.bincount(tokens[groups == g], minlength=V)[:V].to(torch.float64)
        ok, why = _chi_square_ok(counts, probs[g])
        if not ok:
            freq = counts / counts.sum().clamp(min=1)
            return (f"for distribution {g}: {why}.\n  drawn frequencies: {[round(float(f), 3) for f in freq]}"
                    f"\n  probabilities:     {[round(float(p), 3) for p in probs[g]]}")
    return None


def _exact_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """softmax(filter(logits / T)) in float64, by brute force (sorted lists), for the checks."""
    z = logits.to(torch.float64) / temperature
    out = []
    for row in z.tolist():
        V = len(row)
        order = sorted(range(V), key=lambda i: -row[i])
        keep = set(order[:min(top_k, V)] if top_k is not None else order)
        if top_p is not None:
            m = max(row[i] for i in keep)
            w = {i: math.exp(row[i] - m) for i in keep}
            total, mass, nucleus = sum(w.values()), 0.0, set()
            for i in order:
                if i not in keep:
                    continue
                if mass >= top_p and nucleus:
                    break
                nucleus.add(i)
                mass += w[i] / total
            keep = nucleus
        m = max(row[i] for i in keep)
        w = [math.exp(row[i] - m) if i in keep else 0.0 for i in range(V)]
        out.append([x / sum(w) for x in w])
    return torch.tensor(out, dtype=torch.float64)


def _draw_check(student, ref, logits, groups, seed, call, **kwargs):
    """sample_next on logits (N, V) whose rows repeat the distributions groups; passes on
    equality with the reference's draws for the same seed, or on matching frequencies."""
    got = student.decoding.sample_next(logits, generator=student.fixtures.make_generator(seed), **kwargs)
    got = _tokens_1d(got, logits.shape[0], call)
    want = ref.decoding.sample_next(logits, generator=torch.Generator().manual_seed(seed), **kwargs)
    if torch.equal(got, want):
        return
    base = logits[[int(torch.nonzero(groups == g)[0]) for g in range(int(groups.max()) + 1)]]
    probs = _exact_probs(base, kwargs.get("temperature", 1.0), kwargs.get("top_k"), kwargs.get("top_p"))
    why = _frequencies_match(got, groups, probs, logits.shape[1])
    if why is not None:
        raise CheckFailed(f"{call}: the tokens drawn do not follow softmax(filter_logits(logits / temperature, "
                          f"top_k, top_p)) {why}")


def _repeat_rows(base, n):
    return base.repeat_interleave(n, dim=0), torch.arange(base.shape[0]).repeat_interleave(n)


def _distinct_logits(rng, B, V, scale=1.5, dtype=torch.float32):
    """Random logits whose values in a row are well apart (no ties, no near-ties)."""
    rows = []
    for _ in range(B):
        steps = 0.15 + rng.random(V)
        values = np.cumsum(steps) * scale / V * 2
        rows.append(rng.permutation(values - values.mean()))
    return torch.tensor(np.array(rows), dtype=dtype)


# ---------------------------------------------------------------- filter_logits

def _kept(out):
    """The kept entries of a filtered row as a set of indices per row."""
    return [set(torch.nonzero(torch.isfinite(row)).flatten().tolist()) for row in out]


def _filter(student, logits, call, **kwargs):
    got = student.decoding.filter_logits(logits.clone(), **kwargs)
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(logits.shape),
           f"{call} returned {describe(got)}; expected a tensor of logits's shape {tuple(logits.shape)}.")
    return got


def _expect_filtered(got, logits, keep, call):
    """got equals logits on the kept sets and -inf elsewhere."""
    kept = _kept(got)
    for b, (k_got, k_want) in enumerate(zip(kept, keep)):
        if k_got != set(k_want):
            raise CheckFailed(f"{call}: row {b} keeps the entries {sorted(k_got)}; expected {sorted(k_want)}.\n"
                              f"  logits row: {[round(float(x), 4) for x in logits[b]]}\n"
                              f"  got:        {[round(float(x), 4) for x in got[b]]}")
        dropped = [i for i in range(logits.shape[1]) if i not in k_want]
        expect(all(float(got[b, i]) == NEG_INF for i in dropped),
               f"{call}: row {b}'s dropped entries hold {[float(got[b, i]) for i in dropped]}; expected -inf "
               "(so that softmax gives them probability exactly 0).")
        for i in k_want:
            expect(float(got[b, i]) == float(logits[b, i]),
                   f"{call}: row {b}'s kept entry {i} is {float(got[b, i])}; expected it unchanged, "
                   f"{float(logits[b, i])} (filtering changes only the dropped entries).")


@check("decoding.filter_logits", weight=2)
def test_filter_top_k(student, rng):
    """top-k keeps the k largest logits of each row, unchanged, and -inf elsewhere; k > V keeps all"""
    logits = _distinct_logits(rng, 4, 7)
    for k in (1, 3, 7, 12):
        call = f"filter_logits(logits (4, 7), top_k={k})"
        got = _filter(student, logits, call, top_k=k)
        keep = [set(torch.argsort(row, descending=True)[:min(k, 7)].tolist()) for row in logits]
        _expect_filtered(got, logits, keep, call)


@check("decoding.filter_logits")
def test_filter_top_k_ties(student):
    """top-k with tied values: every entry tied above the k-th largest is kept, nothing below it"""
    logits = torch.tensor([[5.0, 5.0, 3.0, 1.0, 0.5], [4.0, 1.0, 4.0, 4.0, 0.0], [2.0, 2.0, 2.0, 7.0, 2.5]])
    keep = [{0, 1}, {0, 2, 3}, {3, 4}]
    for k, rows in ((2, [0]), (3, [1]), (2, [2])):
        call = f"filter_logits(logits, top_k={k}) on rows with ties"
        got = _filter(student, logits[rows], call, top_k=k)
        _expect_filtered(got, logits[rows], [keep[r] for r in rows], call)


@check("decoding.filter_logits", weight=2)
def test_filter_top_p_boundary(student):
    """fixed values: top-p keeps the token that makes the sum cross top_p, and the best token even for a tiny top_p"""
    probs = torch.tensor([[0.15, 0.5, 0.05, 0.3], [0.1, 0.2, 0.4, 0.3]], dtype=torch.float64)
    logits = probs.log()
    for top_p, keep in ((0.7, [{1, 3}, {2, 3}]), (0.85, [{0, 1, 3}, {1, 2, 3}]), (0.45, [{1}, {2, 3}]),
                        (1e-6, [{1}, {2}]), (0.99, [{0, 1, 2, 3}, {0, 1, 2, 3}])):
        call = (f"filter_logits(logits, top_p={top_p}) with probabilities {probs.tolist()} (the sorted sums of row 0: "
                ".5, .8, .95, 1)")
        _expect_filtered(_filter(student, logits, call, top_p=top_p), logits, keep, call)


@check("decoding.filter_logits", weight=2)
def test_filter_top_p_random(student, rng):
    """top-p on random rows equals the smallest set of most probable tokens that reaches top_p"""
    logits = _distinct_logits(rng, 6, 9, scale=3.0, dtype=torch.float64)
    for top_p in (0.3, 0.6, 0.9):
        want = _exact_probs(logits, top_p=top_p)
        keep = [set(torch.nonzero(row > 0).flatten().tolist()) for row in want]
        call = f"filter_logits(logits (6, 9), top_p={top_p})"
        _expect_filtered(_filter(student, logits, call, top_p=top_p), logits, keep, call)


@check("decoding.filter_logits")
def test_filter_both(student):
    """top-k, then top-p over the probabilities renormalised on the top-k survivors"""
    probs = torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.1, 0.35, 0.25, 0.3]], dtype=torch.float64)
    logits = probs.log()
    call = ("filter_logits(logits, top_k=2, top_p=0.55) with probabilities [[.4, .3, .2, .1], [.1, .35, .25, .3]] "
            "(after top-k the survivors' probabilities are .57 and .43, .54 and .46)")
    got = _filter(student, logits, call, top_k=2, top_p=0.55)
    _expect_filtered(got, logits, [{0}, {1, 3}], call)


@check("decoding.filter_logits", kind="property")
def test_filter_leaves_input(student, rng):
    """no filter changes nothing; the dtype is kept and the input is not modified"""
    for dtype in (torch.float32, torch.float64):
        logits = _distinct_logits(rng, 3, 5, dtype=dtype)
        got = _filter(student, logits, "filter_logits(logits)")
        expect(got.dtype == dtype, f"filter_logits(logits of {dtype}) returned {got.dtype}; keep the dtype.")
        expect_equal(torch.isfinite(got), torch.ones_like(got, dtype=torch.bool),
                     what="which entries filter_logits(logits) (no top_k, no top_p) kept")
        expect_close(got, logits, what="filter_logits(logits) with top_k = top_p = None", rtol=0, atol=0)
        _, (after,) = arguments_after(student, student.decoding.filter_logits, logits.clone(), top_k=2, top_p=0.5)
        expect(torch.equal(after, logits), "filter_logits(logits, top_k=2, top_p=0.5) modified logits in place; "
                                           "work on a copy (clone, or masked_fill without the underscore).")


# ---------------------------------------------------------------- sample_next

@check("decoding.sample_next", weight=2)
def test_sample_temperature(student, ref, rng):
    """draws follow softmax(logits / temperature), at temperatures 0.5, 1 and 2"""
    base = _distinct_logits(rng, 3, 6, scale=2.0)
    logits, groups = _repeat_rows(base, 1500)
    for i, temperature in enumerate((0.5, 1.0, 2.0)):
        _draw_check(student, ref, logits, groups, 10 + i,
                    f"sample_next(logits (4500, 6), temperature={temperature}, generator=g)", temperature=temperature)


@check("decoding.sample_next", weight=2)
def test_sample_filtered(student, ref):
    """draws follow the tempered distribution after top-k and top-p (the temperature first); filtered tokens never come"""
    # T = 0.5 then top_p 0.8: row 0's tempered probabilities .76 .19 .05 keep 2 tokens; untempered (.53 .27 .13 .07) 3
    base = torch.tensor([[1.2, 0.5, -0.2, -0.9, -3.0], [0.0, 0.3, 0.1, -1.0, 0.6]])
    logits, groups = _repeat_rows(base, 2000)
    _draw_check(student, ref, logits, groups, 21, "sample_next(logits (4000, 5), temperature=0.5, top_p=0.8, generator=g)",
                temperature=0.5, top_p=0.8)
    _draw_check(student, ref, logits, groups, 22, "sample_next(logits (4000, 5), temperature=1.5, top_k=3, generator=g)",
                temperature=1.5, top_k=3)


@check("decoding.sample_next")
def test_sample_limits_are_greedy(student, rng):
    """a tiny temperature, top_k = 1 and a tiny top_p all give the argmax of every row"""
    logits = _distinct_logits(rng, 40, 8, scale=4.0)
    want = logits.argmax(-1)
    for kwargs in ({"temperature": 1e-4}, {"top_k": 1}, {"top_p": 1e-8}, {"temperature": 3.0, "top_k": 1}):
        call = f"sample_next(logits (40, 8), {', '.join(f'{k}={v}' for k, v in kwargs.items())}, generator=g)"
        got = _tokens_1d(student.decoding.sample_next(logits, generator=student.fixtures.make_generator(3), **kwargs),
                         40, call)
        wrong = torch.nonzero(got != want).flatten().tolist()
        expect(not wrong, f"{call} drew {got.tolist()[:12]}...; every row should give its argmax "
                          f"{want.tolist()[:12]}... (row {wrong[0] if wrong else 0} does not).")


@check("decoding.sample_next", kind="property")
def test_sample_uses_generator(student, rng):
    """the generator alone decides the draws: the same seed gives the same tokens whatever the global seed"""
    logits = _distinct_logits(rng, 200, 6, scale=1.0)
    runs = []
    for global_seed, seed in ((1, 5), (2, 5), (3, 6)):
        student.fixtures.seed_everything(global_seed)
        got = student.decoding.sample_next(logits, top_k=5, generator=student.fixtures.make_generator(seed))
        runs.append(_tokens_1d(got, 200, "sample_next(logits (200, 6), top_k=5, generator=g)"))
    expect(torch.equal(runs[0], runs[1]),
           "sample_next(logits, top_k=5, generator=torch.Generator().manual_seed(5)) drew different tokens after "
           "torch.manual_seed(1) and after torch.manual_seed(2): draw with the generator "
           "(torch.multinomial(..., generator=generator)), never with the global random state.")
    expect(not torch.equal(runs[0], runs[2]),
           "generators seeded 5 and 6 gave the same 200 draws: the draws should come from the generator.")


@check("decoding.sample_next", kind="property")
def test_sample_types(student):
    """the result is a LongTensor (B,): one token id per row"""
    logits = torch.tensor([[0.1, 0.5, 0.2], [1.0, -1.0, 0.0]])
    got = student.decoding.sample_next(logits, generator=student.fixtures.make_generator(1))
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (2,),
           f"sample_next(logits (2, 3)) returned {describe(got)}; expected a tensor of shape (2,) (remove "
           "multinomial's last axis).")
    expect(got.dtype == torch.int64, f"sample_next returned dtype {got.dtype}; token ids are torch.long (int64).")


# ---------------------------------------------------------------- sample_decode

def _sample(mod, model, src, max_len, src_mask=None, generator=None, **kwargs):
    return mod.decoding.sample_decode(model, src, max_len, BOS, EOS, pad_id=PAD, src_mask=src_mask,
                                      generator=generator, **kwargs)


def _sequence_probs(local, src, src_mask, max_len, **kwargs):
    """Every sequence sampling can produce for the source src (1, S), cut after its first eos,
    and its probability under the tempered, filtered model (brute force, batched by depth)."""
    with torch.no_grad():
        memory = local.encode(src, src_mask)
        alive = {(BOS,): 1.0}
        done = {}
        for _ in range(max_len - 1):
            if not alive:
                break
            prefixes = list(alive)
            ys = torch.tensor(prefixes)
            T, k = ys.shape[1], ys.shape[0]
            mask = None if src_mask is None else src_mask.expand(k, *src_mask.shape[1:])
            logits = local.decode(ys, memory.expand(k, *memory.shape[1:]), mask,
                                  torch.ones(T, T, dtype=torch.bool).tril())[:, -1]
            probs = _exact_probs(logits, kwargs.get("temperature", 1.0), kwargs.get("top_k"), kwargs.get("top_p"))
            nxt = {}
            for prefix, row in zip(prefixes, probs.tolist()):
                for tok, p in enumerate(row):
                    if p > 0:
                        (done if tok == EOS else nxt)[prefix + (tok,)] = alive[prefix] * p
            alive = nxt
        done.update(alive)
        return done


def _cut(row):
    return tuple(row[:row.index(EOS) + 1]) if EOS in row else tuple(row)


def _sequences_match(got, groups, tables):
    """None if the rows of got (cut after eos) follow the probabilities of their group's table."""
    for g, table in enumerate(tables):
        rows = [_cut(r) for r, gg in zip(got.tolist(), groups.tolist()) if gg == g]
        seqs = list(table)
        index = {s: i for i, s in enumerate(seqs)}
        strange = [r for r in rows if r not in index]
        if strange:
            return f"source {g} gave the sequence {list(strange[0])}, which the model cannot produce (probability 0)"
        counts = torch.bincount(torch.tensor([index[r] for r in rows]), minlength=len(seqs)).to(torch.float64)
        ok, why = _chi_square_ok(counts, torch.tensor([table[s] for s in seqs], dtype=torch.float64))
        if not ok:
            top = sorted(seqs, key=lambda s: -table[s])[:4]
            return (f"source {g}: {why}; for example " + ", ".join(
                f"{list(s)} drawn {int(counts[index[s]])} times, expected {table[s] * len(rows):.0f}" for s in top))
    return None


def _sample_check(student, ref, local, model, srcs, max_len, seed, call, masked=False, n=1500, **kwargs):
    """sample_decode on every source of srcs (G, S) repeated n times: equal to the reference's
    tokens for the same seed, or sequences whose frequencies follow the model."""
    src, groups = _repeat_rows(srcs, n)
    mask = (src != PAD)[:, None, :] if masked else None
    got = _as_token_tensor(_sample(student, model, src, max_len, mask, student.fixtures.make_generator(seed), **kwargs))
    expect(isinstance(got, torch.Tensor) and got.dim() == 2 and got.shape[0] == src.shape[0],
           f"{call} returned {describe(got)}; expected a (B, L) tensor with B = {src.shape[0]}.")
    want = _sample(ref, local, src, max_len, mask, torch.Generator().manual_seed(seed), **kwargs)
    if got.shape == want.shape and torch.equal(got.to(torch.int64), want):
        return
    tables = [_sequence_probs(local, srcs[g:g + 1], None if mask is None else (srcs[g:g + 1] != PAD)[:, None, :],
                              max_len, **kwargs) for g in range(srcs.shape[0])]
    why = _sequences_match(got.to(torch.int64), groups, tables)
    if why is not None:
        _fail_with(CheckFailed(f"the sequences drawn do not follow the model's tempered, filtered distribution: {why}."),
                   call, model, src_mask_given=masked)


@check("decoding.sample_decode", weight=2)
def test_sampled_conventions(student):
    """with top_k = 1 sampling is greedy: bos first, pad after eos, stop when all have finished, max_len"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    src = torch.tensor([[1, 1, 1], [5, 5, 5], [3, 3, 3]])
    for max_len, want in ((12, torch.tensor([[1, 3, 4, 5, 6, 7, 8, 9, 2], [1, 7, 8, 9, 2, 0, 0, 0, 0],
                                             [1, 5, 6, 7, 8, 9, 2, 0, 0]])),
                          (5, torch.tensor([[1, 3, 4, 5, 6], [1, 7, 8, 9, 2], [1, 5, 6, 7, 8]]))):
        model.clear_calls()
        got = _sample(student, model, src, max_len, generator=student.fixtures.make_generator(0), top_k=1,
                      temperature=1.3)
        _expect_tokens(got, want, f"sample_decode(model, src, max_len={max_len}, bos_id=1, eos_id=2, pad_id=0, "
                       "temperature=1.3, top_k=1, generator=g) on a counting model", model)


@check("decoding.sample_decode", weight=2)
def test_sampled_distribution(student, ref, rng):
    """sequences follow the model's distribution with temperature 0.8 and top_k = 4 (1500 draws per source)"""
    table, bias = _random_markov(rng, 6, eos_boost=1.5)
    local, model = _pair(student, "MarkovLM", table, bias)
    srcs, _ = _src(rng, 2, 3)
    _sample_check(student, ref, local, model, srcs, 4, 31, "sample_decode(model, src (3000, 3), max_len=4, bos_id=1, "
                  "eos_id=2, temperature=0.8, top_k=4, generator=g)", temperature=0.8, top_k=4)


@check("decoding.sample_decode", weight=2)
def test_sampled_prefix_model(student, ref, rng):
    """a model that reads the whole prefix (causal mask) and padded sources (src_mask), with top_p = 0.9"""
    table = _random_prefix(rng, 13, 5, eos_boost=1.0)
    local, model = _pair(student, "PrefixLM", table)
    srcs, _ = _src(rng, 2, 4, lengths=[4, 2])
    _sample_check(student, ref, local, model, srcs, 4, 32, "sample_decode(model, src (3000, 4), max_len=4, bos_id=1, "
                  "eos_id=2, src_mask=mask, top_p=0.9, generator=g)", masked=True, top_p=0.9)


@check("decoding.sample_decode", kind="property")
def test_sampled_uses_generator(student, rng):
    """the generator alone decides the sequences: the same seed gives the same result whatever the global seed"""
    table, bias = _random_markov(rng, 6, eos_boost=0.5)
    _, model = _pair(student, "MarkovLM", table, bias)
    src, _ = _src(rng, 40, 3)
    runs = []
    for global_seed, seed in ((1, 4), (2, 4), (3, 8)):
        student.fixtures.seed_everything(global_seed)
        runs.append(_as_token_tensor(_sample(student, model, src, 6, generator=student.fixtures.make_generator(seed))))
    same = all(isinstance(r, torch.Tensor) for r in runs) and runs[0].shape == runs[1].shape and torch.equal(runs[0], runs[1])
    expect(same, "sample_decode(model, src, 6, 1, 2, generator=torch.Generator().manual_seed(4)) gave different "
                 "sequences after torch.manual_seed(1) and after torch.manual_seed(2): every draw must come from the "
                 "generator (pass it on to sample_next).")
    expect(not (runs[0].shape == runs[2].shape and torch.equal(runs[0], runs[2])),
           "generators seeded 4 and 8 gave the same 40 sequences: the draws should come from the generator.")


@check("decoding.sample_decode", kind="property")
def test_sampled_mode_and_grad(student):
    """the model's mode is unchanged, no gradient is recorded, and the result is a LongTensor"""
    table, bias = fixtures.counting_chain()
    _, model = _pair(student, "MarkovLM", table, bias)
    model.train()
    got = _sample(student, model, torch.tensor([[1, 1], [3, 3]]), 4, generator=student.fixtures.make_generator(0))
    expect(bool(model.training), "sample_decode switched the model out of training mode; leave its mode alone.")
    expect(not any(c.get("grad_enabled") for c in _calls(model)),
           "the model ran with gradients enabled: decode inside `with torch.no_grad():`.")
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.int64,
           f"sample_decode returned {describe(got)}; expected a LongTensor (B, L).")


# ================================================================ cached_greedy_decode
#
# Random course Transformers of the learner's own classes (uses_own: a reference standing in
# would keep the layers a cache reads out of the worker), float64 and eval(), built here and in
# the worker from the same weights; the worker's one logs the calls of its decoder's projections
# (fixtures.logged_transformer), and the tokens expected are greedy decoding of that same model.

def _config(norm_first, layers, V=13, S_vocab=11):
    return dict(src_vocab=S_vocab, tgt_vocab=V, d_model=16, num_heads=2, num_encoder_layers=2,
                num_decoder_layers=layers, d_ff=32, dropout=0.0, max_len=64, norm_first=norm_first)


def _local_transformer(ref, rng, norm_first, layers):
    """A random reference Transformer (float64, eval()), its config and its weights as made."""
    config = _config(norm_first, layers)
    torch.manual_seed(int(rng.integers(2 ** 31)))
    local = ref.transformer.Transformer(**config)
    state = {k: v.detach().clone() for k, v in local.state_dict().items()}
    return local.double().eval(), config, state


def _lively(ref, rng, norm_first, layers):
    """A random Transformer (its config and weights) and padded sources whose greedy paths
    are varied (at least 3 distinct tokens per row on average, over 11 steps), with those
    paths: a random model often repeats one token forever, and then a decoder that loses
    track of the position would go unnoticed. The search is the same for every submission:
    it is done once per run."""
    return reference_once(ref, rng, _search_lively, norm_first, layers)


def _search_lively(ref, rng, norm_first, layers):
    def make(rng):
        local, config, state = _local_transformer(ref, rng, norm_first, layers)
        src, mask = _padded_src(rng)
        free = ref.decoding.greedy_decode(local, src, 12, BOS, -1, PAD, src_mask=mask)
        variety = sum(len(set(row)) for row in free[:, 1:].tolist()) / free.shape[0]
        return (config, state), src, mask, free, variety
    return _pick(rng, make, lambda c: c[4] >= 3, tries=40)


def _transformers(student, ref, rng, norm_first, layers):
    """(local reference model, the worker's logged model) with the same random weights."""
    local, config, state = _local_transformer(ref, rng, norm_first, layers)
    return local, student.fixtures.logged_transformer(config, state)


def _cached(student, model, src, max_len, eos=EOS, src_mask=None):
    return student.decoding.cached_greedy_decode(model, src, max_len, BOS, eos, pad_id=PAD, src_mask=src_mask)


def _padded_src(rng, B=4, S=6):
    src, mask = _src(rng, B, S, lengths=[S, S - 2, 3, S - 1][:B], low=3, high=11)
    return src, mask


def _absent_token(tokens, V):
    """A token id (not pad or bos) that greedy never produced: an eos that never ends a row."""
    seen = set(tokens.flatten().tolist())
    return next((t for t in range(3, V) if t not in seen), V + 5)


def _cache_equals_greedy(student, ref, rng, norm_first, layers, call):
    made, src, mask, free, _ = _lively(ref, rng, norm_first, layers)
    model = student.fixtures.logged_transformer(*made)
    eos = _absent_token(free, 13)
    # greedy decoding of the worker's own model (the learner's Transformer), run from here: a
    # cache is judged against the model it caches, so a slip in the Transformer costs only there
    want = ref.decoding.greedy_decode(model, src, 12, BOS, eos, PAD, src_mask=mask)
    got = _cached(student, model, src, 12, eos=eos, src_mask=mask)
    _expect_tokens(got, want, call.format(eos=eos), judge_pad=False, judge_length=False)


@check("decoding.cached_greedy_decode", weight=2)
def test_cache_post_norm(student, ref, rng):
    """the same tokens as greedy_decode on post-norm Transformers (2 decoder layers, padded sources)"""
    for _ in range(2):
        _cache_equals_greedy(student, ref, rng, False, 2, "cached_greedy_decode(model, src (4, 6), max_len=12, "
                             "bos_id=1, eos_id={eos}, src_mask=mask) on a post-norm Transformer with 2 decoder "
                             "layers, compared with greedy_decode")


@check("decoding.cached_greedy_decode", weight=2)
def test_cache_pre_norm(student, ref, rng):
    """the same tokens as greedy_decode on pre-norm Transformers (3 decoder layers, padded sources)"""
    for _ in range(2):
        _cache_equals_greedy(student, ref, rng, True, 3, "cached_greedy_decode(model, src (4, 6), max_len=12, "
                             "bos_id=1, eos_id={eos}, src_mask=mask) on a pre-norm Transformer (norm_first=True) "
                             "with 3 decoder layers, compared with greedy_decode")


def _logged_run(student, ref, rng, norm_first=False, layers=2, max_len=9):
    local, model = _transformers(student, ref, rng, norm_first, layers)
    src, mask = _padded_src(rng)
    model.clear_calls()
    got = _as_token_tensor(_cached(student, model, src, max_len, eos=-1, src_mask=mask))
    steps = got.shape[1] - 1 if isinstance(got, torch.Tensor) and got.dim() == 2 else max_len - 1
    return list(model.calls), src, steps


@check("decoding.cached_greedy_decode", weight=4, kind="property")
def test_cache_one_position_per_step(student, ref, rng):
    """each step runs only the newest position through the decoder: every projection sees one vector per row"""
    calls, src, steps = _logged_run(student, ref, rng)
    B = src.shape[0]
    call = "cached_greedy_decode(model, src (4, 6), max_len=9, bos_id=1, eos_id=-1, src_mask=mask)"
    for name in ("decoder.layers.0.self_attn.w_k", "decoder.layers.1.self_attn.w_q", "decoder.layers.1.ff", "generator"):
        mine = [c for c in calls if c["name"] == name]
        expect(len(mine) > 0, f"{call} never called model.{name}: call the projections, the feed-forward and the "
                              "generator as modules (layer.self_attn.w_k(x), layer.ff(x), ...), as the model does.")
        big = [c["vectors"] for c in mine if c["vectors"] > B]
        expect(not big, f"{call} gave model.{name} inputs of {big[0] if big else 0} vectors ({len(mine)} calls); "
                        f"with a cache each step passes ONE position per row, {B} vectors (B = {B}): the earlier "
                        "positions' keys and values come from the cache, not from running the prefix again.")
    per_step = [c for c in calls if c["name"] == "decoder.layers.0.self_attn.w_k"]
    expect(len(per_step) >= steps,
           f"{call} called model.decoder.layers.0.self_attn.w_k {len(per_step)} times for {steps} steps: each step "
           "projects the newest position's key (and appends it to the cache).")


@check("decoding.cached_greedy_decode", weight=3, kind="property")
def test_cache_memory_projected_once(student, ref, rng):
    """the memory's keys and values are projected once per call, not at every step"""
    calls, src, steps = _logged_run(student, ref, rng, norm_first=True)
    B, S = src.shape
    call = "cached_greedy_decode(model, src (4, 6), max_len=9, bos_id=1, eos_id=-1, src_mask=mask)"
    for layer in (0, 1):
        for w in ("w_k", "w_v"):
            name = f"decoder.layers.{layer}.cross_attn.{w}"
            mine = [c for c in calls if c["name"] == name]
            expect(len(mine) > 0, f"{call} never called model.{name}: project the memory with the module "
                                  f"(layer.cross_attn.{w}(memory)).")
            total = sum(c["vectors"] for c in mine)
            expect(total <= B * S, f"{call} projected {total} vectors with model.{name} over {steps} steps "
                                   f"({len(mine)} calls); the memory holds B * S = {B * S}: it never changes, so "
                                   "project it once per call (before the loop) and keep its keys and values.")


def _search_staggered_eos(ref, rng):
    """A random Transformer (config and weights), padded sources and a token that every
    row's greedy path holds, first at different steps before the 7th: an eos that ends the
    rows one by one. Done once per run."""
    def make(rng):
        local, config, state = _local_transformer(ref, rng, False, 2)
        src, mask = _padded_src(rng)
        free = ref.decoding.greedy_decode(local, src, 10, BOS, -1, PAD, src_mask=mask)
        firsts = {}
        for t in range(3, 13):
            rows = free[:, 1:].tolist()
            if all(t in r for r in rows):
                firsts[t] = [r.index(t) for r in rows]
        good = [t for t, f in firsts.items() if len(set(f)) > 1 and max(f) < 7]
        return (config, state), src, mask, (good[0] if good else None)

    return _pick(rng, make, lambda c: c[3] is not None, tries=30)


@check("decoding.cached_greedy_decode")
def test_cache_conventions(student, ref, rng):
    """rows finishing at different steps: pad after eos, stop when every row has finished, max_len"""
    made, src, mask, eos = reference_once(ref, rng, _search_staggered_eos)
    eos = EOS if eos is None else eos
    model = student.fixtures.logged_transformer(*made)
    for max_len in (10, 4):
        want = ref.decoding.greedy_decode(model, src, max_len, BOS, eos, PAD, src_mask=mask)
        got = _cached(student, model, src, max_len, eos=eos, src_mask=mask)
        _expect_tokens(got, want, f"cached_greedy_decode(model, src, max_len={max_len}, bos_id=1, eos_id={eos}, "
                       "pad_id=0, src_mask=mask), where the rows emit eos at different steps", eos=eos)


@check("decoding.cached_greedy_decode", kind="property")
def test_cache_mode_and_grad(student, ref, rng):
    """the model's mode is unchanged, no gradient is recorded, and the result is a LongTensor"""
    local, model = _transformers(student, ref, rng, False, 2)
    src, mask = _padded_src(rng)
    model.train()
    model.clear_calls()
    got = _cached(student, model, src, 5, src_mask=mask)
    expect(bool(model.training), "cached_greedy_decode switched the model out of training mode; leave its mode alone.")
    expect(not any(c["grad"] for c in model.calls),
           "the model's projections ran with gradients enabled: decode inside `with torch.no_grad():`.")
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.int64,
           f"cached_greedy_decode returned {describe(got)}; expected a LongTensor (B, L).")
