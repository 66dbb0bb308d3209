"""Evaluate a trained model on a data split and print its metrics.

The checkpoint knows its task and its data: `rnnkit evaluate runs/imdb --split test` reloads the
same dataset and preprocessing. --data points it at other data of the same form.

Examples:
  rnnkit evaluate runs/imdb --split test
  rnnkit evaluate runs/imdb --split test --json
  rnnkit evaluate runs/de-en --split test --beam 5      (translation: BLEU with sacrebleu)
"""

from __future__ import annotations

import argparse

from rnnkit.tasks import task_of_checkpoint

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument(
        "--data", help="a dataset name or path (default: the data the model was trained on)"
    )
    parser.add_argument(
        "--split",
        default="val",
        choices=["train", "val", "test"],
        help="which split to evaluate (default: val, the one cut from train for model selection;"
        " report test once, at the end)",
    )
    parser.add_argument("--batch-size", type=int, help="(default: the training batch size)")
    parser.add_argument(
        "--beam", type=int, help="translation: beam size; 1 is greedy search (default: 5)"
    )
    parser.add_argument(
        "--alpha", type=float, help="translation: length normalisation exponent (default: 1)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument(
        "--plot", metavar="PNG", help="where to draw the plot (default: in the run folder)"
    )


def run(args: argparse.Namespace) -> dict:
    task, checkpoint = task_of_checkpoint(args.checkpoint)
    return task.evaluate(checkpoint, args)
