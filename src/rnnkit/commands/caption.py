"""Caption images with a trained captioning model (`rnnkit train caption`).

Beam search by default (--beam 1 is greedy search); hypotheses are ranked by their
log-probability divided by ((5 + length) / 6) ** alpha. Each caption is printed with its
log-probability, log p(caption | image); --n-best N prints the N best of each image.

Examples:
  rnnkit caption runs/flickr dog.jpg beach.png
  rnnkit caption runs/flickr --file images.txt --beam 5 --json      (one path per line)
  rnnkit caption runs/flickr dog.jpg --beam 5 --n-best 3
  rnnkit caption runs/soft dog.jpg --attention-plot attention.png   (--attention soft models)
"""

from __future__ import annotations

import argparse

from rnnkit.commands import read_inputs
from rnnkit.errors import UserError
from rnnkit.tasks import load
from rnnkit.tasks.caption.task import ALPHA, BEAM, ImageCaptioner

__all__ = ["add_arguments", "run"]

# options passed on to ImageCaptioner.caption when given
SEARCH_OPTIONS = ("beam", "alpha", "n_best", "max_length")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a captioning run folder")
    parser.add_argument("inputs", nargs="*", metavar="IMAGE", help="image files to caption")
    parser.add_argument("--file", metavar="F", help="read image paths from F, one per line")
    parser.add_argument("--encoding", default="utf-8", help="of --file (default: utf-8)")
    parser.add_argument("--beam", type=int, help=f"beam size; 1 is greedy search (default: {BEAM})")
    parser.add_argument(
        "--alpha", type=float, help=f"length normalisation exponent; 0: none (default: {ALPHA})"
    )
    parser.add_argument("--n-best", type=int, help="captions per image, best first (default: 1)")
    parser.add_argument(
        "--max-length", type=int, help="most words per caption (default: the training data's)"
    )
    parser.add_argument(
        "--attention-plot",
        metavar="PNG",
        help="draw the first image with each word's attention over it into PNG (models trained "
        "with --attention soft)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    if not (args.inputs or args.file):
        raise UserError("nothing to caption: expected IMAGE paths or --file F with one per line")
    inputs = read_inputs(args)
    task = load(args.checkpoint, device=args.device)
    if not isinstance(task, ImageCaptioner):
        raise UserError(
            f"{args.checkpoint} holds a {task.NAME!r} model; expected a captioning model "
            "(rnnkit train caption)"
        )
    options = {
        name: getattr(args, name) for name in SEARCH_OPTIONS if getattr(args, name) is not None
    }
    rows = task.caption(inputs, **options)
    result = {"predictions": rows, "beam": options.get("beam", BEAM)}
    report = [task.predict_report(rows)]
    if args.attention_plot:
        search = {k: v for k, v in options.items() if k != "n_best"}
        shown = task.attention(inputs[0], plot=args.attention_plot, **search)
        result["attention"] = {key: shown[key] for key in ("words", "weights")}
        if shown["plot"]:
            result["attention_plot"] = shown["plot"]
            report.append(f"attention of the first image: {shown['plot']}")
    return {**result, "report": "\n".join(report)}
