"""`course show`: pictures of the ideas of the course, drawn with the learner's own code.

Each topic is computed with the learner's modules when the exercises it needs pass their
visible checks, and with the reference otherwise; :class:`Picture` says which, and why.
"Pass" is decided the way ``course check`` decides it (:class:`VisibleChecks`: a sandboxed
worker per exercise), or, in a notebook, by running the checks in the kernel
(:mod:`grader.learner.notebook`). The reference is ``solutions/`` when the course has it; a
student's release has no solutions, so there the reference is the PNG shipped in
``pictures/reference/<topic>.png``, which :func:`write_reference_pictures` renders.

The learner's code draws in this process, under a time limit (SIGALRM), not in a worker:
it has already passed its checks in a worker, so what is left to guard against is a slow
or endless loop on the picture's (larger) inputs, which the alarm interrupts, and an
exception, which falls back to the reference. A worker would cost a torch import per
picture (1.3 s), and the pictures need the learner's torch objects themselves (a
``MultiHeadAttention`` and the weights it keeps, a trained model), which a worker could
only hand back as plain data. This is also how ``course capstone`` runs the learner's
modules, and how a notebook kernel runs them anyway.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from grader.engine.check_runner import one_torch_thread
from grader.course.i18n import message
from grader.course.manifest import Course
from grader.course.namespace import ModuleNamespace

SHIPPED = Path("pictures") / "reference"     # under the course root, in a student's release

# ---------------------------------------------------------------- the topics

class PictureError(RuntimeError):
    """The learner's code ran but gave something a picture cannot be drawn from."""


class PictureTimeout(BaseException):
    """The learner's code ran out of time (a BaseException, so ``except Exception`` in
    the learner's code does not swallow it)."""


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def vanishing_curves(modules, steps: int = 50) -> dict[str, np.ndarray]:
    """``||dL/dh_t||`` for t = 0 .. steps-1, with an upstream gradient on the last hidden
    state only: the RNN through ``rnn.hidden_grad_norms``, and two LSTMs (forget-gate bias
    0 and 3) through ``lstm_step_forward``/``lstm_step_backward``, on the same inputs."""
    rng = np.random.default_rng(0)
    batch, features, hidden = 4, 8, 32
    inputs = rng.standard_normal((batch, steps, features))
    start = np.zeros((batch, hidden))
    upstream = rng.standard_normal((batch, hidden))
    curves = {}
    w_in = rng.standard_normal((features, hidden)) / np.sqrt(features)
    w_rec = 0.9 * rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
    _, rnn_cache = modules.rnn.rnn_forward(inputs, start, w_in, w_rec, np.zeros(hidden))
    curves["RNN (rnn.hidden_grad_norms)"] = _numpy(modules.rnn.hidden_grad_norms(upstream, rnn_cache)).astype(float)
    for forget_bias in (0.0, 3.0):
        w_in = rng.standard_normal((features, 4 * hidden)) / np.sqrt(features)
        w_rec = 0.9 * rng.standard_normal((hidden, 4 * hidden)) / np.sqrt(hidden)
        bias = np.zeros(4 * hidden)
        bias[hidden:2 * hidden] = forget_bias          # the gates are stacked i, f, g, o
        label = f"LSTM, forget-gate bias {forget_bias:g}"
        curves[label] = _lstm_norms(modules.lstm, inputs, start, upstream, w_in, w_rec, bias)
    for label, norms in curves.items():
        if norms.shape != (steps,) or not np.all(np.isfinite(norms)):
            raise PictureError(f"{label}: expected {steps} finite norms, got an array of shape {norms.shape}")
    return curves


def _lstm_norms(lstm, inputs, start, upstream, w_in, w_rec, bias) -> np.ndarray:
    """``||dL/dh_t||`` of an LSTM through the learner's step functions, with the gradient
    entering at the last hidden state: the hidden and the cell gradient both travel back."""
    steps = inputs.shape[1]
    state, cell, step_caches = start, np.zeros_like(start), []
    for step in range(steps):
        state, cell, step_cache = lstm.lstm_step_forward(inputs[:, step], state, cell, w_in, w_rec, bias)
        step_caches.append(step_cache)
    sizes = np.empty(steps)
    grad_state, grad_cell = upstream, np.zeros_like(upstream)
    for step in range(steps - 1, -1, -1):
        sizes[step] = float(np.sqrt(np.sum(np.square(grad_state))))
        grads = lstm.lstm_step_backward(grad_state, grad_cell, step_caches[step])
        grad_state, grad_cell = _numpy(grads[1]), _numpy(grads[2])
    return sizes


def picture_title(title: str, lang: str, yours: bool) -> str:
    """A picture's title, with a second line that says whose code drew it."""
    whose = message("picture_whose_yours" if yours else "picture_whose_reference", lang)
    return f"{title}\n{whose}"


def _curve_label(label: str, lang: str) -> str:
    """A curve of :func:`vanishing_curves` as the legend names it in ``lang``."""
    prefix = "LSTM, forget-gate bias "
    if label.startswith(prefix):
        return message("picture_vanishing_lstm", lang, bias=label.removeprefix(prefix))
    return label


