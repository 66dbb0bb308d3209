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

A search with ``cv=K`` trained every trial on K folds. Without ``texts`` the selection then runs
on out-of-fold predictions: fold model k of a trial predicts fold k's validation examples, the
K folds together cover every training example once, and the selection sees all N of them
instead of one fold's N / K (less noise to overfit). Each member is then that trial's K fold
models averaged, P_m = 1/K Σ_k P_{m,k}, for new inputs.

    import rnnkit.search
    results = rnnkit.search.run("classify", data="train.csv", space=..., out="runs/search")
    ensemble = rnnkit.search.select_ensemble(results, val_texts, val_labels, size=10)
    ensemble.predict(["a new text"]), ensemble.weights
    results = rnnkit.search.run(..., cv=3)
    ensemble = rnnkit.search.select_ensemble(results, size=10)  # out-of-fold
    seeds = rnnkit.search.Ensemble.average(["runs/seed0", "runs/seed1", "runs/seed2"])
"""

from __future__ import annotations

import json
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

    @classmethod
    def average(cls, runs: Sequence[str]) -> Ensemble:
        """The classifiers saved in ``runs`` (e.g. one setting trained with several seeds),
        equally weighted: no selection, so ``val_accuracy`` is NaN."""
        if not runs:
            raise UserError("an ensemble needs at least one run folder, got none")
        models = _loaded(runs)
        weights = np.full(len(models), 1 / len(models))  # (M,)
        return cls(models, weights, runs=[str(run) for run in runs], val_accuracy=float("nan"))

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
    texts: Sequence[str] | None = None,
    labels: Sequence[Any] | None = None,
    *,
    size: int = 10,
    candidates: int = 20,
) -> Ensemble:
    """An ``Ensemble`` of the best ``candidates`` complete trials of a classification search
    (``results``: what ``rnnkit.search.run`` returns), weighted by greedy selection over
    ``size`` picks on the validation ``texts`` and ``labels`` (each trial's first-fold model);
    or, without them, of a cross-validated search (``cv > 1``) on the out-of-fold predictions
    of each trial's fold models (module docstring), whose averages are then the members."""
    if results.get("direction") == "minimize":
        raise UserError(
            f"ensemble selection averages class probabilities; expected a classification "
            f"search that maximises its metric, got {results.get('metric')} minimised"
        )
    rows = [r for r in results["trials"] if r["state"] == "complete" and r.get("run")]
    if not rows:
        raise UserError("the search has no complete trial with a run folder to ensemble")
    rows = rows[:candidates]  # trial_rows: best first
    if texts is None:
        return _out_of_fold(rows, size)
    if labels is None or len(labels) != len(texts):
        raise UserError("expected validation texts and as many labels, or neither (cv > 1)")
    models = _loaded([row["run"] for row in rows])
    y = _class_indices(models[0].classes_, labels)
    probabilities = [np.asarray(m.predict_proba(list(texts))) for m in models]
    return _selected(models, [row["run"] for row in rows], probabilities, y, size)


def _out_of_fold(rows: list[Mapping[str, Any]], size: int) -> Ensemble:
    """Selection on each trial's out-of-fold predictions; members average the fold models."""
    if any(not row.get("fold_runs") for row in rows):
        raise UserError(
            "out-of-fold selection needs a cross-validated search (cv > 1: every trial's fold "
            "models); expected that, or validation texts and labels"
        )
    members, probabilities, reference, read = [], [], None, {}
    for row in rows:
        member = Ensemble.average(row["fold_runs"])  # its fold models, equally weighted
        # (texts, labels) each fold model validated on, as it was trained
        splits = [_validation(model.settings["data"], row, read) for model in member.models]
        if reference is None:
            reference = splits
        elif splits != reference:
            raise UserError(
                f"trial {row['number']} validated on other folds than trial "
                f"{rows[0]['number']}; expected one cross-validation cut for every trial"
            )
        members.append(member)
        folds = zip(member.models, splits, strict=True)
        # (N, C): every training example, predicted by the fold model that did not train on it
        probabilities.append(np.concatenate([m.predict_proba(t) for m, (t, _) in folds]))
    y = _class_indices(members[0].classes_, [label for _, fold in reference for label in fold])
    for member, p in zip(members, probabilities, strict=True):
        member.val_accuracy = float((p.argmax(axis=1) == y).mean())
    return _selected(members, [row["run"] for row in rows], probabilities, y, size)


def _validation(
    data: Any, row: Mapping[str, Any], read: dict[str, tuple[list[str], list[Any]]]
) -> tuple[list[str], list[Any]]:
    """The validation (texts, labels) of a fold model's data settings, read once for each
    distinct setting (``read`` keeps them: the trials of a search share their folds)."""
    from rnnkit.tasks.classify.data import load_splits

    if not data.source:
        raise UserError(
            f"{row['run']} was trained on in-memory data: its validation folds cannot be read "
            "again; expected validation texts and labels"
        )
    key = json.dumps(data.to_dict(), sort_keys=True, default=str)
    if key not in read:
        val = load_splits(data)["val"]
        read[key] = (list(val.texts), list(val.labels))
    return read[key]


def _loaded(runs: Sequence[str]) -> list[Any]:
    """The classifiers saved in ``runs``; they must share their classes."""
    import rnnkit

    models = [rnnkit.load(run) for run in runs]
    classes = [list(np.asarray(m.classes_)) for m in models]
    if any(c != classes[0] for c in classes):
        raise UserError(f"the trials' classes differ ({classes[0]} vs others); expected the same")
    return models


def _class_indices(classes: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
    """Each label's column in ``classes`` (N,); an unknown label is a UserError."""
    index = {label: i for i, label in enumerate(np.asarray(classes).tolist())}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise UserError(f"validation labels {unknown[:5]} are not among the classes {classes}")
    return np.array([index[label] for label in labels])


def _selected(
    models: list[Any], runs: list[str], probabilities: list[np.ndarray], y: np.ndarray, size: int
) -> Ensemble:
    """The greedy weights of ``models`` from their validation ``probabilities`` of ``y``."""
    weights = ensemble_weights(probabilities, y, size)
    mixed = np.tensordot(weights, np.stack(probabilities), axes=1)  # (N, C)
    accuracy = float((mixed.argmax(axis=1) == y).mean())
    return Ensemble(models=models, weights=weights, runs=runs, val_accuracy=accuracy)
