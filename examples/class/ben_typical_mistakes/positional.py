"""Positional encodings: sinusoidal, learned, rotary and relative (torch).

Attention is blind to order. Self-attention compares every position with every
other one and averages the values with the resulting weights; nothing in that
computation knows which vector came first. Shuffle the input rows and the
output rows are shuffled the same way, nothing else changes: self-attention is
permutation-equivariant. "I ate pizza" and "pizza ate I" are, for it, the same
set of three word vectors and give the same set of three outputs. An RNN reads
its input in order, so order is built in; a Transformer has to be told where
each token stands. That is the job of a positional encoding: a vector that
depends on the position p (0, 1, 2, ...) and is combined with the token's
embedding before (or inside) attention.

Sinusoidal encoding (Vaswani et al., 2017). Position p gets a vector of d
numbers, made of d/2 pairs; pair i holds a sine and a cosine of the same angle

    PE[p, 2i]   = sin(p * w_i)
    PE[p, 2i+1] = cos(p * w_i)        with  w_i = 1 / 10000^(2i/d)

so the columns are INTERLEAVED: sin, cos, sin, cos, ... Every pair is a clock
hand turning at its own speed. The frequencies w_i form a geometric sequence,
from w_0 = 1 (the hand goes round every 2*pi ~ 6.3 positions) down to almost
1/10000 (it goes round every 10000*2*pi positions): the fast pairs tell
neighbouring positions apart, the slow ones tell the coarse place in a long
sequence, a little like the digits of a number. Row 0 is [0, 1, 0, 1, ...]
(sin 0 = 0, cos 0 = 1), and each pair has sin^2 + cos^2 = 1.

Why a sine AND a cosine? Because then moving k positions is a linear map that
does not depend on p: by the angle-addition formulas

    [sin((p+k) w)]   [ cos(k w)  sin(k w)] [sin(p w)]
    [cos((p+k) w)] = [-sin(k w)  cos(k w)] [cos(p w)]

PE[p+k] is PE[p] with every pair rotated by the angle k*w_i. A layer can
therefore learn to attend "3 positions back" with one fixed linear map, for any
p. The table has no parameters, it is computed once, and it is defined for any
position (the model may still do badly on lengths it never saw in training).
The encoding is ADDED to the token embeddings (B, T, d) + (T, d), usually
followed by dropout. If d is odd the last column is a sine whose cosine partner
would fall outside the table: that cosine is simply dropped.

Learned positional embeddings (BERT, GPT-2). Simpler still: a trainable table,
nn.Embedding(max_len, d), whose row p is added to the token at position p. The
model learns whatever position vectors suit it, and in practice this works as
well as the sinusoids. Its limit: there is no row for a position >= max_len,
so the model cannot even be run on a longer sequence (GPT-2 stops at 1024
tokens), and rows for positions rarely seen in training are poorly trained.

Rotary position embeddings (RoPE; Su et al., 2021; used by LLaMA, GPT-NeoX,
Mistral...). Instead of adding a position vector to the token, rotate the
queries and keys inside attention. Split a query or key vector x of width d
into d/2 pairs (x[2i], x[2i+1]) and rotate pair i by the angle m * theta_i,
where m is the token's position and theta_i = base^(-2i/d), base = 10000:

    (a, b)  ->  (a cos(m theta_i) - b sin(m theta_i),  a sin(m theta_i) + b cos(m theta_i))

A rotation preserves lengths, and the dot product of two rotated vectors only
sees the DIFFERENCE of their angles: for a query at position m and a key at
position n,

    rope(q, m) . rope(k, n) = rope(q, m - n) . k

depends on the positions only through the offset m - n. The attention score
becomes a function of relative position, with no extra parameters and no
max_len. RoPE is applied to q and k (not to v), in every layer, after the
heads are split. Beware: two layouts exist. This course, like the RoPE paper
and Meta's LLaMA code, pairs neighbouring features (x[2i], x[2i+1]); GPT-NeoX
and the Hugging Face LLaMA port pair x[i] with x[i + d/2] (the "half-split" or
rotate_half layout). Both work if used consistently, but they are different
functions and are not interchangeable with the same weights.

Relative position biases (T5; Raffel et al., 2020). A third way leaves the
tokens and the queries and keys alone and adds a number to each attention
SCORE, before the softmax, that depends only on the distance between the
query's and the key's positions:

    scores[b, j, q, k] = q_q . k_k / sqrt(d_k)  +  bias[j, q, k]

T5 learns one number per head and per distance. Because far distances
matter less precisely than near ones, distances are grouped into buckets:
each small distance has a bucket of its own, larger ones share buckets whose
widths grow logarithmically up to max_distance, and everything farther falls
into the last bucket. The model can therefore run on any length. ALiBi
("Attention with Linear Biases"; Press et al., 2022) learns nothing at all:
head j subtracts slope_j * (q - k) from the score of a key q - k positions in
the past, with a different fixed slope per head, so some heads look near and
others far. Both are added to the scores; neither adds anything to the token
embeddings.

Your scaled_dot_product_attention and MultiHeadAttention take only a boolean
mask, not a float bias. To use a bias, compute the scores yourself:

    scores  = q @ k.transpose(-2, -1) / sqrt(d_k) + bias     # (B, h, T_q, T_k)
    weights = masked_softmax(scores, mask)                   # causal mask etc.
    out     = weights @ v

(T5 itself leaves out the 1/sqrt(d_k), folding it into the initialisation of
its weights, and computes the bias once, in its first layer, for all layers.)

In this module you write:

    sinusoidal_positional_encoding   the (max_len, d_model) table
    PositionalEncoding               an nn.Module that adds it (and dropout)
    LearnedPositionalEmbedding       an nn.Module that adds a trainable table
    apply_rotary                     RoPE on queries or keys (..., T, d)
    relative_position_bucket         T5's buckets of the distance key - query
    RelativePositionBias             a learned bias per head and bucket (T5)
    alibi_bias                       ALiBi's fixed linear penalties per head

Shapes are batch first: x is (B, T, D). Everything works for float32 and for
float64 and keeps the caller's dtype, and nothing is tied to a device: create
new tensors with device=x.device.
"""

