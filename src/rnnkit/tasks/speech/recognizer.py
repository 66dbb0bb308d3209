"""``SpeechRecognizer``: many-to-many speech recognition without alignments — MFCC or log-mel
frames -> stacked (bi)RNN -> per-frame symbols and blank, trained with CTC on connected digit
strings (or any transcribed utterances), decoded greedily or with a prefix beam search."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.data.audio import FeatureScaler
from rnnkit.data.splits import random_split
from rnnkit.errors import UserError
from rnnkit.models.speech import SpeechCTCConfig, SpeechCTCModel
from rnnkit.tasks.base import Task, duration, progress_bar
from rnnkit.tasks.speech.alignment import ctc_segments, draw_alignment
from rnnkit.tasks.speech.ctc import (
    CTCBatches,
    CTCDecoding,
    CTCObjective,
    ctc_loss,
    string_scores,
)
from rnnkit.tasks.speech.data import file_features
from rnnkit.tasks.speech.strings import (
    Alphabet,
    SpeechStringData,
    Utterance,
    UtteranceSplit,
    extract_utterances,
    is_transcribed,
    parse_transcript,
    read_transcribed,
    split_utterances,
)
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["SpeechRecognizer"]

logger = logging.getLogger(__name__)


@dataclass
class Preprocessing:
    """What is learned from the training split before the model: the symbols, the feature
    standardisation, and the trivial baseline's string (the most common symbol repeated the
    most common number of times)."""

    alphabet: Alphabet
    scaler: FeatureScaler
    baseline: list[str]


def _in_memory(X: Any, y: Any, what: str) -> list[Utterance]:
    """WAV paths ``X`` with one transcript each in ``y``."""
    if isinstance(X, (str, os.PathLike)) or y is None:
        raise UserError(f"{what}: expected a list of WAV file paths X and one transcript each y")
    paths = [Path(p) for p in (X.tolist() if hasattr(X, "tolist") else list(X))]
    texts = y.tolist() if hasattr(y, "tolist") else list(y)
    if len(paths) != len(texts):
        raise UserError(f"{what}: expected one transcript per file, got {len(paths)} files and "
                        f"{len(texts)} transcripts")  # fmt: skip
    return [
        Utterance((p,), (1.0,), (0.0, 0.0), parse_transcript(t, f"{what}, {p}"))
        for p, t in zip(paths, texts)
    ]


def trivial_string(utterances: list[Utterance]) -> list[str]:
    """The most common symbol, repeated the most common transcript length (ties: the first
    seen)."""
    symbol = Counter(t for u in utterances for t in u.tokens).most_common(1)[0][0]
    length = Counter(len(u.tokens) for u in utterances).most_common(1)[0][0]
    return [symbol] * length


class SpeechRecognizer(Task):
    """Train a CTC speech recogniser: MFCC (+ deltas) or log-mel frames -> stacked (bi)RNN ->
    per-frame symbols and blank, trained with the CTC loss (no alignments needed).

    Data: --data fsdd (connected digit strings of 2-5 recordings of one speaker, with random
    silences and gains, built from each split's own recordings: FSDD's official split keeps
    recordings 0-4 of every speaker and digit for test), a folder or path,label CSV of
    single-word recordings (joined the same way), or a CSV of path,transcript rows (a string of
    symbols, 4071, or space-separated tokens). Validation decodes greedily and reports the
    token error rate (edit distance / reference length) and string accuracy; predict and
    evaluate use a prefix beam search (--beam).

    The defaults are a 2-layer bidirectional GRU of 128 units, orthogonal recurrent weights,
    dropout 0.2, Adam and gradient-norm clipping at 5; the best epoch is the one with the lowest
    validation CTC loss (greedy decoding emits only blanks for the first epochs, while the loss
    already falls, so early stopping on the token error rate would stop there).

    Examples:
      rnnkit train speech-ctc --data fsdd --out runs/digits
      rnnkit evaluate runs/digits --split test
      rnnkit predict runs/digits utterance.wav

    In Python::

      rec = rnnkit.SpeechRecognizer(epochs=10).fit(data="fsdd")
      rec.predict(["utterance.wav"]); rec.save("runs/mine")
    """

    NAME: ClassVar[str] = "speech-ctc"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": SpeechStringData,
        "model": SpeechCTCConfig,
        "decode": CTCDecoding,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=30, lr=2e-3, clip_norm=5.0, monitor="val_loss", mode="min", patience=5
    )  # the loss, not the token error rate: that stays at 1 (blanks only) for the first epochs
    FIXED: ClassVar[tuple[str, ...]] = ("source", "input_size", "num_symbols")
    RESUME_SECTIONS: ClassVar[tuple[str, ...]] = ("train", "decode")

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"input_size": 1, "num_symbols": 1} if section == "model" else {}

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data) -> dict[str, UtteranceSplit]:
        data = self.settings["data"]
        if X is not None:
            everything = _in_memory(X, y, "the training data")
            if validation_data is not None:
                raw = {
                    "train": everything,
                    "val": _in_memory(*validation_data, "the validation data"),
                }
            else:
                keep, cut = random_split(len(everything), data.val_fraction, seed=data.split_seed)
                raw = {"train": [everything[i] for i in keep], "val": [everything[i] for i in cut]}
        else:
            raw = split_utterances(data)
        for name in ("train", "val"):
            if not raw[name]:
                raise UserError(f"the {name} split is empty; expected more recordings")
        return {name: extract_utterances(raw[name], data, name) for name in ("train", "val")}

    def fit_preprocessing(self, splits) -> Preprocessing:
        train = splits["train"]
        # the symbol inventory of both splits, so a small slice still scores its validation set
        alphabet = Alphabet.fit(train.utterances + splits["val"].utterances)
        unseen = sorted(set(alphabet.symbols) - set(Alphabet.fit(train.utterances).symbols))
        if unseen:
            logger.warning("the validation transcripts have symbols the training ones lack "
                           "(never learnt): %s", " ".join(unseen))  # fmt: skip
        scaler = FeatureScaler.fit(train.features)  # training frames only
        baseline = trivial_string(train.utterances)
        logger.info("data: %d train, %d val utterances (%d training frames of %d features); "
                    "symbols %s", len(train), len(splits["val"]),
                    sum(len(f) for f in train.features), self.settings["data"].feature_size,
                    " ".join(alphabet.symbols))  # fmt: skip
        return Preprocessing(alphabet, scaler, baseline)

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        artifacts = checkpoint.artifacts
        alphabet = Alphabet.from_dict(artifacts.get("alphabet"))
        scaler = FeatureScaler.from_dict(artifacts.get("scaler"))
        size = self.settings["data"].feature_size
        if len(scaler.mean) != size:
            raise UserError(f"{checkpoint.path}: the saved feature normalisation has "
                            f"{len(scaler.mean)} features; expected {size}")  # fmt: skip
        baseline = (artifacts.get("baseline") or {}).get("tokens") or []
        return Preprocessing(alphabet, scaler, [str(t) for t in baseline])

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        return {
            "alphabet": prep.alphabet.to_dict(),
            "scaler": prep.scaler.to_dict(),
            "baseline": {"tokens": prep.baseline},
        }

    def build_model(self, prep: Preprocessing) -> nn.Module:
        sizes = {
            "input_size": self.settings["data"].feature_size,
            "num_symbols": len(prep.alphabet.symbols),
        }
        self.settings["model"] = self.settings["model"].replace(**sizes)
        model = SpeechCTCModel(self.settings["model"])
        logger.info("model: %s parameters", f"{sum(p.numel() for p in model.parameters()):,}")
        return model

    def _batches(self, split: UtteranceSplit, prep: Preprocessing, name: str, **options):
        size = options.pop("batch_size", None) or self.settings["data"].batch_size
        targets = [
            prep.alphabet.encode(u.tokens, f"the {name} split, {u.paths[0]}")
            for u in split.utterances
        ]
        features = [prep.scaler(f) for f in split.features]
        return CTCBatches(features, targets, size, **options)

    def make_batches(self, splits, prep: Preprocessing):
        seed = self.settings["train"].seed or 0
        return (
            self._batches(splits["train"], prep, "train", shuffle=True, seed=seed),
            self._batches(splits["val"], prep, "val"),
        )

    def make_objective(self, prep: Preprocessing) -> CTCObjective:
        return CTCObjective(beam=1)  # validation: greedy, fast

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s) in {duration(summary['train_time_s'])} "
            f"({summary['stop_reason']}); best epoch {summary['best_epoch']}: val token error "
            f"rate {summary.get('val_ter', float('nan')):.4f}, string accuracy "
            f"{summary.get('val_string_accuracy', float('nan')):.4f} (greedy), val loss "
            f"{summary.get('val_loss', float('nan')):.4f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} --split test"
        )

    # -- the loaded model ----------------------------------------------------------------------

    @property
    def symbols_(self) -> list[str]:
        """The transcripts' symbols (output ``i + 1`` is symbol ``i``; 0 is the blank)."""
        self.require_model()
        return list(self.preprocessing.alphabet.symbols)

    def _log_probs(self, features: list[torch.Tensor], batch_size: int | None = None):
        """Per-frame log-probabilities, one ``(T, S + 1)`` per utterance of unstandardised
        feature frames ``(T, F)``."""
        prep = self.preprocessing
        batches = CTCBatches([prep.scaler(f) for f in features], [[] for _ in features],
                             batch_size or self.settings["data"].batch_size)  # fmt: skip
        out = []
        with torch.no_grad():
            for batch in progress_bar(batches, "decode", self.verbose):
                log_probs = self.model(batch.features.to(self.model_device), batch.lengths)
                out += [lp[:n].float().cpu() for lp, n in zip(log_probs, batch.lengths.tolist())]
        return out

    def predict_rows(self, inputs: Any, *, beam: int | None = None) -> list[dict[str, Any]]:
        """Each WAV file with its recognised ``output`` (text), ``tokens`` and the prefix
        beam search's ``log_prob`` of that labelling (summed over its alignments)."""
        self.require_model()
        files = [str(i) for i in inputs]
        objective = CTCObjective(beam or self.settings["decode"].beam)
        rows, log_probs_of = [], self._log_probs(file_features(files, self.settings["data"]))
        for path, log_probs in zip(files, log_probs_of):
            decoded = objective.decode(log_probs[None], torch.tensor([len(log_probs)]))[0]
            tokens = [self.preprocessing.alphabet.symbols[i - 1] for i in decoded.ids]
            rows.append({
                "input": path,
                "output": self.preprocessing.alphabet.decode(decoded.ids),
                "tokens": tokens,
                "log_prob": round(decoded.log_prob, 4),
            })  # fmt: skip
        return rows

    def alignment(self, path: str, *, plot: str | None = None) -> dict[str, Any]:
        """Which frames of the WAV file ``path`` emitted which symbol (``alignment.py``: the
        most probable path's emissions, the greedy transcript): ``{"input", "output",
        "segments": [{"symbol", "start_s", "end_s", "prob"}], "plot"}``; ``plot`` draws the
        spectrogram with the segments over the per-frame posteriors into that PNG."""
        self.require_model()
        settings, symbols = self.settings["data"], self.preprocessing.alphabet.symbols
        features = file_features([str(path)], settings)[0]  # (T, F)
        log_probs = self._log_probs([features])[0]  # (T, S + 1)
        frame_seconds = settings.frame[2] / settings.sample_rate
        segments = ctc_segments(log_probs, symbols)
        output = self.preprocessing.alphabet.separator.join(s.symbol for s in segments)
        title = f"{Path(path).name}: {output}"
        inputs = self.preprocessing.scaler(features)  # (T, F) what the network reads
        drawn = plot is not None and draw_alignment(
            plot, inputs, log_probs, symbols, frame_seconds, title
        )
        return {
            "input": str(path),
            "output": output,
            "segments": [segment.to_dict(frame_seconds) for segment in segments],
            "plot": str(plot) if drawn else None,
        }

    def predict(self, files: Any, *, beam: int | None = None) -> list[str]:
        """The recognised text of each WAV file."""
        return [row["output"] for row in self.predict_rows(files, beam=beam)]

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n".join(f"{row['output']}\t{row['log_prob']:.3f}\t{row['input']}" for row in rows)

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
        beam: int | None = None,
    ) -> dict[str, Any]:
        """CTC loss, token error rate and string accuracy of WAV paths ``X`` with transcripts
        ``y``, of a path,transcript CSV (``data``, scored whole), or of a split of the data
        (digit strings rebuilt as training built them), beside the trivial baseline's."""
        self.require_model()
        prep, settings = self.preprocessing, self.settings["data"]
        if X is not None:
            utterances, name, where = _in_memory(X, y, "the evaluation data"), "all", "memory"
        else:
            if data is None and settings.source is None:
                raise UserError("the model was trained on in-memory data; expected files and "
                                "transcripts (evaluate(X, y)) or data='NAME or PATH'")  # fmt: skip
            if split not in ("train", "val", "test"):
                raise UserError(f"unknown split {split!r}; expected train, val or test")
            where = data or settings.source
            if data is not None and data != settings.source and is_transcribed(data):
                utterances, name = read_transcribed(Path(data).expanduser()), "all"
            elif data is not None and data != settings.source:  # strings of every split
                utterances = [u for s in split_utterances(settings, where).values() for u in s]
                name = "all"
            else:
                utterances, name = split_utterances(settings, where)[split], split
        if not utterances:
            raise UserError(f"the {name} split of {where} is empty; expected utterances")
        found = extract_utterances(utterances, settings, name)
        width = beam or self.settings["decode"].beam
        batches = self._batches(found, prep, name, batch_size=batch_size)
        objective = CTCObjective(width)
        losses, references, hypotheses = [], [], []
        log_probs = iter(self._log_probs(found.features, batch_size))
        for batch in batches:
            chunk = [next(log_probs) for _ in batch.lengths]
            padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)  # (N, T, S + 1)
            losses.append(ctc_loss(padded, batch).item() * len(chunk))
            hypotheses += [d.ids for d in objective.decode(padded, batch.lengths)]
            references += [t.tolist() for t in batch.targets.split(batch.tgt_lengths.tolist())]
        scores = string_scores(references, hypotheses)
        trivial = prep.alphabet.encode(tuple(prep.baseline), "the saved baseline")
        baseline = string_scores(references, [trivial] * len(references))
        metrics = {
            "split": name,
            "data": where,
            "n": len(references),
            "tokens": sum(len(r) for r in references),
            "loss": sum(losses) / len(references),
            **scores,
            "beam": width,
            "baselines": {"most_common": {**baseline, "output": prep.alphabet.decode(trivial)}},
        }
        metrics["report"] = (
            f"{where}, {name}: {metrics['n']} utterances, {metrics['tokens']} tokens\n"
            f"token error rate {scores['ter']:.4f}  string accuracy "
            f"{scores['string_accuracy']:.4f}  loss {metrics['loss']:.4f}  "
            f"({'greedy' if width == 1 else f'beam {width}'})\n"
            f"baseline (always {metrics['baselines']['most_common']['output']!r}): token error "
            f"rate {baseline['ter']:.4f}  string accuracy {baseline['string_accuracy']:.4f}"
        )
        return metrics
