"""Objects that checks need on the learner's side of the boundary but that no exercise
makes: toy models with known probabilities (for decoding) and the training runs of the
capstone, of seq2seq_training and of vit_training.

Checks reach this module as ``student.fixtures``: it is imported in the worker, next to
the learner's code, and what its functions return crosses back as plain data like any
learner result. Course modules imported from here (``import transformer``) are therefore
the learner's, resolved by the worker's importer. The grader imports it too, to compute
what a fixture should give with the reference.
"""

from __future__ import annotations

import importlib
import types


def course_modules(names) -> types.SimpleNamespace:
    """The course modules ``names`` as the current process resolves them by plain name (in
    the worker: the learner's files, nothing substituted for the capstone)."""
    return types.SimpleNamespace(**{name: importlib.import_module(name) for name in names})


def train_capstone(config: dict, measure: bool = False, modules=None) -> dict:
    """Train the Transformer assembled from ``modules`` (default: the learner's, as
    imported here) on the capstone task (:func:`grader.content.capstone.train`); return its
    weights and training curve as plain data, and with ``measure`` its held-out accuracy
    as the same modules' greedy decoding measures it."""
    from grader.content import capstone, trainer

    modules = modules if modules is not None else course_modules(capstone.USES)
    run = capstone.train(modules, capstone.CapstoneConfig(**config))
    result = {"state": trainer.trained_state(run.model), "losses": list(run.losses),
              "val_curve": [list(p) for p in run.val_curve], "steps": run.steps, "seconds": run.seconds}
    if measure:
        result["accuracy"] = capstone.accuracy(modules, run.model, run.dataset.test)
    return result


def train_seq2seq(config: dict, measure: bool = False, modules=None) -> dict:
    """Train the encoder and decoder of ``modules.seq2seq`` (default: the learner's, as
    imported here) on reversal (:func:`grader.content.bottleneck.train`); return the weights and
    the loss curve as plain data, and with ``measure`` the held-out accuracy as the same
    module's ``translate`` measures it."""
    from grader.content import bottleneck

    modules = modules if modules is not None else course_modules(bottleneck.USES)
    run = bottleneck.train(modules, bottleneck.Seq2seqConfig(**config))
    result = {"state": bottleneck.trained_state(run), "losses": list(run.losses), "seconds": run.seconds}
    if measure:
        result["accuracy"] = bottleneck.accuracy(modules, run.encoder, run.decoder, run.dataset.test)
    return result


def train_vit(config: dict, measure: bool = False, modules=None) -> dict:
    """Train ``modules.heads.ViT`` (default: the learner's, as imported here) on the
    quadrant task (:func:`grader.content.vit_task.train`); return the weights and the loss curve as
    plain data, and with ``measure`` the held-out accuracy of the same model."""
    from grader.content import vit_task

    modules = modules if modules is not None else course_modules(vit_task.USES)
    run = vit_task.train(modules, vit_task.VitConfig(**config))
    result = {"state": vit_task.trained_state(run), "losses": list(run.losses), "seconds": run.seconds}
    if measure:
        result["accuracy"] = vit_task.accuracy(run.model, run.dataset.test)
    return result


def record_calls(module):
    """``module``, which from now on logs each call of its forward in ``module.calls`` (plain
    data: how many positions its first argument holds along dim 1, and whether gradients
    were being recorded). Its class becomes a subclass of its own, so ``isinstance`` still
    holds for the learner's code that receives it."""
    import torch

    cls = type(module)

    def forward(self, *args, **kwargs):
        first = args[0] if args else next(iter(kwargs.values()))
        positions = int(first.shape[1]) if isinstance(first, torch.Tensor) and first.dim() > 1 else 1
        self.calls.append({"positions": positions, "grad": bool(torch.is_grad_enabled())})
        return cls.forward(self, *args, **kwargs)

    module.__class__ = type(cls.__name__, (cls,), {"forward": forward, "__module__": cls.__module__,
                                                   "__qualname__": cls.__qualname__})
    module.calls = []
    return module


