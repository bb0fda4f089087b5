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
"KV cache", but the result is the same and the simple loop is what you write here.)

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

In this module you write:

    greedy_decode   batched greedy decoding with early stopping and padding
    beam_search     beam search for one source, returning the best hypotheses and their scores

Both use causal_mask, imported from your masking module at the top of this file.
"""

import torch

from masking import causal_mask


def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    """Greedy decoding of a batch of sources.

    Inputs:
        model     an encoder-decoder with model.encode(src, src_mask) -> memory and
                  model.decode(tgt, memory, src_mask, tgt_mask) -> logits (B, T, V)
        src       integer (B, S), the source token ids
        max_len   int >= 1, the largest number of tokens of a returned sequence, bos included
        bos_id    int, the first token of every output sequence
        eos_id    int, the token that ends a sequence
        pad_id    int, what a row holds after its eos
        src_mask  the source's padding mask (B, 1, S), or None; pass it to encode and to
                  every call of decode
    Returns:
        tokens    LongTensor (B, L) on src's device, 1 <= L <= max_len. tokens[:, 0] is bos_id.
                  Call model.encode once, then for each new position call model.decode on
                  the whole prefix so far with tgt_mask = causal_mask(T, device) (T the
                  prefix's length) and append the argmax of the last position's logits.
                  A row has finished once it has emitted eos_id; every position after its
                  eos holds pad_id (whatever the model predicts there). Stop as soon as
                  every row has finished (then L may be < max_len), or when the sequences
                  have max_len tokens (then some rows may have no eos).

    Do not change the model's mode (train/eval) and record no gradients (torch.no_grad()).
    """
    raise NotImplementedError("decoding.greedy_decode is not written yet; `course hint decoding.greedy_decode` gives a hint")


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
    raise NotImplementedError("decoding.beam_search is not written yet; `course hint decoding.beam_search` gives a hint")
