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
