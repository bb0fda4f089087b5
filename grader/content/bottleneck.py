"""The seq2seq module's task: an encoder-decoder learns to reverse digit strings.

Everything here takes the course modules as an argument (``modules.seq2seq``, which
imports ``attention``): the learner's, in the worker for the training check of
``seq2seq_training`` (nothing substituted) and for ``course show bottleneck``, or the
reference. It supplies what no exercise asks for: the data (the capstone's strings,
:mod:`grader.content.capstone`), the starting weights, the optimiser's settings (its loop is
:mod:`grader.content.trainer`'s) and the measurement.

Why reversal. The first output digit is the last input digit: an encoder-decoder
without attention must carry the whole string in its context vector to the end, and
fails as the strings grow; with attention each output step reads its mirror input
position directly, and the weights form an anti-diagonal.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from grader.content import trainer
from grader.content.capstone import BOS, EOS, PAD, VOCAB, CapstoneConfig, Dataset, make_dataset

# the course module this code reads; it imports `attention`, as course.toml's `assembles` lists
USES = ("seq2seq",)


@dataclass
class Seq2seqConfig(trainer.RunConfig):
    """One training run. :data:`GRADING` is the training check's."""

    min_digits: int = 8
    max_digits: int = 12
    attention: bool = True         # AttentionDecoder, or the bottleneck's Decoder
    d_embed: int = 32
    d_hidden: int = 64
    steps: int = 160
    lr: float = 1e-2               # Adam's, decayed linearly to 0 over the run
    val_size: int = 128
    test_size: int = 500

    def strings(self) -> CapstoneConfig:
        """The capstone's data settings for these strings (the data is the same task's)."""
        return CapstoneConfig(min_digits=self.min_digits, max_digits=self.max_digits, seed=self.seed,
                              val_size=self.val_size, test_size=self.test_size)


GRADING = Seq2seqConfig()
# the bar of the training check; over seeds 0-4 the reference reverses 99.6-99.8% of the
# held-out strings after 160 steps (about 1.9 s on one core; bench/seq2seq_training.py)
GRADING_THRESHOLD = 0.90


