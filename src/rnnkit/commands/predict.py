"""Predict with a trained model on new inputs given on the command line or in a file.

Examples:
  rnnkit predict runs/imdb "A wonderful, moving film." "Two hours I will never get back."
  rnnkit predict runs/imdb --file reviews.txt --json      (one input per line)
"""

from __future__ import annotations

import argparse

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError
from rnnkit.tasks import task_of_checkpoint

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument("inputs", nargs="*", metavar="TEXT", help="inputs to predict on")
    parser.add_argument("--file", metavar="F", help="read inputs from F, one per line")
    parser.add_argument("--encoding", default="utf-8", help="of --file (default: utf-8)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    inputs = list(args.inputs)
    if args.file:
        text = read_text_file(args.file, encoding=args.encoding)
        inputs += [line for line in text.splitlines() if line.strip()]
    if not inputs:
        raise UserError("nothing to predict: expected TEXT arguments or --file F with text")
    task, checkpoint = task_of_checkpoint(args.checkpoint)
    return task.predict(checkpoint, inputs, args)
