"""Pictures written as PNG files (matplotlib, no screen needed).

The pictures of ``course show`` speak the learner's language: their titles, axes and
legends are messages (``picture_*`` in ``i18n/<lang>/messages.toml``), and in Korean they
are set in a font that has Hangul (:func:`hangul_font`), with DejaVu Sans, matplotlib's
own, for the rest. Where no such font is found they keep their English words, and say so.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from grader.course.i18n import message  # noqa: E402

DPI = 150               # the pictures of `course show`: sharp on a laptop screen, readable when zoomed
CHART_DPI = 110         # `course grade`'s charts and `course capstone`'s curves

# Fonts with Hangul, in order of preference, for a machine that has one installed already.
KNOWN_HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Source Han Sans KR", "UnDotum",
                      "Baekmuk Gulim", "Malgun Gothic", "Apple SD Gothic Neo", "AppleGothic")


@functools.lru_cache(maxsize=None)
def hangul_font() -> str | None:
    """The family name of a font with Hangul that matplotlib can use, or None.

    First the NanumGothic of the ``koreanize-matplotlib`` package (a dependency of the
    course: a font file in the package, found without importing it, since importing it
    would change every picture's font), then any font installed on the machine from
    :data:`KNOWN_HANGUL_FONTS`."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "fonts" / "NanumGothic.ttf"
        if shipped.is_file():
            try:
                font_manager.fontManager.addfont(str(shipped))
                return font_manager.FontProperties(fname=str(shipped)).get_name()
            except (OSError, RuntimeError, ValueError):
                pass
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in KNOWN_HANGUL_FONTS if name in installed), None)


_told: set[str] = set()


def words_lang(lang: str) -> str:
    """The language a picture can be written in: ``lang``, or English (said once, on
    stderr) when ``lang`` needs a font that is not there."""
    if lang == "ko" and hangul_font() is None:
        if lang not in _told:
            _told.add(lang)
            print(message("picture_no_hangul_font", lang), file=sys.stderr)
        return "en"
    return lang


@contextlib.contextmanager
def style(lang: str) -> Iterator[None]:
    """Matplotlib's settings for a picture in ``lang``: in Korean, DejaVu Sans with the
    Hangul font as the fallback for the glyphs it lacks."""
    font = hangul_font() if lang == "ko" else None
    settings = {"font.family": ["DejaVu Sans", font]} if font else {}
    with plt.rc_context(settings):
        yield


def _say(lang: str, key: str, /, **fields) -> str:
    return message(key, lang, **fields)


def training_curves(losses: Sequence[float], val_curve: Sequence[tuple[int, float]], path: Path,
                    title: str = "", lang: str = "en") -> Path:
    """Training loss per step (log scale) and validation accuracy over the steps."""
    lang = words_lang(lang)
    with style(lang):
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        steps = range(1, len(losses) + 1)
        left.plot(steps, losses, linewidth=0.8, color="tab:blue")
        left.set_yscale("log")
        left.set_xlabel(_say(lang, "picture_step"))
        left.set_ylabel(_say(lang, "picture_training_loss"))
        left.grid(alpha=0.3)
        if val_curve:
            xs, ys = zip(*val_curve)
            right.plot(xs, ys, marker="o", color="tab:green")
        right.set_ylim(0, 1.02)
        right.set_xlabel(_say(lang, "picture_step"))
        right.set_ylabel(_say(lang, "picture_validation_accuracy"))
        right.grid(alpha=0.3)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path)