def render_vanishing(curves: dict[str, np.ndarray], path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    steps = len(next(iter(curves.values())))
    title = picture_title(message("picture_vanishing_title", lang, steps=steps), lang, yours)
    return pictures.gradient_norm_curves({_curve_label(k, lang): v for k, v in curves.items()}, path,
                                         title=title, lang=lang)


def positional_matrix(modules, max_len: int = 100, d_model: int = 64) -> np.ndarray:
    encoding = _numpy(modules.positional.sinusoidal_positional_encoding(max_len, d_model)).astype(float)
    if encoding.shape != (max_len, d_model):
        raise PictureError(f"sinusoidal_positional_encoding({max_len}, {d_model}) has shape {encoding.shape}")
    return encoding


def render_positional(encoding: np.ndarray, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    title = message("picture_positional_title", lang, max_len=encoding.shape[0], d_model=encoding.shape[1])
    return pictures.positional_encoding_chart(encoding, path, title=picture_title(title, lang, yours), lang=lang)


RELATIVE_LENGTH, RELATIVE_HEADS, RELATIVE_BUCKETS, RELATIVE_DISTANCE = 40, 4, 16, 24


def relative_biases(modules) -> dict[str, np.ndarray]:
    """For ``RELATIVE_LENGTH`` positions: the bidirectional bucket of every (query, key)
    pair, the bias ``(h, T, T)`` of a ``RelativePositionBias`` with a seeded (untrained)
    initialisation, and ALiBi's bias ``(h, T, T)``, all with the given modules."""
    import torch

    T, h = RELATIVE_LENGTH, RELATIVE_HEADS
    distance = torch.arange(T)[None, :] - torch.arange(T)[:, None]            # key - query
    buckets = _numpy(modules.positional.relative_position_bucket(distance, True, RELATIVE_BUCKETS,
                                                                 RELATIVE_DISTANCE)).astype(int)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        bias_module = modules.positional.RelativePositionBias(h, True, RELATIVE_BUCKETS, RELATIVE_DISTANCE)
    with torch.no_grad():
        learned = _numpy(bias_module(T, T)).astype(float)
    alibi = _numpy(modules.positional.alibi_bias(h, T, T)).astype(float)
    expected = {"buckets": (T, T), "learned": (1, h, T, T), "alibi": (h, T, T)}
    found = {"buckets": buckets, "learned": learned, "alibi": alibi}
    for name, shape in expected.items():
        if found[name].shape != shape or not np.all(np.isfinite(found[name])):
            raise PictureError(f"the {name} table should be finite, of shape {shape}; it has shape {found[name].shape}")
    found["learned"] = learned[0]
    return found


def render_relative(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    title = message("picture_relative_title", lang, buckets=RELATIVE_BUCKETS, max_distance=RELATIVE_DISTANCE)
    return pictures.relative_bias_chart(found["buckets"], found["learned"], found["alibi"], path,
                                        title=picture_title(title, lang, yours), lang=lang)


PAD = "<pad>"
MASK_SENTENCES = (("the", "cat", "sat", "on", "the", "mat"), ("a", "dog", "ran"))


def mask_panels(modules) -> tuple[list[int], list[list[str]], list[list[tuple[str, np.ndarray]]]]:
    """For each sentence of a padded batch: its tokens and its causal, padding and
    combined masks as ``(T, T)`` boolean arrays (query rows, key columns)."""
    import torch

    width = max(len(s) for s in MASK_SENTENCES)
    vocabulary = {word: index + 1 for index, word in enumerate(sorted({w for s in MASK_SENTENCES for w in s}))}
    tokens = torch.zeros(len(MASK_SENTENCES), width, dtype=torch.long)        # 0 is the pad id
    for row, sentence in enumerate(MASK_SENTENCES):
        tokens[row, :len(sentence)] = torch.tensor([vocabulary[w] for w in sentence])
    causal = torch.as_tensor(modules.masking.causal_mask(width)).bool()
    padding = torch.as_tensor(modules.masking.padding_mask(tokens, 0)).bool()
    if tuple(causal.shape) != (width, width) or tuple(padding.shape) != (len(MASK_SENTENCES), 1, width):
        raise PictureError(f"causal_mask({width}) has shape {tuple(causal.shape)} and padding_mask of a "
                           f"{tuple(tokens.shape)} batch has shape {tuple(padding.shape)}")
    combined = padding & causal
    titles, labels, panels = [], [], []
    for row, sentence in enumerate(MASK_SENTENCES):
        titles.append(row + 1)
        labels.append(list(sentence) + [PAD] * (width - len(sentence)))
        panels.append([
            ("causal_mask", causal.numpy()),
            ("padding_mask (broadcast)", torch.broadcast_to(padding[row], (width, width)).numpy()),
            ("padding & causal", combined[row].numpy()),
        ])
    return titles, labels, panels


def render_masks(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    numbers, labels, panels = found
    titles = [message("picture_sentence", lang, number=number) for number in numbers]
    return pictures.mask_grid(panels, titles, labels, labels, path, lang=lang,
                              title=picture_title(message("picture_masks_title", lang), lang, yours))


HEAD_SENTENCE = ("the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "sat")
HEAD_TITLES = ("previous word", "next word", "same word", "first word")
HEAD_TITLE_KEYS = ("picture_head_previous", "picture_head_next", "picture_head_same", "picture_head_first")


def head_weights(modules) -> np.ndarray:
    """The per-head weights ``(4, T, T)`` of the learner's ``MultiHeadAttention`` on
    :data:`HEAD_SENTENCE`, with weights chosen so that each head has one job.

    The input of word t is [one-hot of the word | one-hot of the position t | zeros], and
    each head's query and key projections read one part of it: position t's query asks for
    position t-1 (head 0) or t+1 (head 1), word w's query for the word w (head 2), and
    every query for position 0 (head 3, through the query bias)."""
    import torch

    length = len(HEAD_SENTENCE)
    words = sorted(set(HEAD_SENTENCE))
    width = max(length, len(words))                   # each head's size d_k
    heads = len(HEAD_TITLES)
    d_model = heads * width
    strength = 6.0 * width ** 0.5                     # undoes the 1/sqrt(d_k), then sharpens

    def word(i):
        return i

    def position(i):
        return width + i

    x = torch.zeros(1, length, d_model)
    for t, w in enumerate(HEAD_SENTENCE):
        x[0, t, word(words.index(w))] = 1.0
        x[0, t, position(t)] = 1.0
    w_q, w_k = torch.zeros(d_model, d_model), torch.zeros(d_model, d_model)
    b_q = torch.zeros(d_model)
    for head in range(heads):
        first = head * width
        for i in range(width):                        # keys: the position, or the word (head 2)
            w_k[first + i, word(i) if head == 2 else position(i)] = 1.0
    for t in range(length):
        w_q[0 * width + max(t - 1, 0), position(t)] = strength
        w_q[1 * width + min(t + 1, length - 1), position(t)] = strength
    for i in range(len(words)):
        w_q[2 * width + i, word(i)] = strength
    b_q[3 * width + 0] = strength
    state = {"w_q.weight": w_q, "w_q.bias": b_q, "w_k.weight": w_k, "w_k.bias": torch.zeros(d_model),
             "w_v.weight": torch.eye(d_model), "w_v.bias": torch.zeros(d_model),
             "w_o.weight": torch.eye(d_model), "w_o.bias": torch.zeros(d_model)}
    attention = modules.multihead.MultiHeadAttention(d_model, heads)
    attention.load_state_dict(state)
    attention.eval()
    with torch.no_grad():
        attention(x, x, x)
    weights = getattr(attention, "attention_weights", None)
    if weights is None or tuple(weights.shape) != (1, heads, length, length):
        shape = None if weights is None else tuple(weights.shape)
        raise PictureError(f"MultiHeadAttention.attention_weights should have shape {(1, heads, length, length)} "
                           f"after a call, but it is {shape}")
    return _numpy(weights[0]).astype(float)


def render_heads(weights: np.ndarray, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    head_titles = [message(key, lang) for key in HEAD_TITLE_KEYS]
    return pictures.self_attention_heads(weights, HEAD_SENTENCE, head_titles, path, lang=lang,
                                         title=picture_title(message("picture_heads_title", lang), lang, yours))


def capstone_attention(modules) -> tuple[np.ndarray, list[str], list[str], float]:
    """Train the quick grading run of the capstone with ``modules``; return the last
    decoder layer's cross-attention ``(h, T_out, S)`` while it reverses one held-out
    string of the longest length, the output and input labels, and the held-out accuracy."""
    from grader.content import capstone

    config = capstone.GRADING
    run = capstone.train(modules, config)
    accuracy = capstone.accuracy(modules, run.model, run.dataset.test)
    sources = run.dataset.test[0]
    lengths = (sources != capstone.PAD).sum(dim=1)
    source = sources[int(lengths.argmax())][None, : int(lengths.max())]
    found = capstone.cross_attention(modules, run.model, source)
    if found is None:
        raise PictureError("the last decoder layer's cross_attn keeps no attention_weights")
    tokens, weights = found
    rows = [_capstone_label(t) for t in tokens[: weights.shape[1]].tolist()]
    columns = [_capstone_label(t) for t in source[0].tolist()]
    return _numpy(weights).astype(float), rows, columns, accuracy


def _capstone_label(token: int) -> str:
    from grader.content import capstone

    return {capstone.PAD: "pad", capstone.BOS: "bos", capstone.EOS: "eos"}.get(token, str(token - capstone.FIRST_DIGIT))


def render_capstone(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    weights, rows, columns, accuracy = found
    title = message("picture_capstone_title", lang, accuracy=f"{accuracy:.1%}")
    return pictures.attention_heatmap(weights, rows, columns, path, title=picture_title(title, lang, yours),
                                      lang=lang, dpi=pictures.DPI)


class Report:
    """How a topic that trains shows its work while it computes: here, not at all (the
    tests, the release's reference pictures). :class:`TerminalReport` shows it."""

    lang = "en"

    @contextlib.contextmanager
    def training(self, runs: Sequence[tuple[str, int]]) -> Iterator[Callable[[str, int, float], None]]:
        """For ``runs`` [(name, steps), ...]: a callback ``(name, step, loss)``."""
        yield lambda name, step, loss: None

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], note: str = "") -> None:
        """Figures the topic measured."""


QUIET = Report()


class TerminalReport(Report):
    """A progress bar per training run and the measured figures as a table, on ``console``
    in ``lang``. Under ``course show``'s status line, the bars show below it."""

    def __init__(self, console, lang: str = "en"):
        self.console = console
        self.lang = lang

    @contextlib.contextmanager
    def training(self, runs: Sequence[tuple[str, int]]) -> Iterator[Callable[[str, int, float], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[loss]}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as progress:
            tasks = {name: progress.add_task(message("show_training", self.lang, model=name), total=steps, loss="")
                     for name, steps in runs}

            def advance(name: str, step: int, loss: float) -> None:
                progress.update(tasks[name], completed=step,
                                loss=message("show_training_loss", self.lang, loss=f"{loss:.4f}"))

            yield advance

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], note: str = "") -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table()
        for header in headers:
            table.add_column(header, justify="right")
        for row in rows:
            table.add_row(*row)
        self.console.print(escape(title))
        self.console.print(table)
        if note:
            self.console.print(escape(note))


def bottleneck_sweep(modules, report: Report | None = None, config=None):
    """Train the seq2seq module's bottleneck ``Decoder`` and its ``AttentionDecoder`` on
    reversal (:func:`grader.content.bottleneck.sweep`, :data:`grader.content.bottleneck.SHOW` unless
    ``config``); report the training and the accuracy by source length."""
    from grader.content import bottleneck

    config = config or bottleneck.SHOW
    report = report or QUIET
    with report.training([(name, config.steps) for name in bottleneck.DECODERS]) as advance:
        found = bottleneck.sweep(modules, config, advance)
    rows, columns = len(found.tokens) - 1, len(found.source)
    weights = _numpy(found.weights).astype(float)
    if weights.shape != (rows, columns) or not np.all(np.isfinite(weights)):
        raise PictureError(f"the AttentionDecoder's weights for one {columns}-digit string after {rows} steps "
                           f"should be finite, of shape {(rows, columns)}; they have shape {weights.shape}")
    lang = report.lang
    report.table(message("show_bottleneck_table", lang, steps=found.steps),
                 [message("show_bottleneck_digits", lang), *bottleneck.DECODERS, message("show_bottleneck_strings", lang)],
                 [[str(length), *(f"{found.accuracy[name][i]:.1%}" for name in bottleneck.DECODERS), str(count)]
                  for i, (length, count) in enumerate(zip(found.lengths, found.counts))],
                 message("show_bottleneck_seconds", lang, plain=found.seconds["Decoder"],
                         attention=found.seconds["AttentionDecoder"]))
    return found


def render_bottleneck(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    curves = {message("picture_bottleneck_plain", lang): found.accuracy["Decoder"],
              message("picture_bottleneck_attention", lang): found.accuracy["AttentionDecoder"]}
    rows = [_capstone_label(t) for t in found.tokens[1:].tolist()]
    columns = [_capstone_label(t) for t in found.source.tolist()]
    title = picture_title(message("picture_bottleneck_title", lang, steps=found.steps), lang, yours)
    return pictures.bottleneck_chart(found.lengths, curves, _numpy(found.weights).astype(float), rows, columns, path,
                                     title=title, lang=lang)


SAMPLING_WORDS = ("the", "a", "cat", "dog", "sat", "ran", "on", "mat", "and", "slept")
SAMPLING_LOGITS = (3.1, 2.6, 2.2, 1.9, 1.2, 0.8, 0.3, -0.2, -0.9, -1.6)
SAMPLING_DRAWS = 4000
SAMPLING_PANELS = ((1.0, None, None), (0.5, None, None), (2.0, None, None),
                   (1.0, 3, None), (1.0, None, 0.8), (0.7, 5, 0.9))     # (temperature, top_k, top_p)


def sampling_panels(modules) -> list[tuple[tuple, np.ndarray, np.ndarray]]:
    """One next-token distribution (:data:`SAMPLING_LOGITS` over :data:`SAMPLING_WORDS`)
    after each (temperature, top_k, top_p) of :data:`SAMPLING_PANELS`: the exact
    probabilities, softmax(filter_logits(logits / T, top_k, top_p)), and the frequencies of
    :data:`SAMPLING_DRAWS` tokens drawn by sample_next with a seeded generator."""
    import torch

    logits = torch.tensor([SAMPLING_LOGITS], dtype=torch.float64)
    found = []
    for temperature, top_k, top_p in SAMPLING_PANELS:
        filtered = modules.decoding.filter_logits(logits / temperature, top_k=top_k, top_p=top_p)
        probs = _numpy(torch.softmax(torch.as_tensor(filtered), dim=-1)).reshape(-1).astype(float)
        if probs.shape != (len(SAMPLING_WORDS),) or not np.isfinite(probs).all():
            raise PictureError(f"filter_logits(logits (1, {len(SAMPLING_WORDS)}), top_k={top_k}, top_p={top_p}) "
                               "does not give a distribution over the words")
        generator = torch.Generator().manual_seed(0)
        drawn = modules.decoding.sample_next(logits.expand(SAMPLING_DRAWS, -1), temperature=temperature,
                                             top_k=top_k, top_p=top_p, generator=generator)
        drawn = _numpy(drawn).reshape(-1).astype(int)
        if drawn.shape != (SAMPLING_DRAWS,) or drawn.min() < 0 or drawn.max() >= len(SAMPLING_WORDS):
            raise PictureError(f"sample_next(logits ({SAMPLING_DRAWS}, {len(SAMPLING_WORDS)})) does not give one word "
                               "per row")
        freqs = np.bincount(drawn, minlength=len(SAMPLING_WORDS)) / SAMPLING_DRAWS
        found.append(((temperature, top_k, top_p), probs, freqs))
    return found


def _sampling_label(settings: tuple, lang: str) -> str:
    temperature, top_k, top_p = settings
    parts = [message("picture_sampling_temperature", lang, temperature=f"{temperature:g}"),
             None if top_k is None else f"top-k {top_k}", None if top_p is None else f"top-p {top_p:g}"]
    return ", ".join(part for part in parts if part)


def render_sampling(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    panels = [(_sampling_label(settings, lang), probs, freqs) for settings, probs, freqs in found]
    title = picture_title(message("picture_sampling_title", lang), lang, yours)
    return pictures.sampling_bars(SAMPLING_WORDS, panels, path, SAMPLING_DRAWS, title=title, lang=lang)


@dataclass(frozen=True)
class Topic:
    name: str
    summary: str                       # one line, for --help
    needs: tuple[str, ...]             # exercises whose visible checks must pass, in course order
    modules: tuple[str, ...]           # the course modules whose notebooks show it
    compute: Callable[[object], object]                  # the modules -> what the picture shows
    render: Callable[[object, Path, str, bool], Path]    # (that, path, lang, yours) -> the PNG
    time_limit: float                  # seconds for the learner's code to draw it
    caption: str                       # the message key of what the learner should see in it
    reports: bool = False              # compute takes a Report too: it trains, and shows it

    def draw(self, modules, path: Path, lang: str = "en", yours: bool = False, report: Report | None = None) -> Path:
        """Compute the picture with ``modules`` and write it to ``path``, its words in
        ``lang`` and its title saying whose code drew it."""
        found = self.compute(modules, report or QUIET) if self.reports else self.compute(modules)
        return self.render(found, Path(path), lang, yours)


def vit_attention(modules, report: Report | None = None, config=None) -> dict:
    """Train the ViT of ``modules.heads`` on the quadrant task (:func:`grader.content.vit_task.train`,
    :data:`grader.content.vit_task.SHOW` unless ``config``); return one held-out image per class,
    the [CLS] token's attention over its patches in every encoder layer (from each layer's
    ``MultiHeadAttention.attention_weights``, averaged over the heads), the model's answers
    and its held-out accuracy."""
    import torch

    from grader.content import vit_task

    config = config or vit_task.SHOW
    report = report or QUIET
    with report.training([("ViT", config.steps)]) as advance:
        run = vit_task.train(modules, config, lambda step, loss: advance("ViT", step, loss))
    accuracy = vit_task.accuracy(run.model, run.dataset.test)
    images, labels = run.dataset.test
    chosen = [int((labels == c).nonzero()[0]) for c in range(len(vit_task.CLASSES))]
    picked = images[chosen]
    grid = config.image_size // config.patch_size
    with torch.no_grad():
        predicted = torch.as_tensor(run.model(picked)).argmax(dim=-1).tolist()
    maps = []
    for layer in range(config.num_layers):
        try:
            weights = vit_task.cls_attention(run.model, picked, layer)
        except (AttributeError, IndexError, TypeError, RuntimeError) as exc:
            raise PictureError(f"encoder.layers[{layer}].self_attn keeps no usable attention_weights "
                               f"(B, h, N + 1, N + 1): {exc}") from exc
        weights = _numpy(weights).astype(float)
        if weights.shape != (len(chosen), grid * grid) or not np.all(np.isfinite(weights)):
            raise PictureError(f"the [CLS] row of encoder.layers[{layer}].self_attn.attention_weights should give "
                               f"{grid * grid} finite weights per image; it gives shape {weights.shape}")
        maps.append(weights.reshape(len(chosen), grid, grid))
    lang = report.lang
    report.table(message("show_vit_table", lang, steps=config.steps),
                 [message("show_vit_quadrant", lang), message("show_vit_answer", lang)],
                 [[vit_task.CLASSES[c], vit_task.CLASSES[p]] for c, p in zip(range(len(chosen)), predicted)],
                 message("show_vit_accuracy", lang, accuracy=f"{accuracy:.1%}", count=len(labels)))
    return {"images": _numpy(picked[:, 0]).astype(float), "maps": np.stack(maps, axis=1), "predicted": predicted,
            "accuracy": accuracy, "steps": config.steps}


def render_vit(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.learner import pictures

    lang = pictures.words_lang(lang)
    names = [message(key, lang) for key in ("picture_vit_top_left", "picture_vit_top_right",
                                            "picture_vit_bottom_left", "picture_vit_bottom_right")]
    rows = [message("picture_vit_row", lang, quadrant=names[c], answer=names[p] if 0 <= p < len(names) else str(p))
            for c, p in enumerate(found["predicted"])]
    layers = found["maps"].shape[1]
    layer_titles = [message("picture_vit_layer", lang, layer=layer + 1, layers=layers) for layer in range(layers)]
    title = picture_title(message("picture_vit_title", lang, steps=found["steps"],
                                  accuracy=f"{found['accuracy']:.1%}"), lang, yours)
    return pictures.cls_attention_grid(found["images"], found["maps"], rows, layer_titles, path, title=title,
                                       lang=lang)


_TRANSFORMER_PARTS = (
    "attention.softmax", "masking.causal_mask", "masking.padding_mask", "masking.masked_softmax",
    "self_attention.scaled_dot_product_attention", "multihead.split_heads", "multihead.merge_heads",
    "multihead.MultiHeadAttention", "positional.sinusoidal_positional_encoding", "positional.PositionalEncoding",
    "transformer.LayerNorm", "transformer.FeedForward", "transformer.EncoderLayer", "transformer.DecoderLayer",
    "transformer.Encoder", "transformer.Decoder", "transformer.Transformer", "training.cross_entropy",
    "training.noam_lr", "decoding.greedy_decode",
)

TOPICS: dict[str, Topic] = {topic.name: topic for topic in (
    Topic("vanishing", "the vanishing gradient: RNN against LSTM, ||dL/dh_t|| over time (log scale)",
          needs=("rnn.rnn_step_forward", "rnn.rnn_step_backward", "rnn.rnn_forward", "rnn.hidden_grad_norms",
                 "lstm.lstm_step_forward", "lstm.lstm_step_backward"),
          modules=("rnn", "lstm"), compute=vanishing_curves, render=render_vanishing, time_limit=30.0, caption="show_caption_vanishing"),
    Topic("bottleneck", "seq2seq without and with attention: accuracy by string length, and the alignment (trains about 10 s)",
          needs=("attention.softmax", "attention.general_score", "attention.attention_context",
                 "attention.attentional_hidden", "seq2seq.Encoder", "seq2seq.Decoder", "seq2seq.AttentionDecoder",
                 "seq2seq.translate"),
          modules=("seq2seq", "seq2seq_training"), compute=bottleneck_sweep, render=render_bottleneck,
          time_limit=120.0, caption="show_caption_bottleneck", reports=True),
    Topic("sampling", "how temperature, top-k and top-p reshape one next-token distribution (bars, and draws as dots)",
          needs=("decoding.filter_logits", "decoding.sample_next"),
          modules=("decoding",), compute=sampling_panels, render=render_sampling, time_limit=30.0,
          caption="show_caption_sampling"),
    Topic("positional", "the sinusoidal positional encoding as a heat map, and a few dimensions as curves",
          needs=("positional.sinusoidal_positional_encoding",),
          modules=("positional",), compute=positional_matrix, render=render_positional, time_limit=30.0, caption="show_caption_positional"),
    Topic("relative", "T5's relative position buckets, a T5 bias per head (untrained) and ALiBi's penalties",
          needs=("positional.relative_position_bucket", "positional.RelativePositionBias", "positional.alibi_bias"),
          modules=("positional",), compute=relative_biases, render=render_relative, time_limit=30.0,
          caption="show_caption_relative"),
    Topic("masks", "causal, padding and combined masks of a small padded batch",
          needs=("masking.causal_mask", "masking.padding_mask"),
          modules=("masking",), compute=mask_panels, render=render_masks, time_limit=30.0, caption="show_caption_masks"),
    Topic("heads", "the attention weights of each head of MultiHeadAttention on a short sentence",
          needs=("attention.softmax", "masking.masked_softmax", "self_attention.scaled_dot_product_attention",
                 "multihead.split_heads", "multihead.merge_heads", "multihead.MultiHeadAttention"),
          modules=("multihead",), compute=head_weights, render=render_heads, time_limit=30.0, caption="show_caption_heads"),
    Topic("vit", "where the [CLS] token of a small trained ViT looks in an image, layer by layer (trains about 3 s)",
          needs=("attention.softmax", "masking.masked_softmax", "self_attention.scaled_dot_product_attention",
                 "multihead.split_heads", "multihead.merge_heads", "multihead.MultiHeadAttention",
                 "transformer.LayerNorm", "transformer.FeedForward", "transformer.EncoderLayer", "transformer.Encoder",
                 "heads.patchify", "heads.ViT"),
          modules=("heads", "vit_training"), compute=vit_attention, render=render_vit, time_limit=60.0,
          caption="show_caption_vit", reports=True),
    Topic("capstone", "the capstone model's cross-attention while it reverses a string (trains about 10 s)",
          needs=_TRANSFORMER_PARTS,
          modules=("capstone",), compute=capstone_attention, render=render_capstone, time_limit=180.0, caption="show_caption_capstone"),
)}


def course_topics(course: Course) -> list[Topic]:
    """The topics this course can draw: those whose every exercise it has (a course made
    of other modules, or a part of this one, draws fewer)."""
    ids = {ex.id for ex in course.exercises}
    return [topic for topic in TOPICS.values() if set(topic.needs) <= ids]


def topics_for_module(module: str) -> list[Topic]:
    return [topic for topic in TOPICS.values() if module in topic.modules]


def needed_exercises(course: Course, topic: Topic) -> list[str]:
    """The topic's needs that this course has, in course order."""
    return [ex.id for ex in course.exercises if ex.id in topic.needs]


def needed_modules(topic: Topic) -> list[str]:
    return list(dict.fromkeys(exercise_id.split(".")[0] for exercise_id in topic.needs))


# ---------------------------------------------------------------- deciding and drawing

@dataclass
class Picture:
    topic: str
    path: Path | None        # None: no picture could be written
    yours: bool
    reason: str = ""         # why the reference was used

    def source(self, lang: str = "en") -> str:
        return message("show_yours", lang) if self.yours else message("show_reference", lang, reason=self.reason)


class VisibleChecks:
    """The visible checks of exercises, run as ``course check`` runs them (a sandboxed
    worker each, on ``folder``); each verdict is remembered for the rest of the run."""

    def __init__(self, course: Course, folder: Path):
        self.course = course
        self.folder = Path(folder)
        self.verdicts: dict[str, bool] = {}
        self._context = None

    def passes(self, exercise_id: str) -> bool:
        if exercise_id not in self.verdicts:
            from grader.engine.grading import GradingContext, grade_in_order

            if self._context is None:
                self._context = GradingContext.for_course(self.course, kind="visible")
            grade_in_order(self._context, self.course.exercise(exercise_id), self.folder, self.verdicts)
        return self.verdicts[exercise_id]

    def first_failing(self, exercise_ids: Sequence[str]) -> str | None:
        return next((exercise_id for exercise_id in exercise_ids if not self.passes(exercise_id)), None)

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`PictureTimeout` in this thread after ``seconds`` (a no-op outside the
    main thread, where signals cannot be received, or without SIGALRM)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise PictureTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_GRADER_DIR = str(Path(__file__).resolve().parent.parent)   # the grader package
_LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The last frame of the traceback in the learner's code: outside the grader, the
    libraries and the course's check suites."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(_GRADER_DIR) and not frame.filename.startswith(_LIBRARY_DIRS)
              and "/suites/" not in frame.filename]
    return frames[-1] if frames else None


def _where(exc: BaseException) -> str:
    frame = learner_frame(exc)
    if frame is None:
        return ""
    return f" (at {Path(frame.filename).name}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()})"


def draw_learner(topic: Topic, modules, path: Path, lang: str = "en", report: Report | None = None) -> str | None:
    """Draw ``topic`` with the learner's ``modules``; None when it worked, else why not."""
    try:
        with time_limit(topic.time_limit):
            topic.draw(modules, path, lang, yours=True, report=report)
    except PictureTimeout:
        return message("show_reason_timeout", lang, seconds=topic.time_limit)
    except Exception as exc:  # the learner's code broke on the picture's inputs
        error = f"{type(exc).__name__}: {exc}".strip()
        return message("show_reason_raised", lang, error=error, where=_where(exc))
    return None


_references: dict[Path, ModuleNamespace] = {}


def reference_modules(course: Course) -> ModuleNamespace | None:
    """The reference modules (``solutions/``), or None in a student's release."""
    folder = (course.root / "solutions").resolve()
    if not folder.is_dir():
        return None
    if folder not in _references:
        _references[folder] = ModuleNamespace(folder, course.module_names, f"_show_reference_{len(_references)}")
    return _references[folder]


def draw_reference(course: Course, topic: Topic, path: Path, reason: str, lang: str = "en",
                   report: Report | None = None) -> Picture:
    """The reference picture: drawn with ``solutions/``, or copied from what the release
    ships (``pictures/reference/<lang>/`` for a language other than English)."""
    reference = reference_modules(course)
    if reference is not None:
        topic.draw(reference, path, lang, yours=False, report=report)
        return Picture(topic.name, path, False, reason)
    shipped = course.root / SHIPPED / f"{topic.name}.png"
    translated = course.root / SHIPPED / lang / f"{topic.name}.png"
    if lang != "en" and translated.is_file():
        shipped = translated
    if shipped.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, path)
        return Picture(topic.name, path, False, reason)
    return Picture(topic.name, None, False, reason)


class LearnerModules:
    """The learner's modules that a topic needs, each topic loaded afresh from a private
    copy of just those files and the course modules they import, so that a broken module
    the picture does not use cannot stop it."""

    def __init__(self, course: Course, folder: Path):
        self.course = course
        self.folder = Path(folder)
        self._tmp = tempfile.TemporaryDirectory(prefix="course-show-")
        self._count = 0

    def for_topic(self, topic: Topic) -> ModuleNamespace:
        self._count += 1
        copy = Path(self._tmp.name) / f"{topic.name}-{self._count}"
        copy.mkdir()
        for module in imported_closure(self.folder, needed_modules(topic), self.course.module_names):
            shutil.copyfile(self.folder / f"{module}.py", copy / f"{module}.py")
        return ModuleNamespace(copy, self.course.module_names, f"_show_learner_{id(self)}_{self._count}")

    def close(self) -> None:
        self._tmp.cleanup()


def imported_closure(folder: Path, modules: Sequence[str], course_modules: Sequence[str]) -> list[str]:
    """``modules`` and the course modules they import, directly or not, that exist in
    ``folder`` (read with ``ast``; a file that does not parse imports nothing)."""
    import ast

    found: list[str] = []
    pending = list(modules)
    while pending:
        module = pending.pop(0)
        path = Path(folder) / f"{module}.py"
        if module in found or not path.is_file():
            continue
        found.append(module)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            pending += [name.split(".")[0] for name in names if name.split(".")[0] in course_modules]
    return found


Blocker = Callable[[Sequence[str]], "str | None"]


def make_picture(course: Course, topic: Topic, out_dir: Path, blocker: Blocker, learner: Callable[[Topic], object],
                 lang: str = "en", on_start: Callable[[str, Topic], None] = lambda stage, topic: None,
                 report: Report | None = None) -> Picture:
    """``out_dir/<topic>.png``, with the learner's code if nothing blocks it, else with the
    reference. ``blocker(exercise_ids)`` says why the learner's code cannot draw it (the
    first of those exercises that fails its checks), or None; ``learner(topic)`` gives
    the learner's modules; ``on_start("checking" | "drawing", topic)`` reports progress,
    and ``report`` what a topic that trains measures (nothing by default)."""
    path = Path(out_dir) / f"{topic.name}.png"
    on_start("checking", topic)
    reason = blocker(needed_exercises(course, topic))
    on_start("drawing", topic)
    if reason is None:
        reason = draw_learner(topic, learner(topic), path, lang, report)
        if reason is None:
            return Picture(topic.name, path, True)
    return draw_reference(course, topic, path, reason, lang, report)


def show(course: Course, topics: Sequence[Topic], out_dir: Path, lang: str = "en",
         on_start: Callable[[str, Topic], None] = lambda stage, topic: None,
         report: Report | None = None) -> list[Picture]:
    """The pictures of ``topics``, with the learner's exercises/ where they pass their
    visible checks (each exercise checked at most once in the run). A topic that trains
    shows its progress and figures through ``report`` (`course show` passes a
    :class:`TerminalReport`; by default, nothing is shown)."""
    folder = course.root / "exercises"
    checks = VisibleChecks(course, folder)
    learner = LearnerModules(course, folder)
    def blocker(exercise_ids: Sequence[str]) -> str | None:
        if not folder.is_dir():
            return message("show_reason_no_folder", lang)
        failing = checks.first_failing(exercise_ids)
        return None if failing is None else message("show_reason_failing", lang, exercise=failing)

    try:
        return [make_picture(course, topic, out_dir, blocker, learner.for_topic, lang, on_start, report)
                for topic in topics]
    finally:
        checks.close()
        learner.close()


def write_reference_pictures(course: Course, out_dir: Path) -> list[Path]:
    """Every topic drawn with the reference (``solutions/``) as ``out_dir/<topic>.png``, and
    in every other language as ``out_dir/<lang>/<topic>.png`` (computed once: the capstone
    trains a model): what a student's release ships for ``course show`` to fall back on.
    Returns the English ones."""
    from grader.course.i18n import DEFAULT_LANG, LANGS

    reference = reference_modules(course)
    if reference is None:
        raise FileNotFoundError(f"{course.root / 'solutions'} does not exist: the reference pictures need it")
    one_thread()
    written = []
    for topic in course_topics(course):
        found = topic.compute(reference)
        written.append(topic.render(found, Path(out_dir) / f"{topic.name}.png", DEFAULT_LANG, False))
        for lang in LANGS:
            if lang != DEFAULT_LANG:
                topic.render(found, Path(out_dir) / lang / f"{topic.name}.png", lang, False)
    return written


def one_thread() -> None:
    """Small models train fastest on one thread; a second core busy elsewhere would make
    every step wait (see ``course capstone --threads``)."""
    import torch  # noqa: F401 - loaded now, so that it runs on one thread from the start

    one_torch_thread()