def arguments_after_call(fn, args: list, kwargs: dict | None = None) -> tuple:
    """``fn(*args, **kwargs)``'s result and ``args`` as the call left them. The grader hands
    the learner's code copies of its arguments, so whether a call modified its inputs can
    only be seen where it ran: here."""
    args = list(args)
    result = fn(*args, **(kwargs or {}))
    return result, args


def central_difference_outputs(fn, args: list, index: int, outputs: list, h: float) -> list:
    """The outputs ``outputs`` of ``fn(*args)`` (positions in its result, raveled and joined)
    with ``args[index]`` moved by +h and then -h, entry by entry: the probes of a numerical
    gradient, in one request instead of two per entry. The grader takes the differences
    (:func:`grader.checks.numerical_gradients`). Every call gets fresh copies of ``args``,
    as a call from the grader would."""
    import copy

    import numpy as np

    from grader.checks import central_difference_probes, joined_outputs

    moved = np.array(args[index])          # a copy, in the argument's own dtype, as the grader moves it

    def probe():
        called = copy.deepcopy(list(args))
        called[index] = moved.copy()
        return joined_outputs(fn(*called), outputs)

    return [[plus, minus] for plus, minus in central_difference_probes(probe, moved, h)]


def make_generator(seed: int):
    """A ``torch.Generator`` seeded with ``seed``, made where the learner's code runs (a
    generator cannot cross the boundary; its handle can be passed back as an argument)."""
    import torch

    return torch.Generator().manual_seed(int(seed))


def seed_everything(seed: int) -> None:
    """Seed torch's global generator where the learner's code runs, so that a check of
    code that draws random numbers without a generator is reproducible."""
    import torch

    torch.manual_seed(int(seed))


# ---------------------------------------------------------------- toy models for decoding
#
# Small stand-ins for the course Transformer, with the same interface
# (``memory = model.encode(src, src_mask)``, ``logits = model.decode(tgt, memory, src_mask,
# tgt_mask)``, logits (B, T, V) for every target position), whose next-token distributions
# are known exactly, so that a check can compute what greedy decoding and beam search must
# find (brute force over all sequences included). They are created in the worker with
# ``student.fixtures.MarkovLM(...)`` and locally with ``fixtures.MarkovLM(...)`` from the
# same plain-data arguments. Every call is logged in ``model.calls`` (plain data).
#
# The source reaches the logits through a "context" number per row, computed the way
# attention would mix it: encode mixes every source position with the mean of the
# positions its src_mask keeps, decode averages the memory over the positions its
# src_mask keeps. Forgetting src_mask in either call changes the context (as soon as the
# mask hides something), so the decoded tokens and their log-probabilities change.


def _source_keep(src_mask, batch: int, length: int, device):
    """src_mask ((B, 1, S), (B, S), (1, 1, S) or None) as a bool (batch, length) tensor."""
    import torch

    if src_mask is None:
        return torch.ones(batch, length, dtype=torch.bool, device=device)
    mask = src_mask.to(torch.bool)
    if mask.dim() == 3:
        mask = mask[:, -1, :]
    return torch.broadcast_to(mask, (batch, length))


