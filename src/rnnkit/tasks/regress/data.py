"""The data of a sequence-regression run: its settings, sequences and targets from memory or a
file, the splits, and the training and validation batches.

A *sequence* is a ``(T,)`` or ``(T, F)`` array of numbers (``T`` may differ between sequences,
``F`` may not); its *target* is one number or ``k`` of them. In memory, ``X`` is a list of
sequences or an array of equal-length windows: ``(N, T)`` (one feature) or ``(N, T, F)``.
A file is a CSV/TSV with a sequence column — a JSON array (``[1, 2, 3]`` or
``[[1, 0.5], [2, 0.4]]``) or numbers separated by spaces, commas or semicolons (one feature) —
and one or more target columns. The same text forms are what ``rnnkit predict`` reads.

Splits: a file is cut into test (``test_fraction``) and the rest at random (seeded), and a
validation split (``val_fraction``) is cut from the rest; in-memory data gives only train and
validation. Features and targets are standardised with the training split's statistics.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnnkit.data.splits import random_split
from rnnkit.data.tabular import read_table
from rnnkit.errors import UserError
from rnnkit.settings import Settings

__all__ = [
    "SequenceData",
    "SequenceSplit",
    "as_sequences",
    "as_targets",
    "load_splits",
    "parse_sequence",
    "read_sequence_file",
]

_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass
class SequenceData(Settings):
    """How a sequence-regression run reads its data (saved in config.json).

    Args:
        source: a CSV/TSV file with a sequence column and target columns.
        sequence_column: the file's column of sequences (a JSON array, or numbers separated by
            spaces, commas or semicolons).
        target_column: the file's target column, or several separated by commas (one output
            each).
        test_fraction: of a file's rows, cut at random (seeded) for test.
        val_fraction: of the training rows, cut at random (seeded) for validation.
        split_seed: seeds the test and validation cuts.
        batch_size: sequences per batch.
    """

    KIND: ClassVar[str] = "data setting"
    RANGES: ClassVar[dict[str, str]] = {
        "test_fraction": "(0, 1)",
        "val_fraction": "(0, 1)",
        "split_seed": "[0, inf)",
        "batch_size": "[1, inf)",
    }

    source: str | None = None
    sequence_column: str = "sequence"
    target_column: str = "target"
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    split_seed: int = 0
    batch_size: int = 32

    @property
    def target_names(self) -> list[str]:
        return [name.strip() for name in self.target_column.split(",") if name.strip()]


@dataclass
class SequenceSplit:
    """One split: ``sequences`` (each ``(T, F)`` float32) and ``targets`` ``(N, k)`` float64."""

    sequences: list[np.ndarray]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    def take(self, rows: list[int]) -> SequenceSplit:
        return SequenceSplit([self.sequences[i] for i in rows], self.targets[rows])


def parse_sequence(text: str) -> Any:
    """A sequence written as text: a JSON array, or numbers separated by spaces, commas or
    semicolons (one feature). Returns nested lists of numbers, not yet checked."""
    text = text.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"{text[:40]!r} is not a JSON array ({error.msg})") from None
    try:
        return [float(value) for value in _SEPARATORS.split(text) if value]
    except ValueError:
        raise UserError(
            f"{text[:40]!r} is not a sequence; expected numbers separated by spaces or commas, "
            "or a JSON array"
        ) from None


def _one_sequence(item: Any, index: int) -> np.ndarray:
    """Item ``index`` of X as a ``(T, F)`` float32 array."""
    if isinstance(item, str):
        item = parse_sequence(item)
    try:
        values = np.asarray(item)
        if values.dtype.kind == "c":
            raise UserError(f"sequence {index}: Complex data not supported; expected real numbers")
        values = values.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise UserError(
            f"sequence {index} is not an array of numbers ({error}); expected (T,) or (T, F)"
        ) from None
    if values.ndim == 0:
        raise UserError(
            f"sequence {index} is one number; expected a sequence (T,) or (T, F) of numbers "
            "(windows of one feature: a 2-D array (N, T))"
        )
    if values.ndim > 2:
        raise UserError(f"sequence {index} has shape {values.shape}; expected (T,) or (T, F)")
    if values.shape[0] == 0 or values.size == 0:
        raise UserError(f"sequence {index} has no steps (shape {values.shape}); expected 1 or more")
    if not np.isfinite(values).all():
        raise UserError(f"sequence {index} contains NaN or inf; expected finite numbers")
    return values.reshape(len(values), -1).astype(np.float32)  # (T, F)


def as_sequences(X: Any, what: str = "X") -> list[np.ndarray]:
    """``X`` — a list (or 1-D object array, or pandas Series) of sequences or texts, or a
    numeric ``(N, T)`` / ``(N, T, F)`` array of windows — as a list of ``(T, F)`` float32 arrays
    with one ``F``. Anything else is a ``UserError`` naming ``what``."""
    if isinstance(X, (str, bytes)):
        raise UserError(f"{what}: expected a list of sequences, got one string (wrap it: [X])")
    if X is None:
        raise UserError(f"{what}: expected a list of sequences, got None")
    if hasattr(X, "toarray"):  # a SciPy sparse matrix or array
        raise UserError(f"{what}: sparse input is not supported; expected a dense array "
                        "(X.toarray()) or a list of sequences")  # fmt: skip
    if not isinstance(X, (list, tuple)) and hasattr(X, "__array__"):
        X = np.asarray(X)  # a DataFrame, Series, tensor or other array-like
    shape = getattr(X, "shape", None)
    kind = getattr(getattr(X, "dtype", None), "kind", "O")  # "O": objects, or no dtype
    if shape is not None and len(shape) == 1 and kind != "O":
        raise UserError(
            f"{what} is a 1-D array of numbers; expected a list of sequences. Reshape your data: "
            "X.reshape(1, -1) is one window of one feature, X.reshape(-1, 1) windows of one step"
        )
    if shape is not None and len(shape) >= 2 and kind != "O":
        windows = np.asarray(X)
        if windows.dtype.kind == "c":
            raise UserError(f"{what}: Complex data not supported; expected real numbers")
        if windows.ndim > 3:
            raise UserError(f"{what} has shape {windows.shape}; expected (N, T) or (N, T, F)")
        items: Any = list(windows)
    else:
        try:  # a list, or an object array of sequences (or of windows' rows)
            items = list(X)
        except TypeError:
            raise UserError(
                f"{what} is a {type(X).__name__}; expected a list of sequences"
            ) from None
    if not items:
        raise UserError(f"{what} holds no sequences; expected 1 or more")
    sequences = [_one_sequence(item, i) for i, item in enumerate(items)]
    _check_features(sequences, what)
    return sequences


def _check_features(sequences: list[np.ndarray], what: str, rows: list[str] | None = None) -> None:
    """Every sequence has sequence 0's number of features (``rows``: how to name them)."""
    features = sequences[0].shape[1]
    odd = next((i for i, s in enumerate(sequences) if s.shape[1] != features), None)
    if odd is not None:
        name = rows or [f"sequence {i}" for i in range(len(sequences))]
        raise UserError(
            f"{what}: {name[odd]} has {sequences[odd].shape[1]} features per step, {name[0]} "
            f"has {features}; expected the same number in every sequence"
        )


