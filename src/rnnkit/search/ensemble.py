"""Ensemble selection from a search's trials (Caruana et al. 2004): the trained trials of a
classification search, averaged, usually beat the best one alone.

Greedy forward selection with replacement on a validation split. With P_m (N, C) the class
probabilities of trial m and w the pick counts, the ensemble predicts

    P = Σ_m w_m P_m / Σ_m w_m

Start from the best single trial; at each of ``size - 1`` rounds add the trial (one already in
may be added again) whose pick gives the best validation accuracy, ties broken by the lower
mean negative log-likelihood -1/N Σ_i log P[i, y_i]. A trial picked k times weighs k / size.
The validation split that selects the trials is the one that selected their epochs: its
accuracy flatters the ensemble; score it once on a test split.

    import rnnkit.search
    results = rnnkit.search.run("classify", data="train.csv", space=..., out="runs/search")
    ensemble = rnnkit.search.select_ensemble(results, val_texts, val_labels, size=10)
    ensemble.predict(["a new text"]), ensemble.weights
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.errors import UserError

__all__ = ["Ensemble", "ensemble_weights", "select_ensemble"]

TINY = 1e-12  # floor of a probability inside the log


def ensemble_weights(
    probabilities: Sequence[np.ndarray], labels: np.ndarray, size: int
) -> np.ndarray:
    """Greedy selection with replacement (module docstring): the weights (M,), summing to 1, of
    the models whose validation probabilities are ``probabilities`` (M arrays (N, C)) for the
    class indices ``labels`` (N,)."""
    if size < 1:
        raise UserError(f"an ensemble needs size >= 1, got {size}")
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])  # (M, N, C)
    if stack.ndim != 3 or len(stack) == 0 or stack.shape[1] != len(labels):
        raise UserError(
            f"expected M >= 1 probability arrays (N, C) with N = {len(labels)} labels, got "
            f"shape {stack.shape}"
        )
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    counts = np.zeros(len(stack), dtype=np.int64)
    total = np.zeros(stack.shape[1:])  # Σ of the picked models' probabilities, (N, C)
    for picked in range(size):
        candidates = (total + stack) / (picked + 1)  # (M, N, C): each model added
        accuracy = (candidates.argmax(axis=2) == labels).mean(axis=1)  # (M,)
        nll = -np.log(np.maximum(candidates[:, rows, labels], TINY)).mean(axis=1)  # (M,)
        best = int(np.lexsort((nll, -accuracy))[0])  # highest accuracy, then lowest NLL
        counts[best] += 1
        total += stack[best]
    return counts / size


@dataclass
class Ensemble:
    """Trained classifiers (``rnnkit.TextClassifier`` or anything with ``classes_`` and
    ``predict_proba``) and their weights: ``predict_proba`` is the weighted mean."""

    models: list[Any]
    weights: np.ndarray  # (M,), summing to 1
    runs: list[str]  # each model's run folder
    val_accuracy: float  # on the split that selected the weights (optimistic)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.models[0].classes_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The weighted mean of the models' class probabilities (N, C), ``classes_`` order."""
        total = None
        for model, weight in zip(self.models, self.weights, strict=True):
            if weight > 0:
                part = weight * np.asarray(model.predict_proba(list(texts)), dtype=np.float64)
                total = part if total is None else total + part
        return total

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable label of each text (N,)."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def summary(self) -> list[dict[str, Any]]:
        """The picked runs and their weights, heaviest first."""
        picked = [(w, r) for w, r in zip(self.weights, self.runs, strict=True) if w > 0]
        return [{"run": r, "weight": float(w)} for w, r in sorted(picked, reverse=True)]


def select_ensemble(
    results: Mapping[str, Any],
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    size: int = 10,
    candidates: int = 20,
) -> Ensemble:
    """An ``Ensemble`` of the best ``candidates`` complete trials of a classification search
    (``results``: what ``rnnkit.search.run`` returns), weighted by greedy selection over
    ``size`` picks on the validation ``texts`` and ``labels``."""
    import rnnkit

    rows = [r for r in results["trials"] if r["state"] == "complete" and r.get("run")]
    if results.get("direction") == "minimize":
        raise UserError(
            f"ensemble selection averages class probabilities; expected a classification "
            f"search that maximises its metric, got {results.get('metric')} minimised"
        )
    if not rows:
        raise UserError("the search has no complete trial with a run folder to ensemble")
    runs = [row["run"] for row in rows[:candidates]]  # trial_rows: best first
    models = [rnnkit.load(run) for run in runs]
    classes = [list(np.asarray(m.classes_)) for m in models]
    if any(c != classes[0] for c in classes):
        raise UserError(f"the trials' classes differ ({classes[0]} vs others); expected the same")
    index = {label: i for i, label in enumerate(classes[0])}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise UserError(f"validation labels {unknown[:5]} are not among the classes {classes[0]}")
    y = np.array([index[label] for label in labels])
    probabilities = [np.asarray(m.predict_proba(list(texts))) for m in models]
    weights = ensemble_weights(probabilities, y, size)
    mixed = np.tensordot(weights, np.stack(probabilities), axes=1)  # (N, C)
    accuracy = float((mixed.argmax(axis=1) == y).mean())
    return Ensemble(models=models, weights=weights, runs=runs, val_accuracy=accuracy)
