"""Wrong and right implementations of the seq2seq exercises (see tests/test_variants.py).

Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/seq2seq.py, where torch, nn (torch.nn) and the attention module are imported.
"""

WRONG = {
    "seq2seq.Encoder": {
        # the LSTM reads the pads too: its final state is taken after the padding
        "no_packing": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        return self.rnn(self.embed(src))
''',
        # packed, but h_n read from the padded outputs' last column (zeros for short rows)
        "final_state_from_last_column": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        lengths = (src != self.pad_id).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, (h_n, c_n) = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.shape[1])
        return outputs, (outputs[:, -1].unsqueeze(0), c_n)
''',
        "pad_id_hard_coded_as_zero": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        lengths = (src != 0).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, state = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.shape[1])
        return outputs, state
''',
        # a cell loop that keeps each row's state right but leaves the carried h at padded positions
        "padded_outputs_not_zeroed": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)

    def forward(self, src):
        x = self.embed(src)
        B, S, _ = x.shape
        h = x.new_zeros(B, self.rnn.hidden_size)
        c = x.new_zeros(B, self.rnn.hidden_size)
        outputs = []
        for t in range(S):
            real = (src[:, t] != self.pad_id)[:, None]
            h_new, c_new = self.rnn(x[:, t], (h, c))
            h = torch.where(real, h_new, h)
            c = torch.where(real, c_new, c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h[None], c[None])
''',
        "embeddings_detached": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        lengths = (src != self.pad_id).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src).detach(), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, state = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.shape[1])
        return outputs, state
''',
        # outputs collected in a float64 buffer: right in float64, wrong dtype in float32
        "float64_output_buffer": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)

    def forward(self, src):
        x = self.embed(src)
        B, S, _ = x.shape
        H = self.rnn.hidden_size
        h, c = x.new_zeros(B, H), x.new_zeros(B, H)
        outputs = torch.zeros(B, S, H, dtype=torch.float64)
        for t in range(S):
            real = (src[:, t] != self.pad_id)[:, None]
            h_new, c_new = self.rnn(x[:, t], (h, c))
            h, c = torch.where(real, h_new, h), torch.where(real, c_new, c)
            outputs[:, t] = torch.where(real, h_new, torch.zeros_like(h_new))
        return outputs, (h[None], c[None])
''',
        "two_layer_lstm": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, num_layers=2, batch_first=True)

    def forward(self, src):
        lengths = (src != self.pad_id).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, (h, c) = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.shape[1])
        return outputs, (h[-1:], c[-1:])
''',
    },
    "seq2seq.Decoder": {
        "ignores_the_state": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        outputs, state = self.rnn(self.embed(tgt_in))
        return self.out(outputs), state
''',
        "returns_the_state_it_was_given": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        outputs, _ = self.rnn(self.embed(tgt_in), state)
        return self.out(outputs), state
''',
        "no_out_projection": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, vocab_size, batch_first=True)

    def forward(self, tgt_in, state):
        return self.rnn(self.embed(tgt_in), state)
''',
        "returns_probabilities": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        outputs, state = self.rnn(self.embed(tgt_in), state)
        logits = self.out(outputs)
        e = (logits - logits.amax(dim=-1, keepdim=True)).exp()
        return e / e.sum(dim=-1, keepdim=True), state
''',
        "outputs_detached": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        outputs, state = self.rnn(self.embed(tgt_in), state)
        return self.out(outputs.detach()), state
''',
        "float64_logits_buffer": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        h, c = state[0][0], state[1][0]
        x = self.embed(tgt_in)
        B, T, _ = x.shape
        logits = torch.zeros(B, T, self.out.out_features, dtype=torch.float64)
        for t in range(T):
            h, c = self.rnn(x[:, t], (h, c))
            logits[:, t] = self.out(h)
        return logits, (h[None], c[None])
