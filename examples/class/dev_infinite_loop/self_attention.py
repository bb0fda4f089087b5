"""Scaled dot-product attention (torch).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

This one line is the core of the Transformer. It generalises the seq2seq
attention of the attention module from one decoder state to many queries at
once, and it is the building block of multi-head attention (next module).

Queries, keys and values. Think of a soft dictionary lookup. Every position
that wants information issues a query q_i (a vector of size d_k: "what am I
looking for?"). Every position that offers information has a key k_j (also of
size d_k: "what do I contain?") and a value v_j (size d_v: "what I hand over
if you pick me"). Query i compares itself with every key by a dot product,
q_i . k_j, a score that is large when the two vectors point the same way. A
softmax over the keys turns the scores of query i into weights, and the result
for query i is the weighted average of the values:

    scores  = Q K^T / sqrt(d_k)          (T_q, T_k)    one score per (query, key)
    weights = softmax(scores) over keys  (T_q, T_k)    each row sums to 1
    output  = weights V                  (T_q, d_v)    row i = sum_j w_ij v_j

In SELF-attention the queries, keys and values all come from the same
sequence (each position looks at the other positions of its own sequence); in
cross-attention the queries come from the decoder and the keys and values from
the encoder. The function is the same: only where q, k and v come from
changes, so the number of queries T_q and of keys T_k may differ, and so may
d_k and d_v. Only the last two axes take part; any leading axes (batch,
heads: (B, h, T, d)) are independent problems computed side by side, which is
exactly what the batched matrix product @ does.

The weights of each query sum to 1 (over the keys), so each output row is a
convex combination of the value vectors: attention chooses where to look, it
does not change the scale of what it finds.

Why divide by sqrt(d_k). Suppose the entries of q and k are independent, with
mean 0 and variance 1. Then q . k = sum of d_k products q_m k_m, each of mean
0 and variance 1, so the score has variance d_k: its typical size is
sqrt(d_k). With d_k = 64 the scores are spread over about +-8, with d_k = 512
over about +-23. Fed such large numbers, the softmax saturates: one weight is
nearly 1 and the others nearly 0. A saturated softmax has almost zero gradient
(dw_i/ds_j = w_i (delta_ij - w_j) vanishes when every w is 0 or 1), so the
scores, and the projections that produce q and k, stop learning. Dividing by
sqrt(d_k) brings the variance of the scores back to 1 whatever the width:
the softmax starts in its responsive range. (d_k is the width of q and k,
q.shape[-1]; not d_v, not the model width, not the sequence length.)

Masks. mask is a boolean tensor broadcastable to the scores (..., T_q, T_k),
True where query i MAY attend to key j: the causal and padding masks of the
masking module, or their combination. This is the convention of
F.scaled_dot_product_attention's boolean attn_mask, and the OPPOSITE of
nn.MultiheadAttention's attn_mask (and key_padding_mask), where True means
"blocked": pass ~mask to those. Masked keys get weight exactly 0; a query
whose keys are all masked gets all-zero weights and therefore a zero output
(never NaN) — masked_softmax of the masking module does all of that.

In this module you write:

    scaled_dot_product_attention    returns the output and the weights

It may (and should) use your masked_softmax: the import
`from masking import masked_softmax` is at the top of this file. F.scaled_dot_product_attention and
nn.MultiheadAttention are not allowed (you are writing them).
"""

import math

import torch

from masking import masked_softmax


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d_k)) v, with an optional mask.

    Inputs:
        q     (..., T_q, d_k)  queries
        k     (..., T_k, d_k)  keys
        v     (..., T_k, d_v)  values
        mask  bool, broadcastable to (..., T_q, T_k), True = may attend
              (e.g. a causal mask (T, T), a padding mask (B, 1, T_k), or
              (B, 1, 1, T_k) against 4-d inputs); or None: attend everywhere
    The leading axes "..." (none, a batch, a batch and heads, ...) are the same
    for q, k and v and are kept as they are; only the last two axes take part.
    Transpose k on its LAST TWO axes only. d_k is q.shape[-1].

    Returns the tuple (output, weights):
        output   (..., T_q, d_v)  each query's weighted average of the values
        weights  (..., T_q, T_k)  the attention weights after the softmax (not
                 the scores): along the keys they sum to 1; masked keys get
                 exactly 0, and a query whose keys are all masked has all-zero
                 weights and a zero output
    Both have the dtype of q (float32 in, float32 out; float64 in, float64 out).
    """
    # BEGIN SOLUTION
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)   # (..., T_q, T_k)
    weights = masked_softmax(scores, mask, dim=-1)
    return weights @ v, weights
    # END SOLUTION
