"""Using a captioning model: captions of images by greedy or beam search (n-best with their
log-probabilities), and corpus BLEU-1..4 against every reference caption.

BLEU is sacrebleu's corpus BLEU with all of an image's references at once (a variable number
per image is allowed), its standard ``13a`` tokenisation, and caseless when the run lowercases
its captions; BLEU-n is the geometric mean of the 1..n-gram precisions with the brevity penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit.decoding import beam_search, greedy_search
from rnnkit.errors import UserError
from rnnkit.models.captioner import Captioner
from rnnkit.tasks.base import progress_bar
from rnnkit.tasks.caption.data import CaptionText

__all__ = ["Caption", "caption_bleu", "describe"]


@dataclass
class Caption:
    """One caption of an image."""

    text: str
    log_prob: float  # log p(caption | image), <eos> included when finished
    score: float  # log_prob / ((5 + length) / 6) ** alpha (greedy: the log-probability)
    tokens: list[str]  # the generated tokens (<eos> left out)
    attention: torch.Tensor  # (T, L) soft attention over the regions; (T, 0) without


@torch.no_grad()
def describe(
    model: Captioner,
    pixels: torch.Tensor,
    text: CaptionText,
    *,
    beam: int = 3,
    alpha: float = 1.0,
    n_best: int = 1,
    max_length: int = 40,
    batch_size: int = 32,
    verbose: int = 0,
) -> list[list[Caption]]:
    """The ``n_best`` captions of each image of ``pixels (N, 3, S, S)``, best first; ``beam=1``
    is greedy search (one caption). The unknown token is never chosen (a caption of "<unk>"
    words says nothing; its probability is left out, not spread over the others)."""
    if beam < 1 or not 1 <= n_best <= beam:
        raise UserError(f"expected beam >= 1 and 1 <= n_best <= beam, got beam {beam} and "
                        f"n_best {n_best}")  # fmt: skip
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    bos, eos, unknown = text.vocab.bos_index, text.vocab.eos_index, text.vocab.unk_index

    def step(tokens, state):
        log_probs, state, attention = model.step(tokens, state)  # (B, V), ..., (B, L)
        if unknown is not None:
            log_probs[:, unknown] = float("-inf")
        return log_probs, state, attention

    found: list[list[Caption]] = []
    try:
        starts = range(0, len(pixels), batch_size)
        for start in progress_bar(starts, "caption", verbose):
            images = pixels[start : start + batch_size].to(device)  # (B, 3, S, S)
            state = model.encode(images)
            if beam == 1:
                results = [[h] for h in greedy_search(step, state, len(images), bos, eos,
                                                      max_length)]  # fmt: skip
            else:
                results = beam_search(step, state, len(images), bos, eos, max_length,
                                      beam_size=beam, alpha=alpha, n_best=n_best)  # fmt: skip
            for hypotheses in results:
                found.append([
                    Caption(text.decode(h.tokens), h.log_prob, h.score,
                            [text.vocab.itos[t] for t in h.tokens], h.attention)
                    for h in hypotheses
                ])  # fmt: skip
    finally:
        model.train(was_training)
    return found


def caption_bleu(
    hypotheses: list[str], references: list[list[str]], *, lowercase: bool = True
) -> tuple[dict[str, float], str]:
    """(``{"bleu1": .., "bleu2": .., "bleu3": .., "bleu4": ..}``, sacrebleu's signature of
    BLEU-4) of one caption per image against all of that image's ``references``."""
    try:
        import sacrebleu
    except ImportError:
        raise UserError(
            "BLEU needs the 'sacrebleu' package; install it with: pip install 'rnnkit[translate]'"
        ) from None
    most = max((len(r) for r in references), default=0)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(most)]
    scores, signature = {}, ""
    for n in range(1, 5):
        metric = sacrebleu.metrics.BLEU(  # force: Flickr8k's captions come tokenized (" .")
            max_ngram_order=n, lowercase=lowercase, tokenize="13a", force=True
        )
        scores[f"bleu{n}"] = float(metric.corpus_score(hypotheses, streams).score)
        signature = str(metric.get_signature())
    return scores, signature
