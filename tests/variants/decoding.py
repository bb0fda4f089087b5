"""Variants of the decoding exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/decoding.py (which imports torch and `causal_mask` from masking; while these
exercises are graded the reference masking.causal_mask stands in).
"""

_GREEDY = '''
def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            tgt_mask = causal_mask(ys.shape[1], device=src.device)
            logits = model.decode(ys, memory, src_mask, tgt_mask)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
'''

_BEAM = '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        alive = torch.full((1, 1), bos_id, dtype=torch.long, device=src.device)
        scores = torch.zeros(1, dtype=torch.float64, device=src.device)
        finished = []
        for _ in range(max_len - 1):
            k, T = alive.shape
            mem = memory.expand(k, *memory.shape[1:])
            mask = None if src_mask is None else src_mask.expand(k, *src_mask.shape[1:])
            logits = model.decode(alive, mem, mask, causal_mask(T, device=src.device))
            logp = torch.log_softmax(logits[:, -1].to(torch.float64), dim=-1)
            V = logp.shape[-1]
            candidates = (scores[:, None] + logp).reshape(-1)
            best, index = candidates.topk(min(beam_size, candidates.numel()))
            parents, tokens = index // V, index % V
            extended = torch.cat([alive[parents], tokens[:, None]], dim=1)
            done = tokens == eos_id
            finished += [(extended[i], float(best[i])) for i in torch.nonzero(done).flatten().tolist()]
            alive, scores = extended[~done], best[~done]
            if alive.shape[0] == 0:
                break
        hypotheses = finished + [(alive[i], float(scores[i])) for i in range(alive.shape[0])]
        hypotheses.sort(key=lambda h: h[1], reverse=True)
        return hypotheses[:beam_size]
'''


def _greedy(*edits):
    source = _GREEDY
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


def _beam(*edits):
    source = _BEAM
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


WRONG = {
    "decoding.greedy_decode": {
        "no_pad_after_eos": _greedy(
            ("            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)\n", "")),
        "never_stops_early": _greedy(
            ("            if bool(finished.all()):\n                break\n", "")),
        "stops_when_any_row_finishes": _greedy(
            ("if bool(finished.all()):", "if bool(finished.any()):")),
        "feeds_only_the_last_token": _greedy(
            ("tgt_mask = causal_mask(ys.shape[1], device=src.device)", "tgt_mask = causal_mask(1, device=src.device)"),
            ("model.decode(ys, memory", "model.decode(ys[:, -1:], memory")),
        "no_causal_mask": _greedy(
            ("logits = model.decode(ys, memory, src_mask, tgt_mask)", "logits = model.decode(ys, memory, src_mask, None)")),
        "src_mask_not_passed_to_decode": _greedy(
            ("logits = model.decode(ys, memory, src_mask, tgt_mask)", "logits = model.decode(ys, memory, None, tgt_mask)")),
        "src_mask_not_passed_to_encode": _greedy(
            ("memory = model.encode(src, src_mask)", "memory = model.encode(src)")),
        "max_len_excludes_bos": _greedy(
            ("for _ in range(max_len - 1):", "for _ in range(max_len):")),
        "eos_overwritten_by_pad": _greedy(
            ("            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)\n"
             "            ys = torch.cat([ys, next_token[:, None]], dim=1)\n"
             "            finished = finished | (next_token == eos_id)\n",
             "            finished = finished | (next_token == eos_id)\n"
             "            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)\n"
             "            ys = torch.cat([ys, next_token[:, None]], dim=1)\n")),
        "pad_hard_coded_zero": _greedy(
            ("torch.full_like(next_token, pad_id)", "torch.zeros_like(next_token)")),
        "first_position_logits": _greedy(
            ("logits[:, -1].argmax(dim=-1)", "logits[:, 0].argmax(dim=-1)")),
        "int32_buffer": '''
