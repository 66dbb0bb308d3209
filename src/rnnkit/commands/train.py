"""Train a model for one task and save it as a run folder.

Each task has its own options: see `rnnkit train TASK --help`. Every run folder holds best/ (the
checkpoint to use), last/ (what --resume reads), history.csv, curves.png and metrics.json.
Ctrl-C keeps every finished epoch: continue with `rnnkit train TASK --resume DIR`.
"""

from __future__ import annotations

import argparse

from rnnkit.commands import add_json_option
from rnnkit.tasks import TASKS, load_task

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in TASKS:
        task = load_task(name)
        task_parser = tasks.add_parser(
            name,
            help=task.DESCRIPTION.strip().splitlines()[0],
            description=task.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_json_option(task_parser)
        task.add_train_arguments(task_parser)


def run(args: argparse.Namespace) -> dict:
    return load_task(args.task).train(args)
