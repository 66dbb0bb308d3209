"""Many-to-one text classification (sentiment and any other labels): train, evaluate, predict."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.data import (
    LabelEncoder,
    Vocabulary,
    get_tokenizer,
    make_loader,
    pad_sequences,
    tokenizer_from_dict,
    truncate,
)
from rnnkit.errors import UserError
from rnnkit.models import POOLINGS, ClassifierConfig, SequenceClassifier
from rnnkit.models.recurrent import CELLS
from rnnkit.tasks.common import (
    add_training_arguments,
    fit_summary,
    given,
    resolve_run,
    train_config,
)
from rnnkit.tasks.reports import confusion_table, save_confusion_plot
from rnnkit.tasks.text_data import TextData, encode_texts, fit_vocabulary, load_splits
from rnnkit.train import (
    Checkpoint,
    Objective,
    TrainConfig,
    Trainer,
    load_model_state,
    resolve_device,
    seed_everything,
)
from rnnkit.train.metrics import accuracy, confusion_matrix, macro_f1

__all__ = [
    "DESCRIPTION",
    "ClassificationObjective",
    "add_train_arguments",
    "evaluate",
    "load_classifier",
    "predict",
    "train",
]

logger = logging.getLogger(__name__)

DESCRIPTION = """Train a text classifier: embedding -> stacked (bi)RNN -> pooling -> linear.

Data: --data imdb (the aclImdb reviews, found through $RNNKIT_DATA, ~/.cache/rnnkit, or
downloaded), --data gop-debate (3-class tweets), or a path: an aclImdb folder or tarball, or any
CSV/TSV with a text column and a label column (--text-column, --label-column, --encoding).
A validation split (--val-fraction, stratified, seeded) is cut from train to select the best
epoch; data without a test split gets one cut first (--test-fraction).

The defaults are a bidirectional LSTM with max pooling over time, orthogonal recurrent weights,
forget-gate bias 1, dropout 0.5, Adam and gradient-norm clipping at 5.

Examples:
  rnnkit train classify --data imdb --out runs/imdb
  rnnkit train classify --data reviews.csv --text-column review --label-column stars --out runs/r
  rnnkit train classify --resume runs/imdb          (continue after Ctrl-C)