import math

import torch
from torch import nn


def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    dtype = dtype or torch.get_default_dtype()
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    ang = p * 10000.0 ** (-two_i / d_model)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)[:, :d_model].to(dtype)
    # END SOLUTION


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to a batch of embeddings, then dropout.

    __init__(d_model, max_len=5000, dropout=0.0):
        build the table with sinusoidal_positional_encoding(max_len, d_model)
        once, and keep it as a NON-PERSISTENT buffer:
            self.register_buffer("pe", table, persistent=False)
        A buffer (not an nn.Parameter) because it is not trained: parameters()
        stays empty, yet module.to(device) / .double() still move or convert
        it. Non-persistent, so it is not saved in state_dict(): it can always
        be recomputed, and a Transformer's state_dict then holds only its
        trained weights. Also make self.dropout = nn.Dropout(dropout).

    forward(x):
        x  (B, T, d_model) with T <= max_len
        returns dropout(x + PE[:T]), shape (B, T, d_model), in x's dtype
        (PE[:T] is broadcast over the batch: position t of every sequence gets
        row t). In eval() mode dropout does nothing.
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0):
        super().__init__()
        # BEGIN SOLUTION
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        T = x.shape[1]
        return self.dropout(x + self.pe[:T].to(dtype=x.dtype))                 # (B, T, D) + (T, D)
        # END SOLUTION


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trainable embedding of the positions 0 .. T-1 (BERT, GPT-2).

    __init__(max_len, d_model):
        self.embedding = nn.Embedding(max_len, d_model), so that its weight,
        of shape (max_len, d_model), appears in state_dict() as
        "embedding.weight". Row p is the vector of position p.

    forward(x):
        x  (B, T, d_model) with T <= max_len
        returns x + embedding(positions) where positions = 0, 1, ..., T-1
        (an integer tensor on x's device), shape (B, T, d_model). Positions
        index the time axis (axis 1), not the batch. Only the rows 0 .. T-1
        are used, so only they receive a gradient.
    """

    def __init__(self, max_len, d_model):
        super().__init__()
        # BEGIN SOLUTION
        self.embedding = nn.Embedding(max_len, d_model)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        positions = torch.arange(x.shape[1], device=x.device)                   # (T,)
        return x + self.embedding(positions)                                    # (B, T, D) + (T, D)
        # END SOLUTION


def apply_rotary(x, positions=None, base=10000.0):
    """Rotary position embedding (RoPE) of queries or keys.

    Inputs:
        x          (..., T, d)  e.g. (B, h, T, d_k); d is even
        positions  (T,) the position of each of the T rows (integers or
                   floats), or None for 0, 1, ..., T-1
        base       float, 10000.0 by default

    For every pair i = 0 .. d/2 - 1 the features (a, b) = (x[..., 2i],
    x[..., 2i+1]) of a row at position m are rotated by the angle
    m * base^(-2i/d):
        a' = a cos(angle) - b sin(angle)
        b' = a sin(angle) + b cos(angle)
    and a', b' go back to columns 2i and 2i+1 (interleaved pairs, as in the
    RoPE paper; NOT the half-split layout that pairs x[i] with x[i + d/2]).
    The same angles apply to every leading index (batch, head).

    Returns a new tensor of x's shape and dtype (do not modify x in place).
    Compute the angles in float64 (positions can be large) and convert their
    cos and sin to x's dtype.
    """
    # BEGIN SOLUTION
    T, d = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(T, device=x.device)
    two_i = torch.arange(0, d, 2, dtype=torch.float64, device=x.device)        # (d/2,)
    angles = positions.to(torch.float64).unsqueeze(-1) * base ** (-two_i / d)  # (T, d/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]                                          # (..., T, d/2) each
    rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)      # (..., T, d/2, 2)
    return rotated.flatten(-2)                                                 # (..., T, d)
    # END SOLUTION


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    n = -relative_position
    offset = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        offset = (n > 0).long() * num_buckets
        d = n.abs()
    else:
        d = -torch.clamp(n, max=0)
    exact = num_buckets // 2
    large = exact + (torch.log(d.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    return offset + torch.where(d < exact, d, torch.clamp(large, max=num_buckets - 1))
    # END SOLUTION


class RelativePositionBias(nn.Module):
    """T5's learned relative position bias: one number per head and bucket.

    __init__(num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        keep the three settings (the forward pass needs them) and make
            self.bias = nn.Embedding(num_buckets, num_heads)
        so that state_dict() holds "bias.weight" of shape (num_buckets,
        num_heads): row b holds, for every head, the bias of bucket b. It is
        the module's only parameter (buffers of your own are allowed).

    forward(T_q, T_k):
        T_q, T_k  ints: the number of query and key positions; queries are at
                  positions 0 .. T_q-1 and keys at 0 .. T_k-1 (both from 0)
        returns the bias (1, num_heads, T_q, T_k), where
            out[0, j, q, k] = bias.weight[bucket(k - q), j]
        with bucket = relative_position_bucket(..., bidirectional, num_buckets,
        max_distance) of the (T_q, T_k) table of k - q (key minus query, not
        the other way round). Make the position tensors on the device of
        self.bias.weight; the result has the weight's dtype (float64 after
        .double()) and carries its gradient (look the rows up with
        self.bias(buckets), do not detach).

    It is added to the attention scores of every batch element (the leading 1
    broadcasts over B): scores (B, h, T_q, T_k) + out, before the softmax.
    """

    def __init__(self, num_heads, bidirectional=True, num_buckets=32, max_distance=128):
        super().__init__()
        # BEGIN SOLUTION
        self.num_heads = num_heads
        self.bidirectional = bidirectional
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bias = nn.Embedding(num_buckets, num_heads)
        # END SOLUTION

    def forward(self, T_q, T_k):
        # BEGIN SOLUTION
        device = self.bias.weight.device
        query = torch.arange(T_q, device=device)[:, None]                      # (T_q, 1)
        key = torch.arange(T_k, device=device)[None, :]                        # (1, T_k)
        buckets = relative_position_bucket(key - query, self.bidirectional, self.num_buckets, self.max_distance)
        values = self.bias(buckets)                                            # (T_q, T_k, h)
        return values.permute(2, 0, 1).unsqueeze(0)                            # (1, h, T_q, T_k)
        # END SOLUTION


def alibi_bias(num_heads, T_q, T_k):
    """ALiBi's linear biases, one slope per head (Press et al., 2022).

    Inputs:
        num_heads  int h >= 1
        T_q, T_k   ints: queries at positions 0 .. T_q-1, keys at 0 .. T_k-1

    Head j = 1 .. h (counted from 1) has the slope
        slope_j = 2^(-8 j / h)
    (h = 8: 1/2, 1/4, ..., 1/256; the first head's slope is 2^(-8/h), never
    1), and the result bias of shape (h, T_q, T_k) is, for EVERY q and k,
        bias[j-1, q, k] = -slope_j * (q - k)  =  slope_j * (k - q)
    A key in the past (k < q) gets a penalty, -slope_j times its distance,
    that grows linearly with the distance; the key at the query's own
    position gets 0. ALiBi is used with a causal mask, which hides the keys
    in the future (k > q) anyway: the same formula there gives positive
    numbers, which the mask removes. (Encoders that use ALiBi without a
    mask take -slope_j * |q - k| instead; not here.)

    Returns a tensor of torch's default dtype (torch.get_default_dtype(),
    normally float32). The paper picks the slopes of a head count that is
    not a power of 2 in a more roundabout way; this course uses the formula
    above for every h.
    """
    # BEGIN SOLUTION
    dtype = torch.get_default_dtype()
    j = torch.arange(1, num_heads + 1, dtype=torch.float64)
    slopes = 2.0 ** (-8.0 * j / num_heads)                                     # (h,)
    query = torch.arange(T_q, dtype=torch.float64)[:, None]                    # (T_q, 1)
    key = torch.arange(T_k, dtype=torch.float64)[None, :]                      # (1, T_k)
    return (slopes[:, None, None] * (key - query)).to(dtype)                   # (h, T_q, T_k)
    # END SOLUTION