def as_targets(y: Any, n: int, what: str = "y") -> tuple[np.ndarray, bool]:
    """``y`` — ``(N,)`` or ``(N, k)`` numbers — as ``(N, k)`` float64 and whether it was 1-D."""
    if y is None:
        raise UserError("this regressor requires y to be passed, but the target y is None; "
                        "expected one target (or a row of k) per sequence")  # fmt: skip
    try:
        targets = np.asarray(y)
        if targets.dtype.kind == "c":
            raise UserError(f"{what}: Complex data not supported; expected real numbers")
        targets = targets.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise UserError(f"{what}: expected numbers ({error})") from None
    if targets.ndim not in (1, 2) or (targets.ndim == 2 and targets.shape[1] == 0):
        raise UserError(f"{what} has shape {targets.shape}; expected (N,) or (N, k)")
    if len(targets) != n:
        raise UserError(f"{what}: expected one target per sequence ({n}), got {len(targets)}")
    if not np.isfinite(targets).all():
        raise UserError(f"Input {what} contains NaN or inf; expected finite target values")
    return targets.reshape(n, -1), targets.ndim == 1


def read_sequence_file(
    path: str | os.PathLike[str], data: SequenceData
) -> tuple[SequenceSplit, list[str]]:
    """Every row of a CSV/TSV file as one split, and the target columns' names."""
    path = Path(path).expanduser()
    header, rows = read_table(path)
    names = [name.strip() for name in header]
    wanted = [data.sequence_column, *data.target_names]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise UserError(
            f"{path}: no column {missing[0]!r}; available columns: "
            f"{', '.join(repr(h) for h in names)} (expected --sequence-column and "
            "--target-column to name them)"
        )
    columns = [names.index(name) for name in wanted]
    sequences, values, lines = [], [], []
    for line, row in rows:
        if not row:
            continue
        if len(row) <= max(columns):
            raise UserError(f"{path}, line {line}: expected at least {max(columns) + 1} fields")
        try:
            sequences.append(_one_sequence(row[columns[0]], len(sequences)))
            values.append([float(row[c]) for c in columns[1:]])
        except UserError as error:
            raise UserError(f"{path}, line {line}: {error}") from None
        except ValueError:
            raise UserError(f"{path}, line {line}: a target is not a number") from None
        lines.append(f"line {line}")
    if not sequences:
        raise UserError(f"{path}: no data rows; expected a header row and at least one row")
    _check_features(sequences, str(path), lines)
    targets, _ = as_targets(values, len(sequences), what=f"{path}: the targets")
    return SequenceSplit(sequences, targets), data.target_names


