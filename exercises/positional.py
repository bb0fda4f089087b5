"""Positional encodings: sinusoidal, learned and rotary (torch).

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

In this module you write:

    sinusoidal_positional_encoding   the (max_len, d_model) table
    PositionalEncoding               an nn.Module that adds it (and dropout)
    LearnedPositionalEmbedding       an nn.Module that adds a trainable table
    apply_rotary                     RoPE on queries or keys (..., T, d)

Shapes are batch first: x is (B, T, D). Everything works for float32 and for
float64 and keeps the caller's dtype, and nothing is tied to a device: create
new tensors with device=x.device.
"""

import torch
from torch import nn


def sinusoidal_positional_encoding(max_len, d_model, dtype=None):
    """The sinusoidal positional-encoding table of "Attention Is All You Need".

    Inputs:
        max_len  int    number of positions (rows), positions 0 .. max_len-1
        d_model  int    width of the encoding (columns); may be odd
        dtype           dtype of the result; None means torch's default dtype
                        (torch.get_default_dtype(), normally float32)

    Returns PE of shape (max_len, d_model) with, for every position p and pair i,
        PE[p, 2i]   = sin(p / 10000^(2i / d_model))
        PE[p, 2i+1] = cos(p / 10000^(2i / d_model))
    Columns 2i and 2i+1 share one frequency (interleaved sin, cos, sin, cos,
    ...). For odd d_model the last column is a sine whose cosine partner is
    dropped.

    Precision: p / 10000^(2i/d) reaches max_len - 1 radians, and a float32
    angle of a few thousand radians is only good to ~1e-4. Compute the angles
    in float64 and convert the finished table to dtype at the end.
    """
    raise NotImplementedError("positional.sinusoidal_positional_encoding is not written yet; `course hint positional.sinusoidal_positional_encoding` gives a hint")


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
        raise NotImplementedError("positional.PositionalEncoding is not written yet; `course hint positional.PositionalEncoding` gives a hint")

    def forward(self, x):
        raise NotImplementedError("positional.PositionalEncoding is not written yet; `course hint positional.PositionalEncoding` gives a hint")


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
        raise NotImplementedError("positional.LearnedPositionalEmbedding is not written yet; `course hint positional.LearnedPositionalEmbedding` gives a hint")

    def forward(self, x):
        raise NotImplementedError("positional.LearnedPositionalEmbedding is not written yet; `course hint positional.LearnedPositionalEmbedding` gives a hint")


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
    raise NotImplementedError("positional.apply_rotary is not written yet; `course hint positional.apply_rotary` gives a hint")
