"""Predict with a trained model on new inputs given on the command line or in a file.

Examples:
  rnnkit predict runs/imdb "A wonderful, moving film." "Two hours I will never get back."
  rnnkit predict runs/imdb --file reviews.txt --json      (one input per line)
"""

from __future__ import annotations

import argparse

from rnnkit.commands import add_input_arguments, read_inputs
from rnnkit.tasks import task_of_checkpoint

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    add_input_arguments(parser, "inputs to predict on")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    inputs = read_inputs(args)
    task, checkpoint = task_of_checkpoint(args.checkpoint)
    return task.predict(checkpoint, inputs, args)
