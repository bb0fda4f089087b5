"""The RNN encoder-decoder, its bottleneck, and the attention that removes it (torch).

Sequence to sequence. A translation model reads a source sentence x_1 .. x_S and
writes a target sentence y_1 .. y_T whose length is its own. Sutskever et al.
(2014) did it with two recurrent networks:

    encoder   an LSTM reads the source, one token after the other; its final
              state (h_S, c_S) is the CONTEXT VECTOR, a summary of the source
    decoder   another LSTM starts from that state and writes the target one
              token at a time, each step predicting the next token from the
              tokens written so far

The bottleneck. In that model the context vector is ALL the decoder ever learns
about the source. With a hidden size of 64 (or 512), every sentence, short or
long, must be squeezed into those 64 (or 512) numbers, and the decoder must
unpack them again token by token. Short inputs fit; long ones do not, and the
model's accuracy falls as the source grows. `course show bottleneck` trains the
model of this module on reversing digit strings and draws that fall.

Attention removes the bottleneck (you wrote its pieces in the `attention`
module). The encoder has computed one output h_i per source position; instead
of throwing them away, the decoder looks at all of them at every step. Luong et
al. (2015), without input feeding:

    s_t   = the decoder LSTM's output at step t (it has read y_0 .. y_t)
    e_ti  = s_t^T W h_i                          the general score, for every i
    a_t   = softmax(e_t) over the real source positions (padding gets 0)
    c_t   = sum_i a_ti h_i                       the context vector of step t
    h~_t  = tanh(W_c [c_t; s_t])                 the attentional hidden state
    logits_t = out(h~_t)

Because s_t does not depend on the attention of earlier steps (no input
feeding), the LSTM can run over the whole target at once and the attention is
then computed for every step together: weights (B, T, S). Plotted, the weights
show which source token each output token read: for reversal, an anti-diagonal.

Teacher forcing. In training the decoder reads the TRUE previous tokens, not its
own guesses: the target is bos y_1 .. y_n eos, the decoder's input is the target
without its last token (tgt_in = bos y_1 .. y_n) and it must predict the target
without its first (y_1 .. y_n eos). At test time there is no true target:
`translate` feeds back its own greedy choice, one step at a time.

Padding. Sources in a batch have different lengths and are padded at the end
with pad_id. The padding must change nothing: the encoder's outputs at the real
positions, and its final state, must be those of the row run alone. An LSTM run
over the padded row would keep reading pads after the last real token, so take
each row's final state after its last real token: pack the batch
(torch.nn.utils.rnn.pack_padded_sequence with the rows' lengths and
enforce_sorted=False), or run the steps yourself and keep each row's state at
its own length. The attention decoder must give the padded positions zero
weight (a source mask, True at real tokens).

Shapes, batch first:

    src (B, S), tgt_in (B, T)            integer token ids
    enc_outputs (B, S, H); h_n, c_n (1, B, H)   the LSTM's own layout
    logits (B, T, V); weights (B, T, S)

In this module you write, in order:

    Encoder           embedding + LSTM, padding-proof, returns every output and the final state
    Decoder           the bottleneck: an LSTM started from the context vector
    AttentionDecoder  the same, looking at every encoder output at every step
    translate         greedy decoding with either decoder, one step at a time

nn.LSTM and nn.LSTMCell are allowed here (you wrote the LSTM by hand in the
`lstm` module). The attention decoder must use your functions of the
`attention` module (general_score, attention_context, attentional_hidden, or
their batched equivalents), not nn.MultiheadAttention or
F.scaled_dot_product_attention.
"""

import torch
from torch import nn

import attention


class Encoder(nn.Module):
    """Embedding and a one-layer LSTM over the source, padding-proof.

    __init__(vocab_size, d_embed, d_hidden, pad_id=0):
        embed  nn.Embedding(vocab_size, d_embed)
        rnn    nn.LSTM(d_embed, d_hidden, batch_first=True)
        keep pad_id: forward needs it to find each row's length

    forward(src):
        src      integer (B, S), each row's real tokens first, then pad_id
        returns  (outputs, (h_n, c_n))
            outputs  (B, S, H), the LSTM's output at every position; at a real
                     position it is what the row alone gives; at a padded
                     position, zeros
            h_n, c_n (1, B, H), each row's state after its LAST REAL token
                     (the context vector), not after the padding
    Every row has at least one real token.
    """

    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        # BEGIN SOLUTION
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        # END SOLUTION

    def forward(self, src):
        # BEGIN SOLUTION
        lengths = (src != self.pad_id).sum(dim=1)                    # (B,)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, state = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True,
                                                      total_length=src.shape[1])   # (B, S, H)
        return outputs, state
        # END SOLUTION


