"""Many-to-many, synced: character- and word-level language models, trained with truncated BPTT.

``rnnkit train lm`` lays the corpus out as ``batch_size`` parallel streams (``TBPTTStream``),
trains on consecutive windows of ``seq_length`` steps with the hidden state carried from one
window to the next and detached between them, and evaluates on the validation stream the same
way. Each evaluation (and every ``--sample-every`` batches) logs a short generated sample.
Metrics: loss in nats per token, perplexity, and bits per character for character models.

``rnnkit evaluate``, ``rnnkit predict`` (continues each input), ``rnnkit generate`` and
``rnnkit visualize`` read the run folder (see :mod:`rnnkit.tasks.lm_generate`).
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.data.streams import TBPTTStream
from rnnkit.data.tokenize import tokenizer_from_dict
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.models.recurrent import CELLS
from rnnkit.tasks.common import (
    add_training_arguments,
    fit_summary,
    given,
    refuse_changes,
    resolve_run,
    set_threads,
    train_config,
)
from rnnkit.tasks.lm_data import (
    LEVELS,
    build_vocabulary,
    data_source,
    decode_tokens,
    encode_text,
    load_corpus,
    make_tokenizer,
    warmup_ids,
)
from rnnkit.tasks.lm_generate import (
    GenerationSettings,
    generate_text,
    load_language_model,
)
from rnnkit.train import Callback, Checkpoint, Objective, TrainConfig, Trainer, seed_everything
from rnnkit.train.device import resolve_device
from rnnkit.train.metrics import WeightedMeans, bits_per_char, perplexity

__all__ = [
    "DESCRIPTION",
    "LMData",
    "LanguageModelObjective",
    "SampleCallback",
    "add_train_arguments",
    "detach_state",
    "evaluate",
    "make_stream",
    "predict",
    "train",
]

logger = logging.getLogger(__name__)

DESCRIPTION = """Train a language model: embedding -> stacked LSTM/GRU/RNN -> next-token softmax.

Data: --data tinyshakespeare (shipped with rnnkit), --data ptb (Penn Treebank: $RNNKIT_DATA,
~/.cache/rnnkit, or downloaded), or a path: a UTF-8 text file, or a folder of text files (its
train/valid/test files when it has them). A single text is cut into the first 90% for training
and the last 10% for validation (--val-fraction, --test-fraction).

Truncated BPTT the standard way: the corpus as --batch-size parallel streams, windows of
--seq-length steps, the hidden state carried between windows (detached), gradients clipped by
norm. An epoch is one pass over the windows; each evaluation prints a sample.

Defaults (chosen from tokens per second of each size and validation loss after a time budget on a
2-core CPU): characters, a 2-layer LSTM of 384 units, embedding 64, dropout 0.2, windows of 100
steps, batch 32; words, a 2-layer LSTM of 256 units with tied embeddings, dropout 0.3, windows
of 35, batch 32; Adam lr 2e-3 decayed per epoch (x0.9 characters, x0.8 words), clipping at 5;
words also run in bf16 autocast where the hardware multiplies bf16 (the softmax over the
vocabulary dominates their time; --precision fp32 turns it off).

Examples:
  rnnkit train lm --data tinyshakespeare --max-time 15 --out runs/shakespeare
  rnnkit train lm --data ptb --level word --max-time 30 --out runs/ptb
  rnnkit train lm --data my_novel.txt --hidden 256 --out runs/novel
  rnnkit train lm --resume runs/shakespeare --max-time 10      (continue)
  rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500