def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    with torch.no_grad():
        B = src.shape[0]
        memory = model.encode(src, src_mask)
        ys = torch.full((B, max_len), pad_id, dtype=torch.int32, device=src.device)
        ys[:, 0] = bos_id
        finished = torch.zeros(B, dtype=torch.bool, device=src.device)
        length = 1
        for t in range(1, max_len):
            logits = model.decode(ys[:, :t], memory, src_mask, causal_mask(t, device=src.device))
            nxt = logits[:, -1].argmax(-1).to(torch.int32)
            ys[:, t] = torch.where(finished, torch.full_like(nxt, pad_id), nxt)
            finished |= nxt == eos_id
            length = t + 1
            if finished.all():
                break
        return ys[:, :length]
''',
        "switches_model_to_eval": _greedy(
            ("    with torch.no_grad():\n        memory", "    model.eval()\n    with torch.no_grad():\n        memory")),
        "records_gradients": _greedy(
            ("    with torch.no_grad():\n", "    if True:\n")),
        "drops_bos": _greedy(
            ("        return ys\n", "        return ys[:, 1:]\n")),
    },
    "decoding.beam_search": {
        "extends_finished_hypotheses": _beam(
            ("done = tokens == eos_id", "done = torch.zeros_like(tokens, dtype=torch.bool)")),
        "length_normalised": _beam(
            ("hypotheses.sort(key=lambda h: h[1], reverse=True)\n        return hypotheses[:beam_size]",
             "hypotheses = [(t, s / (len(t) - 1)) for t, s in hypotheses]\n"
             "        hypotheses.sort(key=lambda h: h[1], reverse=True)\n        return hypotheses[:beam_size]")),
        "probabilities_summed": _beam(
            ("logp = torch.log_softmax(logits[:, -1].to(torch.float64), dim=-1)",
             "logp = torch.softmax(logits[:, -1].to(torch.float64), dim=-1)")),
        "not_sorted": _beam(
            ("        hypotheses.sort(key=lambda h: h[1], reverse=True)\n", "")),
        "drops_unfinished": _beam(
            ("hypotheses = finished + [(alive[i], float(scores[i])) for i in range(alive.shape[0])]",
             "hypotheses = finished")),
        "starts_with_beam_size_copies": _beam(
            ("alive = torch.full((1, 1), bos_id", "alive = torch.full((beam_size, 1), bos_id"),
             ("scores = torch.zeros(1, dtype", "scores = torch.zeros(beam_size, dtype")),
        "feeds_only_the_last_token": _beam(
            ("logits = model.decode(alive, mem, mask, causal_mask(T, device=src.device))",
             "logits = model.decode(alive[:, -1:], mem, mask, causal_mask(1, device=src.device))")),
        "no_causal_mask": _beam(
            ("logits = model.decode(alive, mem, mask, causal_mask(T, device=src.device))",
             "logits = model.decode(alive, mem, mask, None)")),
        "src_mask_not_passed": _beam(
            ("logits = model.decode(alive, mem, mask, causal_mask",
             "logits = model.decode(alive, mem, None, causal_mask")),
        "top_k_per_hypothesis": '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        beams = [([bos_id], 0.0)]
        finished = []
        for _ in range(max_len - 1):
            new = []
            for tokens, score in beams:
                T = len(tokens)
                logits = model.decode(torch.tensor([tokens]), memory, src_mask, causal_mask(T))
                logp = torch.log_softmax(logits[0, -1], dim=-1)
                top = logp.argmax().item()          # each hypothesis follows its own best token
                if len(beams) == 1:                 # first step: branch into beam_size hypotheses
                    for v in logp.topk(beam_size).indices.tolist():
                        new.append((tokens + [v], score + logp[v].item()))
                else:
                    new.append((tokens + [top], score + logp[top].item()))
            beams = []
            for tokens, score in new:
                (finished if tokens[-1] == eos_id else beams).append((tokens, score))
            if not beams:
                break
        hyps = [(torch.tensor(t), s) for t, s in finished + beams]
        hyps.sort(key=lambda h: h[1], reverse=True)
        return hyps[:beam_size]
''',
        "keeps_beam_size_alive": '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        beams = [([bos_id], 0.0)]
        finished = []
        for _ in range(max_len - 1):
            candidates = []
            for tokens, score in beams:
                logits = model.decode(torch.tensor([tokens]), memory, src_mask, causal_mask(len(tokens)))
                logp = torch.log_softmax(logits[0, -1], dim=-1)
                candidates += [(tokens + [v], score + logp[v].item()) for v in range(logp.shape[-1])]
            candidates.sort(key=lambda c: c[1], reverse=True)
            beams = []
            for tokens, score in candidates:       # always refill the beam with beam_size alive ones
                if tokens[-1] == eos_id:
                    finished.append((tokens, score))
                elif len(beams) < beam_size:
                    beams.append((tokens, score))
                if len(beams) == beam_size:
                    break
        hyps = [(torch.tensor(t), s) for t, s in finished + beams]
        hyps.sort(key=lambda h: h[1], reverse=True)
        return hyps[:beam_size]
