"""Causal and padding masks, and a softmax that respects them (torch).

Attention lets every query look at every key. Two situations forbid some of
those looks, and a mask says which ones: a boolean tensor that broadcasts
against the scores (..., T_q, T_k), where mask[..., i, j] is True when query i
MAY attend to key j, and False when it must not. (This is the convention of
F.scaled_dot_product_attention and of the Annotated Transformer. Beware:
nn.MultiheadAttention's attn_mask and key_padding_mask use the opposite one,
True = blocked. Converting between the two is a ~.)

A decoder must not see the future. A language model or a translation decoder
predicts token t+1 from the tokens up to t. At inference it produces one token
at a time, so the future does not exist yet. At training time, however, the
whole target sequence is fed in at once (teacher forcing: all T predictions are
computed in one parallel pass, which is what makes transformers fast to train).
Without a mask, the query at position t could simply attend to the key at
position t+1 and copy the token it is supposed to predict: the training loss
would drop to zero and the model would learn nothing usable, since at inference
that token is not there. The causal (look-ahead) mask forbids every key j > i:

        keys ->   0  1  2  3
    query 0     [ T  F  F  F ]
    query 1     [ T  T  F  F ]       True on and below the diagonal
    query 2     [ T  T  T  F ]       (a position may see itself)
    query 3     [ T  T  T  T ]

Padding. A batch is one tensor, so its sequences must all have the same length
T: the shorter ones are filled up with a special token, pad_id. Those pad
positions are not part of the text. If a query attended to them, its result
would depend on how much padding the batch happened to need (the same sentence
would be encoded differently next to a longer one), and the model would learn
from garbage. So keys holding pad_id are masked out. padding_mask returns shape
(B, 1, T): True at real tokens, False at pad; the axis of size 1 broadcasts
over the queries of the scores (B, T_q, T_k). The two masks combine with &:
padding_mask(tgt, pad) & causal_mask(T) is (B, T, T).

How to mask: -inf BEFORE the softmax. Set the masked scores to -inf (in
practice to the most negative number of the dtype, torch.finfo(dtype).min),
then take the softmax. exp(-inf) = 0, so the masked keys get weight exactly 0
and the softmax spreads the whole weight 1 over the allowed keys, in the same
proportions as before. Two tempting shortcuts are wrong:

  - multiplying the scores by 0 (scores * mask): a score of 0 is not "no
    attention", it is an ordinary score. exp(0) = 1, so a masked key still
    gets as much weight as any key whose score happens to be 0;
  - masking after the softmax (weights * mask): the weights were normalised
    counting the masked keys, so the rest no longer sum to 1 (and the
    masked scores still decided how much is left). You would have to
    renormalise, which is the softmax over the allowed keys done the long way.

Why torch.finfo(dtype).min rather than -inf or -1e9: the stable softmax
subtracts the row's maximum first. If every entry of a row is -inf, that
maximum is -inf and -inf - (-inf) is NaN. A large finite number avoids this,
and finfo(dtype).min is large for every dtype (-1e9 is fine in float32 and
float64 but does not exist in float16, whose range ends near -65504).

Fully masked rows. Sometimes a query has no key it may attend to (a pad query
under a mask that is padded on both axes; a left-padded sequence under a causal
mask). Its softmax has nothing to normalise:

  - with -inf scores every entry is NaN (0 / 0). NaN is contagious: it flows
    into the output, the loss, every gradient, and after one optimiser step
    into every weight of the model;
  - with finfo.min scores all entries are equal, so the softmax returns the
    uniform 1/T_k: a query that may look at nothing would look at everything.

The convention of this course: such a row gets all-zero weights, so the query
contributes a zero output, and its gradients are zero, never NaN. Masking by
finfo.min and then setting the masked weights to 0 gives exactly that: it
changes nothing in the other rows (their masked weights were already 0) and
empties the fully masked ones. Replacing NaN afterwards (nan_to_num) is not
enough in general: a NaN produced on the way can still leak into the gradients.

In this module you write:

    causal_mask       the (T, T) look-ahead mask
    padding_mask      the (B, 1, T) mask of the real tokens
    masked_softmax    a softmax that gives masked positions weight 0, and fully
                      masked rows all-zero weights

masked_softmax may (and should) use the softmax you wrote in the attention
module: `from attention import softmax` is already at the top of this file.
torch's own softmax functions are not allowed in it.
"""

import torch

from attention import softmax


def causal_mask(size, device=None):
    """The causal (look-ahead) mask of a decoder.

    Inputs:
        size    int, the sequence length T
        device  where to make the mask (a torch.device or a string such as
                "cpu" or "cuda"; None: torch's default device). Create the
                mask there directly, so it lands next to the scores it masks.
    Returns:
        mask    bool (T, T), mask[i, j] True where query i may attend to key j,
                i.e. j <= i: True on and below the diagonal (a position sees
                itself and the past), False above it (the future)
    """
    # BEGIN SOLUTION
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()
    # END SOLUTION


def padding_mask(tokens, pad_id):
    """The padding mask of a batch of token ids.

    Inputs:
        tokens  integer (B, T), each row a sequence filled up with pad_id
                (usually at the end; mark every position holding pad_id,
                wherever it is)
        pad_id  int, the id of the padding token (not necessarily 0)
    Returns:
        mask    bool (B, 1, T): mask[b, 0, t] is True where tokens[b, t] is a
                real token and False where it is pad_id. The middle axis of
                size 1 broadcasts over the queries of the scores (B, T_q, T_k):
                every query of sequence b may attend to its real keys only.
    """
    # BEGIN SOLUTION
    return (tokens != pad_id).unsqueeze(1)
    # END SOLUTION


def masked_softmax(scores, mask, dim=-1):
    """Softmax of scores along dim, giving masked positions a weight of exactly 0.

    Inputs:
        scores  float tensor, e.g. (..., T_q, T_k), float32 or float64
        mask    bool tensor broadcastable to scores (e.g. (B, 1, T_k) or
                (T_q, T_k) against scores (B, T_q, T_k)), True = may attend;
                or None for a plain softmax
        dim     the axis to normalise over (the keys' axis, -1, by default)
    Returns:
        weights of the same shape and dtype as scores: along dim, the
                unmasked entries are positive and sum to 1, the masked ones are
                exactly 0; a row (along dim) whose entries are all masked is all
                0, never NaN, and so are its gradients. Large scores (1000,
                1001) must not overflow.

    Use the softmax of the attention module (imported above); torch's own
    softmax functions are not allowed here.
    """
    # BEGIN SOLUTION
    if mask is None:
        return softmax(scores, dim=dim)
    mask = torch.broadcast_to(mask, scores.shape)
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = softmax(filled, dim=dim)
    return weights.masked_fill(~mask, 0.0)
    # END SOLUTION
