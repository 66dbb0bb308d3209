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
import logging
from pathlib import Path

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError
from rnnkit.tasks import task_of_checkpoint
from rnnkit.tasks.lm_data import encode_text
from rnnkit.tasks.lm_generate import load_language_model
from rnnkit.tasks.lm_visualize import (
    PNG_MAX_TOKENS,
    STATES,
    pick_units,
    trace_text,
    write_visualization,
)
from rnnkit.train import resolve_device

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)

HTML_MAX_TOKENS = 20_000


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
    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm", ".png"):
        raise UserError(f"--out must end in .html or .png, got {out.name!r}")
    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    _, checkpoint = task_of_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    model, vocab, tokenizer, level = load_language_model(checkpoint, device)
    ids, unknown = encode_text(text, tokenizer, vocab, level, what="the text")
    if level == "word" and not text.endswith("\n") and ids.numel():
        ids = ids[:-1]  # no <eos> after an open last line
    if unknown:
        logger.warning("%d word(s) are not in the vocabulary and were read as <unk>: %s",
                       len(unknown), ", ".join(unknown[:10]))  # fmt: skip
    if ids.numel() == 0:
        raise UserError("the text is empty; expected some text to read")
    limit = PNG_MAX_TOKENS if out.suffix.lower() == ".png" else HTML_MAX_TOKENS
    if ids.numel() > limit:
        logger.warning("showing the first %d of %d tokens", limit, ids.numel())
        ids = ids[:limit]
    layers = model.config.layers
    state = args.state or ("cell" if model.config.cell == "lstm" else "hidden")
    trace = trace_text(
        model, ids, vocab.itos, layer=args.layer or layers, state=state, top=args.top,
        device=device, context=getattr(model, "warmup", None),
    )  # fmt: skip
    units = pick_units(trace.activations, args.units, args.num_units)
    title = f"rnnkit visualize {checkpoint.path.parent.name or checkpoint.path.name}"
    write_visualization(trace, units, out, title, word=level == "word")
    return {
        "out": str(out),
        "layer": trace.layer,
        "state": state,
        "units": units,
        "tokens": len(trace.tokens),
        "report": (
            f"wrote {out}: {len(units)} {state} unit(s) of layer {trace.layer} ({units}) over "
            f"{len(trace.tokens)} {'words' if level == 'word' else 'characters'}, with the top "
            f"{min(args.top, len(vocab))} next-token guesses"
        ),
    }
