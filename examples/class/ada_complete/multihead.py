"""Multi-head attention (torch).

Scaled dot-product attention (the previous module) lets every query look at
every key and return a weighted average of the values:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Why several heads. The softmax of one query row gives ONE set of weights that
sum to 1, so the query receives ONE average of the values. If a word needs
two different things from the sentence, a single head has to mix them into
that one average. In "The cat sat on the mat", the word "sat" wants to know
its subject ("cat") and where it happened ("mat"): one head that puts half of
its weight on each returns a blur of the two, and the network can no longer
tell which part came from which. With several heads, one head can look from
"sat" to "cat" while another looks from "sat" to "mat", each with its own
sharp softmax, and both answers are kept side by side.

Each head works in its own smaller space. Multi-head attention with h heads
(Vaswani et al., 2017):

    Q = w_q(query),  K = w_k(key),  V = w_v(value)         (B, T, d_model) each
    head_j = Attention(Q_j, K_j, V_j)                      (B, T_q, d_k)
    MultiHead(query, key, value) = w_o(Concat(head_0, ..., head_{h-1}))

(w_q, w_k, w_v, w_o are nn.Linear(d_model, d_model) layers, the W_Q, W_K,
W_V, W_O of the paper)

where d_k = d_model / h and Q_j is the j-th block of d_k columns of Q:
columns j*d_k ... (j+1)*d_k - 1 (the same for K_j and V_j). So the heads are
not extra work: h heads of width d_model / h cost about the same as one head
of width d_model. The four projections are d_model x d_model matrices either
way, and the score products add up to the same number of multiplications
(h heads times T_q*T_k*d_k = T_q*T_k*d_model). Only the 1/sqrt(d_k) changes:
each head's scores are dot products of width d_k, so that is the width to
scale by, not d_model.

Splitting into heads is a reshape and a transpose, no copying of numbers
around by hand. With x of shape (B, T, d_model):

    x.reshape(B, T, h, d_k)     cuts each row of d_model numbers into h
                                consecutive blocks of d_k: [b, t, j, :] is
                                the block of columns j*d_k ... (j+1)*d_k - 1
    .transpose(1, 2)            moves the head axis before time:
                                (B, h, T, d_k), so head j is x[:, j], a
                                batch of ordinary (T, d_k) sequences

The transpose matters. A plain x.reshape(B, h, T, d_k) has the right shape
but the wrong content: reshape reads the numbers in memory order (all of
position 0, then all of position 1, ...) and cuts that stream into pieces of
d_k, so "head 0" would receive all the columns of the first T/h positions,
cut into pieces of d_k and passed off as T different positions: positions are
mixed into heads and the columns are never split. Only the reshape to
(B, T, h, d_k), which splits the LAST axis, keeps every position's numbers at
that position.

Merging the heads (the "Concat") is the inverse: transpose (B, h, T, d_k) back
to (B, T, h, d_k), then reshape to (B, T, h*d_k), which lays head 0's d_k
numbers, then head 1's, ... side by side for every position. (transpose
returns a view whose memory is no longer in row order; reshape copies it when
it has to, view refuses. Use reshape, or .contiguous().view.)

The heads are then mixed by W_o. After the concat, head j's output sits in
columns j*d_k ... (j+1)*d_k - 1, untouched by the other heads; the output
projection W_o (d_model x d_model) combines all of them into every output
coordinate. Without it, each block of the output would only ever see one head.

Masks. A mask is boolean, True = may attend, broadcastable to (B, T_q, T_k):
a padding mask (B, 1, T_k), a causal mask (T_q, T_k), or a full (B, T_q, T_k).
Every head uses the same mask, so it needs a head axis to broadcast against
the per-head scores (B, h, T_q, T_k): a 3-dimensional mask becomes
(B, 1, T_q or 1, T_k) with mask.unsqueeze(1). Without it the mask's batch
axis would line up with the head axis. A 2-dimensional (T_q, T_k) mask
already broadcasts correctly (broadcasting aligns shapes from the right), and
unsqueeze(1) would break it.

With the same weights, your MultiHeadAttention computes exactly what
torch.nn.MultiheadAttention(d_model, h, batch_first=True) does: its
in_proj_weight is W_q, W_k, W_v stacked, its out_proj is W_o, and its
attn_mask uses the opposite convention (True = may NOT attend). Here you
build it yourself (torch.nn.MultiheadAttention,
F.multi_head_attention_forward and F.scaled_dot_product_attention are off
limits) from:

    split_heads            (B, T, d_model) -> (B, h, T, d_k)
    merge_heads            (B, h, T, d_k) -> (B, T, h*d_k)
    MultiHeadAttention     the module: project, split, attend, merge, project

MultiHeadAttention must use your split_heads and merge_heads, and
scaled_dot_product_attention from the self_attention module (imported below),
which already handles the mask and the 1/sqrt(d_k).
"""

