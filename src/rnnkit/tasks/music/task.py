"""``MusicModel``: polyphonic music modelling on 88-key piano rolls — an RNN reads the frames so
far and predicts which keys sound next (independent Bernoulli outputs), scored by the
frame-level negative log-likelihood, and samples new pieces."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnkit.data.pianoroll import KEYS, check_roll, read_midi, write_midi
from rnnkit.errors import UserError
from rnnkit.models.music import PianoRollRNN, PianoRollRNNConfig
from rnnkit.tasks.base import Task, duration, progress_bar
from rnnkit.tasks.music.baselines import Baselines
from rnnkit.tasks.music.data import (
    MusicData,
    PianoRollBatches,
    frame_count,
    load_piano_rolls,
    split_piano_rolls,
)
from rnnkit.tasks.music.generate import check_temperature, sample_frames
from rnnkit.tasks.music.objective import MusicObjective
from rnnkit.tasks.music.plot import save_piano_roll_plot
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["DEFAULT_LENGTH", "MusicModel"]

logger = logging.getLogger(__name__)

DEFAULT_LENGTH = 200  # frames generated when no length is given


def _rolls(X: Any, what: str) -> list[np.ndarray]:
    """In-memory pieces: a list of (T, 88) 0/1 arrays."""
    if isinstance(X, (str, os.PathLike)) or (isinstance(X, np.ndarray) and X.ndim == 2):
        raise UserError(f"{what}: expected a list of (time steps, {KEYS}) piano rolls")
    pieces = [check_roll(roll, f"{what}, piece {i}") for i, roll in enumerate(X)]
    if not pieces:
        raise UserError(f"{what} holds no pieces; expected a list of piano rolls")
    return pieces


class MusicModel(Task):
    """Train a polyphonic music model: previous 88-key frame -> stacked RNN/LSTM/GRU -> one
    Bernoulli probability per key of the next frame; the loss is the frame-level negative
    log-likelihood (nats per time step, summed over keys).

    Data: --data nottingham, musedata or piano-midi (Boulanger-Lewandowski et al. 2012's piano
    rolls, found through $RNNKIT_DATA, ~/.cache/rnnkit, or downloaded; their own train, valid and
    test splits), a .mat file of the same form, or MIDI files (a folder with train/, valid/,
    test/ subfolders, or one cut by --test-fraction and --val-fraction), sampled every
    --frame-seconds. Pieces are batched by length and the padding is masked; training pieces
    are cut into chunks of --chunk-length frames (validation and evaluation read whole pieces).

    The defaults are one LSTM layer of 128 units, dropout 0.3, orthogonal recurrent weights, Adam
    and gradient-norm clipping at 5. Evaluation reports the NLL per frame and the frame
    accuracy beside the baselines: each key's training frequency, a per-key Markov chain, and
    repeating the previous frame.

    Examples:
      rnnkit train music --data nottingham --out runs/nottingham
      rnnkit evaluate runs/nottingham --split test
      rnnkit generate runs/nottingham --length 200 --out piece.mid

    In Python::

      music = rnnkit.MusicModel(epochs=10).fit(data="nottingham")
      music.evaluate(split="test"); music.generate(200, out="piece.mid")
    """

    NAME: ClassVar[str] = "music"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": MusicData,
        "model": PianoRollRNNConfig,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(epochs=30, lr=2e-3, clip_norm=5.0,
                                                        patience=5)  # fmt: skip

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data) -> dict[str, list[np.ndarray]]:
        data = self.settings["data"]
        if y is not None:
            raise UserError("music models learn from the pieces alone; expected no labels (y)")
        if X is None:
            splits = split_piano_rolls(load_piano_rolls(data), data)
        elif validation_data is not None:
            splits = {"train": _rolls(X, "the training data"),
                      "val": _rolls(validation_data, "the validation data")}  # fmt: skip
        else:
            splits = split_piano_rolls({"train": _rolls(X, "the training data")}, data)
        for name in ("train", "val"):
            if not splits[name]:
                raise UserError(f"the {name} split holds no pieces; expected piano rolls")
        return splits

    def fit_preprocessing(self, splits) -> Baselines:
        train, val = splits["train"], splits["val"]
        baselines = Baselines.fit(train)  # training frames only
        markov = baselines.score(val)["markov"]["nll"]
        logger.info("data: %d train pieces (%d frames), %d val pieces (%d frames); val NLL of the "
                    "per-key Markov chain %.3f", len(train), frame_count(train), len(val),
                    frame_count(val), markov)  # fmt: skip
        return baselines

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Baselines:
        try:
            return Baselines.from_dict(checkpoint.artifacts.get("baselines"))
        except UserError as error:
            raise UserError(f"{checkpoint.path}: {error}") from None

    def artifacts(self, baselines: Baselines) -> dict[str, Any]:
        return {"baselines": baselines.to_dict()}

    def build_model(self, baselines: Baselines) -> nn.Module:
        model = PianoRollRNN(self.settings["model"])
        model.start_from_frequencies(torch.as_tensor(baselines.frequency))  # a trained one: loaded
        logger.info("model: %s parameters", f"{sum(p.numel() for p in model.parameters()):,}")
        return model

    def make_batches(self, splits, baselines: Baselines):
        data, seed = self.settings["data"], self.settings["train"].seed or 0
        return (
            PianoRollBatches(
                splits["train"],
                data.batch_size,
                chunk_length=data.chunk_length,
                shuffle=True,
                seed=seed,
            ),  # fmt: skip
            PianoRollBatches(splits["val"], data.batch_size),
        )

    def make_objective(self, baselines: Baselines) -> MusicObjective:
        return MusicObjective()

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s) in {duration(summary['train_time_s'])} "
            f"({summary['stop_reason']}); best epoch {summary['best_epoch']}: val NLL "
            f"{summary.get('val_loss', float('nan')):.4f} per frame, frame accuracy "
            f"{summary.get('val_accuracy', float('nan')):.4f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} --split test"
        )

    # -- the loaded model ----------------------------------------------------------------------

    def score(self, rolls: list[np.ndarray], batch_size: int | None = None) -> dict[str, Any]:
        """``{"loss": NLL per frame, "accuracy": frame accuracy, "nll_after_first_frame": NLL
        per frame leaving out each piece's first frame}`` of the model on ``rolls``."""
        self.require_model()
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise UserError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        objective = MusicObjective()
        batches = PianoRollBatches(rolls, batch_size or self.settings["data"].batch_size)
        moved = (
            objective.move_batch(batch, self.model_device)
            for batch in progress_bar(batches, "evaluate", self.verbose)
        )
        scores = objective.scores(self.model, moved)
        return {**scores.metrics(), "nll_after_first_frame": scores.nll_after_first()}

    def _evaluation_rolls(self, data: str | None, split: str) -> tuple[list[np.ndarray], str, str]:
        """(pieces, split name, where from): MIDI files given as ``data`` whole (split "all");
        else ``split`` of the data, cut the way training cut it."""
        settings = self.settings["data"]
        if data is None and settings.source is None:
            raise UserError("the model was trained on in-memory pieces; expected pieces to "
                            "evaluate (evaluate(X)) or data='NAME or PATH'")  # fmt: skip
        if split not in ("train", "val", "test"):
            raise UserError(f"unknown split {split!r}; expected train, val or test")
        source = data or settings.source
        found = load_piano_rolls(settings, source)
        if data is not None and data != settings.source and "all" in found:
            return found["all"], "all", source
        pieces = split_piano_rolls(found, settings)[split]
        if not pieces:
            raise UserError(f"{source} has no {split} split; expected --split train or val")
        return pieces, split, source

    def evaluate(
        self, X: Any = None, *, data: str | None = None, split: str = "val",
        batch_size: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The NLL per frame and frame accuracy of pieces ``X``, of MIDI files (``data``,
        scored whole), or of a split of the data, with the baselines on the same frames."""
        self.require_model()
        if X is not None:
            pieces, name, where = _rolls(X, "the evaluation data"), "all", "memory"
        else:
            pieces, name, where = self._evaluation_rolls(data, split)
        scores = self.score(pieces, batch_size)
        baselines = self.preprocessing.score(pieces)
        result = {
            "split": name,
            "data": where,
            "n": frame_count(pieces),
            "pieces": len(pieces),
            "nll": scores["loss"],
            **scores,
            "baselines": baselines,
        }
        rows = [("model", scores["loss"], scores["accuracy"])] + [
            (base, values["nll"], values["accuracy"]) for base, values in baselines.items()
        ]
        table = "\n".join(
            f"{label:<10} {'-' if nll is None else f'{nll:.4f}':>10} {accuracy:>10.4f}"
            for label, nll, accuracy in rows
        )
        result["report"] = (
            f"{where}, {name}: {len(pieces)} pieces, {result['n']} frames\n"
            f"{'':<10} {'NLL/frame':>10} {'accuracy':>10}\n{table}"
        )
        return result

    def predict_rows(self, inputs: list[str]) -> list[dict[str, Any]]:
        """Each MIDI file with its frames, NLL per frame and frame accuracy under the model."""
        self.require_model()
        rows = []
        for path in inputs:
            roll = read_midi(path, self.settings["data"].frame_seconds)
            scores = self.score([roll])
            rows.append({"input": str(path), "frames": len(roll), "nll": scores["loss"],
                         "accuracy": scores["accuracy"]})  # fmt: skip
        return rows

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n".join(
            f"{row['nll']:.4f} nats/frame\t{row['accuracy']:.4f}\t{row['frames']} frames\t"
            f"{row['input']}"
            for row in rows
        )

    def sample(
        self, length: int | None = None, *, prime: Any = None, temperature: float = 1.0,
        seed: int | None = None,
    ) -> np.ndarray:  # fmt: skip
        """``length`` new frames (length, 88) continuing ``prime`` (a (T, 88) roll, a MIDI file,
        or None: silence), sampled at ``temperature``; the same ``seed``, the same frames."""
        self.require_model()
        length = DEFAULT_LENGTH if length is None else length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise UserError(f"length must be an integer >= 1, got {length!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise UserError(f"seed must be an integer, got {seed!r}")
        temperature = check_temperature(temperature)
        return sample_frames(
            self.model, length, prime=self._prime(prime), temperature=temperature,
            seed=0 if seed is None else seed, device=self.model_device,
        )  # fmt: skip

    def _prime(self, prime: Any) -> np.ndarray | None:
        if prime is None:
            return None
        if isinstance(prime, (str, os.PathLike)):
            return read_midi(prime, self.settings["data"].frame_seconds)
        return check_roll(prime, "the prime")

    def generate(
        self, length: int | None = None, *, prime: Any = None, temperature: float = 1.0,
        seed: int | None = None, out: str | Path | None = None, plot: str | Path | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Sample ``length`` frames (default 200) after ``prime`` (see :meth:`sample`; ``seed``
        None: a random one, reported) and write the piece (prime + new frames) as a MIDI file
        ``out`` and a piano-roll PNG ``plot`` (default: ``out`` with .png). Returns what was
        written and how."""
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        primed = self._prime(prime)
        frames = self.sample(length, prime=primed, temperature=temperature, seed=seed)
        piece = frames if primed is None else np.concatenate([primed, frames])  # (T, 88)
        step = self.settings["data"].frame_seconds
        midi = None
        if out is not None:
            try:
                midi = str(write_midi(piece, out, step))
            except UserError as error:
                if "needs mido" not in str(error):
                    raise
                logger.warning("%s: no MIDI file written", error)
        picture = Path(plot) if plot is not None else Path(out).with_suffix(".png") if out else None
        drawn = picture is not None and save_piano_roll_plot(
            piece, picture, title=f"{self.run_dir.name if self.run_dir else 'music'}: "
            f"{len(frames)} frames sampled at temperature {temperature:g}",
            frame_seconds=step, prime_frames=0 if primed is None else len(primed),
        )  # fmt: skip
        padded = np.concatenate([np.zeros((1, KEYS), np.int8), frames.astype(np.int8)])
        onsets = int((np.diff(padded, axis=0) > 0).sum())  # keys struck
        if prime is None or isinstance(prime, (str, os.PathLike)):
            given = prime if prime is None else str(prime)
        else:
            given = f"a piano roll of {len(primed)} frames"
        written = [p for p in (midi, str(picture) if drawn else None) if p]
        return {
            "input": given,
            "output": midi,
            "plot": str(picture) if drawn else None,
            "frames": len(frames),
            "prime_frames": 0 if primed is None else len(primed),
            "notes": onsets,
            "seconds": round(len(piece) * step, 3),
            "seed": seed,
            "temperature": float(temperature),
            "report": f"sampled {len(frames)} frames ({onsets} note onsets) at temperature "
            f"{temperature:g}, seed {seed}" + (f"; wrote {', '.join(written)}" if written else ""),
        }
