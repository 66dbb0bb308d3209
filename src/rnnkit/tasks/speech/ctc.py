"""Connectionist temporal classification (Graves et al. 2006): the loss, greedy and prefix
beam-search decoding, the token error rate, and the objective of ``rnnkit train speech-ctc``.

A model emits per-frame log-probabilities ``y_t(k) = log p(k | x, t)`` over the symbols and the
blank (index 0). An alignment ``π = π_1..π_T`` maps to a label sequence by ``B``: merge repeats,
then drop blanks (``B(a a - b - b) = a b b``). The loss of a transcript ``l`` is

    L = -log p(l | x),   p(l | x) = Σ_{π : B(π) = l} Π_t exp y_t(π_t),

computed by :func:`torch.nn.functional.ctc_loss` (blank 0, ``zero_infinity`` so an utterance
with fewer frames than its transcript needs gives no gradient instead of ``inf``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F

from rnnkit.data.frame_batches import FrameBatches
from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.train import Objective
from rnnkit.train.device import CPU_KEYS

__all__ = [
    "BLANK",
    "CTCBatch",
    "CTCBatches",
    "CTCDecoding",
    "CTCObjective",
    "Decoded",
    "ctc_loss",
    "edit_distance",
    "greedy_decode",
    "prefix_beam_search",
    "string_scores",
]

BLANK = 0  # the blank's index in every output layer


class CTCBatch(NamedTuple):
    """Standardised frames zero-padded after each utterance, frames per utterance, the
    transcripts' symbol ids (1..S) concatenated, and their lengths."""

    features: torch.Tensor  # (N, T, F)
    lengths: torch.Tensor  # (N,) int64, stays on the CPU
    targets: torch.Tensor  # (sum of tgt_lengths,) int64
    tgt_lengths: torch.Tensor  # (N,) int64, stays on the CPU


class CTCBatches(FrameBatches):
    """Re-iterable batches of standardised utterances ``features`` (each ``(T, F)``) with their
    transcripts' ``targets`` (lists of ids 1..S), shuffled per epoch (``set_epoch``) when
    ``shuffle``."""

    def batch(self, rows: list[int]) -> CTCBatch:
        transcripts = [self.targets[i] for i in rows]
        targets = torch.tensor([k for t in transcripts for k in t], dtype=torch.long)  # (ΣS,)
        tgt_lengths = torch.tensor([len(t) for t in transcripts])  # (N,)
        return CTCBatch(*self.frames(rows), targets, tgt_lengths)


@dataclass
class CTCDecoding(Settings):
    """How a CTC model decodes (saved in config.json; may change on resume).

    Args:
        beam: prefix beam-search width for predict and evaluate (1: greedy best path).
    """

    KIND: ClassVar[str] = "decoding setting"
    RANGES: ClassVar[dict[str, str]] = {"beam": "[1, 1000]"}

    beam: int = 8


class Decoded(NamedTuple):
    """One utterance's decoded symbol ids (no blanks) and their log-probability: of the best
    path for greedy decoding, of the prefix (summed over its alignments) for beam search."""

    ids: list[int]
    log_prob: float


def ctc_loss(log_probs: torch.Tensor, batch: CTCBatch) -> torch.Tensor:
    """Mean over the batch of ``-log p(l_n | x_n) / |l_n|`` (torch's ``reduction="mean"``).

    Args:
        log_probs: (N, T, S + 1) per-frame log-softmax outputs, blank at 0.
        batch: the lengths and targets.
    """
    return F.ctc_loss(
        log_probs.float().transpose(0, 1),  # (T, N, S + 1)
        batch.targets,
        batch.lengths,
        batch.tgt_lengths,
        blank=BLANK,
        reduction="mean",
        zero_infinity=True,
    )


def greedy_decode(log_probs: torch.Tensor, length: int | None = None) -> Decoded:
    """Best-path decoding: ``π*_t = argmax_k y_t(k)``, then ``B(π*)``; the log-probability is
    that of the path, ``Σ_t max_k y_t(k)``.

    Args:
        log_probs: (T, S + 1) one utterance's per-frame log-probabilities.
        length: frames to use (the rest is padding); default all.
    """
    frames = log_probs[:length].detach().float()  # (T, S + 1)
    best, path = frames.max(dim=-1)  # (T,), (T,)
    ids, previous = [], BLANK
    for k in path.tolist():
        if k != BLANK and k != previous:
            ids.append(k)
        previous = k
    return Decoded(ids, float(best.sum()))