"""


@dataclass
class LMData:
    """How a language-model run reads and lays out its data (saved in config.json)."""

    source: str
    level: str = "char"
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    encoding: str = "utf-8"
    vocab_size: int | None = None
    min_freq: int = 1
    seq_length: int = 100
    batch_size: int = 32
    eval_batch_size: int = 16

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LMData:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def check(self) -> None:
        for name in ("seq_length", "batch_size", "eval_batch_size", "min_freq"):
            value = getattr(self, name)
            if value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.vocab_size is not None and self.vocab_size < 4:
            raise UserError(f"--vocab-size must be at least 4, got {self.vocab_size}")


# Per level: the model, data and training defaults (see DESCRIPTION for how they were chosen).
MODEL_DEFAULTS = {
    "char": dict(embed=64, hidden=384, layers=2, cell="lstm", dropout=0.2, tie_weights=False),
    "word": dict(embed=256, hidden=256, layers=2, cell="lstm", dropout=0.3, tie_weights=True),
}
DATA_DEFAULTS = {
    "char": dict(seq_length=100, batch_size=32, eval_batch_size=16),
    "word": dict(seq_length=35, batch_size=32, eval_batch_size=16, vocab_size=30_000),
}
TRAIN_DEFAULTS = {
    "char": TrainConfig(epochs=30, lr=2e-3, clip_norm=5.0, lr_schedule="exponential", lr_gamma=0.9),
    "word": TrainConfig(
        epochs=30,
        lr=2e-3,
        clip_norm=5.0,
        lr_schedule="exponential",
        lr_gamma=0.8,
        precision="auto",
    ),  # fmt: skip
}
SAMPLE_DEFAULTS = {"char": 300, "word": 60}

DATA_OPTIONS = ["level", "val_fraction", "test_fraction", "encoding", "vocab_size", "min_freq",
                "seq_length", "batch_size", "eval_batch_size"]  # fmt: skip
MODEL_OPTIONS = ["cell", "embed", "hidden", "layers", "dropout", "recurrent_dropout", "one_hot",
                 "tie_weights", "init", "forget_bias"]  # fmt: skip


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    c, w = MODEL_DEFAULTS["char"], MODEL_DEFAULTS["word"]
    dc, dw = DATA_DEFAULTS["char"], DATA_DEFAULTS["word"]
    data = parser.add_argument_group("data")
    add = data.add_argument
    add("--data", help="tinyshakespeare, ptb, a UTF-8 text file, or a folder of text files")
    add("--level", choices=LEVELS, help="tokens: characters or words (default: char)")
    add("--val-fraction", type=float, help="of a single text, the last part (default: 0.1)")
    add("--test-fraction", type=float, help="of a single text, cut after val (default: 0)")
    add("--encoding", help="of the text files (default: utf-8)")
    add(
        "--vocab-size",
        type=int,
        help=f"words: the most frequent kept (default: {dw['vocab_size']})",
    )
    add("--min-freq", type=int, help="words: the rarest kept (default: 1)")
    add(
        "--seq-length",
        type=int,
        help=f"BPTT window in steps (default: {dc['seq_length']} chars, {dw['seq_length']} words)",
    )
    add(
        "--eval-batch-size", type=int, help=f"validation streams (default: {dc['eval_batch_size']})"
    )
    model = parser.add_argument_group("model")
    add = model.add_argument
    add("--cell", choices=sorted(CELLS), help="(default: lstm)")
    add("--layers", type=int, help=f"stacked recurrent layers (default: {c['layers']})")
    add("--hidden", type=int, help=f"units per layer (default: {c['hidden']}, words {w['hidden']})")
    add("--embed", type=int, help=f"embedding size (default: {c['embed']}, words {w['embed']})")
    add(
        "--one-hot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="characters as one-hot vectors instead of an embedding (default: no)",
    )
    add(
        "--tie-weights",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="share the embedding with the output layer; needs --embed = --hidden "
        "(default: words yes, characters no)",
    )
    add(
        "--dropout",
        type=float,
        help=f"on embeddings, between layers, before the output (default: {c['dropout']}, "
        f"words {w['dropout']})",
    )
    add("--recurrent-dropout", type=float, help="variational, on h_{t-1} (default: 0)")
    add("--init", help="recurrent weight init, e.g. orthogonal (default: torch's uniform)")
    add("--forget-bias", type=float, help="LSTM forget-gate bias (default: 1)")
    sample = parser.add_argument_group("samples printed while training")
    add = sample.add_argument
    add(
        "--sample-length",
        type=int,
        help="tokens per sample; 0: none (default: 300 chars, 60 words)",
    )
    add(
        "--sample-every", type=int, default=None, help="also every N batches (default: 200; 0: off)"
    )
    add("--sample-temperature", type=float, default=0.8, help="(default: 0.8)")
    add("--sample-prime", default="", help="text each sample continues (default: none)")
    add_training_arguments(parser, TRAIN_DEFAULTS["char"])
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads for torch (default: torch's choice, one per core); on a machine busy "
        "with other jobs 1 is often several times faster, as idle threads wait for busy cores",
    )
    parser.set_defaults(batch_size=None)


def detach_state(state: Any) -> Any:
    """The recurrent state cut from its graph: a tensor, or a tuple such as an LSTM's ``(h, c)``."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)


