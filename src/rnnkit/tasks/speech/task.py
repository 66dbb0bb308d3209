"""``SpeechClassifier``: many-to-one spoken-digit (or any spoken-word) recognition from WAV files:
MFCC or log-mel frames -> stacked (bi)RNN -> pooling over time -> the class."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnkit.data.audio import FeatureScaler, Recordings
from rnnkit.data.frame_batches import FrameBatches
from rnnkit.data.labels import LabelEncoder, check_num_classes, describe_labels
from rnnkit.data.registry import DATASETS
from rnnkit.data.splits import stratified_split
from rnnkit.errors import UserError
from rnnkit.models.speech import SpeechClassifierConfig, SpeechClassifierModel
from rnnkit.tasks.base import Task, duration, progress_bar
from rnnkit.tasks.classify.report import evaluation_report, prediction_rows
from rnnkit.tasks.speech.data import (
    SpeechData,
    SpeechSplit,
    extract_features,
    file_features,
    load_recordings,
    scaled,
    split_recordings,
)
from rnnkit.tasks.speech.objective import SpeechObjective
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["SpeechClassifier"]

logger = logging.getLogger(__name__)


@dataclass
class Preprocessing:
    """What is learned from the training split before the model: the classes and the feature
    standardisation."""

    labels: LabelEncoder
    scaler: FeatureScaler


def _in_memory(X: Any, y: Any, what: str) -> Recordings:
    """WAV paths ``X`` with one label each in ``y``."""
    if isinstance(X, (str, os.PathLike)) or y is None:
        raise UserError(f"{what}: expected a list of WAV file paths X and one label each y")
    paths = [Path(p) for p in (X.tolist() if hasattr(X, "tolist") else list(X))]
    labels = [str(v) for v in (y.tolist() if hasattr(y, "tolist") else list(y))]
    if len(paths) != len(labels):
        raise UserError(f"{what}: expected one label per file, got {len(paths)} files and "
                        f"{len(labels)} labels")  # fmt: skip
    return Recordings(paths, labels)


class SpeechClassifier(Task):
    """Train a spoken-word classifier: MFCC (+ deltas) or log-mel frames -> stacked (bi)RNN ->
    pooling -> linear.

    Data: --data fsdd (the Free Spoken Digit Dataset, found through $RNNKIT_DATA,
    ~/.cache/rnnkit, or downloaded), a folder of WAV files labelled by their names (--pattern),
    or a CSV of path,label(,speaker) rows. Splits: FSDD's official one (recordings 0-4 of
    every speaker and digit are test), --split speaker (one voice held out for test,
    --test-speaker), or a stratified random cut; validation is cut from train per speaker and
    label. Features are standardised with the training frames' statistics.

    The defaults are a 2-layer bidirectional GRU of 128 units with mean pooling, orthogonal
    recurrent weights, dropout 0.2, Adam and gradient-norm clipping at 5.

    Examples:
      rnnkit train speech --data fsdd --out runs/fsdd
      rnnkit train speech --data fsdd --split speaker --test-speaker theo --out runs/theo
      rnnkit evaluate runs/fsdd --split test
      rnnkit predict runs/fsdd recording.wav

    In Python::

      rec = rnnkit.SpeechClassifier(epochs=10).fit(data="fsdd")
      rec.predict(["7_jackson_0.wav"]); rec.save("runs/mine")
    """

    NAME: ClassVar[str] = "speech"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": SpeechData,
        "model": SpeechClassifierConfig,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=20, lr=2e-3, clip_norm=5.0, monitor="val_accuracy", mode="max", patience=5
    )
    FIXED: ClassVar[tuple[str, ...]] = ("source", "input_size", "num_classes")
    EVALUATION_PLOT: ClassVar[str] = "confusion"

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"input_size": 1, "num_classes": 2} if section == "model" else {}

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data) -> dict[str, SpeechSplit]:
        data = self.settings["data"]
        if X is not None:
            everything = _in_memory(X, y, "the training data")
            if validation_data is not None:
                raw = {
                    "train": everything,
                    "val": _in_memory(*validation_data, "the validation data"),
                }
            else:
                keep, cut = stratified_split(everything.labels, data.val_fraction,
                                             seed=data.split_seed)  # fmt: skip
                raw = {"train": everything.take(keep), "val": everything.take(cut)}
        else:
            raw = split_recordings(load_recordings(data), data)
        splits = {name: extract_features(raw[name], data, name) for name in ("train", "val")}
        check_num_classes(splits["train"].labels, source="the training split")
        return splits

    def fit_preprocessing(self, splits) -> Preprocessing:
        train = splits["train"]
        labels = LabelEncoder.fit(train.labels)
        scaler = FeatureScaler.fit(train.features)  # training frames only
        frames = sum(len(f) for f in train.features)
        logger.info("data: %d train, %d val recordings (%d training frames of %d features); "
                    "classes %s", len(train), len(splits["val"]), frames,
                    self.settings["data"].feature_size, list(labels.classes))  # fmt: skip
        return Preprocessing(labels, scaler)

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        artifacts = checkpoint.artifacts
        labels = LabelEncoder.from_dict(artifacts.get("labels"))
        scaler = FeatureScaler.from_dict(artifacts.get("scaler"))
        size = self.settings["data"].feature_size
        if len(scaler.mean) != size:
            raise UserError(f"{checkpoint.path}: the saved feature normalisation has "
                            f"{len(scaler.mean)} features; expected {size}")  # fmt: skip
        return Preprocessing(labels, scaler)

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        return {"labels": prep.labels.to_dict(), "scaler": prep.scaler.to_dict()}

    def build_model(self, prep: Preprocessing) -> nn.Module:
        sizes = {"input_size": self.settings["data"].feature_size, "num_classes": len(prep.labels)}
        self.settings["model"] = self.settings["model"].replace(**sizes)
        model = SpeechClassifierModel(self.settings["model"])
        logger.info("model: %s parameters", f"{sum(p.numel() for p in model.parameters()):,}")
        return model

    def _batches(self, split: SpeechSplit, prep: Preprocessing, **options) -> FrameBatches:
        self._check_labels(split.labels, prep, "this split")
        size = options.pop("batch_size", None) or self.settings["data"].batch_size
        targets = prep.labels.encode(split.labels)
        return FrameBatches(scaled(split, prep.scaler), targets, size, **options)

    def make_batches(self, splits, prep: Preprocessing):
        seed = self.settings["train"].seed or 0
        return (
            self._batches(splits["train"], prep, shuffle=True, seed=seed),
            self._batches(splits["val"], prep),
        )

    def make_objective(self, prep: Preprocessing) -> SpeechObjective:
        return SpeechObjective(len(prep.labels))

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s) in {duration(summary['train_time_s'])} "
            f"({summary['stop_reason']}); best epoch {summary['best_epoch']}: val accuracy "
            f"{summary.get('val_accuracy', float('nan')):.4f}, macro-F1 "
            f"{summary.get('val_macro_f1', float('nan')):.4f}, val loss "
            f"{summary.get('val_loss', float('nan')):.4f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} --split test"
        )

    # -- the loaded model ----------------------------------------------------------------------

    @staticmethod
    def _check_labels(labels: list[str], prep: Preprocessing, what: str) -> None:
        unknown = sorted(set(labels) - {str(c) for c in prep.labels.classes})
        if unknown:
            raise UserError(
                f"{what} has labels the model never saw: {describe_labels(unknown, 10)}; "
                f"expected only its {len(prep.labels)}: {describe_labels(prep.labels.classes, 10)}"
            )

    @property
    def classes_(self) -> list[Any]:
        """The class labels, in the order of ``predict_proba``'s columns."""
        self.require_model()
        return list(self.preprocessing.labels.classes)

    def _logits(self, features: list[torch.Tensor], batch_size: int | None = None) -> torch.Tensor:
        """Logits (N, C) of unstandardised feature frames, each (T, F)."""
        prep = self.preprocessing
        batches = FrameBatches(
            [prep.scaler(f) for f in features], [0] * len(features),
            batch_size or self.settings["data"].batch_size,
        )  # fmt: skip
        out = [torch.zeros(0, len(prep.labels))]
        with torch.no_grad():
            for batch in progress_bar(batches, "predict", self.verbose):
                out.append(self.model(batch.features.to(self.model_device), batch.lengths).cpu())
        return torch.cat(out).float()  # (N, C)

    def predict_proba(self, files: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (N, C) of each WAV file; columns in ``classes_`` order."""
        self.require_model()
        features = file_features(files, self.settings["data"])
        return torch.softmax(self._logits(features, batch_size), -1).numpy()

    def predict(self, files: Any, *, batch_size: int | None = None) -> list[Any]:
        """The most probable label of each WAV file."""
        probabilities = self.predict_proba(files, batch_size=batch_size)
        return [self.preprocessing.labels.classes[i] for i in probabilities.argmax(axis=1)]

    def predict_rows(self, inputs: Any) -> list[dict[str, Any]]:
        """Each file with its label and class probabilities (what `rnnkit predict` prints)."""
        files = [str(i) for i in inputs]
        probabilities, classes = self.predict_proba(files), self.preprocessing.labels.classes
        return prediction_rows(files, probabilities, classes)

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n".join(
            f"{row['label']}\t{row['probabilities'][str(row['label'])]:.3f}\t{row['input']}"
            for row in rows
        )

    def _evaluation_recordings(self, data: str | None, split: str) -> tuple[Recordings, str, str]:
        """(recordings, split name, where from): a folder or CSV given as ``data`` whole (split
        "all"); else ``split`` of the data, cut the way training cut it."""
        settings = self.settings["data"]
        if data is not None and data != settings.source and data not in DATASETS:
            return load_recordings(settings, data), "all", data
        if data is None and settings.source is None:
            raise UserError("the model was trained on in-memory data; expected files and labels "
                            "to evaluate (evaluate(X, y)) or data='NAME or PATH'")  # fmt: skip
        if split not in ("train", "val", "test"):
            raise UserError(f"unknown split {split!r}; expected train, val or test")
        source = data or settings.source
        return split_recordings(load_recordings(settings, source), settings)[split], split, source

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
        plot: str | Path | None = None,
    ) -> dict[str, Any]:
        """Loss, accuracy, macro-F1 and the confusion matrix of WAV paths ``X`` with labels
        ``y``, of a folder or CSV (``data``, scored whole), or of a split of the data."""
        self.require_model()
        prep, settings = self.preprocessing, self.settings["data"]
        if X is not None:
            recordings, name, where = _in_memory(X, y, "the evaluation data"), "all", "memory"
        else:
            recordings, name, where = self._evaluation_recordings(data, split)
        if not len(recordings):
            raise UserError(f"the {name} split of {where} is empty; expected recordings")
        found = extract_features(recordings, settings, name)
        self._check_labels(found.labels, prep, f"the {name} split")
        objective = SpeechObjective(len(prep.labels))
        logits = self._logits(found.features, batch_size)  # (N, C)
        targets = torch.tensor(prep.labels.encode(found.labels))  # (N,)
        classes = [str(c) for c in prep.labels.classes]
        scores = objective.metrics(logits, targets)
        return evaluation_report(scores, logits, targets, classes, where=where, split=name,
                                 unit="recordings", plot=plot)  # fmt: skip