@dataclass
class Seq2seqRun:
    encoder: torch.nn.Module
    decoder: torch.nn.Module
    dataset: Dataset
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def build(modules, config: Seq2seqConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The encoder and the decoder (with attention or not) of ``modules.seq2seq``."""
    encoder = modules.seq2seq.Encoder(VOCAB, config.d_embed, config.d_hidden, pad_id=PAD)
    kind = modules.seq2seq.AttentionDecoder if config.attention else modules.seq2seq.Decoder
    return encoder, kind(VOCAB, config.d_embed, config.d_hidden)


def initialise(encoder: torch.nn.Module, decoder: torch.nn.Module, seed: int) -> None:
    """Xavier-uniform for every matrix (embeddings, the LSTMs' weights, the linear maps),
    zeros for every vector (the biases), drawn from ``seed`` alone and by parameter name:
    the check grades whether the learner's modules learn, not how their constructors
    initialise, so every model with the syllabus's names starts from the same weights."""
    trainer.initialise([encoder, decoder], 30_000 + seed, _starting_value)


def _starting_value(name: str, parameter: torch.nn.Parameter, generator: torch.Generator) -> None:
    if parameter.dim() > 1:
        torch.nn.init.xavier_uniform_(parameter, generator=generator)
    else:
        parameter.zero_()


def logits_on(encoder, decoder, src: torch.Tensor, tgt_in: torch.Tensor, attention: bool) -> torch.Tensor:
    """Teacher-forced logits (B, T, V) for ``tgt_in``."""
    memory, state = encoder(src)
    if attention:
        return decoder(tgt_in, state, memory, src != PAD)[0]
    return decoder(tgt_in, state)[0]


def loss_on(encoder, decoder, src: torch.Tensor, tgt: torch.Tensor, attention: bool) -> torch.Tensor:
    logits = logits_on(encoder, decoder, src, tgt[:, :-1], attention)     # teacher forcing
    return torch.nn.functional.cross_entropy(torch.as_tensor(logits).reshape(-1, VOCAB), tgt[:, 1:].reshape(-1),
                                             ignore_index=PAD)


Progress = Callable[[int, float], None]


def train(modules, config: Seq2seqConfig, progress: Progress | None = None) -> Seq2seqRun:
    """Train with Adam, the learning rate decaying linearly from ``config.lr`` to 0, from
    the weights :func:`initialise` gives. Calls ``progress(step, loss)`` after every step."""
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    dataset = make_dataset(config.strings())
    encoder, decoder = build(modules, config)
    initialise(encoder, decoder, config.seed)
    run = Seq2seqRun(encoder, decoder, dataset)
    strings = config.strings()
    run.losses = trainer.train_with_adam(
        [encoder, decoder],
        lambda: loss_on(encoder, decoder, *dataset.batch(config.batch_size, strings), config.attention),
        trainer.linear_decay(config.lr, config.steps), config.steps, config.clip_norm, progress)
    run.seconds = time.perf_counter() - started
    return run


def translate(modules, encoder, decoder, src: torch.Tensor, width: int) -> torch.Tensor:
    """``modules.seq2seq.translate``'s greedy outputs, padded with PAD to ``width`` columns."""
    out = torch.as_tensor(modules.seq2seq.translate(encoder, decoder, src, width, BOS, EOS, pad_id=PAD)).long()
    out = out[:, :width]
    padded = torch.full((src.shape[0], width), PAD, dtype=torch.long)
    padded[:, : out.shape[1]] = out
    return padded


def accuracy(modules, encoder, decoder, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Exact-sequence accuracy: every token up to and including eos right, pad after."""
    src, tgt = data
    return (translate(modules, encoder, decoder, src, tgt.shape[1]) == tgt).all(dim=1).float().mean().item()


def alignment(modules, encoder, decoder, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For one source (1, S): the greedy output (T,) and the attention weights (T - 1, S)
    the decoder gave while reading it back (teacher-forced on its own output)."""
    tokens = translate(modules, encoder, decoder, src, src.shape[1] + 2)[0]
    length = int((tokens != PAD).sum())
    tokens = tokens[:length]
    with torch.no_grad():
        memory, state = encoder(src)
        _, weights, _ = decoder(tokens[None, :-1] if length > 1 else tokens[None], state, memory, src != PAD)
    return tokens, torch.as_tensor(weights)[0].detach()


def lstm_names(state: dict) -> dict:
    """``state`` with an ``nn.LSTMCell``'s parameter names (``rnn.weight_ih``) written as
    the one-layer ``nn.LSTM``'s (``rnn.weight_ih_l0``) that the syllabus names: a learner
    who loops over time with a cell holds the same weights under other names."""
    return {re.sub(r"\b(rnn\.(?:weight|bias)_(?:ih|hh))$", r"\1_l0", name): value for name, value in state.items()}


def trained_state(run: Seq2seqRun) -> dict:
    """The run's weights as plain tensors, by name: ``encoder.<name>`` and ``decoder.<name>``."""
    return {**trainer.trained_state(run.encoder, "encoder."), **trainer.trained_state(run.decoder, "decoder.")}


# ---------------------------------------------------------------- `course show bottleneck`

SHOW = Seq2seqConfig(min_digits=4, max_digits=14, steps=300, test_size=1100, seed=2)
# the picture's runs: both decoders learn from the same strings of 4-14 digits for the same
# 300 steps, and are measured on about 100 held-out strings of each length. With the
# reference the bottleneck reverses 99% of the 4-digit strings and none of the 14-digit
# ones, attention 99-100% of every length; about 9 s for both on one core
# (bench/show_bottleneck.py). Seed 2 because its attention reads the exact mirror
# position; seeds 0 and 1 read the position just after it (the forward LSTM's output
# there still holds the mirror digit): an anti-diagonal too, one column to the right.

DECODERS = ("Decoder", "AttentionDecoder")


@dataclass
class LengthSweep:
    """Both decoders, trained alike and measured by source length, and the attention
    decoder's weights while it reverses one held-out string of the longest length."""

    lengths: list[int]
    accuracy: dict[str, list[float]]   # by decoder's name, one exact-match fraction per length
    counts: list[int]                  # held-out strings of each length
    source: torch.Tensor               # (S,) the string of the alignment
    tokens: torch.Tensor               # (T,) the attention decoder's greedy output for it, bos first
    weights: torch.Tensor              # (T - 1, S) the weights of the step that wrote tokens[t + 1]
    steps: int
    seconds: dict[str, float]          # training time by decoder's name


def accuracy_by_length(modules, encoder, decoder, data: tuple[torch.Tensor, torch.Tensor]
                       ) -> dict[int, tuple[float, int]]:
    """Exact-sequence accuracy (as :func:`accuracy`) of the strings of each source length,
    with how many strings there are of that length."""
    src, tgt = data
    right = (translate(modules, encoder, decoder, src, tgt.shape[1]) == tgt).all(dim=1)
    lengths = (src != PAD).sum(dim=1)
    found = {}
    for length in sorted(set(lengths.tolist())):
        chosen = lengths == length
        found[length] = (right[chosen].float().mean().item(), int(chosen.sum()))
    return found


SweepProgress = Callable[[str, int, float], None]


def sweep(modules, config: Seq2seqConfig = SHOW, progress: SweepProgress | None = None) -> LengthSweep:
    """Train the bottleneck ``Decoder`` and the ``AttentionDecoder`` (each with its own
    ``Encoder``) as ``config`` says, on the same strings, and measure both on the held-out
    strings by length. Calls ``progress(decoder_name, step, loss)`` after every step."""
    runs = {}
    for name in DECODERS:
        def report(step: int, loss: float, name: str = name) -> None:
            if progress is not None:
                progress(name, step, loss)

        runs[name] = train(modules, replace(config, attention=name == "AttentionDecoder"), report)
    test = runs["Decoder"].dataset.test                  # the same strings in both runs
    measured = {name: accuracy_by_length(modules, run.encoder, run.decoder, test) for name, run in runs.items()}
    lengths = sorted(measured["Decoder"])
    src = test[0]
    longest = int((src != PAD).sum(dim=1).argmax())
    source = src[longest, : int((src[longest] != PAD).sum())]
    attention = runs["AttentionDecoder"]
    tokens, weights = alignment(modules, attention.encoder, attention.decoder, source[None])
    return LengthSweep(lengths=lengths,
                       accuracy={name: [measured[name][n][0] for n in lengths] for name in DECODERS},
                       counts=[measured["Decoder"][n][1] for n in lengths], source=source, tokens=tokens,
                       weights=weights, steps=config.steps,
                       seconds={name: run.seconds for name, run in runs.items()})