def attention_heatmap(weights, row_labels: Sequence[str], column_labels: Sequence[str], path: Path,
                      title: str = "", lang: str = "en", dpi: int = CHART_DPI) -> Path:
    """One heatmap per head: ``weights (h, rows, columns)``."""
    lang = words_lang(lang)
    heads = weights.shape[0]
    with style(lang):
        # constrained: a two-line title (whose code drew it) keeps clear of the heads' titles
        fig, axes = plt.subplots(1, heads, figsize=(3.4 * heads + 1.4, 4.6), squeeze=False, layout="constrained")
        for head, ax in enumerate(axes[0]):
            image = ax.imshow(weights[head], vmin=0.0, vmax=1.0, cmap="viridis")
            ax.set_title(_say(lang, "picture_head", head=head))
            ax.set_xticks(range(len(column_labels)), column_labels)
            ax.set_yticks(range(len(row_labels)), row_labels if head == 0 else [""] * len(row_labels))
            ax.set_xlabel(_say(lang, "picture_source"))
            if head == 0:
                ax.set_ylabel(_say(lang, "picture_predicting_after"))
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label=_say(lang, "picture_attention_weight"))
        if title:
            fig.suptitle(title)
        return _save(fig, path, dpi)


def _save(fig, path: Path, dpi: int = CHART_DPI) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def score_histogram(totals: Sequence[float], max_score: float, path: Path, title: str = "") -> Path:
    """How many submissions got each total score (the class's ``scores_histogram.png``)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    top = max(float(max_score), max(totals, default=0.0), 1.0)
    bins = [top * i / 20 for i in range(21)]
    ax.hist(list(totals), bins=bins, color="tab:blue", edgecolor="white")
    mean = sum(totals) / len(totals) if totals else 0.0
    ax.axvline(mean, color="tab:red", linestyle="--", linewidth=1.2, label=f"mean {mean:.3g}")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"total score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center")
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def pass_rate_chart(exercise_ids: Sequence[str], rates: Sequence[float], path: Path, title: str = "") -> Path:
    """Per exercise, in course order from top to bottom, the fraction of submissions that
    passed it (the class's ``pass_rates.png``): the bars that stop short are the
    concepts the class missed."""
    count = len(exercise_ids)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.28 * max(count, 1)))
    positions = list(range(count))
    colors = ["tab:green" if r >= 0.8 else "tab:orange" if r >= 0.5 else "tab:red" for r in rates]
    ax.barh(positions, list(rates), color=colors)
    for y, rate in zip(positions, rates):
        ax.text(min(rate, 1.0) + 0.01, y, f"{rate:.0%}", va="center", fontsize=8)
    ax.set_yticks(positions, list(exercise_ids), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("fraction of submissions that passed")
    ax.grid(alpha=0.3, axis="x")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------- `course show`'s pictures

def gradient_norm_curves(curves: dict[str, Sequence[float]], path: Path, title: str = "",
                         lang: str = "en") -> Path:
    """``||dL/dh_t||`` against the time step t, one line per network, on a log scale
    (``course show vanishing``): a straight falling line is a geometric decay. The
    curves' labels are shown as they are given."""
    lang = words_lang(lang)
    with style(lang):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for label, norms in curves.items():
            ax.plot(range(len(norms)), list(norms), marker=".", markersize=4, linewidth=1.4, label=label)
        ax.set_yscale("log")
        ax.set_xlabel(_say(lang, "picture_vanishing_x"))
        ax.set_ylabel(_say(lang, "picture_vanishing_y"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right", fontsize=8)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path, DPI)


def positional_encoding_chart(encoding, path: Path, dims: Sequence[int] = (0, 8, 16, 24),
                              title: str = "", lang: str = "en") -> Path:
    """The encoding ``(max_len, d_model)`` as a heat map (positions down, dimensions across)
    and a few of its dimensions as curves over the positions (``course show positional``)."""
    lang = words_lang(lang)
    with style(lang):
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.1, 1]})
        image = left.imshow(encoding, aspect="auto", cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
        left.set_xlabel(_say(lang, "picture_dimension"))
        left.set_ylabel(_say(lang, "picture_position"))
        fig.colorbar(image, ax=left, shrink=0.85)
        for dim in [d for d in dims if d < encoding.shape[1]]:
            kind = "sin" if dim % 2 == 0 else "cos"
            right.plot(encoding[:, dim], linewidth=1.3, label=_say(lang, "picture_dimension_curve", dim=dim, kind=kind))
        right.set_xlabel(_say(lang, "picture_position"))
        right.set_ylabel(_say(lang, "picture_value"))
        right.set_ylim(-1.1, 1.45)
        right.grid(alpha=0.3)
        right.legend(loc="upper center", fontsize=8, ncol=len(dims), handlelength=1.5)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path, DPI)


