"""Decoding: turning a trained encoder-decoder into output sequences (torch).

A trained Transformer does not produce a sentence, it produces a distribution. Given the
source and the target tokens so far, model.decode gives the logits of the NEXT token at
every target position. Decoding is the loop around the model that builds an output
sequence one token at a time, feeding each choice back in as input for the next step
(autoregressive generation).

The model interface (the course Transformer's, and the toy models the grader uses):

    memory = model.encode(src, src_mask)                     # once per source
    logits = model.decode(tgt, memory, src_mask, tgt_mask)   # (B, T, V)

src (B, S) holds source token ids and src_mask is its padding mask (B, 1, S), True at real
tokens (or None). tgt (B, T) holds the target tokens produced so far, starting with bos_id;
tgt_mask is the causal mask causal_mask(T, device) from the masking module, so that
position t only sees positions 0..t. logits[:, t] scores the token that follows tgt[:, t]:
at every step only the LAST position, logits[:, -1], is new. (Feeding the whole prefix
again at every step recomputes the earlier positions; real implementations cache them, a
"KV cache": the last exercise of this module does it. The simple loop comes first.)

Special tokens. bos_id (begin of sequence) is the first input of the decoder; every
returned sequence starts with it. eos_id (end of sequence) is a token the model emits to
say it is done. pad_id fills the rest of a row in a batch once that row is finished.
Lengths count every token, bos included: a sequence of max_len tokens holds bos and at most
max_len - 1 generated tokens, so at most max_len - 1 calls of model.decode.

Greedy decoding takes the most probable next token (argmax of the logits) at every step.
It is fast and simple, but short-sighted: the best first word may lead to a poor
continuation, and greedy never goes back. For a batch, rows finish at different steps: a
finished row keeps receiving pad_id (its later predictions are ignored), and the loop stops
as soon as every row has emitted eos, or when the sequences reach max_len tokens. So the
result is (B, L) with L <= max_len: L < max_len only when every row has finished.

    bos  the  cat  eos  pad  pad         row 0 finished after 3 generated tokens
    bos  a    dog  ran  away eos         row 1 finished last: the loop stopped here

Beam search keeps the beam_size best partial sequences (hypotheses) instead of one. The
score of a hypothesis is the SUM of the log-probabilities of its tokens after bos,

    score(bos y1 ... yn) = log p(y1 | bos) + log p(y2 | bos y1) + ... + log p(yn | bos ... y(n-1))

(a sum of logs, not a product of probabilities: the product of many small numbers
underflows). Take the log-probabilities from the logits with log_softmax. At each step every
alive hypothesis is extended by every token of the vocabulary (beam_size * V candidates,
each scored by adding the new token's log-probability to its parent's score), and only the
beam_size best candidates survive. A candidate that ends with eos is finished: it leaves the
beam and waits in a list of finished hypotheses, so the beam holds fewer hypotheses after
some of them finish. The search ends when no hypothesis is alive or after max_len - 1
steps. The hypotheses still alive then (unfinished: cut at max_len tokens, no eos) are
ranked together with the finished ones, and the beam_size best of them all are returned,
best first. With beam_size = 1 this is exactly greedy decoding; with a beam as large as the
number of possible sequences it is an exhaustive search that finds the most probable one.

    step 1 (beam_size 2):  bos a  (-0.6)   bos b  (-0.9)   | bos eos (-3.5) dropped
    step 2:                bos b eos (-1.0) finished        | bos a a (-1.7) alive
                           (bos a b -2.1, bos b a -3.5, ... dropped: 2 kept of 2 * V)

Note what the sum of log-probabilities favours: every token adds a negative number, so
short hypotheses score higher. Real systems divide by a length penalty; here there is no
length normalisation, which keeps the scores simple to check.

Decoding is inference. Run it under torch.no_grad() (no graph is recorded, no memory is
wasted on it) and leave the model's mode alone: the caller chooses train() or eval() (for
a real model, eval(), which switches dropout off), and decoding must not change it.

Sampling. Greedy and beam search look for the most probable output; for open-ended
generation (stories, dialogue) that gives dull, repetitive text. Sampling draws each next
token at random from the model's distribution instead, reshaped by three knobs:

    temperature T   softmax(logits / T): T < 1 sharpens the distribution (T -> 0 is greedy),
                    T > 1 flattens it (T -> infinity is uniform)
    top-k           keep only the k most probable tokens (top_k = 1 is greedy)
    top-p (nucleus) keep the smallest set of most probable tokens whose probability adds up
                    to at least p: few tokens where the model is sure, many where it is not

    probabilities    a .50  b .30  c .15  d .05
    top_k = 2        a .63  b .37                    (renormalised over the survivors)
    top_p = 0.7      a .63  b .37                    (.50 < .7, .80 >= .7: c is dropped)
    T = 2            a .38  b .29  c .21  d .12      (softmax of the logits halved)

A filtered token gets the logit -inf, hence probability 0. The draws come from a
torch.Generator handed in by the caller, never from the global random state, so that a
seeded generator reproduces the same samples.

The KV cache. In greedy_decode, step t feeds the whole prefix of t + 1 tokens through the
decoder, so generating n tokens costs about n^2 / 2 token-passes. But thanks to the causal
mask, nothing at an earlier position depends on a later one: the keys and values each
self-attention computed for the earlier positions are the same at every step. Keeping them
(one cache per decoder layer) lets each step run ONLY the newest token through the decoder:
its query attends to the cached keys and values, and its own key and value are appended.
The cross-attention's keys and values come from the memory, which never changes: they are
projected once per source. Same tokens, about n token-passes instead of n^2 / 2.

In this module you write:

    greedy_decode         batched greedy decoding with early stopping and padding
    beam_search           beam search for one source, returning the best hypotheses and their scores
    filter_logits         top-k and top-p filtering of a batch of next-token logits
    sample_next           one draw per row with temperature, top-k and top-p
    sample_decode         greedy_decode's loop, sampling instead of taking the argmax
    cached_greedy_decode  greedy decoding of the course Transformer with a key-value cache

The decoding loops use causal_mask, imported from your masking module at the top of this file.
"""