import torch
from torch import nn

from self_attention import scaled_dot_product_attention


def split_heads(x, num_heads):
    """Split the last axis of x into num_heads heads.

    Inputs:
        x          (B, T, D)  D must be divisible by num_heads
        num_heads  int, h
    Returns:
        (B, h, T, D/h), of x's dtype: [:, j] is head j, which holds the
        columns j*D/h ... (j+1)*D/h - 1 of x, at every position
        (out[b, j, t, i] = x[b, t, j*D/h + i]).
    A reshape to (B, T, h, D/h) followed by a transpose: a reshape straight to
    (B, h, T, D/h) has the right shape but mixes positions into the heads.
    """
    # BEGIN SOLUTION
    B, T, D = x.shape
    d_k = D // num_heads
    return x.reshape(B, T, num_heads, d_k).transpose(1, 2)   # (B, h, T, d_k)
    # END SOLUTION


def merge_heads(x):
    """Concatenate the heads: the inverse of split_heads.

    Inputs:
        x   (B, h, T, d_k)
    Returns:
        (B, T, h*d_k), of x's dtype: at every position, head 0's d_k numbers,
        then head 1's, ... (out[b, t, j*d_k + i] = x[b, j, t, i]), so that
        merge_heads(split_heads(x, h)) == x.
    """
    # BEGIN SOLUTION
    B, h, T, d_k = x.shape
    return x.transpose(1, 2).reshape(B, T, h * d_k)          # (B, T, h*d_k)
    # END SOLUTION


class MultiHeadAttention(nn.Module):
    """Multi-head attention: project, split into heads, attend, concatenate, project.

    __init__(d_model, num_heads, bias=True):
        d_model must be divisible by num_heads; d_k = d_model // num_heads.
        Four projections, each nn.Linear(d_model, d_model, bias=bias), named
        exactly w_q, w_k, w_v (queries, keys, values) and w_o (output).
        Nothing else with parameters (buffers, e.g. a causal mask, are yours to add).

    forward(query, key, value, mask=None):
        query  (B, T_q, d_model)
        key    (B, T_k, d_model)
        value  (B, T_k, d_model)
        mask   bool, True = may attend, broadcastable to (B, T_q, T_k), e.g.
               (B, 1, T_k) padding, (T_q, T_k) causal, (B, T_q, T_k); or None.
               The same mask serves every head: give a 3-dimensional mask a
               head axis, (B, 1, T_q or 1, T_k), before attending.
        Returns the output (B, T_q, d_model), in the inputs' dtype:
            w_o(merge_heads(attention(split_heads(w_q(query)),
                                          split_heads(w_k(key)),
                                          split_heads(w_v(value)))))
        and keeps the per-head attention weights of this call, shape
        (B, h, T_q, T_k), in self.attention_weights (not averaged over heads).
    """

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__()
        # BEGIN SOLUTION
        assert d_model % num_heads == 0, "d_model must be divisible by num_heads"
        self.d_model = d_model
        self.num_heads = num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.attention_weights = None
        # END SOLUTION

    def forward(self, query, key, value, mask=None):
        # BEGIN SOLUTION
        h = self.num_heads
        q = split_heads(self.w_q(query), h)                 # (B, h, T_q, d_k)
        k = split_heads(self.w_k(key), h)                   # (B, h, T_k, d_k)
        v = split_heads(self.w_v(value), h)                 # (B, h, T_k, d_k)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)                        # (B, 1, T_q or 1, T_k): every head
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        self.attention_weights = weights                    # (B, h, T_q, T_k)
        return self.w_o(merge_heads(out))                   # (B, T_q, d_model)
        # END SOLUTION
