"""Train a model for one task and save it as a run folder.

Each task has its own options: see `rnnkit train TASK --help`. Every run folder holds best/ (the
checkpoint to use), last/ (what --resume reads), history.csv, curves.png and metrics.json.
Ctrl-C keeps every finished epoch: continue with `rnnkit train TASK --resume DIR`.
"""

from __future__ import annotations

import argparse
import inspect

import torch

from rnnkit.commands import add_json_option
from rnnkit.commands.options import add_settings_options, given
from rnnkit.errors import UserError
from rnnkit.search.settings_file import read_settings_file
from rnnkit.tasks import TASKS, task_class

__all__ = ["add_arguments", "run"]

# the settings sections shown under these --help headings
HEADINGS = {"data": "data", "model": "model", "train": "training"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in TASKS:
        task = task_class(name)
        description = inspect.cleandoc(task.__doc__ or name)
        task_parser = tasks.add_parser(
            name,
            help=description.splitlines()[0],
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_json_option(task_parser)
        shown = task.shown_defaults()
        for section, settings in task.SECTIONS.items():
            group = task_parser.add_argument_group(HEADINGS.get(section, section))
            fixed = [f for f in task.FIXED if f != "source"]
            add_settings_options(group, settings, shown, skip=fixed)
        add_run_options(task_parser)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where the run goes and what it runs on (not saved settings)."""
    run = parser.add_argument_group("run")
    add = run.add_argument
    add("--out", metavar="DIR", help="the run folder to create (required for a new run)")
    add(
        "--resume",
        metavar="DIR",
        help="continue the interrupted run in DIR from its last finished epoch, with its saved "
        "settings (training options given again, e.g. --epochs or --max-time, override them)",
    )
    add("--overwrite", action="store_true", help="replace a finished run already in --out")
    add(
        "--config",
        metavar="FILE",
        help="read settings from FILE (TOML, or JSON if it ends in .json; e.g. the best.toml "
        "of rnnkit search); options given on the command line override it",
    )
    add("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    add(
        "--threads",
        type=int,
        help="CPU threads for torch (default: torch's choice, one per core); on a machine busy "
        "with other jobs 1 is often several times faster, as idle threads wait for busy cores",
    )


def run(args: argparse.Namespace) -> dict:
    if args.resume and args.out and args.out != args.resume:
        raise UserError(f"--resume {args.resume} and --out {args.out} differ; give only --resume")
    if not (args.resume or args.out):
        raise UserError("expected --out DIR for a new run (or --resume DIR to continue one)")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    cls = task_class(args.task)
    settings = given(args, cls.SECTIONS.values())
    if args.config:
        settings = {**read_settings_file(args.config, cls), **settings}
    source = settings.pop("source", None)
    if source is None and not args.resume:
        raise UserError(f"expected --data (a dataset name or a path) for a new {args.task} run")
    task = cls(device=args.device, **settings)
    task.fit(data=source, out=args.resume or args.out, resume=bool(args.resume),
             overwrite=args.overwrite)  # fmt: skip
    summary = dict(task.fit_result)
    return {**summary, "report": task.summary_report(summary)}
