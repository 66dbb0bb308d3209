"""The attention picture of one caption, as in Xu et al. (2015)'s figures: the image, then one
panel per generated word (subword pieces joined, their maps averaged) with that word's attention
over the G x G regions laid over the image (upsampled smoothly to the image's size). Each map is
scaled to its own maximum, so a nearly uniform map shows as a nearly even veil; the title's
second line gives the weights' range against the uniform 1 / L, so the scale is never hidden."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.tasks.caption.decode import Caption

__all__ = ["save_attention_plot", "whole_words"]

logger = logging.getLogger(__name__)


def whole_words(tokens: list[str], attention: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One panel's word and map each: subword pieces (a piece starting with "▁" begins a word,
    the others continue it) joined into their word, whose map is the mean of its pieces' maps;
    then "<eos>" where ``attention (T, L)`` has its step. Word tokens stay as they are."""
    pieces = any(token.startswith("▁") for token in tokens)
    words: list[str] = []
    spans: list[list[int]] = []  # the attention rows of each word
    for t, token in enumerate(tokens[: len(attention)]):
        if not pieces or token.startswith("▁") or not words:
            words.append(token.removeprefix("▁") or "▁")
            spans.append([t])
        else:
            words[-1] += token
            spans[-1].append(t)
    if len(attention) > len(tokens):
        words.append("<eos>")
        spans.append([len(tokens)])
    merged = np.stack([attention[rows].mean(axis=0) for rows in spans]) if spans else attention
    return words, merged  # (W, L)


def save_attention_plot(image: np.ndarray, caption: Caption, path: Path, columns: int = 6) -> bool:
    """Draw ``image (S, S, 3)`` uint8 and each word's attention of ``caption`` into ``path``
    (PNG); False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed: no attention plot (pip install rnnkit[plot])")
        return False
    words, weights = whole_words(caption.tokens, caption.attention.numpy())  # (W, L)
    grid = int(round(math.sqrt(weights.shape[1])))
    size = image.shape[0]
    panels = 1 + len(words)
    rows = -(-panels // columns)
    figure = Figure(figsize=(1.8 * columns, 2.2 * rows + 0.3))
    for k in range(panels):
        ax = figure.add_subplot(rows, columns, k + 1)
        ax.imshow(image)
        ax.set_axis_off()
        if k == 0:
            ax.set_title("image", fontsize=9)
            continue
        alpha = weights[k - 1].reshape(grid, grid)  # (G, G)
        ax.imshow(alpha / max(float(alpha.max()), 1e-8), cmap="Greys_r", alpha=0.6,
                  extent=(-0.5, size - 0.5, size - 0.5, -0.5), interpolation="bicubic")  # fmt: skip
        ax.set_title(words[k - 1], fontsize=10)
    title = caption.text if len(caption.text) < 90 else caption.text[:89] + "…"
    regions = weights.shape[1]  # L
    spread = (f"attention weights {weights.min():.3f}–{weights.max():.3f} (uniform 1/{regions} "
              f"= {1 / regions:.3f}); each map scaled to its maximum")  # fmt: skip
    figure.suptitle(f"{title}  (logprob {caption.log_prob:.2f})\n{spread}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=72)
    return True
