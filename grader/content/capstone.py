"""The capstone: the course's own pieces, assembled into a Transformer, learn to reverse
strings of digits.

Everything here takes the course modules as an argument (``modules.transformer``,
``modules.training``, ``modules.decoding``, ``modules.masking``): the learner's, for
``course capstone --impl exercises`` and for grading (in the worker, nothing substituted),
or the reference. This file only supplies what no exercise asks for: the data, the
optimiser's settings (its loop is :mod:`grader.content.trainer`'s), and the measurements.

The task. A source is ``min_digits`` to ``max_digits`` digits, ``3 1 4``; the target is the same
digits reversed between a begin and an end token, ``<bos> 4 1 3 <eos>``. The model can
only solve it by attending from each output position to the right input position (the
cross-attention picture is an anti-diagonal), so it is a small, quick proof that
attention, masks, positions, the loss and decoding all work together. Held-out strings
are drawn first and never appear in training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from grader.content import trainer

# the course modules this code reads; they import the rest that course.toml's `assembles` lists
USES = ("masking", "transformer", "training", "decoding")

PAD, BOS, EOS = 0, 1, 2
FIRST_DIGIT = 3
VOCAB = FIRST_DIGIT + 10


@dataclass
class CapstoneConfig(trainer.RunConfig):
    """One training run. The defaults are the full run of ``course capstone``;
    :data:`GRADING` is the quick one that grading uses."""

    min_digits: int = 3            # shorter strings are too few to hold some out of training
    max_digits: int = 8
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 1            # encoder and decoder layers each; one is enough to reverse
    d_ff: int = 128
    dropout: float = 0.0
    steps: int = 2500              # at most; the reference stops after about 450
    warmup: int = 200
    lr_factor: float = 1.0
    label_smoothing: float = 0.0
    eval_every: int = 50           # steps between validation measurements
    average_decay: float = 0.95    # of the weights' moving average, which is validated and kept
    val_size: int = 256
    test_size: int = 1000
    stop_at: float = 1.0           # stop once every validation string comes out right


GRADING = CapstoneConfig(min_digits=3, max_digits=6, d_model=32, num_heads=2, num_layers=1, d_ff=64,
                         batch_size=64, steps=600, warmup=100, lr_factor=1.0, eval_every=20,
                         val_size=128, test_size=500, stop_at=1.0)
GRADING_THRESHOLD = 0.95      # the syllabus's bar; the reference gets 0.984-1.000 over 20 seeds


# ---------------------------------------------------------------- data

def _codes(digits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """One integer per string (its digits and its length), to tell strings apart."""
    code = lengths.clone().long()
    for column in range(digits.shape[1]):
        code = code * 11 + torch.where(column < lengths, digits[:, column] + 1, 0)
    return code


def _draw(count: int, config: CapstoneConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.randint(config.min_digits, config.max_digits + 1, (count,), generator=generator)
    digits = torch.randint(0, 10, (count, config.max_digits), generator=generator)
    return digits, lengths


def _encode(digits: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources ``(N, max_digits)`` and targets ``(N, max_digits + 2)``, padded with PAD."""
    count, width = digits.shape
    positions = torch.arange(width)
    real = positions < lengths[:, None]                                     # (N, W)
    src = torch.where(real, digits + FIRST_DIGIT, PAD)
    # position t of the target (after bos) holds digit L-1-t
    reversed_index = (lengths[:, None] - 1 - positions).clamp(min=0)
    body = torch.where(real, torch.gather(digits, 1, reversed_index) + FIRST_DIGIT, PAD)
    tgt = torch.full((count, width + 2), PAD, dtype=torch.long)
    tgt[:, 0] = BOS
    tgt[:, 1:-1] = body
    tgt[torch.arange(count), lengths + 1] = EOS
    return src, tgt


