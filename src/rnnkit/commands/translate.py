"""Translate text with a trained translation model (`rnnkit train translate`).

Beam search by default (--beam 1 is greedy search); hypotheses are ranked by their
log-probability divided by ((5 + length) / 6) ** alpha. --attention-plot draws the attention of
the first sentence: which source tokens each generated token looked at.

Examples:
  rnnkit translate runs/de-en "Ein Mann fährt Fahrrad." "Zwei Hunde spielen im Schnee."
  rnnkit translate runs/de-en --file sentences.de --beam 10 --json
  rnnkit translate runs/de-en "Eine Frau liest ein Buch." --attention-plot attention.png
"""

from __future__ import annotations

import argparse

from rnnkit.commands import add_input_arguments, read_inputs
from rnnkit.errors import UserError
from rnnkit.tasks import load
from rnnkit.tasks.translate.task import BEAM, Translator

__all__ = ["add_arguments", "run"]

# options passed on to Translator.translate when given
SEARCH_OPTIONS = ("beam", "alpha", "max_length")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a translation run folder")
    add_input_arguments(parser, "sentences to translate")
    parser.add_argument("--beam", type=int, help=f"beam size; 1 is greedy search (default: {BEAM})")
    parser.add_argument(
        "--alpha", type=float, help="length normalisation exponent; 0: none (default: 1)"
    )
    parser.add_argument(
        "--max-length",
        type=int,
        help="most tokens generated per sentence (default: twice the source's, plus 10)",
    )
    parser.add_argument(
        "--attention-plot", metavar="PNG", help="draw the first sentence's attention into PNG"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    inputs = read_inputs(args)
    task = load(args.checkpoint, device=args.device)
    if not isinstance(task, Translator):
        raise UserError(
            f"{args.checkpoint} holds a {task.NAME!r} model; expected a translation model "
            "(rnnkit train translate)"
        )
    options = {
        name: getattr(args, name) for name in SEARCH_OPTIONS if getattr(args, name) is not None
    }
    rows = task.translate(inputs, **options)
    result = {"predictions": rows, "beam": options.get("beam", BEAM)}
    report = [row["output"] for row in rows]
    if args.attention_plot:
        attention = task.attention(inputs[0], plot=args.attention_plot, **options)
        result["attention"] = {key: attention[key] for key in ("source", "target", "weights")}
        if attention["plot"]:
            result["attention_plot"] = attention["plot"]
            report.append(f"attention of the first sentence: {attention['plot']}")
    return {**result, "report": "\n".join(report)}
