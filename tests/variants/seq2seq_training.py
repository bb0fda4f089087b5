"""seq2seq_training variants: each replaces definitions in the modules it trains
(``{"module.name": source}``), since seq2seq_training has no code of its own.

WRONG: a mistake the seq2seq exercises' points already cost, which must also keep the
trained weights from working in the reference architecture, or the model from learning.
RIGHT: correct pieces written differently (a cell looped over time, another parameter
layout of the same weights), which must still train past the threshold.
"""

from tests.variants import seq2seq

WRONG = {
    "seq2seq_training.learns_to_reverse": {
        # scores s_{t-1} against the encoder outputs: the step reads where the previous one should have
        "scores_with_the_previous_state": {"seq2seq.AttentionDecoder":
                                           seq2seq.WRONG["seq2seq.AttentionDecoder"]["scores_with_the_previous_state"]},
        # the LSTM reads the pads after a row's last digit: the context vector is not the row's own
        "final_state_at_the_padding": {"seq2seq.Encoder": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        return self.rnn(self.embed(src))
'''},
        # repeat, not expand: decoder step (b, t) is scored against another row's source
        "keys_repeated_across_rows": {"seq2seq.AttentionDecoder": '''
class AttentionDecoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.W = nn.Linear(d_hidden, d_hidden, bias=False)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        s, state = self.rnn(self.embed(tgt_in), state)
        B, T, H = s.shape
        queries = s.reshape(B * T, H)
        keys = enc_outputs.repeat(T, 1, 1)
        mask = None if src_mask is None else src_mask.repeat(T, 1)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, -1), state
'''},
    },
}

RIGHT = {
    "seq2seq_training.learns_to_reverse": {
        # CS224n-style: LSTM cells stepped by hand (parameters rnn.weight_ih, not rnn.weight_ih_l0),
        # each row's final state kept at its own length, attention one decoder step at a time
        "cells_stepped_by_hand": {"seq2seq.Encoder": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)

    def forward(self, src):
        B, S = src.shape
        x = self.embed(src)
        h = x.new_zeros(B, self.rnn.hidden_size)
        c = x.new_zeros(B, self.rnn.hidden_size)
        real = (src != self.pad_id).unsqueeze(-1)
        outputs = []
        for t in range(S):
            h_new, c_new = self.rnn(x[:, t], (h, c))
            h = torch.where(real[:, t], h_new, h)
            c = torch.where(real[:, t], c_new, c)
            outputs.append(h_new * real[:, t])
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))
''', "seq2seq.AttentionDecoder": '''
class AttentionDecoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)
        self.W = nn.Linear(d_hidden, d_hidden, bias=False)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        h, c = state[0][0], state[1][0]
        x = self.embed(tgt_in)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            h, c = self.rnn(x[:, t], (h, c))
            scores = attention.general_score(h, enc_outputs, self.W.weight)
            context, a = attention.attention_context(scores, enc_outputs, src_mask)
            logits.append(self.out(attention.attentional_hidden(context, h, self.W_c.weight.T)))
            weights.append(a)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1), (h.unsqueeze(0), c.unsqueeze(0))
'''},
    },
}