@dataclass
class Dataset:
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    held_out_codes: torch.Tensor
    generator: torch.Generator

    def batch(self, size: int, config: CapstoneConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch with no held-out string in it."""
        digits, lengths = _draw(size, config, self.generator)
        fresh = ~torch.isin(_codes(digits, lengths), self.held_out_codes)
        return _encode(digits[fresh], lengths[fresh])


def make_dataset(config: CapstoneConfig) -> Dataset:
    """Validation and test strings, distinct from each other, drawn from their own seed;
    training batches come later from the run's seed and skip them."""
    held_out = torch.Generator().manual_seed(10_000 + config.seed)
    digits, lengths = _draw(4 * (config.val_size + config.test_size), config, held_out)
    codes = _codes(digits, lengths)
    first = _first_occurrences(codes)[: config.val_size + config.test_size]
    digits, lengths, codes = digits[first], lengths[first], codes[first]
    val = _encode(digits[: config.val_size], lengths[: config.val_size])
    test = _encode(digits[config.val_size:], lengths[config.val_size:])
    return Dataset(val, test, codes, torch.Generator().manual_seed(config.seed))


def _first_occurrences(codes: torch.Tensor) -> torch.Tensor:
    """The index of each distinct value's first occurrence, in order of appearance."""
    seen: dict[int, int] = {}
    for index, code in enumerate(codes.tolist()):
        seen.setdefault(code, index)
    return torch.tensor(sorted(seen.values()), dtype=torch.long)


# ---------------------------------------------------------------- model, masks, loss

def build_model(modules, config: CapstoneConfig) -> torch.nn.Module:
    return modules.transformer.Transformer(
        VOCAB, VOCAB, d_model=config.d_model, num_heads=config.num_heads,
        num_encoder_layers=config.num_layers, num_decoder_layers=config.num_layers,
        d_ff=config.d_ff, dropout=config.dropout, max_len=config.max_digits + 8,
    )


def initialise(model: torch.nn.Module, seed: int) -> None:
    """Give every trainable parameter of ``model`` the syllabus's initial value, drawn
    from ``seed`` alone: Xavier-uniform for matrices (the embeddings included), ones for
    the norms' gains (1-D ``weight``), zeros for biases.

    The capstone grades whether the learner's modules learn, not how their constructor
    initialises: with PyTorch's defaults (``nn.Embedding`` draws N(0, 1)) a correct model
    reverses a third of the strings in the grading run instead of 98%. Parameters are
    visited by name, so every model with the syllabus's names starts from the same
    weights whatever its constructor drew or the order it made its layers in."""
    trainer.initialise([model], 20_000 + seed, _starting_value)


def _starting_value(name: str, parameter: torch.nn.Parameter, generator: torch.Generator) -> None:
    if parameter.dim() > 1:
        torch.nn.init.xavier_uniform_(parameter, generator=generator)
    elif name.endswith("bias"):
        parameter.zero_()
    elif name.endswith("weight"):
        parameter.fill_(1.0)


def masks(modules, src: torch.Tensor, tgt_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The source padding mask (B, 1, S) and the target mask (B, T, T): a target position
    sees the real tokens of its past."""
    src_mask = modules.masking.padding_mask(src, PAD)
    causal = modules.masking.causal_mask(tgt_in.shape[1], device=tgt_in.device)
    return src_mask, modules.masking.padding_mask(tgt_in, PAD) & causal


def loss_on(modules, model: torch.nn.Module, src: torch.Tensor, tgt: torch.Tensor,
            config: CapstoneConfig) -> torch.Tensor:
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]                               # teacher forcing
    src_mask, tgt_mask = masks(modules, src, tgt_in)
    logits = model(src, tgt_in, src_mask, tgt_mask)                         # (B, T, V)
    return modules.training.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                          ignore_index=PAD, label_smoothing=config.label_smoothing)


# ---------------------------------------------------------------- measuring

def decode(modules, model: torch.nn.Module, src: torch.Tensor, width: int) -> torch.Tensor:
    """Greedy outputs, padded with PAD to ``width`` columns."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = modules.decoding.greedy_decode(model, src, width, BOS, EOS, pad_id=PAD,
                                                 src_mask=modules.masking.padding_mask(src, PAD))
    finally:
        model.train(was_training)
    out = torch.as_tensor(out).long()[:, :width]
    padded = torch.full((src.shape[0], width), PAD, dtype=torch.long)
    padded[:, : out.shape[1]] = out
    return padded


def accuracy(modules, model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Exact-sequence accuracy: every token up to and including eos right, pad after."""
    src, tgt = data
    out = decode(modules, model, src, tgt.shape[1])
    return (out == tgt).all(dim=1).float().mean().item()


# ---------------------------------------------------------------- training

@dataclass
class TrainingRun:
    model: torch.nn.Module        # the moving average of the weights, once trained
    dataset: Dataset
    losses: list[float] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    steps_to_target: int | None = None


Progress = Callable[[int, float, float | None], None]


def train(modules, config: CapstoneConfig, progress: Progress | None = None) -> TrainingRun:
    """Train with Adam and the Noam schedule from ``modules.training``, from the weights
    :func:`initialise` gives. Calls ``progress(step, loss, val_accuracy_or_None)`` after
    every step.

    What is validated, and kept as ``run.model``, is the exponential moving average of
    the weights over the steps (``config.average_decay``). The weights themselves keep
    wavering between 90% and 99% of strings right for hundreds of steps, at the rate
    Noam's schedule still gives; their average over the last twenty steps or so gets
    every string right in a third of the steps, and the run stops on a steady model."""
    torch.manual_seed(config.seed)            # what the constructors draw, and any draws while training
    started = time.perf_counter()
    dataset = make_dataset(config)
    run = TrainingRun(build_model(modules, config), dataset)
    initialise(run.model, config.seed)
    # a copy of the model; buffers (a mask, a scale of the learner's) follow the model's own
    averaged = AveragedModel(run.model, multi_avg_fn=get_ema_multi_avg_fn(config.average_decay))

    def validate(step: int, loss: float) -> bool:
        """Move the average; measure its validation accuracy now and then; True once it
        reaches the goal."""
        averaged.update_parameters(run.model)
        val = None
        if step % config.eval_every == 0 or step == config.steps:
            val = accuracy(modules, averaged.module, dataset.val)
            run.val_curve.append((step, val))
        if progress is not None:
            progress(step, loss, val)
        if val is not None and val >= config.stop_at:
            run.steps_to_target = step
            return True
        return False

    run.losses = trainer.train_with_adam(
        [run.model], lambda: loss_on(modules, run.model, *dataset.batch(config.batch_size, config), config),
        lambda step: float(modules.training.noam_lr(step, config.d_model, config.warmup, config.lr_factor)),
        config.steps, config.clip_norm, validate, betas=(0.9, 0.98), eps=1e-9)
    run.model = averaged.module.eval()
    run.steps = len(run.losses)
    run.seconds = time.perf_counter() - started
    return run


def cross_attention(modules, model: torch.nn.Module, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The decoded output for one source (1, S) and the last decoder layer's
    cross-attention weights while producing it, (h, T_out, S); None if the model does
    not keep them (``MultiHeadAttention.attention_weights``)."""
    width = src.shape[1] + 2
    out = decode(modules, model, src, width)
    length = int((out[0] != PAD).sum())
    tokens = out[:, :length]
    with torch.no_grad():
        memory = model.encode(src, modules.masking.padding_mask(src, PAD))
        tgt_in = tokens[:, :-1] if length > 1 else tokens
        src_mask, tgt_mask = masks(modules, src, tgt_in)
        model.decode(tgt_in, memory, src_mask, tgt_mask)
    try:
        weights = model.decoder.layers[-1].cross_attn.attention_weights
    except (AttributeError, IndexError, TypeError):
        return None
    if not isinstance(weights, torch.Tensor) or weights.dim() != 4:
        return None
    return tokens[0], weights[0].detach()


def token_label(token: int) -> str:
    """A token as the pictures name it: its digit, or pad, bos, eos."""
    return {PAD: "pad", BOS: "bos", EOS: "eos"}.get(token, str(token - FIRST_DIGIT))


def labelled_cross_attention(modules, model: torch.nn.Module,
                             src: torch.Tensor) -> tuple[np.ndarray, list[str], list[str]] | None:
    """:func:`cross_attention` as a picture shows it: the weights (h, T_out, S) in float64,
    the output tokens and the input tokens named by :func:`token_label`; None as there."""
    found = cross_attention(modules, model, src)
    if found is None:
        return None
    tokens, weights = found
    rows = [token_label(t) for t in tokens[: weights.shape[1]].tolist()]
    return weights.detach().cpu().numpy().astype(float), rows, [token_label(t) for t in src[0].tolist()]