''',
        "returns_every_finished": _beam(
            ("        return hypotheses[:beam_size]\n", "        return hypotheses if finished else hypotheses[:beam_size]\n")),
        "max_len_excludes_bos": _beam(
            ("for _ in range(max_len - 1):", "for _ in range(max_len):")),
        "switches_model_to_eval": _beam(
            ("    with torch.no_grad():\n        memory", "    model.eval()\n    with torch.no_grad():\n        memory")),
        "records_gradients": _beam(
            ("    with torch.no_grad():\n", "    if True:\n"),
            ("torch.log_softmax(logits[:, -1].to(torch.float64), dim=-1)",
             "torch.log_softmax(logits[:, -1].to(torch.float64), dim=-1).detach()")),
    },
}

RIGHT = {
    "decoding.greedy_decode": {
        "one_row_at_a_time_then_pad": '''
def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    rows = []
    with torch.no_grad():
        for b in range(src.shape[0]):
            mask = None if src_mask is None else src_mask[b:b + 1]
            memory = model.encode(src[b:b + 1], mask)
            tokens = [bos_id]
            while len(tokens) < max_len and not (len(tokens) > 1 and tokens[-1] == eos_id):
                tgt = torch.tensor([tokens], dtype=torch.long, device=src.device)
                logits = model.decode(tgt, memory, mask, causal_mask(len(tokens), src.device))
                tokens.append(int(logits[0, -1].argmax()))
            rows.append(tokens)
    length = max(len(row) for row in rows)      # max_len unless every row has finished
    out = torch.full((len(rows), length), pad_id, dtype=torch.long, device=src.device)
    for b, row in enumerate(rows):
        out[b, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out
''',
        "buffer_restores_mode_inference_mode": '''
def greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            B = src.shape[0]
            memory = model.encode(src, src_mask)
            ys = torch.full((B, max_len), pad_id, dtype=torch.long, device=src.device)
            ys[:, 0] = bos_id
            alive = torch.ones(B, dtype=torch.bool, device=src.device)
            t = 1
            while t < max_len and alive.any():
                logits = model.decode(ys[:, :t], memory, src_mask, causal_mask(t, device=src.device))
                choice = logits[:, -1, :].max(dim=-1).indices
                ys[:, t] = choice.masked_fill(~alive, pad_id)
                alive = alive & (choice != eos_id)
                t += 1
            return ys[:, :t].clone()
    finally:
        model.train(was_training)
''',
    },
    "decoding.beam_search": {
        "one_hypothesis_at_a_time": '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        alive = [([bos_id], 0.0)]
        finished = []
        for _ in range(max_len - 1):
            candidates = []
            for tokens, score in alive:
                tgt = torch.tensor([tokens], dtype=torch.long, device=src.device)
                logits = model.decode(tgt, memory, src_mask, causal_mask(len(tokens), device=src.device))
                logp = torch.log_softmax(logits[0, -1].double(), dim=-1).tolist()
                candidates += [(score + lp, tokens + [v]) for v, lp in enumerate(logp)]
            candidates.sort(key=lambda c: c[0], reverse=True)
            alive = []
            for score, tokens in candidates[:beam_size]:
                (finished if tokens[-1] == eos_id else alive).append((tokens, score))
            if not alive:
                break
        ranked = sorted(finished + alive, key=lambda h: -h[1])[:beam_size]
        return [(torch.tensor(tokens, dtype=torch.long, device=src.device), float(score)) for tokens, score in ranked]
''',
        "early_exit_and_logsumexp": '''
def beam_search(model, src, beam_size, max_len, bos_id, eos_id, src_mask=None):
    with torch.inference_mode():
        memory = model.encode(src, src_mask)
        seqs = torch.tensor([[bos_id]], device=src.device)
        scores = torch.zeros(1, dtype=torch.float64, device=src.device)
        done = []
        for step in range(1, max_len):
            k = seqs.shape[0]
            logits = model.decode(seqs, memory.repeat(k, 1, 1), None if src_mask is None else src_mask.repeat(k, 1, 1),
                                  causal_mask(step, device=src.device))[:, -1].double()
            logp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
            flat = (scores.unsqueeze(1) + logp).flatten()
            order = torch.argsort(flat, descending=True)[:beam_size]
            V = logp.shape[1]
            seqs = torch.cat([seqs[order // V], (order % V).unsqueeze(1)], dim=1)
            scores = flat[order]
            ended = seqs[:, -1] == eos_id
            done.extend(zip(seqs[ended], scores[ended].tolist()))
            seqs, scores = seqs[~ended], scores[~ended]
            done.sort(key=lambda h: -h[1])
            # nothing alive can catch up with the beam_size-th finished one: log-probs only decrease
            if len(seqs) == 0 or (len(done) >= beam_size and done[beam_size - 1][1] >= scores.max().item()):
                break
        everything = done + list(zip(seqs, scores.tolist()))
        everything.sort(key=lambda h: -h[1])
        return [(t, float(s)) for t, s in everything[:beam_size]]
''',
    },
}


