"""Pictures written as PNG files (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def training_curves(losses: Sequence[float], val_curve: Sequence[tuple[int, float]], path: Path,
                    title: str = "") -> Path:
    """Training loss per step (log scale) and validation accuracy over the steps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = range(1, len(losses) + 1)
    left.plot(steps, losses, linewidth=0.8, color="tab:blue")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("training loss (cross-entropy)")
    left.grid(alpha=0.3)
    if val_curve:
        xs, ys = zip(*val_curve)
        right.plot(xs, ys, marker="o", color="tab:green")
    right.set_ylim(0, 1.02)
    right.set_xlabel("step")
    right.set_ylabel("held-out exact-sequence accuracy")
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def attention_heatmap(weights, row_labels: Sequence[str], column_labels: Sequence[str], path: Path,
                      title: str = "") -> Path:
    """One heatmap per head: ``weights (h, rows, columns)``."""
    heads = weights.shape[0]
    fig, axes = plt.subplots(1, heads, figsize=(2.6 * heads + 1, 3.2), squeeze=False)
    for head, ax in enumerate(axes[0]):
        image = ax.imshow(weights[head], vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(f"head {head}")
        ax.set_xticks(range(len(column_labels)), column_labels)
        ax.set_yticks(range(len(row_labels)), row_labels if head == 0 else [""] * len(row_labels))
        ax.set_xlabel("source")
        if head == 0:
            ax.set_ylabel("predicting the token after")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def score_histogram(totals: Sequence[float], max_score: float, path: Path, title: str = "") -> Path:
    """How many submissions got each total score (``course grade``'s ``scores_histogram.png``)."""
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
    passed it (``course grade``'s ``pass_rates.png``): the bars that stop short are the
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
