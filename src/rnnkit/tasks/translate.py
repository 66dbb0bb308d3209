"""Encoder-decoder: translation with attention, trained on sentence pairs, decoded by beam search.

``rnnkit train translate`` learns a tokenizer and a vocabulary per language on the training side,
trains a :class:`~rnnkit.models.Seq2Seq` with teacher forcing (label-smoothed cross-entropy on
the target tokens), and after each epoch reports the validation loss, perplexity and the BLEU of
greedy translations, keeping the epoch with the best validation BLEU. ``rnnkit evaluate`` scores
a split with beam search and sacrebleu; ``rnnkit translate`` and ``rnnkit predict`` translate new
text (see :mod:`rnnkit.tasks.translate_decode`).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.data.batching import make_loader
from rnnkit.errors import UserError
from rnnkit.models.attention import ATTENTIONS
from rnnkit.models.recurrent import CELLS
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.common import (
    add_training_arguments,
    fit_summary,
    given,
    refuse_changes,
    resolve_run,
    set_threads,
    train_config,
)
from rnnkit.tasks.translate_data import (
    Side,
    TranslateData,
    build_side,
    encode_pairs,
    load_corpus,
)
from rnnkit.tasks.translate_decode import (
    Translation,
    Translator,
    corpus_bleu,
    save_attention_plot,
)
from rnnkit.train import Callback, Checkpoint, Objective, TrainConfig, Trainer, seed_everything
from rnnkit.train.device import resolve_device
from rnnkit.train.metrics import perplexity

__all__ = [
    "DESCRIPTION",
    "TranslationObjective",
    "add_train_arguments",
    "evaluate",
    "predict",
    "train",
    "translate",
]

logger = logging.getLogger(__name__)

DESCRIPTION = """Train a translation model: an encoder-decoder RNN with attention.