# ---------------------------------------------------------------- fairness (issue "fair grades")

# The hypotheses' forms the contract leaves open: tokens as a list of ints or an integer
# tensor of any dtype, logprob as a float or a 0-d tensor.
RIGHT["decoding.beam_search"]["logprob_as_0d_tensor"] = _beam(
    ("finished += [(extended[i], float(best[i]))", "finished += [(extended[i], best[i])"),
    ("[(alive[i], float(scores[i]))", "[(alive[i], scores[i])"),
    ("hypotheses.sort(key=lambda h: h[1], reverse=True)", "hypotheses.sort(key=lambda h: float(h[1]), reverse=True)"))
RIGHT["decoding.beam_search"]["tokens_as_lists_of_ints"] = _beam(
    ("        return hypotheses[:beam_size]\n",
     "        return [(tokens.tolist(), score) for tokens, score in hypotheses[:beam_size]]\n"))
RIGHT["decoding.beam_search"]["tokens_int32_logprob_tensor"] = _beam(
    ("        return hypotheses[:beam_size]\n",
     "        return [(tokens.int(), torch.tensor(score)) for tokens, score in hypotheses[:beam_size]]\n"))

# (1, n) token tensors: the batch axis of the decoder's input kept in the result
WRONG["decoding.beam_search"]["tokens_keep_batch_axis"] = _beam(
    ("        return hypotheses[:beam_size]\n",
     "        return [(tokens[None, :], score) for tokens, score in hypotheses[:beam_size]]\n"))

# rows gathered as Python lists and returned so: the tokens are right, the type is not
WRONG["decoding.greedy_decode"]["returns_lists_of_rows"] = _greedy(
    ("        return ys\n", "        return ys.tolist()\n"))


# ================================================================ sampling and the KV cache
_FILTER = '''
def filter_logits(logits, top_k=None, top_p=None):
    out = logits.clone()
    if top_k is not None:
        k = min(int(top_k), out.shape[-1])
        kth = torch.topk(out, k, dim=-1).values[..., -1:]                      # (B, 1)
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None:
        probs, order = torch.sort(torch.softmax(out, dim=-1), dim=-1, descending=True)
        before = torch.cumsum(probs, dim=-1) - probs                            # mass of the tokens before
        drop_sorted = before >= top_p
        drop_sorted[..., 0] = False                                             # the best always stays
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out
'''

_SAMPLE = '''
def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    scaled = logits / temperature
    probs = torch.softmax(filter_logits(scaled, top_k=top_k, top_p=top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
'''