def _toy_base():
    import torch

    class _ToyLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # a parameter, so that next(model.parameters()) gives a device and a dtype,
            # and so that logits would record a graph if decoding forgot torch.no_grad()
            self.scale = torch.nn.Parameter(torch.ones((), dtype=torch.float64))
            self.calls = []

        def _log(self, op, **info):
            info.update(op=op, grad_enabled=torch.is_grad_enabled(), training=self.training)
            self.calls.append(info)

        def clear_calls(self):
            self.calls.clear()

        def encode(self, src, src_mask=None):
            self._log("encode", src_shape=list(src.shape), src_mask=None if src_mask is None else list(src_mask.shape))
            keep = _source_keep(src_mask, src.shape[0], src.shape[1], src.device)
            w = (src + 1).to(torch.float64)
            mean = (w * keep).sum(-1, keepdim=True) / keep.sum(-1, keepdim=True).clamp(min=1)
            return (w + mean).unsqueeze(-1) * self.scale                            # (B, S, 1)

        def context(self, memory, src_mask):
            keep = _source_keep(src_mask, memory.shape[0], memory.shape[1], memory.device)
            return (memory[..., 0] * keep).sum(-1) / keep.sum(-1).clamp(min=1)     # (B,)

        def _log_decode(self, tgt, memory, src_mask, tgt_mask):
            self._log("decode", tgt_shape=list(tgt.shape), memory_shape=list(memory.shape),
                      src_mask=None if src_mask is None else list(src_mask.shape),
                      tgt_mask=None if tgt_mask is None else list(tgt_mask.shape),
                      tgt_mask_causal=None if tgt_mask is None else _is_causal(tgt_mask, tgt.shape[1]))

    return _ToyLM


def _is_causal(tgt_mask, length: int) -> bool:
    import torch

    try:
        causal = torch.ones(length, length, dtype=torch.bool, device=tgt_mask.device).tril()
        return bool((torch.broadcast_to(tgt_mask.to(torch.bool), tgt_mask.shape[:-2] + (length, length)) == causal).all())
    except RuntimeError:
        return False


def MarkovLM(table, bias=None):
    """A bigram model: the logits of the next token are ``table[last token] + context * bias``.

    table  (V, V) float: row a holds the logits of the token that follows token a
    bias   (V,) float or None: how the source's context (a number per row, see above)
           shifts the logits; None: the source does not matter (for brute force)
    The logits at position t depend on tgt[:, t] only (and on the source)."""
    import torch

    class MarkovLM(_toy_base()):
        def __init__(self, table, bias=None):
            super().__init__()
            table = torch.as_tensor(table, dtype=torch.float64)
            self.register_buffer("table", table)
            self.register_buffer("bias", torch.zeros(table.shape[-1], dtype=torch.float64) if bias is None
                                 else torch.as_tensor(bias, dtype=torch.float64))

        def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
            self._log_decode(tgt, memory, src_mask, tgt_mask)
            ctx = self.context(memory, src_mask)
            logits = self.table[tgt] + ctx.reshape(-1, 1, 1) * self.bias
            return logits * self.scale                                                # (B, T, V)

    return MarkovLM(table, bias)


def counting_chain(V: int = 10):
    """The (table, bias) of a :func:`MarkovLM` that counts, for the decoding suites: bos
    -> a start word chosen by the source, then w -> w+1 up to the last word V-1, then eos
    (pad 0, bos 1, eos 2; words 3 .. V-1). With a source row of tokens s (no padding) the
    context is 2 (s + 1) and the start word is s + 2 (the vertex of -0.5 (w-1)^2 + (s+1) w)."""
    import torch

    PAD, BOS, EOS = 0, 1, 2
    table = torch.full((V, V), -60.0, dtype=torch.float64)
    bias = torch.zeros(V, dtype=torch.float64)
    words = torch.arange(3, V)
    bias[words] = 0.5 * words.to(torch.float64)
    table[BOS, words] = -0.5 * (words.to(torch.float64) - 1) ** 2
    for w in range(3, V - 1):
        table[w, w + 1] = 100.0
    table[V - 1, EOS] = 100.0
    table[EOS, 3] = 100.0          # what the model says after eos: must be replaced by pad
    table[PAD, 4] = 100.0          # and after pad
    # small distinct values elsewhere, so that no argmax is a tie
    table += 1e-3 * torch.arange(V * V, dtype=torch.float64).reshape(V, V) / (V * V)
    return table, bias