def relative_bias_chart(buckets, learned, alibi, path: Path, title: str = "", lang: str = "en") -> Path:
    """Relative position biases over query (down) and key (across) positions (``course show
    relative``): top left, the bucket of every pair; top row, a T5 bias per head
    ``learned (h, T, T)``; bottom row, ALiBi's bias per head ``alibi (h, T, T)`` with the
    future (k > q), which the causal mask hides, left blank, and at the bottom left ALiBi's
    bias of the last query against the key position, one line per head."""
    import numpy as np

    lang = words_lang(lang)
    heads, length = learned.shape[0], buckets.shape[0]
    future = np.triu(np.ones((length, length), dtype=bool), k=1)
    with style(lang):
        fig, axes = plt.subplots(2, heads + 1, figsize=(3.0 * (heads + 1) + 2.0, 6.6), squeeze=False)
        fig.subplots_adjust(wspace=0.45, hspace=0.35)
        image = axes[0][0].imshow(buckets, cmap="viridis", interpolation="nearest")
        axes[0][0].set_title(_say(lang, "picture_relative_buckets"), fontsize=9)
        fig.colorbar(image, ax=axes[0][0], shrink=0.8, label=_say(lang, "picture_relative_bucket"))
        limit = float(np.abs(learned).max()) or 1.0
        for head in range(heads):
            image = axes[0][head + 1].imshow(learned[head], cmap="RdBu_r", vmin=-limit, vmax=limit,
                                             interpolation="nearest")
            axes[0][head + 1].set_title(_say(lang, "picture_relative_t5_head", head=head), fontsize=9)
        fig.colorbar(image, ax=axes[0][1:].tolist(), shrink=0.8, label=_say(lang, "picture_relative_bias"))
        lowest = float(alibi[:, ~future].min()) if (~future).any() else -1.0
        for head in range(heads):
            shown = np.where(future, np.nan, alibi[head])
            image = axes[1][head + 1].imshow(shown, cmap="magma", vmin=lowest, vmax=0.0, interpolation="nearest")
            slope = -alibi[head, 1, 0] if length > 1 else 0.0
            axes[1][head + 1].set_title(_say(lang, "picture_relative_alibi_head", head=head, slope=f"{slope:.3g}"),
                                        fontsize=9)
        fig.colorbar(image, ax=axes[1][1:].tolist(), shrink=0.8, label=_say(lang, "picture_relative_bias"))
        curves = axes[1][0]
        for head in range(heads):
            curves.plot(range(length), alibi[head, -1], linewidth=1.3, label=_say(lang, "picture_head", head=head))
        curves.set_xlabel(_say(lang, "picture_key"), fontsize=8)
        curves.set_ylabel(_say(lang, "picture_relative_bias"), fontsize=8)
        curves.set_title(_say(lang, "picture_relative_alibi_row", query=length - 1), fontsize=9)
        curves.grid(alpha=0.3)
        curves.legend(fontsize=7)
        for row in range(2):
            first = 1 if row else 0                      # the bottom row starts with the curves
            for ax in axes[row][first:]:
                ax.set_xlabel(_say(lang, "picture_key"), fontsize=8)
            axes[row][first].set_ylabel(_say(lang, "picture_query"), fontsize=8)
        if title:
            fig.suptitle(title)
        return _save(fig, path, DPI)