_SDECODE = '''
def sample_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None, temperature=1.0,
                  top_k=None, top_p=None, generator=None):
    with torch.no_grad():
        memory = model.encode(src, src_mask)
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, causal_mask(ys.shape[1], device=src.device))
            drawn = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p,
                                generator=generator).to(torch.long)
            drawn = torch.where(finished, torch.full_like(drawn, pad_id), drawn)
            ys = torch.cat([ys, drawn[:, None]], dim=1)
            finished = finished | (drawn == eos_id)
            if bool(finished.all()):
                break
        return ys
'''

_CACHED = '''
def cached_greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    def heads(x, h):                                       # (B, T, D) -> (B, h, T, d_k)
        B, T, D = x.shape
        return x.reshape(B, T, h, D // h).transpose(1, 2)

    def attend(attn, q_in, k, v, mask):                    # q_in (B, 1, D); k, v (B, h, T, d_k)
        h = attn.num_heads
        q = heads(attn.w_q(q_in), h)
        scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v                                  # (B, h, 1, d_k)
        return attn.w_o(out.transpose(1, 2).reshape(q_in.shape))

    with torch.no_grad():
        B, device = src.shape[0], src.device
        memory = model.encode(src, src_mask)
        mem_mask = None if src_mask is None else src_mask.to(torch.bool).reshape(B, 1, 1, -1)
        layers = list(model.decoder.layers)
        mem_kv = [(heads(l.cross_attn.w_k(memory), l.cross_attn.num_heads),
                   heads(l.cross_attn.w_v(memory), l.cross_attn.num_heads)) for l in layers]
        cache = [None] * len(layers)
        scale = math.sqrt(model.tgt_embed.embedding_dim)
        pe = model.pos_encoding.pe

        ys = torch.full((B, 1), bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(B, dtype=torch.bool, device=device)
        for t in range(max_len - 1):
            x = model.tgt_embed(ys[:, -1:]) * scale
            x = x + pe[t].to(dtype=x.dtype, device=device)                               # (B, 1, D)
            for i, layer in enumerate(layers):
                sa = layer.self_attn
                h_in = layer.norm1(x) if layer.norm_first else x
                k_new, v_new = heads(sa.w_k(h_in), sa.num_heads), heads(sa.w_v(h_in), sa.num_heads)
                if cache[i] is not None:
                    k_new = torch.cat([cache[i][0], k_new], dim=2)
                    v_new = torch.cat([cache[i][1], v_new], dim=2)
                cache[i] = (k_new, v_new)
                k_mem, v_mem = mem_kv[i]
                if layer.norm_first:
                    x = x + attend(sa, h_in, k_new, v_new, None)
                    x = x + attend(layer.cross_attn, layer.norm2(x), k_mem, v_mem, mem_mask)
                    x = x + layer.ff(layer.norm3(x))
                else:
                    x = layer.norm1(x + attend(sa, x, k_new, v_new, None))
                    x = layer.norm2(x + attend(layer.cross_attn, x, k_mem, v_mem, mem_mask))
                    x = layer.norm3(x + layer.ff(x))
            logits = model.generator(model.decoder.norm(x))                              # (B, 1, V)
            next_token = logits[:, -1].argmax(dim=-1)
            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)
            ys = torch.cat([ys, next_token[:, None]], dim=1)
            finished = finished | (next_token == eos_id)
            if bool(finished.all()):
                break
        return ys
'''

def _edit(source, *edits):
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    return source


