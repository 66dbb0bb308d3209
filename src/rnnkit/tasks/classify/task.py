"""``TextClassifier``: many-to-one text classification (sentiment and any other labels)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnkit.data import (
    LabelEncoder,
    Vocabulary,
    get_tokenizer,
    make_loader,
    pad_sequences,
    tokenizer_from_dict,
    truncate,
)
from rnnkit.data.labels import describe_labels
from rnnkit.data.tokenize import Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.base import Task, duration, progress_bar, text_list
from rnnkit.tasks.classify.data import (
    TextData,
    encode_texts,
    evaluation_split,
    fit_vocabulary,
    in_memory,
    load_splits,
)
from rnnkit.tasks.classify.explain import METHODS, contributions
from rnnkit.tasks.classify.finetune import fine_tuning_callbacks
from rnnkit.tasks.classify.objective import (
    ClassificationObjective,
    balanced_weights,
    wants_balance,
)
from rnnkit.tasks.classify.report import evaluation_report, prediction_rows
from rnnkit.tasks.classify.transfer import (
    EncoderWeights,
    TransferSettings,
    copy_encoder,
    encoder_settings,
    read_encoder,
)
from rnnkit.tasks.embeddings import (
    check_vectors_file,
    embed_from_vectors,
    read_vectors,
    start_embedding,
)
from rnnkit.train import Callback, Checkpoint, TrainConfig

__all__ = ["TextClassifier"]

logger = logging.getLogger(__name__)


@dataclass
class Preprocessing:
    """What a classifier learns from its training split before the model (and, in a fresh fit,
    what it starts from: word vectors or a language model's encoder; not saved)."""

    tokenizer: Tokenizer
    vocab: Vocabulary
    labels: LabelEncoder
    vectors: Any = None
    encoder: EncoderWeights | None = None


class TextClassifier(Task):
    """Train a text classifier: embedding -> stacked (bi)RNN -> pooling -> linear.

    Data: --data imdb (the aclImdb reviews, found through $RNNKIT_DATA, ~/.cache/rnnkit, or
    downloaded), --data gop-debate (3-class tweets), or a path: an aclImdb folder or tarball, or
    any CSV/TSV with a text column and a label column (--text-column, --label-column,
    --encoding). A validation split (--val-fraction, stratified, seeded) is cut from train to
    select the best epoch; data without a test split gets one cut first (--test-fraction).
    The loss is plain cross-entropy, which maximises accuracy; --balance balanced weighs each
    class's loss by its rarity (better macro-F1 on imbalanced classes, lower accuracy), --balance
    auto does so only when the largest class is over 1.5 times the smallest.

    The defaults are a bidirectional LSTM with max pooling over time, orthogonal recurrent
    weights, forget-gate bias 1, dropout 0.5, Adam and gradient-norm clipping at 5.

    Transfer: --embeddings FILE starts the embedding from word2vec/GloVe/fastText vectors
    (--freeze-embeddings keeps them); --encoder-from LM_RUN starts from a language model's
    tokenizer, vocabulary, embedding and recurrent layers (ULMFiT), fine-tuned with
    --pooling concat, --lr-decay-per-layer 2.6, --slanted-triangular and --gradual-unfreeze.

    Examples:
      rnnkit train classify --data imdb --out runs/imdb
      rnnkit train classify --data reviews.csv --text-column review --label-column stars --out r
      rnnkit train classify --resume runs/imdb          (continue after Ctrl-C)
      rnnkit train classify --data imdb --embeddings vectors.txt --out runs/imdb-vectors
      rnnkit train classify --data imdb --encoder-from runs/imdb-lm --pooling concat
          --lr-decay-per-layer 2.6 --slanted-triangular --gradual-unfreeze --out runs/ulmfit

    In Python::

      clf = rnnkit.TextClassifier(hidden=128, epochs=3).fit(texts, labels)
      clf.predict(["A wonderful film."]); clf.save("runs/mine")
    """

    NAME: ClassVar[str] = "classify"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": TextData,
        "model": ClassifierConfig,
        "transfer": TransferSettings,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=4, lr=2e-3, clip_norm=5.0, monitor="val_accuracy", mode="max", patience=2
    )
    FIXED: ClassVar[tuple[str, ...]] = ("source", "vocab_size", "num_classes", "padding_idx")
    EVALUATION_PLOT: ClassVar[str] = "confusion"

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"vocab_size": 2, "num_classes": 2} if section == "model" else {}

    # -- fit steps -----------------------------------------------------------------------------

    def fit(self, X: Any = None, y: Any = None, **options: Any) -> TextClassifier:
        """``Task.fit``; a fresh fit first checks the word-vector file and the language-model
        run it starts from (a mistake is said before the data loads)."""
        transfer = self.settings["transfer"]
        if not options.get("resume"):
            check_vectors_file(transfer)
            if transfer.encoder_from is not None:
                read_encoder(transfer.encoder_from)
        return super().fit(X, y, **options)

    def read_splits(self, X, y, validation_data):
        return load_splits(self.settings["data"], X, y, validation_data)

    def fit_preprocessing(self, splits):
        data, transfer = self.settings["data"], self.settings["transfer"]
        encoder, vectors = None, None
        if transfer.encoder_from is not None:  # the language model's tokenizer and vocabulary
            encoder = read_encoder(transfer.encoder_from)
            tokenizer, vocab = encoder.tokenizer, encoder.vocab
            labels = LabelEncoder.fit(splits["train"].labels)
            logger.info("tokenizer and vocabulary (%d) from %s", len(vocab), encoder.path)
        else:
            tokenizer = get_tokenizer(data.level)
            vocab, labels = fit_vocabulary(splits["train"], tokenizer, data)
        vectors = read_vectors(transfer, vocab)
        logger.info(
            "data: %d train, %d val, %d test examples; classes %s; vocabulary %d",
            len(splits["train"]), len(splits["val"]), len(splits["test"]), list(labels.classes),
            len(vocab),
        )  # fmt: skip
        return Preprocessing(tokenizer, vocab, labels, vectors=vectors, encoder=encoder)

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        artifacts = checkpoint.artifacts
        return Preprocessing(
            tokenizer_from_dict(artifacts["tokenizer"]),
            Vocabulary.from_dict(artifacts["vocab"]),
            LabelEncoder.from_dict(artifacts["labels"]),
        )

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        return {
            "tokenizer": prep.tokenizer.to_dict(),
            "vocab": prep.vocab.to_dict(),
            "labels": prep.labels.to_dict(),
        }

    def build_model(self, prep: Preprocessing) -> nn.Module:
        sizes = {"vocab_size": len(prep.vocab), "num_classes": len(prep.labels)}
        config = self.settings["model"].replace(**sizes)
        if prep.encoder is not None:
            config = encoder_settings(config, prep.encoder.config, self.given, prep.encoder.path)
        config = self.settings["model"] = embed_from_vectors(config, prep.vectors, self.given)
        model = SequenceClassifier(config)
        if prep.encoder is not None:
            copy_encoder(model, prep.encoder)
            prep.encoder = None  # copied: its tensors are not kept
        freeze = self.settings["transfer"].freeze_embeddings
        self.embedding_coverage = start_embedding(model.embedding, prep.vocab, prep.vectors, freeze)
        prep.vectors = None
        return model

    def make_batches(self, splits, prep: Preprocessing):
        data, seed = self.settings["data"], self.settings["train"].seed
        train_set, val_set = (
            encode_texts(splits[name], prep.tokenizer, prep.vocab, prep.labels, data,
                         what=f"{name} texts")
            for name in ("train", "val")
        )  # fmt: skip
        targets = torch.as_tensor(prep.labels.encode(splits["train"].labels))  # (N,)
        self._class_weight = None
        if wants_balance(data.balance, targets, len(prep.labels)):
            self._class_weight = balanced_weights(targets, len(prep.labels))
            logger.info(
                "class weights %s (balance=%s)",
                [round(w, 3) for w in self._class_weight.tolist()], data.balance,
            )  # fmt: skip
        train_batches = make_loader(train_set, data.batch_size, shuffle=True, seed=seed or 0)
        self._steps_per_epoch = len(train_batches)
        return train_batches, make_loader(val_set, data.batch_size, shuffle=False)

    def make_objective(self, prep: Preprocessing) -> ClassificationObjective:
        return ClassificationObjective(len(prep.labels), weight=self._class_weight)

    def make_callbacks(self, prep: Preprocessing) -> list[Callback]:
        return fine_tuning_callbacks(
            self.settings["transfer"], self.settings["train"], self._steps_per_epoch
        )

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

    @property
    def classes_(self) -> list[Any]:
        """The class labels, in the order of ``predict_proba``'s columns."""
        self.require_model()
        return list(self.preprocessing.labels.classes)

    def predict_proba(self, texts: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (N, C) of each text; columns in ``classes_`` order."""
        self.require_model()
        texts = text_list(texts)
        prep = self.preprocessing
        size = batch_size or self.settings["data"].batch_size
        out = []
        for start in range(0, len(texts), size):
            ids = [torch.tensor(self._read(t)[1]) for t in texts[start : start + size]]
            tokens, lengths = pad_sequences(ids, prep.vocab.pad_index)  # (N, L), (N,)
            with torch.no_grad():
                logits = self.model(tokens.to(self.model_device), lengths).float()  # (N, C)
            out.append(torch.softmax(logits, -1).cpu())
        if not out:
            return np.zeros((0, len(prep.labels)), dtype=np.float32)
        return torch.cat(out).numpy()

    def _read(self, text: str) -> tuple[list[str], list[int]]:
        """The tokens the model reads of ``text`` (truncated as in training) and their indices;
        a text with no token (all punctuation) reads as one unknown token."""
        prep, data = self.preprocessing, self.settings["data"]
        vocab = prep.vocab
        unknown = vocab.unk_index if vocab.unk_index is not None else vocab.pad_index
        tokens = list(truncate(prep.tokenizer(text), data.max_length, data.keep))
        if not tokens:
            return [vocab.itos[unknown]], [unknown]
        return tokens, vocab.encode(tokens)

    def explain(
        self, texts: Any, *, method: str = METHODS[0], batch_size: int | None = None
    ) -> list[dict[str, Any]]:
        """Each text's prediction row (as ``predict_rows``) with the tokens the model read and
        each token's contribution to the predicted label's probability
        (``rnnkit.tasks.classify.explain``): by ``method`` "occlusion", ``c_i = p(ŷ | x) -
        p(ŷ | x with token i replaced by <unk>)``; by "gradient" (× input), ``c_i = ∇_{e_i}
        p(ŷ | x) · e_i`` for the token's embedding ``e_i``. Rows: ``{"input", "label",
        "probabilities", "tokens", "contributions"}``."""
        self.require_model()
        if method not in METHODS:
            raise UserError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        texts = text_list(texts)
        prep = self.preprocessing
        vocab, read = prep.vocab, [self._read(t) for t in texts]
        fill = vocab.unk_index if vocab.unk_index is not None else vocab.pad_index
        if not texts:
            return []
        probabilities, found = contributions(
            self.model, [ids for _, ids in read], fill, vocab.pad_index, method=method,
            batch_size=batch_size or self.settings["data"].batch_size, device=self.model_device,
        )  # fmt: skip
        rows = prediction_rows(texts, probabilities, prep.labels.classes)
        for row, (tokens, _), change in zip(rows, read, found):
            row["tokens"] = tokens
            row["contributions"] = [round(float(c), 6) for c in change]
        return rows

    def predict(self, texts: Any, *, batch_size: int | None = None) -> list[Any]:
        """The most probable label of each text."""
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        classes = self.preprocessing.labels.classes
        return [classes[i] for i in probabilities.argmax(axis=1)]

    def predict_rows(self, texts: Any) -> list[dict[str, Any]]:
        """Each text with its label and class probabilities (what `rnnkit predict` prints)."""
        texts = text_list(texts)
        probabilities = self.predict_proba(texts)
        classes = self.preprocessing.labels.classes
        return prediction_rows(texts, probabilities, classes)

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        """A line per row: label, its probability, the text; rows of ``explain`` add a line of
        each token with its contribution."""
        lines = []
        for row in rows:
            p = row["probabilities"][str(row["label"])]
            lines.append(f"{row['label']}\t{p:.3f}\t{_shorten(row['input'])}")
            if "contributions" in row:
                lines.append("\t" + " ".join(
                    f"{token}({c:+.3f})" for token, c in zip(row["tokens"], row["contributions"])
                ))  # fmt: skip
        return "\n".join(lines)

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
        """Loss, accuracy, macro-F1 and the confusion matrix of in-memory ``X``, ``y``, of a file
        (``data``, scored whole), or of a split of the training data or a dataset with splits."""
        self.require_model()
        prep, settings = self.preprocessing, self.settings["data"]
        if X is not None:
            texts, name = in_memory(X, y, settings, "the evaluation data"), "all"
            where = "in-memory data"
        else:
            texts, name = evaluation_split(settings, data, split)
            where = data or settings.source
        unknown = sorted(
            {str(label) for label in texts.labels} - {str(c) for c in prep.labels.classes}
        )
        if unknown:
            raise UserError(
                f"the {name} split has labels the model never saw: "
                f"{describe_labels(unknown, 10)}; expected only its {len(prep.labels)} labels: "
                f"{describe_labels(prep.labels.classes, 10)}"
            )
        dataset = encode_texts(texts, prep.tokenizer, prep.vocab, prep.labels, settings,
                               what=f"{name} texts")  # fmt: skip
        loader = make_loader(dataset, batch_size or settings.batch_size, shuffle=False)
        objective = ClassificationObjective(len(prep.labels))
        logits, targets, _ = objective.predictions(
            self.model, _progress(loader, self.verbose, self.model_device)
        )
        classes = [str(c) for c in prep.labels.classes]
        scores = objective.metrics(logits, targets)
        return evaluation_report(scores, logits, targets, classes, where=where, split=name,
                                 unit="examples", plot=plot)  # fmt: skip


def _progress(loader, verbose: int, device: torch.device):
    """The loader's batches on ``device``, with a progress bar when ``verbose`` (in a terminal
    or a notebook)."""
    for batch in progress_bar(loader, "evaluate", verbose):
        yield batch.to(device)


def _shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
