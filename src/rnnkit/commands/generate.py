"""Generate text with a trained language model (a run of `rnnkit train lm`).

The prime text is read once; then the model's recurrent state is stepped one token at a time,
each next token drawn from the model's distribution: --temperature (below 1: safer, above 1:
wilder; 0 or --greedy: always the most likely token), --top-k (only the K most likely tokens),
--top-p (only the most likely tokens that make up probability P). The same --seed gives the same
text; without one a random seed is used and reported with --json.

Examples:
  rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500
  rnnkit generate runs/shakespeare --temperature 0.5 --seed 1 --stream
  rnnkit generate runs/ptb --prime "the company said" --length 50 --top-p 0.9 --json
"""

from __future__ import annotations

import argparse
import logging
import sys

from rnnkit.errors import UserError
from rnnkit.tasks import task_of_checkpoint
from rnnkit.tasks.lm_generate import GenerationSettings, generate_text, load_language_model
from rnnkit.train import resolve_device

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument("--prime", default="", help="the text to continue (default: none)")
    parser.add_argument(
        "--length", type=int, help="tokens to generate (default: 500 characters or 100 words)"
    )
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="softmax temperature (default: 0.8)"
    )
    parser.add_argument("--top-k", type=int, help="sample among the K most likely tokens only")
    parser.add_argument("--top-p", type=float, help="nucleus sampling: the top tokens of mass P")
    parser.add_argument(
        "--greedy", action="store_true", help="always take the most likely token (no sampling)"
    )
    parser.add_argument("--seed", type=int, help="random seed: the same seed, the same text")
    parser.add_argument("--stream", action="store_true", help="print the text as it is generated")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    _, checkpoint = task_of_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    model, vocab, tokenizer, level = load_language_model(checkpoint, device)
    settings = GenerationSettings.from_args(args, level)
    if args.greedy and (args.top_k is not None or args.top_p is not None):
        raise UserError("--greedy takes the most likely token: expected no --top-k or --top-p")

    def show(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    if args.stream:
        show(args.prime)
    result = generate_text(
        model, vocab, tokenizer, level, args.prime, settings.length, settings.sampler(vocab),
        device, on_text=show if args.stream else None,
    )  # fmt: skip
    if args.stream:
        show("\n")
    if result.unknown:
        shown = ", ".join(result.unknown[:10]) + (" ..." if len(result.unknown) > 10 else "")
        logger.warning(
            "%d word(s) of the prime are not in the vocabulary and were read as <unk>: %s",
            len(result.unknown), shown,
        )  # fmt: skip
    rate = result.tokens / result.seconds if result.seconds > 0 else float("inf")
    logger.debug("%d tokens in %.2f s (%.0f tokens/s)", result.tokens, result.seconds, rate)
    return {
        "text": result.text,
        "prime": result.prime,
        "generated": result.generated,
        "level": level,
        "tokens": result.tokens,
        "seed": settings.seed,
        "temperature": 0.0 if settings.greedy else settings.temperature,
        "top_k": settings.top_k,
        "top_p": settings.top_p,
        "greedy": settings.greedy or settings.temperature == 0,
        "seconds": round(result.seconds, 3),
        "tokens_per_second": round(rate, 1),
        "unknown": result.unknown,
        "checkpoint": str(checkpoint.path),
        "report": None if args.stream else result.text,
    }