class Decoder(nn.Module):
    """The bottleneck: a decoder that knows the source only through the context vector.

    __init__(vocab_size, d_embed, d_hidden):
        embed  nn.Embedding(vocab_size, d_embed)
        rnn    nn.LSTM(d_embed, d_hidden, batch_first=True)
        out    nn.Linear(d_hidden, vocab_size)

    forward(tgt_in, state):
        tgt_in   integer (B, T), the tokens the decoder reads (teacher forcing:
                 bos and the target but its last token)
        state    (h, c), each (1, B, H): where the LSTM starts; the encoder's final
                 state, or the state a previous call returned
        returns  (logits, state)
            logits  (B, T, V), out() of the LSTM's output at every step
            state   (h, c) after the last step, to continue from in the next call
    Calling forward on a whole target, or on its tokens one at a time passing the
    state along, gives the same logits.
    """

    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        # BEGIN SOLUTION
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)
        # END SOLUTION

    def forward(self, tgt_in, state):
        # BEGIN SOLUTION
        outputs, state = self.rnn(self.embed(tgt_in), state)         # (B, T, H)
        return self.out(outputs), state
        # END SOLUTION


class AttentionDecoder(nn.Module):
    """Luong's attention decoder (general score, no input feeding).

    __init__(vocab_size, d_embed, d_hidden):
        embed  nn.Embedding(vocab_size, d_embed)
        rnn    nn.LSTM(d_embed, d_hidden, batch_first=True)
        W      nn.Linear(d_hidden, d_hidden, bias=False), the general score:
               e_ti = s_t . W(h_i), that is s_t^T W.weight h_i
        W_c    nn.Linear(2 * d_hidden, d_hidden, bias=False): h~_t = tanh(W_c([c_t; s_t])),
               the context FIRST
        out    nn.Linear(d_hidden, vocab_size)

    forward(tgt_in, state, enc_outputs, src_mask=None):
        tgt_in       integer (B, T)
        state        (h, c), each (1, B, H): the encoder's final state, or the
                     state a previous call returned
        enc_outputs  (B, S, H), every output of the encoder
        src_mask     bool (B, S), True at the source's real tokens; None: all real
        returns  (logits, weights, state)
            logits   (B, T, V), out(h~_t) at every step t
            weights  (B, T, S), step t's attention over the source: zero at masked
                     positions, the others summing to 1
            state    (h, c) after the last step
    s_t is the LSTM's output at step t, after reading tgt_in[:, t]: the CURRENT
    state scores the encoder outputs. Use your attention module's functions
    (attention.general_score, attention.attention_context,
    attention.attentional_hidden take one step (B, H); fold the T steps into
    the batch, or loop over t).
    """

    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        # BEGIN SOLUTION
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.W = nn.Linear(d_hidden, d_hidden, bias=False)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)
        # END SOLUTION

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        # BEGIN SOLUTION
        s, state = self.rnn(self.embed(tgt_in), state)               # (B, T, H)
        B, T, H = s.shape
        S = enc_outputs.shape[1]
        # fold the T steps into the batch: one decoder step of the attention module per (b, t)
        queries = s.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        # nn.Linear stores W.weight as (out, in); s^T W h with W = W.weight is s . (W.weight h)
        scores = attention.general_score(queries, keys, self.W.weight)           # (B*T, S)
        context, weights = attention.attention_context(scores, keys, mask)       # (B*T, H), (B*T, S)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)   # (B*T, H)
        logits = self.out(hidden).reshape(B, T, -1)
        return logits, weights.reshape(B, T, S), state
        # END SOLUTION


def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    """Greedy decoding with an Encoder and either decoder, one step at a time.

    Inputs:
        encoder   an Encoder; decoder a Decoder or an AttentionDecoder (an
                  AttentionDecoder also takes the encoder's outputs and the source
                  mask, src != pad_id, and returns its weights, which are not kept)
        src       integer (B, S), padded with pad_id
        max_len   int >= 1, the largest number of tokens of a returned row, bos included
        bos_id, eos_id, pad_id   ints
    Returns:
        tokens  LongTensor (B, L) on src's device, 1 <= L <= max_len, with
                greedy_decode's conventions: tokens[:, 0] is bos_id; each step feeds
                only the newest token (B, 1) and the state the previous step
                returned, and appends the argmax of the logits; every position
                after a row's eos holds pad_id; stop as soon as every row has
                emitted eos, or at max_len tokens.
    Encode once. Do not change the modules' mode (train/eval) and record no
    gradients (torch.no_grad()).
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id                                     # (B, S)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(ys[:, -1:], state, enc_outputs, src_mask)
            else:
                logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
    # END SOLUTION