def mask_grid(panels: Sequence[Sequence[tuple[str, object]]], row_titles: Sequence[str],
              query_labels: Sequence[Sequence[str]], key_labels: Sequence[Sequence[str]], path: Path,
              title: str = "", lang: str = "en") -> Path:
    """Boolean masks ``(T_q, T_k)`` drawn as grids, True (may attend) filled: one row of
    panels per sequence, ``panels[row] = [(name, mask), ...]`` (``course show masks``)."""
    lang = words_lang(lang)
    rows, columns = len(panels), max(len(row) for row in panels)
    with style(lang):
        fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 3.0 * rows + 0.4), squeeze=False)
        for r, row in enumerate(panels):
            for c, (name, mask) in enumerate(row):
                ax = axes[r][c]
                ax.imshow(mask, cmap="Greens", vmin=0, vmax=1.25, interpolation="nearest")
                ax.set_xticks(range(len(key_labels[r])), key_labels[r], rotation=60, fontsize=7)
                ax.set_yticks(range(len(query_labels[r])), query_labels[r], fontsize=7)
                ax.set_xticks([x - 0.5 for x in range(len(key_labels[r]) + 1)], minor=True)
                ax.set_yticks([y - 0.5 for y in range(len(query_labels[r]) + 1)], minor=True)
                ax.grid(which="minor", color="white", linewidth=1.0)
                ax.tick_params(which="minor", length=0)
                ax.set_title(f"{name}", fontsize=9)
                if c == 0:
                    ax.set_ylabel(f"{row_titles[r]}\n{_say(lang, 'picture_query')}", fontsize=8)
                ax.set_xlabel(_say(lang, "picture_key"), fontsize=8)
            for c in range(len(row), columns):
                axes[r][c].axis("off")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path, DPI)


def self_attention_heads(weights, tokens: Sequence[str], head_titles: Sequence[str], path: Path,
                         title: str = "", lang: str = "en") -> Path:
    """One heat map per head of self-attention weights ``(h, T, T)`` over one sentence:
    rows are the words that look (queries), columns the words they look at (keys)."""
    lang = words_lang(lang)
    heads = weights.shape[0]
    with style(lang):
        fig, axes = plt.subplots(1, heads, figsize=(3.0 * heads + 1, 3.6), squeeze=False)
        for head, ax in enumerate(axes[0]):
            image = ax.imshow(weights[head], vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
            name = _say(lang, "picture_head", head=head)
            ax.set_title(f"{name}: {head_titles[head]}" if head < len(head_titles) else name, fontsize=9)
            ax.set_xticks(range(len(tokens)), tokens, rotation=70, fontsize=7)
            ax.set_yticks(range(len(tokens)), tokens if head == 0 else [""] * len(tokens), fontsize=7)
            ax.set_xlabel(_say(lang, "picture_looks_at"), fontsize=8)
            if head == 0:
                ax.set_ylabel(_say(lang, "picture_word_query"), fontsize=8)
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label=_say(lang, "picture_attention_weight"))
        if title:
            fig.suptitle(title)
        return _save(fig, path, DPI)


def bottleneck_chart(lengths: Sequence[int], curves: dict[str, Sequence[float]], weights,
                     row_labels: Sequence[str], column_labels: Sequence[str], path: Path, title: str = "",
                     lang: str = "en") -> Path:
    """Left, each model's held-out exact-match accuracy against the source length, one
    line per model (``curves``, labelled as given); right, the attention weights
    ``(rows, columns)`` of one string, output digits down, source digits across
    (``course show bottleneck``)."""
    from matplotlib.ticker import PercentFormatter

    lang = words_lang(lang)
    with style(lang):
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1]})
        for (label, accuracy), marker, color in zip(curves.items(), "os^", ("tab:red", "tab:blue", "tab:green")):
            left.plot(list(lengths), list(accuracy), marker=marker, linewidth=1.8, color=color, label=label)
            left.annotate(f"{accuracy[-1]:.0%}", (lengths[-1], accuracy[-1]), textcoords="offset points",
                          xytext=(6, 0), va="center", fontsize=8, color=color)
        left.set_xticks(list(lengths))
        left.set_xlim(min(lengths) - 0.5, max(lengths) + 1.2)
        left.set_ylim(-0.03, 1.05)
        left.yaxis.set_major_formatter(PercentFormatter(1.0))
        left.set_xlabel(_say(lang, "picture_bottleneck_length"))
        left.set_ylabel(_say(lang, "picture_bottleneck_accuracy"))
        left.set_title(_say(lang, "picture_bottleneck_accuracy_title"), fontsize=10)
        left.grid(alpha=0.3)
        left.legend(loc="lower left", fontsize=9)
        image = right.imshow(weights, vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
        right.set_xticks(range(len(column_labels)), column_labels, fontsize=8)
        right.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
        right.set_xlabel(_say(lang, "picture_source"))
        right.set_ylabel(_say(lang, "picture_bottleneck_output"))
        right.set_title(_say(lang, "picture_bottleneck_alignment_title", digits=len(column_labels)), fontsize=10)
        fig.colorbar(image, ax=right, shrink=0.85, label=_say(lang, "picture_attention_weight"))
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path, DPI)