WRONG["decoding.filter_logits"] = {
    # top-p: the token that makes the sum cross top_p is dropped (cumsum itself compared)
    "top_p_drops_boundary_token": _edit(_FILTER, ("drop_sorted = before >= top_p", "drop_sorted = torch.cumsum(probs, dim=-1) > top_p")),
    # the threshold is the k-th largest DISTINCT value: ties above it let k + 1 (or more) through
    "top_k_counts_distinct_values": _edit(_FILTER, (
        "        kth = torch.topk(out, k, dim=-1).values[..., -1:]                      # (B, 1)\n",
        "        kth = torch.stack([torch.unique(row, sorted=True).flip(0)[min(k, row.unique().numel()) - 1] for row in out])[:, None]\n")),
    # off by one: keeps the k + 1 largest
    "top_k_keeps_k_plus_one": _edit(_FILTER, (
        "        kth = torch.topk(out, k, dim=-1).values[..., -1:]                      # (B, 1)\n",
        "        kth = torch.topk(out, min(k + 1, out.shape[-1]), dim=-1).values[..., -1:]\n")),
    # k > V: topk fails
    "k_larger_than_v_fails": _edit(_FILTER, ("k = min(int(top_k), out.shape[-1])", "k = int(top_k)")),
    # top-p on the original probabilities, not renormalised after top-k
    "top_p_not_renormalised": _edit(_FILTER, ("torch.sort(torch.softmax(out, dim=-1)", "torch.sort(torch.softmax(logits, dim=-1)")),
    # a large negative number instead of -inf
    "minus_1e9_instead_of_inf": _edit(_FILTER, ('out.masked_fill(out < kth, float("-inf"))', "out.masked_fill(out < kth, -1e9)"),
                                      ('out.masked_fill(drop, float("-inf"))', "out.masked_fill(drop, -1e9)")),
    # filters in place: the caller's logits change
    "modifies_logits_in_place": _edit(_FILTER, ("    out = logits.clone()\n", "    out = logits\n"),
                                      ('out = out.masked_fill(out < kth, float("-inf"))', 'out.masked_fill_(out < kth, float("-inf"))'),
                                      ('out = out.masked_fill(drop, float("-inf"))', 'out.masked_fill_(drop, float("-inf"))')),
    # top-p forgets to return to the original order (the mask stays in sorted order)
    "top_p_mask_left_sorted": _edit(_FILTER, ("drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)", "drop = drop_sorted")),
}

RIGHT["decoding.filter_logits"] = {
    # threshold-based, no sorting: a token is kept when the tokens strictly more probable
    # than it hold less than top_p; kthvalue for top-k
    "thresholds_without_sorting": '''
def filter_logits(logits, top_k=None, top_p=None):
    out = logits.clone()
    V = out.shape[-1]
    if top_k is not None and top_k < V:
        kth = torch.kthvalue(out, V - int(top_k) + 1, dim=-1, keepdim=True).values
        out = torch.where(out >= kth, out, torch.full_like(out, float("-inf")))
    if top_p is not None:
        p = torch.softmax(out, dim=-1)
        above = (p[..., None, :] > p[..., :, None]).to(p.dtype)      # [b, i, j]: j more probable than i
        mass_above = (above * p[..., None, :]).sum(-1)
        out = torch.where(mass_above < top_p, out, torch.full_like(out, float("-inf")))
    return out
''',
    # row by row with Python lists, as a first attempt might
    "python_loops": '''
def filter_logits(logits, top_k=None, top_p=None):
    out = logits.clone()
    for b in range(out.shape[0]):
        row = out[b].tolist()
        order = sorted(range(len(row)), key=lambda i: row[i], reverse=True)
        keep = order[:top_k] if top_k is not None else order
        if top_p is not None:
            m = max(row[i] for i in keep)
            weights = [math.exp(row[i] - m) for i in keep]
            total, mass, nucleus = sum(weights), 0.0, []
            for i, w in zip(keep, weights):
                if nucleus and mass >= top_p:
                    break
                nucleus.append(i)
                mass += w / total
            keep = nucleus
        for i in range(len(row)):
            if i not in keep:
                out[b, i] = float("-inf")
    return out
''',
}

WRONG["decoding.sample_next"] = {
    # the temperature divides the probabilities: renormalised by multinomial, it changes nothing
    "temperature_after_softmax": _edit(_SAMPLE, (
        "    scaled = logits / temperature\n    probs = torch.softmax(filter_logits(scaled, top_k=top_k, top_p=top_p), dim=-1)\n",
        "    probs = torch.softmax(filter_logits(logits, top_k=top_k, top_p=top_p), dim=-1) / temperature\n")),
    "temperature_multiplies": _edit(_SAMPLE, ("scaled = logits / temperature", "scaled = logits * temperature")),
    # filters the untempered logits, then tempers: top-p picks another nucleus
    "filters_before_tempering": _edit(_SAMPLE, (
        "    scaled = logits / temperature\n    probs = torch.softmax(filter_logits(scaled, top_k=top_k, top_p=top_p), dim=-1)\n",
        "    probs = torch.softmax(filter_logits(logits, top_k=top_k, top_p=top_p) / temperature, dim=-1)\n")),
    "global_rng": _edit(_SAMPLE, ("torch.multinomial(probs, 1, generator=generator)", "torch.multinomial(probs, 1)")),
    "argmax_instead_of_sampling": _edit(_SAMPLE, (
        "    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)\n", "    return probs.argmax(dim=-1)\n")),
    "keeps_multinomial_axis": _edit(_SAMPLE, (".squeeze(-1)\n", "\n")),
    # draws from the unfiltered distribution
    "ignores_filters": _edit(_SAMPLE, ("filter_logits(scaled, top_k=top_k, top_p=top_p)", "scaled")),
}