''',
    },
    "seq2seq.AttentionDecoder": {
        "mask_ignored": '''
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
        S = enc_outputs.shape[1]
        queries = s.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, None)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        "masked_weights_not_renormalised": '''
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
        scores = torch.einsum("btj,jk,bsk->bts", s, self.W.weight, enc_outputs)
        weights = attention.softmax(scores, dim=-1)
        if src_mask is not None:
            weights = weights * src_mask[:, None, :].to(weights.dtype)
        context = weights @ enc_outputs
        hidden = torch.tanh(self.W_c(torch.cat([context, s], dim=-1)))
        return self.out(hidden), weights, state
''',
        "state_before_context": '''
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
        S = enc_outputs.shape[1]
        queries = s.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(queries, context, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        # Bahdanau's order: step t scores with the state BEFORE reading tgt_in[:, t]
        "scores_with_the_previous_state": '''
class AttentionDecoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.W = nn.Linear(d_hidden, d_hidden, bias=False)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        h0 = state[0]
        s, state = self.rnn(self.embed(tgt_in), state)
        B, T, H = s.shape
        S = enc_outputs.shape[1]
        previous = torch.cat([h0.transpose(0, 1), s[:, :-1]], dim=1)
        queries = previous.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(context, s.reshape(B * T, H), self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        "W_transposed": '''
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
        S = enc_outputs.shape[1]
        queries = s.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        scores = attention.general_score(queries, keys, self.W.weight.T)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        "ignores_the_state": '''
class AttentionDecoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.W = nn.Linear(d_hidden, d_hidden, bias=False)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        s, state = self.rnn(self.embed(tgt_in))
        B, T, H = s.shape
        S = enc_outputs.shape[1]
        queries = s.reshape(B * T, H)
        keys = enc_outputs.unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        "W_with_a_bias": '''
class AttentionDecoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.W = nn.Linear(d_hidden, d_hidden)
        self.W_c = nn.Linear(2 * d_hidden, d_hidden, bias=False)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state, enc_outputs, src_mask=None):
        s, state = self.rnn(self.embed(tgt_in), state)
        scores = torch.einsum("bth,bsh->bts", s, self.W(enc_outputs))
        if src_mask is not None:
            scores = scores.masked_fill(~src_mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = attention.softmax(scores, dim=-1)
        context = weights @ enc_outputs
        hidden = torch.tanh(self.W_c(torch.cat([context, s], dim=-1)))
        return self.out(hidden), weights, state
''',
        "encoder_outputs_detached": '''
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
        S = enc_outputs.shape[1]
        queries = s.reshape(B * T, H)
        keys = enc_outputs.detach().unsqueeze(1).expand(B, T, S, H).reshape(B * T, S, H)
        mask = None if src_mask is None else src_mask.unsqueeze(1).expand(B, T, S).reshape(B * T, S)
        scores = attention.general_score(queries, keys, self.W.weight)
        context, weights = attention.attention_context(scores, keys, mask)
        hidden = attention.attentional_hidden(context, queries, self.W_c.weight.T)
        return self.out(hidden).reshape(B, T, -1), weights.reshape(B, T, S), state
''',
        "softmax_over_the_steps": '''
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
        scores = torch.einsum("btj,jk,bsk->bts", s, self.W.weight, enc_outputs)
        if src_mask is not None:
            scores = scores.masked_fill(~src_mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = attention.softmax(scores, dim=1)
        context = weights @ enc_outputs
        hidden = torch.tanh(self.W_c(torch.cat([context, s], dim=-1)))
        return self.out(hidden), weights, state
''',
        "float64_weights_buffer": '''
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
        S = enc_outputs.shape[1]
        all_weights = torch.zeros(B, T, S, dtype=torch.float64)
        hiddens = []
        for t in range(T):
            scores = attention.general_score(s[:, t], enc_outputs, self.W.weight)
            context, weights = attention.attention_context(scores, enc_outputs, src_mask)
            hiddens.append(attention.attentional_hidden(context, s[:, t], self.W_c.weight.T))
            all_weights[:, t] = weights
        return self.out(torch.stack(hiddens, dim=1)), all_weights, state
''',
    },
    "seq2seq.translate": {
        # right tokens, but the graph of every step is kept for nothing
        "gradients_recorded": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    enc_outputs, state = encoder(src)
    src_mask = src != pad_id
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
''',
        # right tokens for an LSTM, but each step runs the decoder over the whole prefix again
        "whole_prefix_from_the_encoder_state": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, start = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, _ = decoder(ys, start, enc_outputs, src_mask)
            else:
                logits, _ = decoder(ys, start)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        "no_pad_after_eos": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(ys[:, -1:], state, enc_outputs, src_mask)
            else:
                logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        "no_early_stop": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
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
        return ys
''',
        "no_bos_in_the_result": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
        last = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        columns = []
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(last, state, enc_outputs, src_mask)
            else:
                logits, state = decoder(last, state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            columns.append(next_token)
            last = next_token[:, None]
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return torch.stack(columns, dim=1)
''',
        # the whole prefix at every step, but from the state the previous step returned
        "whole_prefix_with_the_carried_state": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(ys, state, enc_outputs, src_mask)
            else:
                logits, state = decoder(ys, state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        # the newest token alone, but always from the encoder's state
        "state_not_carried": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, context = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, _ = decoder(ys[:, -1:], context, enc_outputs, src_mask)
            else:
                logits, _ = decoder(ys[:, -1:], context)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        "plain_decoder_only": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        _, state = encoder(src)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        "attention_without_the_mask": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(ys[:, -1:], state, enc_outputs)
            else:
                logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
''',
        "max_len_new_tokens": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
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
''',
        "special_ids_hard_coded": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != 0
        ys = torch.full((src.shape[0], 1), 1, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(ys[:, -1:], state, enc_outputs, src_mask)
            else:
                logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.zeros_like(next_token), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == 2)
            if bool(finished.all()):
                break
        return ys
''',
        "switches_to_eval_mode": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
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
''',
    },
}

RIGHT = {
    "seq2seq.Encoder": {
        "lstm_cell_loop": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)

    def forward(self, src):
        x = self.embed(src)
        B, S, _ = x.shape
        h = x.new_zeros(B, self.rnn.hidden_size)
        c = x.new_zeros(B, self.rnn.hidden_size)
        outputs = []
        for t in range(S):
            real = (src[:, t] != self.pad_id)[:, None]
            h_new, c_new = self.rnn(x[:, t], (h, c))
            h = torch.where(real, h_new, h)
            c = torch.where(real, c_new, c)
            outputs.append(torch.where(real, h_new, torch.zeros_like(h_new)))
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))
''',
        "sorted_by_length_by_hand": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        lengths = (src != self.pad_id).sum(dim=1)
        lengths_sorted, order = lengths.sort(descending=True)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src)[order], lengths_sorted.cpu(), batch_first=True)
        packed_outputs, (h, c) = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.shape[1])
        back = order.argsort()
        return outputs[back], (h[:, back], c[:, back])