"""

MODEL_DEFAULTS = ClassifierConfig(vocab_size=1, num_classes=2)
DATA_DEFAULTS = TextData(source="")
TRAIN_DEFAULTS = TrainConfig(
    epochs=4, lr=2e-3, clip_norm=5.0, monitor="val_accuracy", mode="max", patience=2
)
BATCH_SIZE = 64


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    m, d = MODEL_DEFAULTS, DATA_DEFAULTS
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="imdb, gop-debate, or a path to an aclImdb tree or a CSV/TSV")
    data.add_argument("--text-column", help="CSV/TSV column holding the text (default: text)")
    data.add_argument("--label-column", help="CSV/TSV column holding the label (default: label)")
    data.add_argument(
        "--encoding", help="CSV/TSV encoding (default: utf-8; latin-1 for gop-debate)"
    )
    data.add_argument("--delimiter", help="CSV/TSV delimiter (default: from the extension)")
    data.add_argument("--level", choices=["word", "char"], help=f"tokens (default: {d.level})")
    data.add_argument("--max-vocab", type=int, help=f"vocabulary size (default: {d.max_vocab})")
    data.add_argument("--min-freq", type=int, help=f"rarest word kept (default: {d.min_freq})")
    data.add_argument(
        "--max-length",
        type=int,
        help=f"truncate texts to this many tokens (default: {d.max_length})",
    )
    data.add_argument(
        "--keep", choices=["start", "end"], help=f"part of a long text kept (default: {d.keep})"
    )
    data.add_argument("--val-fraction", type=float, help=f"(default: {d.val_fraction})")
    data.add_argument("--test-fraction", type=float, help=f"(default: {d.test_fraction})")
    data.add_argument("--limit", type=int, help="use at most N examples of each split (quick runs)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=sorted(CELLS), help=f"(default: {m.cell})")
    model.add_argument("--layers", type=int, help=f"stacked recurrent layers (default: {m.layers})")
    model.add_argument(
        "--hidden", type=int, help=f"hidden units per direction (default: {m.hidden})"
    )
    model.add_argument("--embed", type=int, help=f"embedding size (default: {m.embed})")
    model.add_argument(
        "--bidirectional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"read each text both ways (default: {m.bidirectional})",
    )
    model.add_argument("--pooling", choices=POOLINGS, help=f"over time (default: {m.pooling})")
    model.add_argument(
        "--dropout", type=float, help=f"before the output layer (default: {m.dropout})"
    )
    model.add_argument("--embed-dropout", type=float, help=f"(default: {m.embed_dropout})")
    add_training_arguments(parser, TRAIN_DEFAULTS)
    parser.set_defaults(batch_size=None)


class ClassificationObjective(Objective):
    """Cross-entropy on the logits of padded batches; accuracy and macro-F1 on evaluation."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def train_loss(self, model, batch):
        logits = model(batch.tokens, batch.lengths)  # (N, C)
        loss = F.cross_entropy(logits, batch.targets)
        return loss, {"accuracy": accuracy(logits.detach(), batch.targets), "n": len(batch.targets)}

    @torch.no_grad()
    def predictions(self, model, batches) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (N, C), targets (N,) and example indices (N,) over all ``batches``."""
        logits, targets, indices = [], [], []
        for batch in batches:
            logits.append(model(batch.tokens, batch.lengths).float().cpu())
            targets.append(batch.targets.cpu())
            indices.append(batch.indices.cpu())
        return torch.cat(logits), torch.cat(targets), torch.cat(indices)

    def evaluate(self, model, batches):
        logits, targets, _ = self.predictions(model, batches)
        return {
            "loss": F.cross_entropy(logits, targets).item(),
            "accuracy": accuracy(logits, targets),
            "macro_f1": macro_f1(logits, targets, self.num_classes),
        }


# command-line options (None unless given) that override DATA_DEFAULTS and MODEL_DEFAULTS
DATA_OPTIONS = ["text_column", "label_column", "encoding", "delimiter", "level", "max_vocab",
                "min_freq", "max_length", "keep", "val_fraction", "test_fraction",
                "limit"]  # fmt: skip
MODEL_OPTIONS = ["cell", "layers", "hidden", "embed", "bidirectional", "pooling", "dropout",
                 "embed_dropout"]  # fmt: skip


def train(args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit train classify``: a fresh run from the options, or ``--resume`` a saved one."""
    out, saved = resolve_run(args, "classify")
    if saved:
        data = TextData.from_dict(saved.config["data"])
        model_settings = saved.config["model"]
        batch_size = args.batch_size or saved.config.get("batch_size", BATCH_SIZE)
    else:
        if not args.data:
            raise UserError("expected --data imdb, gop-debate, or a path to labelled text")
        data = TextData(source=args.data, **given(args, DATA_OPTIONS))
        model_settings = {**MODEL_DEFAULTS.to_dict(), **given(args, MODEL_OPTIONS)}
        batch_size = args.batch_size or BATCH_SIZE
    config = train_config(args, TRAIN_DEFAULTS, saved)
    if config.seed is not None:
        seed_everything(config.seed)  # before the model is built: a reproducible init

    splits = load_splits(data)
    tokenizer = get_tokenizer(data.level)
    if saved:  # the vocabulary and labels the saved weights were trained with
        vocab = Vocabulary.from_dict(saved.artifacts["vocab"])
        encoder = LabelEncoder.from_dict(saved.artifacts["labels"])
    else:
        vocab, encoder = fit_vocabulary(splits["train"], tokenizer, data)
    logger.info(
        "data: %d train, %d val, %d test examples; classes %s; vocabulary %d",
        len(splits["train"]), len(splits["val"]), len(splits["test"]), list(encoder.classes),
        len(vocab),
    )  # fmt: skip
    train_set, val_set = (
        encode_texts(splits[name], tokenizer, vocab, encoder, data, what=f"{name} texts")
        for name in ("train", "val")
    )
    model_config = ClassifierConfig(
        **{**model_settings, "vocab_size": len(vocab), "num_classes": len(encoder)}
    )
    trainer = Trainer(
        SequenceClassifier(model_config),
        ClassificationObjective(len(encoder)),
        config,
        device=args.device,
        checkpoint_config={
            "task": "classify",
            "model": model_config.to_dict(),
            "data": data.to_dict(),
            "batch_size": batch_size,
        },
        artifacts={
            "tokenizer": tokenizer.to_dict(),
            "vocab": vocab.to_dict(),
            "labels": encoder.to_dict(),
        },
    )
    trainer.fit(
        make_loader(train_set, batch_size, shuffle=True, seed=config.seed or 0),
        make_loader(val_set, batch_size, shuffle=False),
        out_dir=out,
        resume=saved is not None,
        overwrite=args.overwrite,
    )
    summary = fit_summary(trainer, out)
    best, val = summary["best_epoch"], summary["val"]
    return {
        **summary,
        "report": (
            f"trained {trainer.epoch} epoch(s) in {trainer.elapsed_s / 60:.1f} min "
            f"({trainer.stop_reason}); best epoch {best}: val accuracy "
            f"{val.get('accuracy', float('nan')):.4f}, val loss {val.get('loss', float('nan')):.4f}"
            f"\nsaved in {out}/best — next: rnnkit evaluate {out} --split test"
        ),
    }


