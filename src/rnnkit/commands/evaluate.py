"""Evaluate a trained model on data and print its metrics.

The checkpoint knows its task and its data: `rnnkit evaluate runs/imdb --split test` reloads the
same dataset and preprocessing and scores that split. --data FILE scores a file of the same form
whole; --data with a dataset that has its own splits (imdb, ptb, multi30k) scores --split of it.

Examples:
  rnnkit evaluate runs/imdb --split test
  rnnkit evaluate runs/imdb --data more_reviews.csv --json
  rnnkit evaluate runs/de-en --split test --beam 5      (translation: BLEU with sacrebleu)
  rnnkit evaluate runs/flickr --split test --meteor      (captioning: BLEU, CIDEr-D and METEOR)
  rnnkit evaluate runs/temp --split test --steps 7       (forecasting: a week from each day)
"""

from __future__ import annotations

import argparse
import inspect

from rnnkit.errors import UserError
from rnnkit.tasks import load

__all__ = ["add_arguments", "run"]

# options only some tasks take: option -> the evaluate() keyword
TASK_OPTIONS = ("beam", "alpha", "meteor", "steps")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument(
        "--data",
        help="a file to score whole, or a dataset name/path with its own splits "
        "(default: the data the model was trained on)",
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
    parser.add_argument(
        "--meteor", action="store_true", default=None,
        help="captioning: also METEOR 1.5 (pycocoevalcap; runs Java, which takes seconds to start)",
    )  # fmt: skip
    parser.add_argument(
        "--steps", "--horizon", type=int,
        help="forecasting: steps forecast from each origin, fed back past the model's horizon "
        "(default: its horizon)",
    )  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument(
        "--plot",
        metavar="PNG",
        help="where to draw the plot (default: in the run folder for its own data, none for "
        "other data)",
    )


def run(args: argparse.Namespace) -> dict:
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    task = load(args.checkpoint, device=args.device)
    accepted = inspect.signature(task.evaluate).parameters
    options = {}
    for name in TASK_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            if name not in accepted:
                raise UserError(f"--{name} is not an option of {task.NAME} models")
            options[name] = value
    plot = args.plot
    if plot is None and args.data is None and "plot" in accepted:
        plot = (
            task.run_dir / f"{task.EVALUATION_PLOT}-{args.split}.png"
            if task.EVALUATION_PLOT
            else None
        )
    if "plot" in accepted:
        options["plot"] = plot
    return task.evaluate(data=args.data, split=args.split, batch_size=args.batch_size, **options)