import math

import torch

from masking import causal_mask


def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            tgt_mask = causal_mask(ys.shape[1], device=src.device)
            logits = model.decode(ys, memory, src_mask, tgt_mask)
            next_token = logits[:, -1].argmax(dim=-1)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
    # END SOLUTION


def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    """Beam search for one source.

    Inputs:
        model      as for greedy_decode
        src        integer (1, S), ONE source sequence
        beam_size  int >= 1, the number of hypotheses kept at each step (and returned)
        max_len    int >= 1, the largest number of tokens of a hypothesis, bos included
        bos_id     int, the first token of every hypothesis
        eos_id     int, the token that finishes a hypothesis
        src_mask   the source's padding mask (1, 1, S), or None; pass it on to the model
    Returns:
        a list of (tokens, logprob) pairs, best (highest logprob) first:
        tokens     LongTensor (n,), 1 <= n <= max_len, starting with bos_id; a finished
                   hypothesis ends with its (first and only) eos_id. A 1-D tensor of another
                   integer dtype, or a list of ints, is fine too (no batch axis: not (1, n)).
        logprob    Python float (a 0-d tensor is fine too), the sum over the tokens after bos
                   of their log-probability (log_softmax of the logits) given the tokens before
                   them; no length normalisation

    The algorithm, exactly:
        - start with one alive hypothesis, [bos_id], of score 0.0, and no finished ones;
        - repeat at most max_len - 1 times (a hypothesis never exceeds max_len tokens):
          extend every alive hypothesis by every token of the vocabulary (score = its
          score + that token's log-probability after it), and keep the beam_size best of
          all these candidates. A kept candidate ending with eos_id is finished and leaves
          the beam; the others are the new alive hypotheses. Stop early when none is alive;
        - the hypotheses still alive at the end are kept too, unfinished (no eos);
        - return the beam_size best of the finished and the unfinished hypotheses together,
          sorted by logprob, best first (fewer only if fewer exist).

    With beam_size = 1 the result is greedy decoding's sequence. The alive hypotheses can be
    decoded one at a time or together as a batch (repeat the memory). Do not change the
    model's mode (train/eval) and record no gradients (torch.no_grad()).
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        alive = torch.full((1, 1), bos_id, dtype=torch.long, device=src.device)   # (k, T)
        scores = torch.zeros(1, dtype=torch.float64, device=src.device)            # (k,)
        finished = []
        for _ in range(max_len - 1):
            k, T = alive.shape
            mem = memory.expand(k, *memory.shape[1:])
            mask = None if src_mask is None else src_mask.expand(k, *src_mask.shape[1:])
            logits = model.decode(alive, mem, mask, causal_mask(T, device=src.device))
            logp = torch.log_softmax(logits[:, -1].to(torch.float64), dim=-1)      # (k, V)
            V = logp.shape[-1]
            candidates = (scores[:, None] + logp).reshape(-1)
            best, index = candidates.topk(min(beam_size, candidates.numel()))
            parents, tokens = index // V, index % V
            extended = torch.cat([alive[parents], tokens[:, None]], dim=1)
            done = tokens == eos_id
            finished += [(extended[i], float(best[i])) for i in torch.nonzero(done).flatten().tolist()]
            alive, scores = extended[~done], best[~done]
            if alive.shape[0] == 0:
                break
        hypotheses = finished + [(alive[i], float(scores[i])) for i in range(alive.shape[0])]
        hypotheses.sort(key=lambda h: h[1], reverse=True)
        return hypotheses[:beam_size]
    # END SOLUTION


def filter_logits(logits, top_k=None, top_p=None):
    out = logits.clone()
    if top_k is not None:
        k = min(int(top_k), out.shape[-1])
        kth = torch.topk(out, k, dim=-1).values[..., -1:]                      # (B, 1)
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None:
        probs, order = torch.sort(torch.softmax(out, dim=-1), dim=-1, descending=True)
        before = torch.cumsum(probs, dim=-1) - probs                            # mass of the tokens before
        drop_sorted = torch.cumsum(probs, dim=-1) > top_p
        drop_sorted[..., 0] = False                                             # the best always stays
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out
    # END SOLUTION


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Draw one next token per row from tempered, filtered logits.

    Inputs:
        logits       float (B, V), next-token logits
        temperature  float > 0. The logits are DIVIDED by it before anything else: below 1
                     the distribution gets sharper (towards the argmax as it goes to 0),
                     above 1 flatter (towards uniform)
        top_k, top_p as for filter_logits, applied to the tempered logits
        generator    a torch.Generator or None, the source of ALL the randomness: pass it
                     to torch.multinomial (generator=generator). Never use the global
                     random state, so that a seeded generator reproduces the same draws.
    Returns:
        LongTensor (B,) on logits's device: row b holds a token drawn from
        softmax(filter_logits(logits[b] / temperature, top_k, top_p)). A filtered token
        (-inf, probability 0) is never drawn.

    The grader compares your draws with the reference's for the same seed (one call of
    torch.multinomial(probs, 1, generator=generator) on the (B, V) probabilities); draws
    made another way pass too, if their frequencies over many rows match the probabilities.
    """
    # BEGIN SOLUTION
    scaled = logits / temperature
    probs = torch.softmax(filter_logits(scaled, top_k=top_k, top_p=top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    # END SOLUTION


def sample_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None, temperature=1.0,
                  top_k=None, top_p=None, generator=None):
    """Sampling (ancestral sampling) of a batch of sources: greedy_decode with a draw instead of the argmax.

    Inputs:
        model, src, max_len, bos_id, eos_id, pad_id, src_mask   as for greedy_decode
        temperature, top_k, top_p, generator                      passed on to sample_next
    Returns:
        tokens  LongTensor (B, L) on src's device, 1 <= L <= max_len, with greedy_decode's
                conventions: tokens[:, 0] is bos_id; each step decodes the whole prefix with
                causal_mask(T, device) and appends, for every row, the token that
                sample_next draws from the LAST position's logits (one call of sample_next
                on the whole batch per step); after a row's eos every position holds
                pad_id; stop as soon as every row has finished, or at max_len tokens.

    Every random draw goes through sample_next with the generator. Do not change the
    model's mode (train/eval) and record no gradients (torch.no_grad()).
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, causal_mask(ys.shape[1], device=src.device))
            drawn = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p,
                                generator=generator).to(torch.long)
            drawn = torch.where(finished, torch.full_like(drawn, pad_id), drawn)
            ys = torch.cat([ys, drawn[:, None]], dim=1)
            finished = finished | (drawn == eos_id)
            if bool(finished.all()):
                break
        return ys
    # END SOLUTION


def cached_greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    """Greedy decoding with a key-value cache: greedy_decode's tokens, one new position per step.

    Inputs: as for greedy_decode; model is the course's transformer.Transformer (post-norm or
    pre-norm, any number of decoder layers), used through its syllabus attributes:
        model.tgt_embed, model.pos_encoding.pe (the table of positions),
        model.decoder.layers[i] with self_attn, cross_attn (MultiHeadAttention: w_q, w_k,
        w_v, w_o and num_heads), norm1, norm2, norm3, ff and norm_first,
        model.decoder.norm and model.generator.
    Returns: exactly what greedy_decode returns (same tokens, same conventions: bos first,
    pad after eos, early stop, at most max_len tokens).

    greedy_decode feeds the whole prefix to model.decode at every step, so step t redoes the
    work of the t steps before it. But in a decoder nothing at an earlier position depends
    on a later one (the causal mask), so the vectors of the earlier positions never change:
    only the NEWEST token has to go through the decoder. Do this:
        - memory = model.encode(src, src_mask), once; then, once per decoder layer, project
          the memory for the cross-attention: K_mem = cross_attn.w_k(memory) and
          V_mem = cross_attn.w_v(memory), split into heads (B, h, S, d_k), and keep them;
        - at the step that adds position t (bos is position 0), embed only the newest token,
          x = tgt_embed(token) * sqrt(d_model) plus row t of pos_encoding.pe (the position
          of that token, not 0): x is (B, 1, d_model);
        - in each layer, the self-attention's query, key and value of x are projected
          (w_q, w_k, w_v on x, or on norm1(x) for a pre-norm layer); the new key and value
          are appended to that layer's cache (B, h, t + 1, d_k), and the query attends to
          every cached position (no mask is needed: the cache holds only the past and the
          present). Then w_o, the residual and the norms exactly as the layer does it
          (norm_first decides where the norms go), the cross-attention of x against the
          cached K_mem, V_mem with the source mask (B, 1, S) (query w_q of x, output w_o),
          and the feed-forward;
        - the final model.decoder.norm and model.generator give the logits (B, 1, V); the
          argmax is the next token, with pad after eos exactly as in greedy_decode.
    Attention here is softmax(q k^T / sqrt(d_k)) v per head, with -inf where the mask is
    False; call the projections as modules (layer.self_attn.w_q(x), layer.ff(x), ...), as
    the model itself does.

    Dropout is left out (decoding runs in eval() mode, where dropout does nothing; with a
    model in train() mode and dropout > 0 the two decoders may differ).

    So each step costs the same, whatever its position (plus attending over t cached keys,
    which is cheap), instead of a full decoder pass over t + 1 positions. Do not change the
    model's mode (train/eval) and record no gradients (torch.no_grad()).
    """
    # BEGIN SOLUTION
    def heads(x, h):                                       # (B, T, D) -> (B, h, T, d_k)
        B, T, D = x.shape
        return x.reshape(B, T, h, D // h).transpose(1, 2)

    def attend(attn, q_in, k, v, mask):                    # q_in (B, 1, D); k, v (B, h, T, d_k)
        h = attn.num_heads
        q = heads(attn.w_q(q_in), h)
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v                                  # (B, h, 1, d_k)
        return attn.w_o(out.transpose(1, 2).reshape(q_in.shape))

    with torch.no_grad():
        B, device = src.shape[0], src.device
        memory = model.encode(src, src_mask)
        mem_mask = None if src_mask is None else src_mask.to(torch.bool).reshape(B, 1, 1, -1)
        layers = list(model.decoder.layers)
        mem_kv = [(heads(l.cross_attn.w_k(memory), l.cross_attn.num_heads),
                   heads(l.cross_attn.w_v(memory), l.cross_attn.num_heads)) for l in layers]
        cache = [None] * len(layers)
        scale = math.sqrt(model.tgt_embed.embedding_dim)
        pe = model.pos_encoding.pe

        ys = torch.full((B, 1), bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(B, dtype=torch.bool, device=device)
        for t in range(max_len - 1):
            x = model.tgt_embed(ys[:, -1:]) * scale
            x = x + pe[t].to(dtype=x.dtype, device=device)                               # (B, 1, D)
            for i, layer in enumerate(layers):
                sa = layer.self_attn
                h_in = layer.norm1(x) if layer.norm_first else x
                k_new, v_new = heads(sa.w_k(h_in), sa.num_heads), heads(sa.w_v(h_in), sa.num_heads)
                if cache[i] is not None:
                    k_new = torch.cat([cache[i][0], k_new], dim=2)
                    v_new = torch.cat([cache[i][1], v_new], dim=2)
                cache[i] = (k_new, v_new)
                k_mem, v_mem = mem_kv[i]
                if layer.norm_first:
                    x = x + attend(sa, h_in, k_new, v_new, None)
                    x = x + attend(layer.cross_attn, layer.norm2(x), k_mem, v_mem, mem_mask)
                    x = x + layer.ff(layer.norm3(x))
                else:
                    x = layer.norm1(x + attend(sa, x, k_new, v_new, None))
                    x = layer.norm2(x + attend(layer.cross_attn, x, k_mem, v_mem, mem_mask))
                    x = layer.norm3(x + layer.ff(x))
            logits = model.generator(model.decoder.norm(x))                              # (B, 1, V)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
    # END SOLUTION
