"""Using a translation model: translate texts (greedy or beam search), score a corpus with BLEU,
and draw the attention of one sentence as a heat map."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.atomic import atomic_path
from rnnkit.data.batching import pad_sequences
from rnnkit.decoding import beam_search, greedy_search
from rnnkit.errors import UserError
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.tasks.base import progress_bar
from rnnkit.tasks.translate.data import Side, encode_sources

__all__ = ["BeamTranslator", "Translation", "corpus_bleu", "save_attention_plot"]

logger = logging.getLogger(__name__)


@dataclass
class Translation:
    """One translated text, with what is needed to show its attention."""

    source: str
    text: str
    score: float  # the length-normalised log-probability (greedy: the log-probability)
    source_pieces: list[str]  # the source tokens with <eos>
    target_pieces: list[str]  # the generated tokens with <eos> when finished
    attention: torch.Tensor  # (len(target_pieces), len(source_pieces))


class BeamTranslator:
    """A model with its two sides (tokenizer and vocabulary), ready to translate by greedy or
    beam search."""

    def __init__(self, model: Seq2Seq, src: Side, tgt: Side, device: torch.device) -> None:
        self.model, self.src, self.tgt, self.device = model, src, tgt, device

    @torch.no_grad()
    def translate(
        self,
        texts: list[str],
        *,
        beam: int = 5,
        alpha: float = 1.0,
        batch_size: int = 64,
        max_length: int | None = None,
        verbose: int = 0,
    ) -> list[Translation]:
        """Translate ``texts``; ``beam=1`` is greedy search. ``max_length`` (generated tokens)
        defaults to twice the longest source of the batch plus 10; ``verbose``: a progress bar
        over the batches."""
        if beam < 1:
            raise UserError(f"beam must be at least 1, got {beam}")
        if not math.isfinite(alpha):
            raise UserError(f"alpha must be a finite number, got {alpha}")
        was_training = self.model.training
        self.model.eval()
        try:
            ids = encode_sources(self.src, texts)
            order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # less padding
            results: list[Translation | None] = [None] * len(texts)
            starts = range(0, len(order), batch_size)
            for start in progress_bar(starts, "translate", verbose):
                chunk = order[start : start + batch_size]
                for i, translation in zip(chunk, self._batch(texts, ids, chunk, beam, alpha,
                                                             max_length)):  # fmt: skip
                    results[i] = translation
            return results  # type: ignore[return-value]
        finally:
            self.model.train(was_training)

    def _batch(self, texts, ids, chunk, beam, alpha, max_length) -> list[Translation]:
        """The translations of the texts at the indices ``chunk``, in that order."""
        tokens, lengths = pad_sequences([torch.tensor(ids[i]) for i in chunk],
                                        self.src.vocab.pad_index)  # fmt: skip
        state = self.model.encode(tokens.to(self.device), lengths)
        limit = max_length or 2 * int(lengths.max()) + 10
        bos, eos = self.tgt.vocab.bos_index, self.tgt.vocab.eos_index
        if beam == 1:
            best = greedy_search(self.model.step, state, len(chunk), bos, eos, limit)
        else:
            found = beam_search(self.model.step, state, len(chunk), bos, eos, limit,
                                beam_size=beam, alpha=alpha)  # fmt: skip
            best = [hypotheses[0] for hypotheses in found]
        out = []
        for row, (i, hypothesis) in enumerate(zip(chunk, best)):
            pieces = [self.tgt.vocab.itos[t] for t in hypothesis.tokens]
            if hypothesis.finished:
                pieces.append(self.tgt.vocab.itos[eos])
            out.append(
                Translation(
                    source=texts[i],
                    text=self.tgt.decode(hypothesis.tokens),
                    score=hypothesis.score,
                    source_pieces=[self.src.vocab.itos[t] for t in ids[i]],
                    target_pieces=pieces,
                    attention=hypothesis.attention[: len(pieces), : int(lengths[row])],
                )
            )
        return out


def corpus_bleu(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """(BLEU, sacrebleu's signature) of detokenized ``hypotheses`` against raw ``references``."""
    try:
        import sacrebleu
    except ImportError:
        raise UserError(
            "BLEU needs the 'sacrebleu' package; install it with: pip install 'rnnkit[translate]'"
        ) from None
    metric = sacrebleu.metrics.BLEU()
    score = metric.corpus_score(hypotheses, [references])
    return float(score.score), str(metric.get_signature())


def save_attention_plot(translation: Translation, path: Path) -> bool:
    """Draw the attention weights (target tokens down, source tokens across) into ``path``."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        logger.info("matplotlib is not installed: no attention plot (pip install rnnkit[plot])")
        return False
    weights = translation.attention.numpy()  # (T, S)
    rows, columns = weights.shape
    figure = Figure(figsize=(1.5 + 0.45 * max(columns, 4), 1.2 + 0.35 * max(rows, 4)))
    ax = figure.add_subplot()
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    figure.colorbar(image, ax=ax, fraction=0.04)
    ax.set_xticks(range(columns), [p.replace("▁", "") or "▁" for p in translation.source_pieces],
                  rotation=60, ha="right")  # fmt: skip
    ax.set_yticks(range(rows), [p.replace("▁", "") or "▁" for p in translation.target_pieces])
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    ax.set_title(translation.text if len(translation.text) < 70 else translation.text[:69] + "…",
                 fontsize=9)  # fmt: skip
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return True