RIGHT["decoding.sample_next"] = {
    # Gumbel-max with the generator: the same distribution, other draws
    "gumbel_max": '''
def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    z = filter_logits(logits / temperature, top_k=top_k, top_p=top_p)
    u = torch.rand(z.shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    return (z.to(torch.float64) - torch.log(-torch.log(u))).argmax(dim=-1)
''',
    # inverse-CDF sampling, one uniform per row
    "inverse_cdf": '''
def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p).to(torch.float64), dim=-1)
    cdf = torch.cumsum(probs, dim=-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    token = (cdf <= u).sum(dim=-1).clamp(max=probs.shape[-1] - 1)
    return token.to(torch.long)
''',
}

WRONG["decoding.sample_decode"] = {
    "no_pad_after_eos": _edit(_SDECODE, ("            drawn = torch.where(finished, torch.full_like(drawn, pad_id), drawn)\n", "")),
    "never_stops_early": _edit(_SDECODE, ("            if bool(finished.all()):\n                break\n", "")),
    "argmax_instead_of_sampling": _edit(_SDECODE, (
        "            drawn = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p,\n"
        "                                generator=generator).to(torch.long)\n",
        "            drawn = logits[:, -1].argmax(dim=-1)\n")),
    # the sampling arguments are not passed on: plain softmax sampling
    "forgets_temperature_and_filters": _edit(_SDECODE, (
        "sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p,\n                                generator=generator)",
        "sample_next(logits[:, -1], generator=generator)")),
    "global_rng": _edit(_SDECODE, ("top_p=top_p,\n                                generator=generator)", "top_p=top_p)")),
    "feeds_only_the_last_token": _edit(_SDECODE, (
        "logits = model.decode(ys, memory, src_mask, causal_mask(ys.shape[1], device=src.device))",
        "logits = model.decode(ys[:, -1:], memory, src_mask, causal_mask(1, device=src.device))")),
    "src_mask_not_passed_to_decode": _edit(_SDECODE, ("model.decode(ys, memory, src_mask,", "model.decode(ys, memory, None,")),
    "no_no_grad": _edit(_SDECODE, ("    with torch.no_grad():\n", "    if True:\n")),
}

RIGHT["decoding.sample_decode"] = {
    # draws only for the rows still running (the generator is used differently: the draws
    # differ from the reference's, the distribution does not)
    "draws_for_unfinished_rows_only": '''
def sample_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None, temperature=1.0,
                  top_k=None, top_p=None, generator=None):
    with torch.no_grad():
        B = src.shape[0]
        memory = model.encode(src, src_mask)
        ys = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
        alive = torch.ones(B, dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = model.decode(ys, memory, src_mask, causal_mask(ys.shape[1], device=src.device))[:, -1]
            column = torch.full((B,), pad_id, dtype=torch.long, device=src.device)
            rows = torch.nonzero(alive).flatten()
            column[rows] = sample_next(logits[rows], temperature, top_k, top_p, generator).to(torch.long)
            ys = torch.cat([ys, column[:, None]], dim=1)
            alive = alive & (column != eos_id)
            if not bool(alive.any()):
                break
        return ys
''',
}