class LanguageModelObjective(Objective):
    """Next-token cross-entropy with the state carried across TBPTT windows (stateful).

    ``start_epoch`` resets the state to zeros before each training pass and each evaluation;
    between windows it is detached, so gradients flow ``seq_length`` steps back at most while the
    forward pass sees the whole stream.
    """

    def __init__(self, level: str = "char") -> None:
        self.level = level
        self.state: Any = None

    def start_epoch(self, model, train: bool) -> None:
        self.state = None

    def _loss(self, model, batch) -> tuple[torch.Tensor, int]:
        inputs, targets = batch  # (B, T), (B, T)
        logits, state = model(inputs, self.state)  # (B, T, V)
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, targets.numel()

    def train_loss(self, model, batch):
        loss, n = self._loss(model, batch)
        return loss, {"n": n}

    def evaluate(self, model, batches) -> dict[str, float]:
        means = WeightedMeans()
        for batch in batches:
            loss, n = self._loss(model, batch)
            means.add({"loss": loss.item()}, weight=n)
        values = means.means()
        if "loss" not in values:
            raise UserError("the evaluation split is empty; expected at least one window")
        return self.summarize(values)

    def summarize(self, means: dict[str, float]) -> dict[str, float]:
        out = dict(means)
        out["perplexity"] = perplexity(means["loss"])
        if self.level == "char":
            out["bpc"] = bits_per_char(means["loss"])
        return out


class SampleCallback(Callback):
    """Logs a generated sample after each evaluation and every ``every`` training batches.

    Sampling uses its own seeded generator and the model in eval mode, so it changes neither the
    random state nor the carried state of training.
    """

    def __init__(self, vocab, tokenizer, level, *, length, temperature, prime="", every=0, seed=0):
        self.vocab, self.tokenizer, self.level = vocab, tokenizer, level
        self.length, self.prime, self.every = length, prime, every
        self.sampler = Sampler(temperature=temperature, seed=seed, banned=(vocab.pad_index,))

    def _show(self, trainer: Trainer, when: str) -> None:
        if self.length <= 0:
            return
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            result = generate_text(
                model, self.vocab, self.tokenizer, self.level, self.prime, self.length,
                self.sampler, trainer.device,
            )  # fmt: skip
        finally:
            model.train(was_training)
        body = "\n".join("  | " + line for line in result.text.split("\n"))
        logger.info("sample %s:\n%s", when, body)

    def on_batch_end(self, trainer, epoch, batch_index, loss, stats) -> None:
        if self.every and (batch_index + 1) % self.every == 0:
            self._show(trainer, f"at epoch {epoch}, batch {batch_index + 1} (loss {loss:.3f})")

    def on_evaluate(self, trainer, epoch, metrics) -> None:
        self._show(trainer, f"after epoch {epoch} (val loss {metrics['loss']:.4f})")