def sampling_bars(words: Sequence[str], panels: Sequence[tuple[str, Sequence[float], Sequence[float]]], path: Path,
                  draws: int, title: str = "", lang: str = "en") -> Path:
    """One next-token distribution reshaped several ways (``course show sampling``): a panel
    per ``(label, probabilities, frequencies)``, the exact probabilities as bars (grey where
    a filter removed the token) and the frequencies of ``draws`` samples as dots."""
    import numpy as np

    lang = words_lang(lang)
    columns = 3
    rows = (len(panels) + columns - 1) // columns
    top = max(max(max(p), max(f)) for _, p, f in panels) * 1.12
    with style(lang):
        fig, axes = plt.subplots(rows, columns, figsize=(13, 3.4 * rows), squeeze=False, sharey=True)
        xs = np.arange(len(words))
        for ax, (label, probs, freqs) in zip(axes.flat, panels):
            probs, freqs = np.asarray(probs, dtype=float), np.asarray(freqs, dtype=float)
            colors = ["tab:blue" if p > 0 else "lightgrey" for p in probs]
            ax.bar(xs, np.where(probs > 0, probs, top * 0.015), color=colors,
                   label=_say(lang, "picture_sampling_bars"))
            ax.plot(xs, freqs, "o", color="tab:orange", markersize=4.5,
                    label=_say(lang, "picture_sampling_drawn", draws=draws))
            kept = int((probs > 0).sum())
            ax.set_title(f"{label}  ({_say(lang, 'picture_sampling_kept', kept=kept, total=len(words))})", fontsize=10)
            ax.set_xticks(xs, list(words), rotation=45, fontsize=8)
            ax.set_ylim(0, top)
            ax.grid(axis="y", alpha=0.3)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax in axes[:, 0]:
            ax.set_ylabel(_say(lang, "picture_sampling_probability"))
        axes.flat[0].legend(loc="upper right", fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return _save(fig, path, DPI)


def cls_attention_grid(images, maps, rows: Sequence[str], layer_titles: Sequence[str], path: Path,
                       title: str = "", lang: str = "en") -> Path:
    """A row per image (``course show vit``): the image ``images (K, S, S)`` (grey), then
    the [CLS] token's attention over its patches in each layer, ``maps (K, L, g, g)``, on
    the patch grid; ``rows`` label the images, ``layer_titles`` the layers."""
    lang = words_lang(lang)
    count, layers = maps.shape[0], maps.shape[1]
    with style(lang):
        fig, axes = plt.subplots(count, layers + 1, figsize=(2.9 * (layers + 1) + 1.2, 2.5 * count), squeeze=False)
        top = max(float(maps.max()), 1e-9)
        for k in range(count):
            ax = axes[k][0]
            ax.imshow(images[k], cmap="gray", interpolation="nearest")
            ax.set_ylabel(rows[k], fontsize=9)
            if k == 0:
                ax.set_title(_say(lang, "picture_vit_image"), fontsize=10)
            for layer in range(layers):
                ax = axes[k][layer + 1]
                shown = ax.imshow(maps[k, layer], vmin=0.0, vmax=top, cmap="viridis", interpolation="nearest")
                if k == 0:
                    ax.set_title(layer_titles[layer], fontsize=10)
            for ax in axes[k]:
                ax.set_xticks([])
                ax.set_yticks([])
        fig.colorbar(shown, ax=[a for row in axes for a in row[1:]], shrink=0.8,
                     label=_say(lang, "picture_attention_weight"))
        if title:
            fig.suptitle(title)
        return _save(fig, path, DPI)