WRONG["decoding.cached_greedy_decode"] = {
    # the memory's keys and values projected again at every step
    "memory_projected_every_step": _edit(_CACHED, (
        "                k_mem, v_mem = mem_kv[i]\n",
        "                k_mem = heads(layer.cross_attn.w_k(memory), layer.cross_attn.num_heads)\n"
        "                v_mem = heads(layer.cross_attn.w_v(memory), layer.cross_attn.num_heads)\n")),
    # every new token gets the encoding of position 0
    "position_always_zero": _edit(_CACHED, ("x = x + pe[t].to(", "x = x + pe[0].to(")),
    # no cache at all: the whole prefix through the model at every step
    "no_cache": _GREEDY.replace("def greedy_decode(", "def cached_greedy_decode("),
    # pre-norm layers treated as post-norm
    "ignores_norm_first": _edit(_CACHED, ("if layer.norm_first else x", "if False else x"),
                                ("                if layer.norm_first:\n", "                if False:\n")),
    "forgets_final_norm": _edit(_CACHED, ("model.generator(model.decoder.norm(x))", "model.generator(x)")),
    "no_embedding_scale": _edit(_CACHED, ("x = model.tgt_embed(ys[:, -1:]) * scale", "x = model.tgt_embed(ys[:, -1:])")),
    "cross_attention_ignores_src_mask": _edit(_CACHED, (
        "mem_mask = None if src_mask is None else src_mask.to(torch.bool).reshape(B, 1, 1, -1)", "mem_mask = None")),
    "no_pad_after_eos": _edit(_CACHED, (
        "            next_token = torch.where(finished, torch.full_like(next_token, pad_id), next_token)\n", "")),
    "never_stops_early": _edit(_CACHED, ("            if bool(finished.all()):\n                break\n", "")),
    "no_no_grad": _edit(_CACHED, ("    with torch.no_grad():\n", "    if True:\n")),
}

RIGHT["decoding.cached_greedy_decode"] = {
    # a cache of lists per layer, attention through einsum, the position taken from
    # pos_encoding applied to a zero prefix, and the memory's keys and values kept unsplit
    "lists_and_einsum": '''
def cached_greedy_decode(model, src, max_len, bos_id, eos_id, pad_id=0, src_mask=None):
    def attention(attn, q, k, v, mask=None):            # q (B, 1, D), k and v (B, T, D), projected
        B, T, D = k.shape
        h = attn.num_heads
        d = D // h
        qh, kh, vh = q.view(B, 1, h, d), k.view(B, T, h, d), v.view(B, T, h, d)
        scores = torch.einsum("bqhd,bkhd->bhqk", qh, kh) / math.sqrt(d)
        if mask is not None:
            scores = scores.masked_fill(~mask.bool()[:, None, :, :], float("-inf"))
        out = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), vh).reshape(B, 1, D)
        return attn.w_o(out)

    with torch.no_grad():
        B = src.shape[0]
        memory = model.encode(src, src_mask)
        layers = model.decoder.layers
        mem = [(layer.cross_attn.w_k(memory), layer.cross_attn.w_v(memory)) for layer in layers]
        keys = [[] for _ in layers]
        values = [[] for _ in layers]
        D = model.tgt_embed.weight.shape[1]
        out = [torch.full((B,), bos_id, dtype=torch.long, device=src.device)]
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        for t in range(1, max_len):
            emb = model.tgt_embed(out[-1])[:, None, :] * D ** 0.5
            zeros = torch.zeros(B, t, D, dtype=emb.dtype, device=emb.device)
            x = emb + model.pos_encoding(zeros)[:, -1:, :]
            for i, layer in enumerate(layers):
                sa, ca = layer.self_attn, layer.cross_attn
                a = layer.norm1(x) if layer.norm_first else x
                keys[i].append(sa.w_k(a))
                values[i].append(sa.w_v(a))
                y = attention(sa, sa.w_q(a), torch.cat(keys[i], 1), torch.cat(values[i], 1))
                if layer.norm_first:
                    x = x + y
                    x = x + attention(ca, ca.w_q(layer.norm2(x)), *mem[i], src_mask)
                    x = x + layer.ff(layer.norm3(x))
                else:
                    x = layer.norm1(x + y)
                    x = layer.norm2(x + attention(ca, ca.w_q(x), *mem[i], src_mask))
                    x = layer.norm3(x + layer.ff(x))
            best = model.generator(model.decoder.norm(x))[:, 0].argmax(-1)
            best = best.masked_fill(done, pad_id)
            out.append(best)
            done = done | (best == eos_id)
            if bool(done.all()):
                break
        return torch.stack(out, dim=1)
''',
}
