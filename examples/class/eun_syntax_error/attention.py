"""Seq2seq attention for one decoder step (torch).

The bottleneck. A sequence-to-sequence model (Sutskever et al., 2014) reads the
input x_1 .. x_S with an encoder RNN and writes the output with a decoder RNN.
Without attention, the ONLY thing the decoder learns about the input is the
encoder's last hidden state: a single vector of H numbers, whether the input
has 5 words or 50. Everything (every word, its order, who did what to whom)
must be squeezed into that fixed-size vector, and the decoder must unpack it
again, word after word. Short sentences fit; long ones do not: the translation
quality of such models falls steadily as the input grows longer. The encoder
has in fact computed one hidden state h_i per input position, each a good
summary of the input around position i; the plain seq2seq model throws all of
them away but the last.

Attention (Bahdanau et al., 2015; Luong et al., 2015). Keep every encoder
state, and let the decoder look back at all of them at every step, deciding
afresh which ones matter for the word it is about to write. At decoder step t,
with decoder state s_t:

  1. score every encoder state against the decoder state:
         e_i = score(s_t, h_i)                     for i = 1 .. S
  2. turn the scores into a probability distribution over the input positions:
         a = softmax(e),  a_i >= 0,  sum_i a_i = 1  (the attention weights)
  3. the context vector is the weighted average of the encoder states:
         c_t = sum_i a_i h_i
  4. (Luong) combine what the decoder knows with what it just read into the
     attentional hidden state, from which the next word is predicted:
         s~_t = tanh([c_t; s_t] W_c)
     where [c_t; s_t] puts the two vectors side by side (2H numbers, context
     FIRST) and W_c is (2H, H).

The context is recomputed at every step, so the decoder is no longer limited
to one vector: when it writes the 17th word it can read the encoder state of
the 15th input word directly. The weights are also a free diagnostic: plotted
as a matrix (output words x input words), they show the soft alignment the
model has learned between the two sentences.

In this module, queries and keys are named as in the later Transformer
modules: the query is the decoder state s_t, the keys (which are scored) and
the values (which are averaged) are the encoder states h_i; here keys and
values are the same tensor, but nothing forces that. Shapes, batch first:

    query   (B, H)      one decoder state per batch element
    keys    (B, S, H)   S encoder states per batch element
    values  (B, S, H)
    scores, weights  (B, S);   context (B, H)

Score functions. How well does h_i match s_t?

  dot         e_i = s_t . h_i
              No parameters, cheapest. Needs the decoder and the encoder
              states to live in the same space (same width H, and trained to
              be comparable). Luong's "dot".
  scaled dot  e_i = s_t . h_i / sqrt(H)
              The dot score with its growth in H taken out (see below). This
              is the score of the Transformer (Vaswani et al., 2017), where
              H is d_k, the width of a head.
  general     e_i = s_t^T W h_i,  W (H, H)
              A learned bilinear form: W maps between the two spaces, so the
              decoder can look for something other than a copy of itself.
              Luong's "general" (multiplicative) score. With W the identity
              it is the dot score. W need not be symmetric: s^T W h and
              s^T W^T h are different numbers.
  additive    e_i = v^T tanh(s_t W_q + h_i W_k),  W_q, W_k (H, A), v (A,)
              A one-hidden-layer network (of width A, the attention size, which
              need not equal H) applied to the pair. Bahdanau's original score
              (also called "concat": it equals v^T tanh([s_t; h_i] W) with W
              the two matrices stacked). More expressive, and it works when
              the query and the keys have different widths, but it costs an
              (S, A) tanh per query. It was the usual choice for RNN
              models; the multiplicative scores win when speed matters,
              because they are one matrix product.

Why sqrt(H). If the entries of q and k are independent with mean 0 and
variance 1, then q . k = sum_j q_j k_j is a sum of H independent terms of
mean 0 and variance 1, so it has mean 0 and variance H: its typical size
grows like sqrt(H). With H = 512 the scores are spread over +-20 and more;
the softmax of such scores is almost one-hot (e^20 / e^0 is 5 * 10^8), and a
one-hot softmax has almost zero gradient, so learning stalls. Dividing by
sqrt(H) brings the variance back to 1, whatever the width.

Why softmax subtracts the max. softmax(x)_i = e^{x_i} / sum_j e^{x_j}.
Computed literally, e^1000 overflows to inf (float64 overflows above about
e^709, float32 above e^88) and inf / inf is NaN; e^{-1000} underflows to 0
and 0 / 0 is NaN. But the softmax does not change when the same constant c is
subtracted from every x_i (e^{x_i - c} / sum_j e^{x_j - c}: the e^{-c} cancels).
With c = max_j x_j the largest exponent is e^0 = 1, no term can overflow, and
the sum is at least 1, so it can never be 0.

Masking. The sentences of a batch have different lengths; the shorter ones
are padded, and the padding must get no attention. A mask (B, S) of booleans
says which keys may be attended to (True = may attend). Masked scores are set
to a very negative number before the softmax, so their weights come out as 0
and the others still sum to 1; then the masked weights are set to exactly 0.
A row whose keys are ALL masked has nothing to attend to: its weights are all
0 and its context is the zero vector. Never let it become NaN (softmax of a
row of -inf is 0 / 0): a NaN in one row spreads to the loss and then, through
the gradients, to every parameter.

In this module you write, in order:

    softmax               a numerically stable softmax along any axis
    dot_score             s_t . h_i
    scaled_dot_score      s_t . h_i / sqrt(H)
    general_score         s_t^T W h_i
    additive_score        v^T tanh(s_t W_q + h_i W_k)
    attention_context     masked softmax of the scores, and the context vector
    attentional_hidden    tanh([c_t; s_t] W_c)

attention_context must use your softmax. Everything must work for float32 and
float64 inputs and return the caller's dtype, on any device: do not hard-code
a dtype or a device, and do not go through numpy. Keep the computation in
torch operations so that gradients flow back to every input.
"""