def load_splits(
    data: SequenceData, X: Any, y: Any, validation_data: Any
) -> tuple[dict[str, SequenceSplit], list[str], bool]:
    """(``{"train", "val"(, "test")}``, target names, whether targets are 1-D) from memory
    or from ``data.source``."""
    if X is not None:
        sequences = as_sequences(X)
        targets, vector = as_targets(y, len(sequences))
        everything, k = SequenceSplit(sequences, targets), targets.shape[1]
        names = ["target"] if k == 1 else [f"target_{j}" for j in range(k)]
        if validation_data is None:
            return _train_val(everything, data), names, vector
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise UserError("validation_data: expected a pair (X, y)")
        val_X, val_y = validation_data
        val_sequences = as_sequences(val_X, "the validation X")
        val_targets, _ = as_targets(val_y, len(val_sequences), "the validation y")
        if val_targets.shape[1] != k:
            raise UserError(f"the validation y has {val_targets.shape[1]} outputs; expected {k}")
        val = SequenceSplit(val_sequences, val_targets)
        return {"train": everything, "val": val}, names, vector
    if data.source is None:
        raise UserError("expected data: a CSV/TSV file of sequences and targets")
    everything, names = read_sequence_file(data.source, data)
    splits = split_file(everything, data)
    return splits, names, len(names) == 1


def split_file(everything: SequenceSplit, data: SequenceData) -> dict[str, SequenceSplit]:
    """A file's rows as ``{"train", "val", "test"}`` (the module docstring's cuts)."""
    _check_count(len(everything), 3)
    rest, test = random_split(len(everything), data.test_fraction, seed=data.split_seed)
    return {**_train_val(everything.take(rest), data), "test": everything.take(test)}


def _train_val(everything: SequenceSplit, data: SequenceData) -> dict[str, SequenceSplit]:
    _check_count(len(everything), 2)
    train, val = random_split(len(everything), data.val_fraction, seed=data.split_seed)
    return {"train": everything.take(train), "val": everything.take(val)}


def _check_count(n: int, least: int) -> None:
    if n < least:
        raise UserError(
            f"expected at least {least} sequences (a validation split is cut from them), got "
            f"{n} sample{'' if n == 1 else 's'}"
        )
