"""The COCO caption metrics beside BLEU: CIDEr-D and METEOR, from the ``pycocoevalcap`` package
(the COCO caption evaluation code; ``pip install 'rnnkit[caption-metrics]'``), offline.

Captions are tokenised the way COCO's evaluation tokenises them (lower case, punctuation
removed), here with sacrebleu's ``13a`` tokenizer instead of the Java PTB tokenizer.

- CIDEr-D (Vedantam et al. 2015): for n = 1..4, TF-IDF vectors ``g_n`` of a caption's n-grams
  (IDF over the evaluated images' references), ``CIDEr-D_n(c, S) = 10/m Σ_j exp(-(l_c - l_j)² /
  2σ²) · min(g_n(c), g_n(s_j)) · g_n(s_j) / (‖g_n(c)‖ ‖g_n(s_j)‖)`` with σ = 6, averaged over n and
  over the images (pure Python).
- METEOR 1.5 (Denkowski & Lavie 2014): unigram matches (exact, stem, synonym, paraphrase)
  between a caption and each reference, ``F_mean`` weighted towards recall, times a
  fragmentation penalty, the best over the references. It runs the package's Java jar, which
  needs a Java runtime (``java`` on the PATH) and takes a few seconds to start.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import string

from rnnkit.errors import UserError

logger = logging.getLogger(__name__)

__all__ = ["caption_cider", "caption_meteor", "coco_scores", "coco_tokens"]

_PUNCTUATION = set(string.punctuation)


def coco_tokens(text: str) -> str:
    """``text`` lower-cased, split by sacrebleu's 13a rules, punctuation tokens dropped, joined
    by single spaces."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokens = Tokenizer13a()(text.lower()).split()
    return " ".join(t for t in tokens if not set(t) <= _PUNCTUATION)


def _inputs(hypotheses: list[str], references: list[list[str]]) -> tuple[dict, dict]:
    """pycocoevalcap's (references, results): image index -> tokenised captions."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} captions for {len(references)} reference sets")
    refs = {i: [coco_tokens(r) for r in rs] for i, rs in enumerate(references)}
    hyps = {i: [coco_tokens(h)] for i, h in enumerate(hypotheses)}
    return refs, hyps


def _scorer(module: str, name: str):
    """The scorer class ``pycocoevalcap.MODULE.MODULE.NAME`` (an optional dependency)."""
    try:
        return getattr(importlib.import_module(f"pycocoevalcap.{module}.{module}"), name)
    except ImportError:
        raise UserError(
            f"{name} needs the 'pycocoevalcap' package; install it with: "
            "pip install 'rnnkit[caption-metrics]'"
        ) from None


def caption_cider(hypotheses: list[str], references: list[list[str]]) -> float:
    """Corpus CIDEr-D (×100, the scale papers report) of one caption per image against all
    of that image's references."""
    if not hypotheses:
        return 0.0
    refs, hyps = _inputs(hypotheses, references)
    score, _ = _scorer("cider", "Cider")().compute_score(refs, hyps)
    return 100 * float(score)


def caption_meteor(hypotheses: list[str], references: list[list[str]]) -> float:
    """Corpus METEOR 1.5 (×100) of one caption per image against all of its references; a
    ``UserError`` without a Java runtime."""
    if not hypotheses:
        return 0.0
    if shutil.which("java") is None:
        raise UserError("METEOR runs a Java program; expected a Java runtime (java) on the PATH")
    refs, hyps = _inputs(hypotheses, references)
    meteor = _scorer("meteor", "Meteor")()
    try:
        score, _ = meteor.compute_score(refs, hyps)
    finally:
        meteor.meteor_p.stdin.close()
        meteor.meteor_p.kill()
        meteor.meteor_p.wait()
    return 100 * float(score)


def coco_scores(
    hypotheses: list[str], references: list[list[str]], *, meteor: bool = False
) -> dict[str, float]:
    """``{"cider": ..}`` (and ``"meteor"`` when asked) for an evaluation report; CIDEr-D is left
    out, with a log line, when pycocoevalcap is not installed (METEOR asked for is an error)."""
    scores = {}
    try:
        scores["cider"] = caption_cider(hypotheses, references)
    except UserError as error:
        logger.info("no CIDEr-D: %s", error)
    if meteor:
        scores["meteor"] = caption_meteor(hypotheses, references)
    return scores
