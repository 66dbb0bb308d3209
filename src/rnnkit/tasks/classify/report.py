"""Reports for people: a classifier's evaluation (metrics, a confusion matrix as a text table and
as a picture), shared by the tasks that classify (texts, recordings)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from rnnkit.atomic import atomic_path
from rnnkit.train.metrics import confusion_matrix

__all__ = ["confusion_table", "evaluation_report", "prediction_rows", "save_confusion_plot"]

logger = logging.getLogger(__name__)


def prediction_rows(inputs: list[Any], probabilities: Any, classes: Any) -> list[dict[str, Any]]:
    """One JSON-ready dict per input (what ``rnnkit predict --json`` prints): the input, its most
    probable label and every class's probability; ``probabilities`` (N, C) in ``classes`` order."""
    return [
        {
            "input": item,
            "label": classes[int(p.argmax())],
            "probabilities": {str(c): round(float(q), 6) for c, q in zip(classes, p)},
        }
        for item, p in zip(inputs, probabilities)
    ]


def confusion_table(matrix: torch.Tensor, classes: list[str]) -> str:
    """Rows are the true classes, columns the predicted ones, with per-class recall."""
    width = max(8, *(len(c) for c in classes))
    header = "true \\ predicted".ljust(width + 2) + "".join(c.rjust(width + 2) for c in classes)
    lines = [header + "recall".rjust(9)]
    for name, row in zip(classes, matrix.tolist()):
        total = sum(row)
        recall = row[classes.index(name)] / total if total else float("nan")
        cells = "".join(str(v).rjust(width + 2) for v in row)
        lines.append(name.ljust(width + 2) + cells + f"{recall:9.3f}")
    return "\n".join(lines)


def save_confusion_plot(matrix: torch.Tensor, classes: list[str], path: Path, title: str) -> bool:
    """Draw the matrix as a heat map with counts into ``path``; False if matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info(
            "matplotlib is not installed: no confusion matrix plot (pip install rnnkit[plot])"
        )
        return False
    counts = matrix.numpy()
    size = 2.0 + 0.7 * len(classes)
    figure = Figure(figsize=(size + 1, size))
    ax = figure.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=ax)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            dark = counts[i, j] > counts.max() / 2
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                color="white" if dark else "black",
            )
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return True


def evaluation_report(
    scores: dict[str, Any],
    logits: torch.Tensor,
    targets: torch.Tensor,
    classes: list[str],
    *,
    where: str,
    split: str,
    unit: str,
    plot: Path | None = None,
) -> dict[str, Any]:
    """The dict ``evaluate`` returns (and ``rnnkit evaluate --json`` prints): the objective's
    ``scores`` (loss, accuracy, macro-F1, ...) of ``logits`` (N, C) against ``targets`` (N,),
    the confusion matrix, the plot drawn into ``plot`` (when given), and a text report that
    counts the examples in ``unit`` ("examples", "recordings")."""
    matrix = confusion_matrix(logits, targets, len(classes))  # (C, C)
    drawn = plot is not None and save_confusion_plot(
        matrix, classes, Path(plot), title=f"{where}, {split}"
    )
    metrics = {
        "split": split,
        "data": where,
        "n": len(targets),
        **scores,
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "plot": str(plot) if drawn else None,
    }
    metrics["report"] = (
        f"{where}, {split}: {metrics['n']} {unit}\n"
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"loss {metrics['loss']:.4f}\n\n{confusion_table(matrix, classes)}"
        + (f"\n\nconfusion matrix plot: {plot}" if drawn else "")
    )
    return metrics
