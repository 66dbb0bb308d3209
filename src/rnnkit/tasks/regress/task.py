"""``SequenceRegressor``: many-to-one regression — variable-length sequences (or equal-length
windows) of numbers in, one or more real values out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnkit.data.audio import FeatureScaler
from rnnkit.data.frame_batches import FrameBatches
from rnnkit.errors import UserError
from rnnkit.models.sequence_regressor import SequenceRegressorConfig, SequenceRegressorModel
from rnnkit.tasks.base import Task, duration, progress_bar
from rnnkit.tasks.regress.data import (
    SequenceData,
    SequenceSplit,
    as_sequences,
    as_targets,
    load_splits,
    read_sequence_file,
    split_file,
)
from rnnkit.tasks.regress.objective import RegressionObjective, regression_metrics
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["SequenceRegressor"]

logger = logging.getLogger(__name__)


@dataclass
class Preprocessing:
    """What is learned from the training split before the model: the feature and target
    standardisations, the targets' names and whether they were one value per sequence."""

    features: FeatureScaler
    targets: FeatureScaler
    target_names: list[str]
    vector: bool

    @property
    def input_size(self) -> int:
        return len(self.features.mean)


def _tensors(sequences: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(s) for s in sequences]  # each (T, F)


class SequenceRegressor(Task):
    """Train a sequence regressor: sequences of numbers -> stacked (bi)RNN -> pooling -> linear.

    Data: a CSV/TSV file with a sequence column (--sequence-column: a JSON array such as
    [[1, 0.5], [2, 0.4]], or numbers separated by spaces or commas for one feature) and one
    or more target columns (--target-column y or y1,y2); sequences may differ in length. Test
    (--test-fraction) and validation (--val-fraction) splits are cut at random (seeded). In
    Python, X is a list of (T,) or (T, F) arrays, or an (N, T) / (N, T, F) array of windows.
    Features and targets are standardised with the training split's mean and standard
    deviation; the model learns the mean squared error and reports MAE, RMSE and R².

    The defaults are one GRU layer of 32 units read to its last state, orthogonal recurrent
    weights, Adam at 3e-3 and gradient-norm clipping at 5.

    Examples:
      rnnkit train regress --data windows.csv --target-column next --out runs/reg
      rnnkit evaluate runs/reg --split test
      rnnkit predict runs/reg "0.1 0.5 0.9" "0.2 0.4"

    In Python::

      reg = rnnkit.SequenceRegressor(epochs=20).fit(sequences, targets)
      reg.predict([[0.1, 0.5, 0.9]]); reg.save("runs/mine")
    """

    NAME: ClassVar[str] = "regress"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": SequenceData,
        "model": SequenceRegressorConfig,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=30, lr=3e-3, clip_norm=5.0, monitor="val_loss", mode="min", patience=10
    )
    FIXED: ClassVar[tuple[str, ...]] = ("source", "input_size", "num_outputs")

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"input_size": 1, "num_outputs": 1} if section == "model" else {}

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data) -> dict[str, SequenceSplit]:
        splits, self._target_names, self._vector = load_splits(
            self.settings["data"], X, y, validation_data
        )
        sizes = {s.sequences[0].shape[1] for s in splits.values() if len(s)}
        if len(sizes) > 1:
            raise UserError(f"the splits have {sorted(sizes)} features per step; expected one")
        return splits

    def fit_preprocessing(self, splits) -> Preprocessing:
        train = splits["train"]
        features = FeatureScaler.fit(_tensors(train.sequences))  # training steps only
        targets = FeatureScaler.fit([torch.from_numpy(train.targets)])  # (k,) each
        steps = sum(len(s) for s in train.sequences)
        logger.info("data: %d train, %d val sequences (%d training steps of %d features); "
                    "%d output(s)", len(train), len(splits["val"]), steps,
                    len(features.mean), len(targets.mean))  # fmt: skip
        return Preprocessing(features, targets, self._target_names, self._vector)

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        artifacts = checkpoint.artifacts
        features = FeatureScaler.from_dict(artifacts.get("scaler"))
        targets = FeatureScaler.from_dict(artifacts.get("target_scaler"))
        described = artifacts.get("targets")
        names = described.get("names") if isinstance(described, dict) else None
        if not (isinstance(names, list) and len(names) == len(targets.mean)):
            raise UserError(f"{checkpoint.path}/targets.json is damaged; expected "
                            "{'names': [...], 'vector': true|false}")  # fmt: skip
        vector = bool(described.get("vector", len(names) == 1))
        return Preprocessing(features, targets, [str(n) for n in names], vector)

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        return {
            "scaler": prep.features.to_dict(),
            "target_scaler": prep.targets.to_dict(),
            "targets": {"names": prep.target_names, "vector": prep.vector},
        }

    def build_model(self, prep: Preprocessing) -> nn.Module:
        sizes = {"input_size": prep.input_size, "num_outputs": len(prep.target_names)}
        self.settings["model"] = self.settings["model"].replace(**sizes)
        model = SequenceRegressorModel(self.settings["model"])
        logger.info("model: %s parameters", f"{sum(p.numel() for p in model.parameters()):,}")
        return model

    def _batches(self, split: SequenceSplit, prep: Preprocessing, **options) -> FrameBatches:
        scaled = [prep.features(s) for s in _tensors(split.sequences)]  # each (T, F)
        targets = prep.targets(torch.from_numpy(split.targets)).float().tolist()  # (N, k)
        return FrameBatches(scaled, targets, self.settings["data"].batch_size, **options)

    def make_batches(self, splits, prep: Preprocessing):
        seed = self.settings["train"].seed or 0
        return (
            self._batches(splits["train"], prep, shuffle=True, seed=seed),
            self._batches(splits["val"], prep),
        )

    def make_objective(self, prep: Preprocessing) -> RegressionObjective:
        return RegressionObjective(prep.targets)

    def summary_report(self, summary):
        nan = float("nan")
        return (
            f"trained {summary['epochs']} epoch(s) in {duration(summary['train_time_s'])} "
            f"({summary['stop_reason']}); best epoch {summary['best_epoch']}: val RMSE "
            f"{summary.get('val_rmse', nan):.4g}, MAE {summary.get('val_mae', nan):.4g}, R² "
            f"{summary.get('val_r2', nan):.4f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} --split test"
        )

    # -- the loaded model ----------------------------------------------------------------------

    @property
    def target_names(self) -> list[str]:
        """The predicted values' names, in the order of ``predict``'s columns."""
        self.require_model()
        return list(self.preprocessing.target_names)

    @property
    def n_features_in_(self) -> int:
        """Features per step the model reads."""
        self.require_model()
        return self.preprocessing.input_size

    def _outputs(self, sequences: list[np.ndarray], batch_size: int | None = None) -> torch.Tensor:
        """Standardised outputs (N, k) of ``sequences`` (each (T, F), not yet standardised)."""
        prep = self.preprocessing
        if sequences[0].shape[1] != prep.input_size:
            raise UserError(f"X has {sequences[0].shape[1]} features per step, but this model "
                            f"expects {prep.input_size}")  # fmt: skip
        batches = FrameBatches([prep.features(s) for s in _tensors(sequences)],
                                [0] * len(sequences),
                                batch_size or self.settings["data"].batch_size)  # fmt: skip
        out = [torch.zeros(0, len(prep.target_names))]
        with torch.no_grad():
            for batch in progress_bar(batches, "predict", self.verbose):
                features = batch.features.to(self.model_device)  # (N, T, F)
                out.append(self.model(features, batch.lengths).float().cpu())  # (N, k)
        return torch.cat(out)  # (N, k)

    def predict(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The predicted values of each sequence: ``(N,)`` for a model trained on one value per
        sequence, else ``(N, k)``, in the targets' units. ``X``: a list of ``(T,)`` / ``(T, F)``
        arrays (or their text forms), or an ``(N, T)`` / ``(N, T, F)`` array."""
        self.require_model()
        outputs = self._outputs(as_sequences(X), batch_size)
        values = RegressionObjective(self.preprocessing.targets).unscale(outputs).numpy()
        return values[:, 0] if self.preprocessing.vector else values

    def predict_rows(self, inputs: Any) -> list[dict[str, Any]]:
        """Each input with its predicted values by name (what ``rnnkit predict`` prints)."""
        values = self.predict(inputs).reshape(len(inputs), -1)  # (N, k)
        names = self.preprocessing.target_names
        return [
            {"input": item if isinstance(item, str) else np.asarray(item).tolist(),
             "prediction": {name: float(v) for name, v in zip(names, row)}}
            for item, row in zip(inputs, values)
        ]  # fmt: skip

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n".join(
            "\t".join(f"{name}={value:.6g}" for name, value in row["prediction"].items())
            + f"\t{row['input']}"
            for row in rows
        )

    def _evaluation_split(self, data: str | None, split: str) -> tuple[SequenceSplit, str, str]:
        """(split, its name, where from): a file given as ``data`` whole (split "all"); else
        ``split`` of the training file, cut the way training cut it."""
        settings = self.settings["data"]
        if data is not None and data != settings.source:
            return read_sequence_file(data, settings)[0], "all", data
        if settings.source is None:
            raise UserError("the model was trained on in-memory data; expected sequences and "
                            "targets to evaluate (evaluate(X, y)) or data='PATH'")  # fmt: skip
        if split not in ("train", "val", "test"):
            raise UserError(f"unknown split {split!r}; expected train, val or test")
        everything, _ = read_sequence_file(settings.source, settings)
        return split_file(everything, settings)[split], split, settings.source

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
    ) -> dict[str, Any]:
        """MSE (standardised, ``loss``), MAE, RMSE and R² of sequences ``X`` with targets ``y``,
        of a file (``data``, scored whole), or of a split of the training file; ``baselines``
        gives the same for predicting the training targets' mean."""
        self.require_model()
        prep = self.preprocessing
        if X is not None:
            sequences = as_sequences(X)
            found = SequenceSplit(sequences, as_targets(y, len(sequences))[0])
            name, where = "all", "memory"
        else:
            found, name, where = self._evaluation_split(data, split)
        if found.targets.shape[1] != len(prep.target_names):
            raise UserError(f"the {name} split has {found.targets.shape[1]} targets per "
                            f"sequence; expected {len(prep.target_names)}")  # fmt: skip
        objective = RegressionObjective(prep.targets)
        outputs = self._outputs(found.sequences, batch_size)  # (N, k)
        targets = torch.from_numpy(found.targets)  # (N, k)
        scaled = prep.targets(targets)  # (N, k)
        mean = prep.targets.mean.double().expand_as(targets)  # (N, k)
        result = {
            "split": name,
            "data": where,
            "n": len(found),
            "loss": torch.nn.functional.mse_loss(outputs.double(), scaled).item(),
            **regression_metrics(objective.unscale(outputs), targets),
            "targets": list(prep.target_names),
            "baselines": {"mean": regression_metrics(mean, targets)},
        }
        table = "\n".join(
            f"{label:<14} {m['mae']:>10.4g} {m['rmse']:>10.4g} {m['r2']:>8.4f}"
            for label, m in (("model", result), ("training mean", result["baselines"]["mean"]))
        )
        result["report"] = (
            f"{where}, {name}: {len(found)} sequences, targets {', '.join(prep.target_names)}\n"
            f"{'':<14} {'MAE':>10} {'RMSE':>10} {'R²':>8}\n{table}"
        )
        return result