import math

import torch


def softmax(x, dim=-1):
    """A numerically stable softmax along dim.

    Inputs:
        x    float tensor of any shape and float dtype
        dim  the axis to normalise over (any axis, negative or not)
    Returns:
        a tensor of x's shape and dtype whose entries along dim are positive
        and sum to 1: exp(x) / sum of exp(x) along dim. Subtract the maximum
        along dim first, so that large inputs (1000, 1001) or very negative
        ones (-1000, -1001) neither overflow nor give 0 / 0.
    """
    # BEGIN SOLUTION
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)
    # END SOLUTION


def dot_score(query, keys):
    """Dot-product scores of one decoder state against every encoder state.

    Inputs:
        query  (B, H)     the decoder state s_t of each batch element
        keys   (B, S, H)  the encoder states h_1 .. h_S of each batch element
    Returns:
        scores (B, S), scores[b, i] = query[b] . keys[b, i]
    Batch element b's query is scored against batch element b's keys only.
    """
    # BEGIN SOLUTION
    return (keys @ query.unsqueeze(-1)).squeeze(-1)  # (B, S, H) @ (B, H, 1) -> (B, S, 1)
    # END SOLUTION


def scaled_dot_score(query, keys):
    """Dot-product scores divided by sqrt(H).

    Inputs:
        query  (B, H)
        keys   (B, S, H)
    Returns:
        scores (B, S), scores[b, i] = query[b] . keys[b, i] / sqrt(H),
        where H is the width of the vectors (the last axis).
    """
    # BEGIN SOLUTION
    H = query.shape[-1]
    return (keys @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(H)
    # END SOLUTION


def general_score(query, keys, W):
    """Luong's general (bilinear) scores s_t^T W h_i.

    Inputs:
        query  (B, H)     s_t
        keys   (B, S, H)  h_i
        W      (H, H)     the learned matrix; it is not symmetric
    Returns:
        scores (B, S), scores[b, i] = sum over j, k of query[b, j] W[j, k] keys[b, i, k]
        (as row vectors: (query[b] W) . keys[b, i])
    """
    # BEGIN SOLUTION
    projected = query @ W  # (B, H): s_t^T W
    return (keys @ projected.unsqueeze(-1)).squeeze(-1)
    # END SOLUTION


def additive_score(query, keys, W_q, W_k, v):
    """Bahdanau's additive scores v^T tanh(s_t W_q + h_i W_k).

    Inputs:
        query  (B, H)     s_t
        keys   (B, S, H)  h_i
        W_q    (H, A)     projects the query to the attention size A
        W_k    (H, A)     projects the keys
        v      (A,)       weighs the A hidden units of the score network
    Returns:
        scores (B, S), scores[b, i] = v . tanh(query[b] W_q + keys[b, i] W_k)
    The query's projection (A,) is added to the projection of every key.
    A and H are in general different.
    """
    # BEGIN SOLUTION
    q = query @ W_q  # (B, A)
    k = keys @ W_k  # (B, S, A)
    hidden = torch.tanh(q.unsqueeze(1) + k)  # (B, S, A)
    return hidden @ v  # (B, S)
    # END SOLUTION


def attention_context(scores, values, mask=None):
    """Attention weights from the scores, and the context vector they give.

    Inputs:
        scores  (B, S)     one score per encoder position
        values  (B, S, H)  the encoder states to average
        mask    (B, S) bool, True where the position may be attended to;
                or None: every position may be attended to
    Returns (context, weights):
        weights  (B, S)  the softmax of the scores along S (use your softmax);
                 masked positions get weight exactly 0 and the unmasked ones
                 of a row still sum to 1; a row with every position masked
                 gets all-zero weights, never NaN
        context  (B, H)  context[b] = sum over i of weights[b, i] values[b, i];
                 the zero vector for a fully masked row
    Gradients must flow to scores and values, and must not be NaN, masks or
    not. Do not modify the inputs in place.
    """
    # BEGIN SOLUTION
    if mask is None:
        weights = softmax(scores, dim=-1)
    else:
        # a very negative, finite fill: exp gives 0 and a fully masked row stays finite
        filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = softmax(filled, dim=-1).masked_fill(~mask, 0.0)
    context = (weights.unsqueeze(1) @ values).squeeze(1)  # (B, 1, S) @ (B, S, H) -> (B, H)
    return context, weights
    # END SOLUTION


def attentional_hidden(context, state, W_c):
    """Luong's attentional hidden state tanh([c_t; s_t] W_c).

    Inputs:
        context  (B, H)   the context vector c_t
        state    (B, H)   the decoder state s_t
        W_c      (2H, H)  rows 0 .. H-1 act on the context, rows H .. 2H-1 on the state
    Returns:
        (B, H)  tanh of the concatenation [context, state] (context first, along
        the last axis, (B, 2H)) times W_c
    """
    # BEGIN SOLUTION
    return torch.tanh(torch.cat([context, state], dim=-1) @ W_c)
    # END SOLUTION
