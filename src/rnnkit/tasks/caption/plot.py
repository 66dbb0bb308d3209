"""The attention picture of one caption, as in Xu et al. (2015)'s figures: the image, then one
panel per generated word with that word's attention over the G x G regions laid over the image
(upsampled smoothly to the image's size)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from rnnkit.atomic import atomic_path
from rnnkit.tasks.caption.decode import Caption

__all__ = ["save_attention_plot"]

logger = logging.getLogger(__name__)


def save_attention_plot(image: np.ndarray, caption: Caption, path: Path, columns: int = 5) -> bool:
    """Draw ``image (S, S, 3)`` uint8 and each word's attention of ``caption`` into ``path``
    (PNG); False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed: no attention plot (pip install rnnkit[plot])")
        return False
    weights = caption.attention.numpy()  # (T, L)
    words = [w.replace("▁", "") or "▁" for w in caption.tokens] + ["<eos>"]
    words = words[: len(weights)]
    grid = int(round(math.sqrt(weights.shape[1])))
    size = image.shape[0]
    panels = 1 + len(words)
    rows = -(-panels // columns)
    figure = Figure(figsize=(2.2 * columns, 2.4 * rows))
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
    figure.suptitle(f"{title}  (logprob {caption.log_prob:.2f})", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return True
