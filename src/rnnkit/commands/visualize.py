"""Show what a trained language model's units do over a text, as a web page or a picture.

Like the pictures in Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks":
each chosen unit's activation colours the characters of the text (blue positive, red negative;
LSTM cells as tanh(c_t)), and below, the model's top guesses for the next character at every
position, shaded by probability, with the true next character marked. Without --units the units
that vary most over the text are shown.

Examples:
  rnnkit visualize runs/shakespeare --text "$(head -c 600 play.txt)" --out cells.html
  rnnkit visualize runs/shakespeare --file scene.txt --units 12,87,301 --layer 2 --out cells.png
"""

from __future__ import annotations

import argparse

from rnnkit.commands.generate import load_language_model
from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError
from rnnkit.tasks.lm.visualize import STATES

__all__ = ["add_arguments", "run"]


def _units(value: str) -> list[int]:
    try:
        units = [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected unit numbers separated by commas, e.g. 3,17,42; got {value!r}"
        ) from None
    if not units:
        raise argparse.ArgumentTypeError("expected at least one unit number")
    return units


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument("--text", help="the text to read")
    parser.add_argument("--file", metavar="F", help="read the text from F instead")
    parser.add_argument("--encoding", default="utf-8", help="of --file (default: utf-8)")
    parser.add_argument("--out", required=True, metavar="FILE", help="FILE.html or FILE.png")
    parser.add_argument("--layer", type=int, help="which layer, 1 = the first (default: the last)")
    parser.add_argument(
        "--state",
        choices=STATES,
        help="LSTM cell state (as tanh(c)) or hidden state h (default: cell for an LSTM)",
    )
    parser.add_argument("--units", type=_units, help="unit numbers, e.g. 3,17,42")
    parser.add_argument(
        "--num-units", type=int, default=6, help="without --units: how many (default: 6)"
    )
    parser.add_argument("--top", type=int, default=5, help="next-token guesses shown (default: 5)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    if (args.text is None) == (args.file is None):
        raise UserError("expected the text to read: --text TEXT or --file F (one of them)")
    text = args.text if args.text is not None else read_text_file(args.file, args.encoding)
    task = load_language_model(args.checkpoint, args.device)
    return task.visualize(
        text, args.out, layer=args.layer, state=args.state, units=args.units,
        num_units=args.num_units, top=args.top,
    )  # fmt: skip