def _log_add(a: float, b: float) -> float:
    """``log(e^a + e^b)`` without overflow."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def prefix_beam_search(
    log_probs: torch.Tensor, beam: int = 8, length: int | None = None
) -> list[Decoded]:
    """CTC prefix beam search: the ``beam`` most probable label prefixes, best first.

    Each prefix ``ℓ`` keeps two log-probabilities after frame ``t``: ``b_t(ℓ)``, of the
    alignments of ``x_1..x_t`` that give ``ℓ`` and end in a blank, and ``n_t(ℓ)``, of those that
    end in ``ℓ``'s last symbol; ``p_t(ℓ) = b_t(ℓ) ⊕ n_t(ℓ)`` (``⊕`` is log-add). With
    ``y = y_{t+1}`` and ``e`` the last symbol of ``ℓ``, one frame extends every kept prefix:

        b_{t+1}(ℓ)   ⊕= p_t(ℓ) + y(blank)                      (emit a blank)
        n_{t+1}(ℓ)   ⊕= n_t(ℓ) + y(e)                          (repeat e: merged by B)
        n_{t+1}(ℓ+k) ⊕= p_t(ℓ) + y(k)        for k ≠ blank, k ≠ e
        n_{t+1}(ℓ+e) ⊕= b_t(ℓ) + y(e)        (e again after a blank: a new symbol)

    then keeps the ``beam`` prefixes with the largest ``p_{t+1}``. Starting from
    ``b_0(∅) = 0, n_0(∅) = -∞``, the result is each prefix's ``p_T(ℓ)``: the probability summed
    over all its alignments that stayed in the beam (exact for ``beam`` ≥ the number of
    prefixes). With ``beam = 1`` it follows the single best prefix frame by frame, which on
    peaked outputs is the greedy path's labels (scored by the prefix's total, not one path).

    Args:
        log_probs: (T, S + 1) one utterance's per-frame log-probabilities, blank at 0.
        beam: prefixes kept after each frame.
        length: frames to use (the rest is padding); default all.
    """
    if beam < 1:
        raise UserError(f"the beam width must be at least 1, got {beam}")
    frames = log_probs[:length].float().tolist()  # T lists of S + 1
    minus_inf = -math.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, minus_inf)}  # ℓ -> (b, n)
    for y in frames:
        blank_next: dict[tuple[int, ...], float] = defaultdict(lambda: minus_inf)
        label_next: dict[tuple[int, ...], float] = defaultdict(lambda: minus_inf)
        for prefix, (b, n) in beams.items():
            total = _log_add(b, n)
            blank_next[prefix] = _log_add(blank_next[prefix], total + y[BLANK])
            last = prefix[-1] if prefix else None
            if last is not None:
                label_next[prefix] = _log_add(label_next[prefix], n + y[last])
            for k in range(1, len(y)):
                extended = (*prefix, k)
                source = b if k == last else total
                label_next[extended] = _log_add(label_next[extended], source + y[k])
        scored = {
            prefix: (blank_next[prefix], label_next[prefix])
            for prefix in set(blank_next) | set(label_next)
        }
        best = sorted(scored, key=lambda p: (-_log_add(*scored[p]), p))[:beam]
        beams = {prefix: scored[prefix] for prefix in best}
    ranked = sorted(beams, key=lambda p: (-_log_add(*beams[p]), p))
    return [Decoded(list(prefix), _log_add(*beams[prefix])) for prefix in ranked]


def edit_distance(reference: Sequence[int], hypothesis: Sequence[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each 1) between two token
    sequences, by ``rapidfuzz`` (``pip install rnnkit[speech]``)."""
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        raise UserError(
            "token error rates need rapidfuzz; expected it installed: pip install rnnkit[speech]"
        ) from None
    return Levenshtein.distance(list(reference), list(hypothesis))


def string_scores(
    references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]
) -> dict[str, float]:
    """``ter`` (token error rate: total edit distance / total reference tokens) and
    ``string_accuracy`` (share of utterances decoded exactly)."""
    errors = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    tokens = sum(len(r) for r in references)
    exact = sum(list(r) == list(h) for r, h in zip(references, hypotheses))
    return {
        "ter": errors / max(tokens, 1),
        "string_accuracy": exact / max(len(references), 1),
    }


class CTCObjective(Objective):
    """The CTC loss (:func:`ctc_loss`) on :class:`CTCBatch` es; evaluation decodes greedily (or
    with :func:`prefix_beam_search` when ``beam`` > 1) and reports ``ter`` and
    ``string_accuracy``."""

    keep_on_cpu = CPU_KEYS | {"tgt_lengths"}

    def __init__(self, beam: int = 1) -> None:
        self.beam = beam

    def train_loss(self, model, batch):
        log_probs = model(batch.features, batch.lengths)  # (N, T, S + 1)
        return ctc_loss(log_probs, batch), {"n": len(batch.lengths)}

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Decoded]:
        """The best decoding of each utterance of a batch ``(N, T, S + 1)``."""
        log_probs = log_probs.float().cpu()
        if self.beam == 1:
            return [greedy_decode(lp, int(n)) for lp, n in zip(log_probs, lengths)]
        return [prefix_beam_search(lp, self.beam, int(n))[0] for lp, n in zip(log_probs, lengths)]

    @torch.no_grad()
    def evaluate(self, model, batches):
        losses, weights, references, hypotheses = [], [], [], []
        for batch in batches:
            log_probs = model(batch.features, batch.lengths)  # (N, T, S + 1)
            losses.append(ctc_loss(log_probs, batch).item() * len(batch.lengths))
            weights.append(len(batch.lengths))
            hypotheses += [d.ids for d in self.decode(log_probs, batch.lengths)]
            references += [
                t.tolist() for t in batch.targets.cpu().split(batch.tgt_lengths.tolist())
            ]
        return {"loss": sum(losses) / max(sum(weights), 1), **string_scores(references, hypotheses)}