def PrefixLM(table):
    """A model whose next token depends on the whole prefix, through two rounds of masked
    "attention" over the target (so the causal mask matters, and so does feeding the whole
    prefix rather than the last token): with x_j = (tgt_j + 1) * (j + 1),
    a_t = sum of x_j over the keys j that tgt_mask lets query t see, b_t = the same sum of
    a_j, and the logits at position t are ``table[(b_t + round(7 * context)) % K]``.

    table  (K, V) float: the logits of each of the K states"""
    import torch

    class PrefixLM(_toy_base()):
        def __init__(self, table):
            super().__init__()
            self.register_buffer("table", torch.as_tensor(table, dtype=torch.float64))

        def decode(self, tgt, memory, src_mask=None, tgt_mask=None):
            self._log_decode(tgt, memory, src_mask, tgt_mask)
            B, T = tgt.shape
            if tgt_mask is None:
                seen = torch.ones(B, T, T, dtype=torch.int64, device=tgt.device)
            else:
                seen = torch.broadcast_to(tgt_mask.to(torch.bool), (B, T, T)).to(torch.int64)
            pos = torch.arange(1, T + 1, device=tgt.device)
            x = (tgt.to(torch.int64) + 1) * pos                                        # (B, T)
            a = (seen * x[:, None, :]).sum(-1)
            b = (seen * a[:, None, :]).sum(-1)
            ctx = torch.round(7 * self.context(memory, src_mask)).to(torch.int64)
            state = (b + ctx.reshape(-1, 1)) % self.table.shape[0]
            return self.table[state] * self.scale                                      # (B, T, V)

    return PrefixLM(table)


def sequence_logprob(model, src, tokens, src_mask=None) -> float:
    """The summed log-probability the model gives the tokens after the first (bos) of
    ``tokens`` (1-D), for the source ``src`` (1, S): teacher forcing with a causal mask."""
    import torch

    tokens = torch.as_tensor(tokens, dtype=torch.int64).reshape(1, -1)
    with torch.no_grad():
        if tokens.shape[1] < 2:
            return 0.0
        memory = model.encode(src, src_mask)
        T = tokens.shape[1] - 1
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        logp = torch.log_softmax(model.decode(tokens[:, :-1], memory, src_mask, causal), dim=-1)
        return float(logp[0, torch.arange(T), tokens[0, 1:]].sum())


# ---------------------------------------------------------------- a logged Transformer for the KV cache

def logged_transformer(config: dict, state: dict | None = None, dtype: str = "float64", seed: int = 0,
                       modules=None):
    """``transformer.Transformer(**config)`` (the course module as imported here) with the
    weights ``state`` (None: its own initialisation after ``torch.manual_seed(seed)``), in
    ``dtype`` and eval() mode, whose decoder logs every call of its
    projections in ``model.calls`` (plain data): for each call of a decoder layer's
    self_attn / cross_attn w_q, w_k, w_v, w_o, its ff, and the model's generator, the
    module's name (``"decoder.layers.0.self_attn.w_k"``), how many vectors its input held
    (all its entries over the last size: batch rows times positions), and whether gradients
    were being recorded. ``model.clear_calls()`` empties the log."""
    import torch

    transformer = modules.transformer if modules is not None else importlib.import_module("transformer")
    torch.manual_seed(int(seed))
    model = transformer.Transformer(**config)
    if state is not None:
        model.load_state_dict(state)
    model = model.to(getattr(torch, dtype)).eval()
    calls = []
    watched = [f"decoder.layers.{i}.{attn}.{w}" for i in range(len(model.decoder.layers))
               for attn in ("self_attn", "cross_attn") for w in ("w_q", "w_k", "w_v", "w_o")]
    watched += [f"decoder.layers.{i}.ff" for i in range(len(model.decoder.layers))] + ["generator"]

    def hook(name):
        def log(module, args, kwargs=None):
            first = args[0] if args else next(iter((kwargs or {}).values()), None)
            vectors = int(first.numel() // max(int(first.shape[-1]), 1)) if isinstance(first, torch.Tensor) and first.dim() else 0
            calls.append({"name": name, "vectors": vectors, "grad": bool(torch.is_grad_enabled())})
        return log

    for name in watched:
        model.get_submodule(name).register_forward_pre_hook(hook(name))
    model.calls = calls
    model.clear_calls = calls.clear
    return model
