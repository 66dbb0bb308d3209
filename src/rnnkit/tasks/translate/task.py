"""``Translator``: encoder-decoder translation with attention, trained on sentence pairs,
decoded by beam search."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.data.batching import make_loader
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.settings import check_setting
from rnnkit.tasks.base import Task, duration, progress_bar, text_list
from rnnkit.tasks.translate.data import (
    Side,
    TranslateData,
    build_side,
    encode_pairs,
    encode_sources,
    evaluation_pairs,
    in_memory,
    load_splits,
)
from rnnkit.tasks.translate.decode import (
    BeamTranslator,
    Translation,
    corpus_bleu,
    save_attention_plot,
)
from rnnkit.tasks.translate.objective import (
    ShowTranslations,
    TranslationLoss,
    TranslationObjective,
)
from rnnkit.train import Checkpoint, TrainConfig

__all__ = ["ALPHA", "BEAM", "Translator"]

logger = logging.getLogger(__name__)

BEAM, ALPHA = 5, 1.0  # the beam search of evaluate, translate and predict


@dataclass
class Sides:
    """What a translator learns from its training split before the model: one tokenizer and
    vocabulary per language."""

    src: Side
    tgt: Side


class Translator(Task):
    """Train a translation model: an encoder-decoder RNN with attention.

    Data: --data multi30k (German-English image captions: $RNNKIT_DATA, ~/.cache/rnnkit, or
    downloaded), a folder of <split>.<lang>[.gz] files (train, val/valid/dev, test), a prefix
    PATH of two line-aligned files PATH.<src> and PATH.<tgt>, or a .tsv of 'source<TAB>target'
    lines. --src and --tgt name the languages (the files' suffixes). Pairs with an empty side are
    dropped; without a validation split, --val-fraction of train is cut off for one.

    Each side gets its own tokenizer learned on its training text (--tokens bpe: byte-pair
    subwords, unigram, or word) and its vocabulary; both are saved with the model. Translations
    are detokenized exactly, so BLEU (sacrebleu) is computed against the raw references.

    The defaults (a bidirectional GRU encoder of 2x256, a GRU decoder of 512 with additive
    attention, embeddings of 256 tied to the output layer, dropout 0.3, label smoothing 0.1,
    Adam 1e-3 halved whenever the validation BLEU stalls for an epoch, batch 64, bf16 autocast
    where the hardware multiplies bf16) keep the epoch with the best validation BLEU (greedy)
    and stop after 5 epochs without progress; evaluate with beam search.

    Examples:
      rnnkit train translate --data multi30k --src de --tgt en --max-time 60 --out runs/de-en
      rnnkit train translate --data corpus --src fr --tgt en --out runs/fr-en  (corpus.fr, .en)
      rnnkit evaluate runs/de-en --split test --beam 5
      rnnkit translate runs/de-en "Ein Mann fährt Fahrrad." --attention-plot attention.png

    In Python::

      tr = rnnkit.Translator(tokens="word", epochs=20).fit(pairs)   # [(source, target), ...]
      tr.translate(["Ein Mann fährt Fahrrad."]); tr.evaluate(sources, targets)
      tr.save("runs/mine"); rnnkit.load("runs/mine").translate(["Zwei Hunde."])
    """

    NAME: ClassVar[str] = "translate"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": TranslateData,
        "model": Seq2SeqConfig,
        "objective": TranslationLoss,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=30, lr=1e-3, clip_norm=1.0, monitor="val_bleu", mode="max", patience=5,
        lr_schedule="plateau", lr_gamma=0.5, lr_patience=1, precision="auto",
    )  # fmt: skip
    FIXED: ClassVar[tuple[str, ...]] = (
        "source",
        "src_vocab_size",
        "tgt_vocab_size",
        "padding_idx",
    )

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"src_vocab_size": 1, "tgt_vocab_size": 1} if section == "model" else {}

    def _split_seed(self) -> int:
        """Seeds the validation cut of data without one (the run's seed, as training cut it)."""
        return self.settings["train"].seed or 0

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data):
        corpus = load_splits(self.settings["data"], X, y, validation_data, self._split_seed())
        return corpus.splits

    def fit_preprocessing(self, splits) -> Sides:
        data = self.settings["data"]
        sources, targets = splits["train"]
        sides = Sides(build_side(sources, data, data.src_vocab),
                      build_side(targets, data, data.tgt_vocab))  # fmt: skip
        logger.info("tokens: %s; vocabularies %s %d, %s %d", data.tokens, data.src,
                    len(sides.src.vocab), data.tgt, len(sides.tgt.vocab))  # fmt: skip
        return sides

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Sides:
        artifacts = checkpoint.artifacts
        return Sides(Side.from_artifacts(artifacts, "src"), Side.from_artifacts(artifacts, "tgt"))

    def artifacts(self, sides: Sides) -> dict[str, Any]:
        return {**sides.src.to_artifacts("src"), **sides.tgt.to_artifacts("tgt")}

    def build_model(self, sides: Sides) -> nn.Module:
        sizes = {"src_vocab_size": len(sides.src.vocab), "tgt_vocab_size": len(sides.tgt.vocab)}
        config = self.settings["model"] = self.settings["model"].replace(**sizes)
        model = Seq2Seq(config)
        logger.info(
            "model: %s encoder %s%dx%d, decoder %d, attention %s, %s parameters",
            config.cell.upper(), "2x" if config.bidirectional else "", config.layers,
            config.encoder_hidden, config.hidden, config.attention,
            f"{sum(p.numel() for p in model.parameters()):,}",
        )  # fmt: skip
        return model

    def make_batches(self, splits, sides: Sides):
        data, seed = self.settings["data"], self.settings["train"].seed
        train_set = encode_pairs(sides.src, sides.tgt, splits["train"], data.max_length,
                                 "training")  # fmt: skip
        val_set = encode_pairs(sides.src, sides.tgt, splits["val"], None, "validation")
        self._val_pairs = splits["val"]  # translated after each epoch for the validation BLEU
        logger.info("%d batches of %d", math.ceil(len(train_set) / data.batch_size),
                    data.batch_size)  # fmt: skip
        pad = sides.src.vocab.pad_index
        return (
            make_loader(train_set, data.batch_size, shuffle=True, seed=seed or 0, pad_index=pad),
            make_loader(val_set, 2 * data.batch_size, shuffle=False, pad_index=pad),
        )

    def make_objective(self, sides: Sides) -> TranslationObjective:
        sources, references = self._val_pairs
        self._objective = TranslationObjective(
            pad_index=sides.tgt.vocab.pad_index, sides=(sides.src, sides.tgt), sources=sources,
            references=references, **self.settings["objective"].to_dict(),
        )  # fmt: skip
        return self._objective

    def make_callbacks(self, sides: Sides) -> list:
        return [ShowTranslations(self._objective)]

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s), {summary['steps']} steps in "
            f"{duration(summary['train_time_s'])} ({summary['stop_reason']}); best epoch "
            f"{summary['best_epoch']}: val BLEU {summary.get('val_bleu', math.nan):.2f} "
            f"(greedy), loss {summary.get('val_loss', math.nan):.4f}, perplexity "
            f"{summary.get('val_perplexity', math.nan):.2f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} "
            f"--split test --beam {BEAM}"
        )

    # -- the loaded model ----------------------------------------------------------------------

    def restore(self, checkpoint: Checkpoint, device: torch.device) -> None:
        super().restore(checkpoint, device)
        sides = self.preprocessing
        self._translator = BeamTranslator(self.model, sides.src, sides.tgt, device)

    def _translations(
        self, sentences: Any, beam: int, alpha: float, max_length: int | None,
        batch_size: int | None = None,
    ) -> list[Translation]:  # fmt: skip
        self.require_model()
        sentences = text_list(sentences, "sentence")
        check_setting(max_length is None or max_length >= 1, "max_length must be at least 1",
                      max_length)  # fmt: skip
        return self._translator.translate(
            sentences, beam=beam, alpha=alpha, max_length=max_length,
            batch_size=batch_size or self.settings["data"].batch_size, verbose=self.verbose,
        )  # fmt: skip

    def translate(
        self,
        sentences: Any,
        *,
        beam: int = BEAM,
        alpha: float = ALPHA,
        max_length: int | None = None,
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Each sentence with its translation and score (the length-normalised log-probability;
        greedy: the log-probability): ``[{"input", "output", "score"}, ...]``. ``beam=1`` is
        greedy search; ``alpha`` the length normalisation exponent; ``max_length`` the most
        tokens generated (default: twice the source's, plus 10)."""
        found = self._translations(sentences, beam, alpha, max_length, batch_size)
        return [{"input": t.source, "output": t.text, "score": round(t.score, 4)} for t in found]

    def attention(
        self,
        sentence: str,
        *,
        beam: int = BEAM,
        alpha: float = ALPHA,
        max_length: int | None = None,
        plot: str | Path | None = None,
    ) -> dict[str, Any]:
        """The attention of one translation: ``{"input", "output", "score" (as ``translate``'s),
        "source": source pieces, "target": generated pieces, "weights": one row per target piece
        over the source pieces, "plot": the heat map drawn into ``plot`` (None: none drawn)}``."""
        (found,) = self._translations([sentence], beam, alpha, max_length)
        drawn = plot is not None and save_attention_plot(found, Path(plot))
        return {
            "input": found.source,
            "output": found.text,
            "score": round(found.score, 4),
            "source": found.source_pieces,
            "target": found.target_pieces,
            "weights": [[round(w, 4) for w in row] for row in found.attention.tolist()],
            "plot": str(plot) if drawn else None,
        }

    def predict_rows(self, inputs: Any) -> list[dict[str, Any]]:
        """The translation of each input (beam search with the defaults)."""
        return self.translate(inputs)

    def source_lengths(self, sentences: Any) -> list[int]:
        """The tokens the encoder reads of each sentence (its pieces and ``<eos>``); without a
        ``max_length``, ``translate`` generates at most twice the longest of a batch's plus 10."""
        self.require_model()
        sources = encode_sources(self.preprocessing.src, text_list(sentences, "sentence"))
        return [len(ids) for ids in sources]

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n".join(row["output"] for row in rows)

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
        beam: int | None = None,
        alpha: float | None = None,
    ) -> dict[str, Any]:
        """BLEU (sacrebleu, beam search), loss and perplexity of in-memory pairs (``X`` sources
        and ``y`` targets, or the forms ``fit`` takes), of a file (``data``, scored whole), or of
        a split of the training data or of a dataset with its own splits."""
        self.require_model()
        settings, translator = self.settings["data"], self._translator
        if X is not None:
            pairs = in_memory(X, y, settings, "the evaluation data")
            name, where = "all", "in-memory data"
        else:
            pairs, name, where = evaluation_pairs(settings, data, split, self._split_seed())
        beam = BEAM if beam is None else beam
        alpha = ALPHA if alpha is None else alpha
        size = batch_size or settings.batch_size
        src, tgt, device = translator.src, translator.tgt, translator.device
        dataset = encode_pairs(src, tgt, pairs, None, f"{name} split")
        loader = make_loader(dataset, size, shuffle=False, pad_index=src.vocab.pad_index)
        batches = (b.to(device) for b in progress_bar(loader, "loss", self.verbose))
        losses = TranslationObjective(pad_index=tgt.vocab.pad_index).evaluate(
            translator.model, batches
        )
        sources, references = pairs
        found = translator.translate(sources, beam=beam, alpha=alpha, batch_size=size,
                                     verbose=self.verbose)  # fmt: skip
        bleu, signature = corpus_bleu([t.text for t in found], references)
        examples = [{"input": s, "reference": r, "output": t.text}
                    for s, r, t in zip(sources[:3], references[:3], found[:3])]  # fmt: skip
        report = [
            f"{where} {settings.src}->{settings.tgt}, {name}: {len(sources):,} sentences, "
            f"beam {beam}" + (f", alpha {alpha}" if beam > 1 else ""),
            f"BLEU {bleu:.2f}  perplexity {losses['perplexity']:.2f}  loss {losses['loss']:.4f}",
            f"sacrebleu {signature}",
        ]
        for example in examples:
            report += ["", f"  source     {example['input']}",
                       f"  reference  {example['reference']}",
                       f"  translated {example['output']}"]  # fmt: skip
        return {
            "split": name,
            "data": where,
            "n": len(sources),
            "bleu": bleu,
            "loss": losses["loss"],
            "perplexity": losses["perplexity"],
            "beam": beam,
            "alpha": alpha,
            "signature": signature,
            "examples": examples,
            "report": "\n".join(report),
        }