Data: --data multi30k (German-English image captions: $RNNKIT_DATA, ~/.cache/rnnkit, or
downloaded), a folder of <split>.<lang>[.gz] files (train, val/valid/dev, test), a prefix PATH of
two line-aligned files PATH.<src> and PATH.<tgt>, or a .tsv of 'source<TAB>target' lines.
--src and --tgt name the languages (the files' suffixes). Pairs with an empty side are dropped;
without a validation split, --val-fraction of train is cut off for one.

Each side gets its own tokenizer learned on its training text (--tokens bpe: byte-pair subwords,
unigram, or word) and its vocabulary; both are saved with the model. Translations are
detokenized exactly, so BLEU (sacrebleu) is computed against the raw references.

The defaults (a bidirectional GRU encoder of 2x256, a GRU decoder of 512 with additive attention,
embeddings of 256 tied to the output layer, dropout 0.3, label smoothing 0.1, Adam 1e-3 halved
whenever the validation BLEU stalls for an epoch, batch 64, bf16 autocast where the hardware
multiplies bf16) keep the epoch with the best validation BLEU (greedy) and stop after 5 epochs
without progress; evaluate with beam search.

Examples:
  rnnkit train translate --data multi30k --src de --tgt en --max-time 60 --out runs/de-en
  rnnkit train translate --data corpus --src fr --tgt en --out runs/fr-en   (corpus.fr, corpus.en)
  rnnkit evaluate runs/de-en --split test --beam 5
  rnnkit translate runs/de-en "Ein Mann fährt Fahrrad." --attention-plot attention.png
"""

MODEL_DEFAULTS = Seq2SeqConfig(src_vocab_size=1, tgt_vocab_size=1)
DATA_DEFAULTS = TranslateData(source="")
TRAIN_DEFAULTS = TrainConfig(
    epochs=30, lr=1e-3, clip_norm=1.0, monitor="val_bleu", mode="max", patience=5,
    lr_schedule="plateau", lr_gamma=0.5, lr_patience=1, precision="auto",
)  # fmt: skip
LABEL_SMOOTHING = 0.1
BEAM, ALPHA = 5, 1.0

DATA_OPTIONS = ["src", "tgt", "encoding", "tokens", "src_vocab", "tgt_vocab", "min_freq",
                "max_length", "val_fraction", "batch_size"]  # fmt: skip
MODEL_OPTIONS = ["cell", "layers", "embed", "encoder_hidden", "hidden", "bidirectional",
                 "attention", "dropout", "tie_embeddings"]  # fmt: skip


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    m, d = MODEL_DEFAULTS, DATA_DEFAULTS
    data = parser.add_argument_group("data")
    add = data.add_argument
    add("--data", help="multi30k, a folder, a file prefix, or a .tsv of pairs")
    add("--src", help=f"source language, the files' suffix (default: {d.src})")
    add("--tgt", help=f"target language (default: {d.tgt})")
    add("--encoding", help=f"of the text files (default: {d.encoding})")
    add("--tokens", choices=["bpe", "unigram", "word"], help=f"(default: {d.tokens})")
    add("--src-vocab", type=int, help=f"source pieces learned (default: {d.src_vocab})")
    add("--tgt-vocab", type=int, help=f"target pieces learned (default: {d.tgt_vocab})")
    add("--min-freq", type=int, help=f"fewest occurrences of a merge/word (default: {d.min_freq})")
    add(
        "--max-length",
        type=int,
        help=f"leave out training pairs longer than this, in tokens (default: {d.max_length})",
    )
    add(
        "--val-fraction",
        type=float,
        help=f"of train, when the data has no validation split (default: {d.val_fraction})",
    )
    model = parser.add_argument_group("model")
    add = model.add_argument
    add("--cell", choices=sorted(CELLS), help=f"encoder and decoder cell (default: {m.cell})")
    add("--layers", type=int, help=f"stacked layers in each (default: {m.layers})")
    add("--embed", type=int, help=f"embedding size (default: {m.embed})")
    add(
        "--encoder-hidden",
        type=int,
        help=f"encoder units per direction (default: {m.encoder_hidden})",
    )
    add("--hidden", type=int, help=f"decoder units (default: {m.hidden})")
    add(
        "--bidirectional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"read the source both ways (default: {m.bidirectional})",
    )
    add("--attention", choices=[*ATTENTIONS, "none"], help=f"(default: {m.attention})")
    add("--dropout", type=float, help=f"(default: {m.dropout})")
    add(
        "--tie-embeddings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"share the target embedding with the output layer (default: {m.tie_embeddings})",
    )
    add(
        "--teacher-forcing",
        type=float,
        help="probability of feeding the reference token rather than the model's own "
        "prediction at each step (default: 1)",
    )
    add("--label-smoothing", type=float, help=f"(default: {LABEL_SMOOTHING})")
    add_training_arguments(parser, TRAIN_DEFAULTS)
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: one per core)")
    parser.set_defaults(batch_size=None)


class TranslationObjective(Objective):
    """Label-smoothed cross-entropy on the target tokens; on evaluation, the plain loss (nats per
    target token), perplexity, and the BLEU of greedy translations against the raw references."""

    def __init__(
        self,
        *,
        pad_index: int,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        translator: Translator | None = None,
        sources: list[str] | None = None,
        references: list[str] | None = None,
    ) -> None:
        self.pad_index = pad_index
        self.label_smoothing = label_smoothing
        self.teacher_forcing = teacher_forcing
        self.translator, self.sources, self.references = translator, sources, references
        self.translations: list[Translation] = []  # of ``sources`` at the last evaluation

    def _loss(self, model, batch, smoothing: float) -> tuple[torch.Tensor, int]:
        targets = batch.targets  # (N, T+1): <bos> y_1 .. y_T <eos>, padded
        logits = model(
            batch.tokens,
            batch.lengths,
            targets[:, :-1],
            teacher_forcing=self.teacher_forcing if model.training else 1.0,
        )  # (N, T, V)
        gold = targets[:, 1:]  # (N, T)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), gold.reshape(-1),
                               ignore_index=self.pad_index, label_smoothing=smoothing)  # fmt: skip
        return loss, int((gold != self.pad_index).sum())

    def train_loss(self, model, batch):
        loss, n = self._loss(model, batch, self.label_smoothing)
        return loss, {"n": n}

    @torch.no_grad()
    def evaluate(self, model, batches) -> dict[str, float]:
        total, count = 0.0, 0
        for batch in batches:
            loss, n = self._loss(model, batch, 0.0)
            total += loss.item() * n
            count += n
        if not count:
            raise UserError("the validation split is empty; expected at least one pair")
        metrics = {"loss": total / count, "perplexity": perplexity(total / count)}
        if self.translator is not None and self.sources:
            self.translator.model = model
            self.translations = self.translator.translate(self.sources, beam=1)
            hypotheses = [t.text for t in self.translations]
            metrics["bleu"], _ = corpus_bleu(hypotheses, self.references)
        return metrics


class ShowTranslations(Callback):
    """Logs the first ``count`` validation translations of each evaluation (the objective's)."""

    def __init__(self, objective: TranslationObjective, count: int = 2) -> None:
        self.objective, self.count = objective, count

    def on_evaluate(self, trainer, epoch, metrics) -> None:
        o = self.objective
        shown = list(zip(o.sources or [], o.references or [], o.translations))[: self.count]
        if not shown:
            return
        lines = [f"after epoch {epoch} (val BLEU {metrics.get('bleu', math.nan):.2f}):"]
        for source, reference, translation in shown:
            lines += [f"  | source     {source}", f"  | reference  {reference}",
                      f"  | translated {translation.text}"]  # fmt: skip
        logger.info("\n".join(lines))


def _settings(args: argparse.Namespace, saved: Checkpoint | None):
    if saved is not None:
        data = TranslateData.from_dict(saved.config["data"])
        model = saved.config["model"]
        refuse_changes(
            args, DATA_OPTIONS + MODEL_OPTIONS, {**data.to_dict(), **model}, args.data,
            "the weights, tokenizers and vocabularies were",
        )  # fmt: skip
        return data, model, saved.config.get("objective", {})
    if not args.data:
        raise UserError("expected --data multi30k, a folder, a file prefix or a .tsv of pairs")
    data = TranslateData(source=args.data, **given(args, DATA_OPTIONS))
    data.check()
    model = {**MODEL_DEFAULTS.to_dict(), **given(args, MODEL_OPTIONS)}
    objective = {
        "label_smoothing": LABEL_SMOOTHING
        if args.label_smoothing is None
        else args.label_smoothing,
        "teacher_forcing": 1.0 if args.teacher_forcing is None else args.teacher_forcing,
    }
    for name, value in objective.items():
        if not 0 <= value <= 1:
            raise UserError(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
    return data, model, objective


def train(args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit train translate``: a fresh run from the options, or ``--resume`` a saved one."""
    out, saved = resolve_run(args, "translate")
    data, model_settings, objective_settings = _settings(args, saved)
    set_threads(args.threads)
    config = train_config(args, TRAIN_DEFAULTS, saved)
    if config.seed is not None:
        seed_everything(config.seed)
    corpus = load_corpus(data, seed=config.seed or 0)
    train_pairs, val_pairs = corpus.splits["train"], corpus.splits["val"]
    if saved is not None:
        src = Side.from_artifacts(saved.artifacts, "src")
        tgt = Side.from_artifacts(saved.artifacts, "tgt")
    else:
        src = build_side(train_pairs[0], data, data.src_vocab)
        tgt = build_side(train_pairs[1], data, data.tgt_vocab)
    logger.info("tokens: %s; vocabularies %s %d, %s %d", data.tokens, data.src, len(src.vocab),
                data.tgt, len(tgt.vocab))  # fmt: skip
    train_set = encode_pairs(src, tgt, train_pairs, data.max_length, "training")
    val_set = encode_pairs(src, tgt, val_pairs, None, "validation")
    try:
        model_config = Seq2SeqConfig(**{**model_settings, "src_vocab_size": len(src.vocab),
                                        "tgt_vocab_size": len(tgt.vocab)})  # fmt: skip
        model = Seq2Seq(model_config)
    except (TypeError, ValueError) as error:
        raise UserError(f"invalid model settings: {error}") from None
    translator = Translator(model, src, tgt, torch.device("cpu"))
    objective = TranslationObjective(
        pad_index=tgt.vocab.pad_index, translator=translator, sources=val_pairs[0],
        references=val_pairs[1], **objective_settings,
    )  # fmt: skip
    logger.info(
        "model: %s encoder %s%dx%d, decoder %d, attention %s, %s parameters; %d batches of %d",
        model_config.cell.upper(), "2x" if model_config.bidirectional else "",
        model_config.layers, model_config.encoder_hidden, model_config.hidden,
        model_config.attention, f"{sum(p.numel() for p in model.parameters()):,}",
        math.ceil(len(train_set) / data.batch_size), data.batch_size,
    )  # fmt: skip
    trainer = Trainer(
        model,
        objective,
        config,
        callbacks=[ShowTranslations(objective)],
        device=args.device,
        checkpoint_config={
            "task": "translate",
            "model": model_config.to_dict(),
            "data": data.to_dict(),
            "objective": objective_settings,
        },  # fmt: skip
        artifacts={**src.to_artifacts("src"), **tgt.to_artifacts("tgt")},
    )
    translator.device = trainer.device
    pad = src.vocab.pad_index
    trainer.fit(
        make_loader(train_set, data.batch_size, shuffle=True, seed=config.seed or 0,
                    pad_index=pad),
        make_loader(val_set, 2 * data.batch_size, shuffle=False, pad_index=pad),
        out_dir=out, resume=saved is not None, overwrite=args.overwrite,
    )  # fmt: skip
    summary = fit_summary(trainer, out)
    best, val = summary["best_epoch"], summary["val"]
    return {
        **summary,
        "report": (
            f"trained {trainer.epoch} epoch(s), {trainer.global_step} steps in "
            f"{trainer.elapsed_s / 60:.1f} min ({trainer.stop_reason}); best epoch {best}: val "
            f"BLEU {val.get('bleu', math.nan):.2f} (greedy), loss {val.get('loss', math.nan):.4f}"
            f", perplexity {val.get('perplexity', math.nan):.2f}\n"
            f"saved in {out}/best — next: rnnkit evaluate {out} --split test --beam {BEAM}"
        ),
    }


def _search_options(args: argparse.Namespace) -> tuple[int, float]:
    beam = getattr(args, "beam", None) or BEAM
    alpha = getattr(args, "alpha", None)
    return beam, ALPHA if alpha is None else alpha


def evaluate(checkpoint: Checkpoint, args: argparse.Namespace) -> dict[str, Any]:
    """``rnnkit evaluate DIR [--split test] [--beam K]``: BLEU (sacrebleu) and perplexity."""
    device = resolve_device(args.device)
    translator = Translator.from_checkpoint(checkpoint, device)
    data = TranslateData.from_dict(checkpoint.config["data"])
    if getattr(args, "data", None):
        data = TranslateData.from_dict({**data.to_dict(), "source": args.data})
    corpus = load_corpus(data, seed=checkpoint.config.get("train", {}).get("seed") or 0)
    if args.split not in corpus.splits:
        raise UserError(
            f"{data.source} has no {args.split} split; it has {', '.join(corpus.splits)}"
        )
    sources, references = corpus.splits[args.split]
    beam, alpha = _search_options(args)
    pairs = encode_pairs(translator.src, translator.tgt, (sources, references), None, args.split)
    objective = TranslationObjective(pad_index=translator.tgt.vocab.pad_index)
    batch_size = args.batch_size or data.batch_size
    loader = make_loader(pairs, batch_size, shuffle=False, pad_index=translator.src.vocab.pad_index)
    with torch.no_grad():
        losses = objective.evaluate(translator.model, (b.to(device) for b in loader))
    found = translator.translate(sources, beam=beam, alpha=alpha, batch_size=batch_size)
    bleu, signature = corpus_bleu([t.text for t in found], references)
    examples = [{"source": s, "reference": r, "translation": t.text}
                for s, r, t in zip(sources[:3], references[:3], found[:3])]  # fmt: skip
    report = [
        f"{data.source} {data.src}->{data.tgt}, {args.split} split: {len(sources):,} sentences, "
        f"beam {beam}" + (f", alpha {alpha}" if beam > 1 else ""),
        f"BLEU {bleu:.2f}  perplexity {losses['perplexity']:.2f}  loss {losses['loss']:.4f}",
        f"sacrebleu {signature}",
    ]
    for example in examples:
        report += ["", f"  source     {example['source']}", f"  reference  {example['reference']}",
                   f"  translated {example['translation']}"]  # fmt: skip
    return {
        "split": args.split,
        "n": len(sources),
        "bleu": bleu,
        "perplexity": losses["perplexity"],
        "loss": losses["loss"],
        "beam": beam,
        "alpha": alpha,
        "signature": signature,
        "examples": examples,
        "report": "\n".join(report),
    }


def translate(checkpoint: Checkpoint, texts: list[str], args: argparse.Namespace) -> dict:
    """``rnnkit translate DIR TEXT... [--beam K] [--attention-plot PNG]``."""
    device = resolve_device(getattr(args, "device", "auto"))
    translator = Translator.from_checkpoint(checkpoint, device)
    beam, alpha = _search_options(args)
    max_length = getattr(args, "max_length", None)
    if max_length is not None and max_length < 1:
        raise UserError(f"--max-length must be at least 1, got {max_length}")
    found = translator.translate(texts, beam=beam, alpha=alpha, max_length=max_length)
    rows = [{"text": t.source, "translation": t.text, "score": round(t.score, 4)} for t in found]
    result: dict[str, Any] = {"translations": rows, "beam": beam}
    plot = getattr(args, "attention_plot", None)
    if plot:
        if save_attention_plot(found[0], Path(plot)):
            result["attention_plot"] = str(plot)
        result["attention"] = {
            "source": found[0].source_pieces,
            "target": found[0].target_pieces,
            "weights": [[round(w, 4) for w in row] for row in found[0].attention.tolist()],
        }
    result["report"] = "\n".join(row["translation"] for row in rows) + (
        f"\nattention of the first sentence: {plot}" if result.get("attention_plot") else ""
    )
    return result


def predict(checkpoint: Checkpoint, texts: list[str], args: argparse.Namespace) -> dict:
    """``rnnkit predict DIR TEXT...``: the translation of each text (beam search)."""
    result = translate(checkpoint, texts, args)
    result["predictions"] = result.pop("translations")
    return result
