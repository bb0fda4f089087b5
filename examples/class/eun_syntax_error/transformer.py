"""The Transformer: layer norm, feed-forward, encoder and decoder stacks (torch).

You now have every ingredient of "Attention Is All You Need" (Vaswani et al.,
2017): multi-head attention (multihead module) and the positional encoding
(positional module). This module puts them together into the encoder-decoder
Transformer, exactly as torch.nn.Transformer(batch_first=True) computes it.

Layer normalisation. Deep networks train badly when the scale of the
activations drifts from layer to layer. Layer norm rescales EVERY VECTOR on its
own: for one position's vector x of d_model numbers,

    mean = (1/d) sum_i x_i
    var  = (1/d) sum_i (x_i - mean)^2              (biased: divide by d, not d-1)
    y_i  = (x_i - mean) / sqrt(var + eps) * weight_i + bias_i

The statistics are taken over the LAST axis only (the features of one token),
never over the batch or the time axis: each token is normalised on its own, so
the result does not depend on the other sequences in the batch or on the
padding. eps (1e-5) sits INSIDE the square root and keeps a constant vector
(var = 0) from dividing by zero. weight (ones) and bias (zeros) are learned,
so the network can undo the normalisation where it helps. Example: [1, 0, 0, 0]
has mean 0.25 and var 0.1875, so it becomes about [1.732, -0.577, -0.577,
-0.577]. (torch.var defaults to the unbiased d-1 version: pass
unbiased=False / correction=0.)

The position-wise feed-forward network. Attention mixes information between
positions; the feed-forward network then processes each position on its own,
with the same two-layer MLP everywhere:

    FFN(x) = linear2(dropout(activation(linear1(x))))
    linear1: d_model -> d_ff (2048 in the paper, 4 x d_model),  linear2: d_ff -> d_model

The activation is ReLU in the paper and GELU in BERT and GPT (use the exact
GELU, F.gelu, as torch.nn.Transformer does). It holds most of the parameters
of a Transformer.

Residual connections and where the norm goes. Every sub-layer (self-attention,
cross-attention, feed-forward) is wrapped in a residual connection: its output
is ADDED to its input, so a layer only has to learn a correction and gradients
flow straight through the sum. Dropout is applied to the sub-layer's output
before the addition. The paper puts the norm after the addition ("post-norm"):

    x = norm(x + dropout(sublayer(x)))                   post-norm (norm_first=False)

Most recent models put it in front of the sub-layer instead ("pre-norm"),
which keeps an un-normalised residual path from the input to the output and
trains deep stacks without a learning-rate warm-up:

    x = x + dropout(sublayer(norm(x)))                   pre-norm (norm_first=True)

An encoder layer is self-attention followed by the feed-forward network, each
wrapped this way (norm1 around the attention, norm2 around the feed-forward).
A decoder layer has three sub-layers: masked self-attention over the target
(each position sees only itself and the past: tgt_mask), cross-attention whose
queries come from the decoder and whose keys and values are the encoder's
output, the "memory" (memory_mask hides padded source positions), and the
feed-forward network; norm1, norm2 and norm3 go with them in that order.

Dropout. Each sub-layer's output passes through dropout before the residual
addition, and the feed-forward network has one more dropout after its
activation. Dropout zeroes each number with probability p in training and
scales the survivors by 1/(1-p); in eval() mode it does nothing. Use
nn.Dropout modules (they follow module.train() / module.eval() by
themselves). torch.nn.Transformer also drops out attention WEIGHTS inside its
attention; our MultiHeadAttention has no such dropout, so the graders compare
with torch's attention dropout switched off.

The stacks. The encoder is N identical encoder layers (each with its own
weights: deep copies of one layer, copy.deepcopy) followed by a final layer
norm; the decoder is N decoder layers, each of which receives the same memory
and masks, and a final norm. (With pre-norm the final norm is what normalises
the output; torch.nn.Transformer adds it in both cases, and so do we.)

The whole model:

    encode(src)  = encoder(pos_encoding(src_embed(src) * sqrt(d_model)), src_mask)
    decode(tgt, memory) = generator(decoder(pos_encoding(tgt_embed(tgt) * sqrt(d_model)),
                                            memory, tgt_mask, src_mask))
    forward(src, tgt) = decode(tgt, encode(src))          logits (B, T_tgt, tgt_vocab)

The token embeddings are multiplied by sqrt(d_model) (section 3.4 of the
paper) so that they are not drowned by the positional encoding, whose entries
are of size 1. The generator is a linear layer to the target vocabulary; it
returns LOGITS (no softmax: the loss and the decoders apply their own). The
source mask (B, 1, S) serves twice: in the encoder's self-attention and as the
decoder's memory_mask, so that no query ever looks at a padded source token.

Masks are boolean, True = may attend (the convention of your
MultiHeadAttention); torch.nn.Transformer uses the opposite one.

In this module you write:

    LayerNorm       layer normalisation, by hand (nn.LayerNorm is off limits)
    FeedForward     the position-wise feed-forward network
    EncoderLayer    self-attention + feed-forward, residuals and norms
    DecoderLayer    masked self-attention + cross-attention + feed-forward
    Encoder         a stack of encoder layers and a final norm
    Decoder         a stack of decoder layers and a final norm
    Transformer     embeddings, positional encoding, the two stacks, the generator

Everything is batch first, (B, T, d_model), works for float32 and float64 and
keeps the caller's dtype, and is tied to no device. torch.nn.Transformer and
its layers, nn.MultiheadAttention, F.scaled_dot_product_attention and
nn.LayerNorm / F.layer_norm are not allowed: you are writing them.
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from multihead import MultiHeadAttention
from positional import PositionalEncoding


class LayerNorm(nn.Module):
    """Layer normalisation over the last axis, the same as nn.LayerNorm(d_model, eps).

    __init__(d_model, eps=1e-5):
        two parameters of shape (d_model,), named exactly
            weight  (the gain, initialised to ones)
            bias    (the shift, initialised to zeros)
        and keep eps.

    forward(x):
        x  (..., d_model), any number of leading axes
        returns (x - mean) / sqrt(var + eps) * weight + bias, same shape and
        dtype as x, where mean and var are taken over the LAST axis only and
        var is the biased variance (the mean of (x - mean)^2, dividing by
        d_model). eps goes inside the square root.
    """

    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        # BEGIN SOLUTION
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        centred = x - x.mean(dim=-1, keepdim=True)                               # (..., d_model)
        var = centred.square().mean(dim=-1, keepdim=True)                         # (..., 1), biased
        return torch.addcmul(self.bias, centred * torch.rsqrt(var + self.eps), self.weight)
        # END SOLUTION


class FeedForward(nn.Module):
    """The position-wise feed-forward network: linear2(dropout(activation(linear1(x)))).

    __init__(d_model, d_ff, dropout=0.0, activation="relu"):
        linear1 = nn.Linear(d_model, d_ff), linear2 = nn.Linear(d_ff, d_model)
        (both with biases, named exactly so), an nn.Dropout(dropout), and the
        activation: "relu" (F.relu) or "gelu" (the exact F.gelu, not its tanh
        approximation).

    forward(x):
        x  (B, T, d_model)
        returns linear2(dropout(activation(linear1(x)))), (B, T, d_model), in
        x's dtype. The dropout sits after the activation, inside the network
        (the dropout after the whole network belongs to the layer that uses it).
    """

    def __init__(self, d_model, d_ff, dropout=0.0, activation="relu"):
        super().__init__()
        # BEGIN SOLUTION
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', not {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        return self.linear2(self.dropout(self.activation(self.linear1(x))))
        # END SOLUTION


class EncoderLayer(nn.Module):
    """One encoder layer: self-attention, then feed-forward, each with dropout, a residual and a norm.

    __init__(d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        self_attn = MultiHeadAttention(d_model, num_heads)
        ff        = FeedForward(d_model, d_ff, dropout, activation)
        norm1, norm2 = LayerNorm(d_model), LayerNorm(d_model)
        and two nn.Dropout(dropout) for the two sub-layers' outputs. Nothing
        else with parameters.

    forward(x, mask=None):
        x     (B, T, d_model)
        mask  bool, True = may attend, broadcastable to (B, T, T) (e.g. a
              padding mask (B, 1, T)), or None; passed to self_attn
        norm_first=False (post-norm, the paper):
            x = norm1(x + dropout(self_attn(x, x, x, mask)))
            x = norm2(x + dropout(ff(x)))
        norm_first=True (pre-norm):
            x = x + dropout(self_attn(norm1(x), norm1(x), norm1(x), mask))
            x = x + dropout(ff(norm2(x)))
        returns x, (B, T, d_model), in the input's dtype.
    """

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        super().__init__()
        # BEGIN SOLUTION
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, x, mask=None):
        # BEGIN SOLUTION
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h, mask))
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, mask)))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x
        # END SOLUTION


class DecoderLayer(nn.Module):
    """One decoder layer: masked self-attention, cross-attention over the memory, feed-forward.

    __init__(d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        self_attn  = MultiHeadAttention(d_model, num_heads)
        cross_attn = MultiHeadAttention(d_model, num_heads)
        ff         = FeedForward(d_model, d_ff, dropout, activation)
        norm1, norm2, norm3 = three LayerNorm(d_model)
        and three nn.Dropout(dropout) for the three sub-layers' outputs.

    forward(x, memory, tgt_mask=None, memory_mask=None):
        x            (B, T, d_model)   the target side
        memory       (B, S, d_model)   the encoder's output
        tgt_mask     for the self-attention, broadcastable to (B, T, T): a
                     causal (T, T) mask, possibly combined with padding
        memory_mask  for the cross-attention, broadcastable to (B, T, S): the
                     source padding mask (B, 1, S)
        norm_first=False (post-norm):
            x = norm1(x + dropout(self_attn(x, x, x, tgt_mask)))
            x = norm2(x + dropout(cross_attn(x, memory, memory, memory_mask)))
            x = norm3(x + dropout(ff(x)))
        norm_first=True (pre-norm): x = x + dropout(sublayer(norm_i(x))) for
            the same three sub-layers (the memory itself is not normalised)
        returns x, (B, T, d_model), in the input's dtype.
    """

    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        super().__init__()
        # BEGIN SOLUTION
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.norm3 = LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        # BEGIN SOLUTION
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h, tgt_mask))
            h = self.norm2(x)
            x = x + self.dropout2(self.cross_attn(h, memory, memory, memory_mask))
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, tgt_mask)))
            x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, memory, memory_mask)))
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return x
        # END SOLUTION


class Encoder(nn.Module):
    """The encoder stack: num_layers copies of an encoder layer, then a final LayerNorm.

    __init__(layer, num_layers):
        layer       an EncoderLayer (any module with the syllabus's attributes:
                    self_attn, ff, norm1, norm2, and forward(x, mask))
        num_layers  N
        self.layers = nn.ModuleList of N independent deep copies of layer
                      (copy.deepcopy: each copy has its own weights; do not
                      put the same layer N times, and do not use layer itself)
        self.norm   = LayerNorm(d_model), eps 1e-5, where d_model is read from
                      the layer's syllabus attributes, layer.norm1.weight.shape[0]
                      (do not rely on attributes such as layer.d_model that only
                      your own EncoderLayer has: any conforming layer must work)

    forward(x, mask=None):
        x (B, S, d_model); mask as for EncoderLayer, given to EVERY layer
        returns norm(layer_N(... layer_1(x, mask) ..., mask)), (B, S, d_model)
        (the final norm is applied whatever the layers' norm_first, as in
        torch.nn.Transformer's encoder)
    """

    def __init__(self, layer, num_layers):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        weight = layer.norm1.weight
        self.norm = LayerNorm(weight.shape[0]).to(weight)       # the layer's dtype and device
        # END SOLUTION

    def forward(self, x, mask=None):
        # BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)
        # END SOLUTION


class Decoder(nn.Module):
    """The decoder stack: num_layers copies of a decoder layer, then a final LayerNorm.

    __init__(layer, num_layers):
        layer       a DecoderLayer (any module with the syllabus's attributes:
                    self_attn, cross_attn, ff, norm1, norm2, norm3, and
                    forward(x, memory, tgt_mask, memory_mask))
        self.layers = nn.ModuleList of num_layers independent deep copies
        self.norm   = LayerNorm(d_model), d_model = layer.norm1.weight.shape[0]

    forward(x, memory, tgt_mask=None, memory_mask=None):
        x (B, T, d_model), memory (B, S, d_model); every layer receives the
        same memory and masks
        returns norm(the last layer's output), (B, T, d_model)
    """

    def __init__(self, layer, num_layers):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        weight = layer.norm1.weight
        self.norm = LayerNorm(weight.shape[0]).to(weight)
        # END SOLUTION

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        # BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask)
        return self.norm(x)
        # END SOLUTION


class Transformer(nn.Module):
    """The encoder-decoder Transformer of "Attention Is All You Need".

    __init__(src_vocab, tgt_vocab, d_model=512, num_heads=8, num_encoder_layers=6,
             num_decoder_layers=6, d_ff=2048, dropout=0.1, max_len=5000,
             activation="relu", norm_first=False):
        src_embed    = nn.Embedding(src_vocab, d_model)
        tgt_embed    = nn.Embedding(tgt_vocab, d_model)
        pos_encoding = PositionalEncoding(d_model, max_len, dropout)  (one
                       module, used for both sides)
        encoder      = Encoder(EncoderLayer(d_model, num_heads, d_ff, dropout,
                       activation, norm_first), num_encoder_layers)
        decoder      = Decoder(DecoderLayer(...the same...), num_decoder_layers)
        generator    = nn.Linear(d_model, tgt_vocab)
        Then initialise every parameter with more than one dimension (every
        matrix, the embeddings included) with nn.init.xavier_uniform_, as the
        Annotated Transformer does; vectors (biases, norms) keep their
        initial values.

    encode(src, src_mask=None):
        src (B, S) token ids; src_mask bool (B, 1, S), True at real tokens
        returns memory = encoder(pos_encoding(src_embed(src) * sqrt(d_model)),
        src_mask), (B, S, d_model)

    decode(tgt, memory, src_mask=None, tgt_mask=None):
        tgt (B, T) token ids; tgt_mask bool broadcastable to (B, T, T) (causal,
        possibly combined with padding); src_mask is the memory mask
        returns the logits generator(decoder(pos_encoding(tgt_embed(tgt) *
        sqrt(d_model)), memory, tgt_mask, src_mask)), (B, T, tgt_vocab):
        no softmax

    forward(src, tgt, src_mask=None, tgt_mask=None):
        decode(tgt, encode(src, src_mask), src_mask, tgt_mask), the logits
        (B, T, tgt_vocab)
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=512, num_heads=8, num_encoder_layers=6,
                 num_decoder_layers=6, d_ff=2048, dropout=0.1, max_len=5000, activation="relu",
                 norm_first=False):
        super().__init__()
        # BEGIN SOLUTION
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.pos_encoding = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = Encoder(EncoderLayer(d_model, num_heads, d_ff, dropout, activation, norm_first),
                               num_encoder_layers)
        self.decoder = Decoder(DecoderLayer(d_model, num_heads, d_ff, dropout, activation, norm_first),
                               num_decoder_layers)
        self.generator = nn.Linear(d_model, tgt_vocab)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        # END SOLUTION

    def encode(self, src, src_mask=None):
        # BEGIN SOLUTION
        x = self.pos_encoding(self.src_embed(src) * math.sqrt(self.d_model))
        return self.encoder(x, src_mask)
        # END SOLUTION

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
        # BEGIN SOLUTION
        x = self.pos_encoding(self.tgt_embed(tgt) * math.sqrt(self.d_model))
        return self.generator(self.decoder(x, memory, tgt_mask, src_mask))
        # END SOLUTION

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        # BEGIN SOLUTION
        return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)
        # END SOLUTION