def load_classifier(checkpoint: Checkpoint, device: torch.device):
    """(model in eval mode on ``device``, tokenizer, vocabulary, label encoder, data settings)."""
    config = checkpoint.config
    model = SequenceClassifier(ClassifierConfig(**config["model"]))
    load_model_state(model, checkpoint.state_dict)
    tokenizer = tokenizer_from_dict(checkpoint.artifacts["tokenizer"])
    vocab = Vocabulary.from_dict(checkpoint.artifacts["vocab"])
    encoder = LabelEncoder.from_dict(checkpoint.artifacts["labels"])
    return model.to(device).eval(), tokenizer, vocab, encoder, TextData.from_dict(config["data"])


def evaluate(checkpoint: Checkpoint, args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit evaluate DIR``: loss, accuracy, macro-F1 and the confusion matrix of a split."""
    device = resolve_device(args.device)
    model, tokenizer, vocab, encoder, data = load_classifier(checkpoint, device)
    if args.data:  # other data of the same form, read with the same settings
        data = TextData.from_dict({**data.to_dict(), "source": args.data})
    split = load_splits(data)[args.split]
    unknown = sorted({str(label) for label in split.labels} - {str(c) for c in encoder.classes})
    if unknown:
        raise UserError(
            f"the {args.split} split has labels the model never saw: {unknown[:10]}; "
            f"expected only {list(encoder.classes)}"
        )
    dataset = encode_texts(split, tokenizer, vocab, encoder, data, what=f"{args.split} texts")
    batch_size = args.batch_size or checkpoint.config.get("batch_size", BATCH_SIZE)
    batches = [batch.to(device) for batch in make_loader(dataset, batch_size, shuffle=False)]
    objective = ClassificationObjective(len(encoder))
    logits, targets, _ = objective.predictions(model, batches)
    matrix = confusion_matrix(logits, targets, len(encoder))  # (C, C)
    classes = [str(c) for c in encoder.classes]
    plot = Path(args.plot) if args.plot else checkpoint.path.parent / f"confusion-{args.split}.png"
    if not save_confusion_plot(matrix, classes, plot, title=f"{data.source}, {args.split} split"):
        plot = None
    metrics = {
        "split": args.split,
        "n": len(targets),
        "loss": F.cross_entropy(logits, targets).item(),
        "accuracy": accuracy(logits, targets),
        "macro_f1": macro_f1(logits, targets, len(encoder)),
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "plot": str(plot) if plot else None,
    }
    metrics["report"] = (
        f"{data.source}, {args.split} split: {metrics['n']} examples\n"
        f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
        f"loss {metrics['loss']:.4f}\n\n{confusion_table(matrix, classes)}"
        + (f"\n\nconfusion matrix plot: {plot}" if plot else "")
    )
    return metrics


def predict(checkpoint: Checkpoint, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit predict DIR TEXT...``: the label and class probabilities of each text."""
    device = resolve_device(args.device)
    model, tokenizer, vocab, encoder, data = load_classifier(checkpoint, device)
    rows = []
    unknown = vocab.unk_index if vocab.unk_index is not None else vocab.pad_index
    for start in range(0, len(texts), BATCH_SIZE):
        chunk = texts[start : start + BATCH_SIZE]
        ids = [
            torch.tensor(
                truncate(vocab.encode(tokenizer(t)) or [unknown], data.max_length, data.keep)
            )
            for t in chunk
        ]  # an all-punctuation text reads as one unknown token
        tokens, lengths = pad_sequences(ids, vocab.pad_index)  # (N, L), (N,)
        with torch.no_grad():
            probabilities = torch.softmax(model(tokens.to(device), lengths).float(), -1).cpu()
        for text, p in zip(chunk, probabilities):
            label = encoder.classes[int(p.argmax())]
            rows.append({
                "text": text,
                "label": label,
                "probabilities": {str(c): round(float(q), 6) for c, q in zip(encoder.classes, p)},
            })  # fmt: skip
    report = "\n".join(
        f"{row['label']}\t{row['probabilities'][str(row['label'])]:.3f}\t{_shorten(row['text'])}"
        for row in rows
    )
    return {"predictions": rows, "report": report}


def _shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