def make_stream(ids: torch.Tensor, batch_size: int, seq_length: int, what: str) -> TBPTTStream:
    """A TBPTT stream of ``ids``; fewer streams when the split is short (at least 2 tokens each)."""
    if ids.numel() < 2:
        raise UserError(f"the {what} has {ids.numel()} token(s); expected at least 2")
    return TBPTTStream(ids, min(batch_size, ids.numel() // 2), seq_length=seq_length)


def _settings(args: argparse.Namespace, saved: Checkpoint | None):
    """(data settings, model settings dict) for a fresh run or a resumed one."""
    if saved is not None:
        data = LMData.from_dict(saved.config["data"])
        model = saved.config["model"]
        refuse_changes(
            args, DATA_OPTIONS + MODEL_OPTIONS, {**data.to_dict(), **model},
            data_source(args.data) if args.data else None, "its weights and vocabulary were",
        )  # fmt: skip
        return data, model
    if not args.data:
        raise UserError("expected --data tinyshakespeare, ptb, or a path to a text file or folder")
    level = args.level or "char"
    options = given(args, DATA_OPTIONS)
    data = LMData(source=data_source(args.data), **{**DATA_DEFAULTS[level], **options})
    data.check()
    chosen = given(args, MODEL_OPTIONS)
    model = {**MODEL_DEFAULTS[level], **chosen}
    if model.get("one_hot") and "tie_weights" not in chosen:
        model["tie_weights"] = False  # nothing to tie to
    if model["tie_weights"] and "embed" not in chosen:
        model["embed"] = model["hidden"]  # tying needs embed == hidden
    return data, model


def train(args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit train lm``: a fresh run from the options, or ``--resume`` a saved one."""
    out, saved = resolve_run(args, "lm")
    data, model_settings = _settings(args, saved)
    set_threads(args.threads)
    level = data.level
    config = train_config(args, TRAIN_DEFAULTS[level], saved)
    if config.seed is not None:
        seed_everything(config.seed)  # before the model is built: a reproducible init

    corpus = load_corpus(
        data.source,
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        encoding=data.encoding,
    )
    if saved is not None:  # the vocabulary the saved weights were trained with
        tokenizer = tokenizer_from_dict(saved.artifacts["tokenizer"])
        vocab = Vocabulary.from_dict(saved.artifacts["vocab"])
    else:
        tokenizer = make_tokenizer(level, data.source)
        vocab = build_vocabulary(
            corpus, tokenizer, level, max_size=data.vocab_size, min_freq=data.min_freq
        )
    ids = {
        split: encode_text(text, tokenizer, vocab, level, what=f"the {split} split")[0]
        for split, text in corpus.texts.items()
    }
    logger.info(
        "data: %s; %s-level vocabulary of %d; tokens: %s",
        corpus.summary(), level, len(vocab),
        ", ".join(f"{k} {v.numel():,}" for k, v in ids.items()),
    )  # fmt: skip
    train_stream = make_stream(ids["train"], data.batch_size, data.seq_length, "training split")
    val_stream = make_stream(ids["val"], data.eval_batch_size, data.seq_length, "validation split")
    try:
        model_config = LanguageModelConfig(**{**model_settings, "vocab_size": len(vocab)})
        model = LanguageModel(model_config)
    except (TypeError, ValueError) as error:
        raise UserError(f"invalid model settings: {error}") from None
    warmup = warmup_ids(ids["train"], vocab, level)
    model.warmup = warmup  # what samples start after (see lm_generate.generate_text)
    sample_length = args.sample_length
    if sample_length is None:
        sample_length = SAMPLE_DEFAULTS[level]
    every = 200 if args.sample_every is None else args.sample_every
    if sample_length < 0 or every < 0:
        raise UserError(
            f"--sample-length and --sample-every must be >= 0, got {sample_length} and {every}"
        )
    try:
        sampler = SampleCallback(
            vocab, tokenizer, level, length=sample_length, temperature=args.sample_temperature,
            prime=args.sample_prime, every=every, seed=config.seed or 0,
        )  # fmt: skip
    except ValueError as error:
        raise UserError(f"--sample-{error}") from None
    if args.sample_prime:
        encode_text(args.sample_prime, tokenizer, vocab, level, what="--sample-prime")
    logger.info(
        "model: %d-layer %s, hidden %d, %s, %s parameters; %d windows of %dx%d per epoch",
        model_config.layers, model_config.cell.upper(), model_config.hidden,
        "one-hot input" if model_config.one_hot else f"embedding {model_config.embed}",
        f"{sum(p.numel() for p in model.parameters()):,}", len(train_stream),
        train_stream.batch_size, data.seq_length,
    )  # fmt: skip
    trainer = Trainer(
        model,
        LanguageModelObjective(level),
        config,
        callbacks=[sampler],
        device=args.device,
        checkpoint_config={"task": "lm", "model": model_config.to_dict(), "data": data.to_dict()},
        artifacts={
            "tokenizer": tokenizer.to_dict(),
            "vocab": vocab.to_dict(),
            "warmup": {"ids": warmup, "text": decode_tokens(warmup, vocab, level)},
        },
    )
    trainer.fit(
        train_stream, val_stream, out_dir=out, resume=saved is not None, overwrite=args.overwrite
    )
    summary = fit_summary(trainer, out)
    best, val = summary["best_epoch"], summary["val"]
    unit = "char" if level == "char" else "word"
    bpc = f", {val['bpc']:.3f} bits/char" if "bpc" in val else ""
    return {
        **summary,
        "report": (
            f"trained {trainer.epoch} epoch(s), {trainer.global_step} steps in "
            f"{trainer.elapsed_s / 60:.1f} min ({trainer.stop_reason}); best epoch {best}: val "
            f"loss {val.get('loss', math.nan):.4f} nats/{unit}, perplexity "
            f"{val.get('perplexity', math.nan):.2f}{bpc}\n"
            f'saved in {out}/best — next: rnnkit generate {out} --prime "..."'
        ),
    }


def evaluate(checkpoint: Checkpoint, args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit evaluate DIR [--split val|test|train]``: loss, perplexity (and bits per char)."""
    device = resolve_device(args.device)
    model, vocab, tokenizer, level = load_language_model(checkpoint, device)
    data = LMData.from_dict(checkpoint.config["data"])
    source = data_source(args.data) if getattr(args, "data", None) else data.source
    corpus = load_corpus(
        source,
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        encoding=data.encoding,
    )
    split = args.split
    if split not in corpus.texts:
        raise UserError(
            f"{source} has no {split} split: it was cut into {', '.join(corpus.texts)}; expected "
            "one of those (train with --test-fraction to keep a test part of a single text)"
        )
    ids, unknown = encode_text(corpus.texts[split], tokenizer, vocab, level, what=f"{split} text")
    if unknown:
        logger.info("%d distinct words of the %s split are not in the vocabulary: <unk>",
                    len(unknown), split)  # fmt: skip
    batch_size = getattr(args, "batch_size", None) or data.eval_batch_size
    stream = make_stream(ids, batch_size, data.seq_length, f"{split} split")
    objective = LanguageModelObjective(level)
    objective.start_epoch(model, train=False)
    with torch.no_grad():
        metrics = objective.evaluate(model, ((x.to(device), y.to(device)) for x, y in stream))
    unit = "char" if level == "char" else "word"
    bpc = f"  bits/char {metrics['bpc']:.4f}" if "bpc" in metrics else ""
    return {
        "split": split,
        "source": source,
        "tokens": ids.numel(),
        **metrics,
        "report": (
            f"{source}, {split} split: {ids.numel():,} {unit}s\n"
            f"loss {metrics['loss']:.4f} nats/{unit}  perplexity {metrics['perplexity']:.2f}{bpc}"
        ),
    }


def predict(checkpoint: Checkpoint, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit predict DIR TEXT...``: continue each text (as ``rnnkit generate`` does)."""
    device = resolve_device(getattr(args, "device", "auto"))
    model, vocab, tokenizer, level = load_language_model(checkpoint, device)
    settings = GenerationSettings.from_args(args, level)
    rows = []
    for text in texts:
        sampler = settings.sampler(vocab)
        result = generate_text(
            model, vocab, tokenizer, level, text, settings.length, sampler, device
        )
        rows.append({"prime": text, "text": result.text, "continuation": result.generated})
    report = "\n\n".join(row["text"] for row in rows)
    return {"predictions": rows, "seed": settings.seed, "report": report}
