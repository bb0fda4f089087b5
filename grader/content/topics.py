"""The ideas of the course that `course show` draws: each topic, what it needs, and how
it is computed from a course's modules and rendered.

This is the course's own content: a new picture is a new :class:`Topic` in
:data:`TOPICS`, with the exercises it needs, a ``compute`` that runs the modules (the
learner's or the reference; :mod:`grader.learner.show` decides which) and a ``render``
that draws what came back with :mod:`grader.content.pictures`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from grader.course.i18n import message
from grader.course.manifest import Course

class PictureError(RuntimeError):
    """The learner's code ran but gave something a picture cannot be drawn from."""


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
    from grader.content import pictures

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
    from grader.content import pictures

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
    from grader.content import pictures

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
    from grader.content import pictures

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
    from grader.content import pictures

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
    found = capstone.labelled_cross_attention(modules, run.model, source)
    if found is None:
        raise PictureError("the last decoder layer's cross_attn keeps no attention_weights")
    return (*found, accuracy)


def render_capstone(found, path: Path, lang: str = "en", yours: bool = False) -> Path:
    from grader.content import pictures

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
    from grader.content import capstone, pictures

    lang = pictures.words_lang(lang)
    curves = {message("picture_bottleneck_plain", lang): found.accuracy["Decoder"],
              message("picture_bottleneck_attention", lang): found.accuracy["AttentionDecoder"]}
    rows = [capstone.token_label(t) for t in found.tokens[1:].tolist()]
    columns = [capstone.token_label(t) for t in found.source.tolist()]
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
    from grader.content import pictures

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
    from grader.content import pictures

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
    Topic("capstone", "the capstone model's cross-attention while it reverses a string (trains about 2 s)",
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