''',
        "lstm_one_step_at_a_time": '''
class Encoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)

    def forward(self, src):
        x = self.embed(src)
        B, S, _ = x.shape
        lengths = (src != self.pad_id).sum(dim=1)
        h = x.new_zeros(1, B, self.rnn.hidden_size)
        c = x.new_zeros(1, B, self.rnn.hidden_size)
        outputs = x.new_zeros(B, S, self.rnn.hidden_size)
        for t in range(S):
            out, (h_new, c_new) = self.rnn(x[:, t:t + 1], (h, c))
            real = (t < lengths).view(1, B, 1)
            h, c = torch.where(real, h_new, h), torch.where(real, c_new, c)
            outputs = outputs + torch.where(real.view(B, 1, 1), out, torch.zeros_like(out)) * \\
                (torch.arange(S, device=src.device) == t).view(1, S, 1).to(x.dtype)
        return outputs, (h, c)
''',
    },
    "seq2seq.Decoder": {
        "lstm_cell_loop": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTMCell(d_embed, d_hidden)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, tgt_in, state):
        h, c = state[0].squeeze(0), state[1].squeeze(0)
        x = self.embed(tgt_in)
        outputs = []
        for t in range(x.shape[1]):
            h, c = self.rnn(x[:, t], (h, c))
            outputs.append(h)
        return self.out(torch.stack(outputs, dim=1)), (h.unsqueeze(0), c.unsqueeze(0))
''',
        "keeps_a_buffer": '''
class Decoder(nn.Module):
    def __init__(self, vocab_size, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_embed)
        self.rnn = nn.LSTM(d_embed, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)
        self.register_buffer("calls", torch.zeros(()))
        self.last_length = None

    def forward(self, tgt_in, state):
        self.last_length = tgt_in.shape[1]
        outputs, (h, c) = self.rnn(self.embed(tgt_in), (state[0].contiguous(), state[1].contiguous()))
        return self.out(outputs), (h, c)
''',
    },
    "seq2seq.AttentionDecoder": {
        # an explicit loop over time with a cell, and the attention functions called per step
        "lstm_cell_and_a_loop_over_steps": '''
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
        logits, all_weights = [], []
        for t in range(x.shape[1]):
            h, c = self.rnn(x[:, t], (h, c))
            scores = attention.general_score(h, enc_outputs, self.W.weight)
            context, weights = attention.attention_context(scores, enc_outputs, src_mask)
            hidden = attention.attentional_hidden(context, h, self.W_c.weight.T)
            logits.append(self.out(hidden))
            all_weights.append(weights)
        return torch.stack(logits, dim=1), torch.stack(all_weights, dim=1), (h[None], c[None])
''',
        "einsum_scores_and_masked_fill": '''
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
        scores = torch.einsum("btj,bsj->bts", s, self.W(enc_outputs))
        if src_mask is not None:
            scores = scores.masked_fill(~src_mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = attention.softmax(scores, dim=-1)
        if src_mask is not None:
            weights = weights.masked_fill(~src_mask[:, None, :], 0.0)
        context = torch.einsum("bts,bsh->bth", weights, enc_outputs)
        hidden = torch.tanh(self.W_c(torch.cat([context, s], dim=-1)))
        return self.out(hidden), weights, state
''',
        "mask_by_multiplication_and_renormalising": '''
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
        scores = s @ self.W.weight @ enc_outputs.transpose(1, 2)
        weights = attention.softmax(scores, dim=-1)
        if src_mask is not None:
            weights = weights * src_mask[:, None, :].to(weights.dtype)
            weights = weights / weights.sum(dim=-1, keepdim=True)
        context = weights @ enc_outputs
        W_c = self.W_c.weight
        H = s.shape[-1]
        hidden = torch.tanh(context @ W_c[:, :H].T + s @ W_c[:, H:].T)
        return self.out(hidden), weights, state
''',
    },
    "seq2seq.translate": {
        "hasattr_instead_of_isinstance": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        src_mask = src != pad_id
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        while ys.shape[1] < max_len and not bool(finished.all()):
            if hasattr(decoder, "W_c"):
                logits, _, state = decoder(ys[:, -1:], state, enc_outputs, src_mask)
            else:
                logits, state = decoder(ys[:, -1:], state)
            next_token = logits[:, -1].argmax(dim=-1).masked_fill(finished, pad_id)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
        return ys
''',
        "python_lists_and_pads_afterwards": '''
def translate(encoder, decoder, src, max_len, bos_id, eos_id, pad_id=0):
    with torch.no_grad():
        enc_outputs, state = encoder(src)
        mask = src != pad_id
        B = src.shape[0]
        rows = [[bos_id] for _ in range(B)]
        done = [False] * B
        last = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
        for _ in range(max_len - 1):
            if all(done):
                break
            if isinstance(decoder, AttentionDecoder):
                logits, _, state = decoder(last, state, enc_outputs, mask)
            else:
                logits, state = decoder(last, state)
            chosen = logits[:, 0].argmax(dim=-1).tolist()
            for b in range(B):
                rows[b].append(pad_id if done[b] else chosen[b])
                done[b] = done[b] or chosen[b] == eos_id
            last = torch.tensor(chosen, dtype=torch.long, device=src.device)[:, None]
        return torch.tensor(rows, dtype=torch.long, device=src.device)
''',
    },
}
