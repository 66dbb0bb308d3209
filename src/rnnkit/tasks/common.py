"""Pieces every task shares: the training options, building a TrainConfig from them, resuming.

Training options default to ``None`` on the command line so that a task can tell what the user
set from what it should fill in: its own defaults for a fresh run, the saved settings when
resuming (``--resume DIR``), where only what the user sets again (``--epochs``, ``--max-time``,
...) overrides what was saved.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import UserError
from rnnkit.train import OPTIMIZERS, SCHEDULES, Checkpoint, TrainConfig, Trainer, load_checkpoint

__all__ = [
    "TRAIN_OPTIONS",
    "add_training_arguments",
    "fit_summary",
    "given",
    "refuse_changes",
    "resolve_run",
    "set_threads",
    "train_config",
]

logger = logging.getLogger(__name__)

# command-line option -> TrainConfig field
TRAIN_OPTIONS = {
    "epochs": "epochs",
    "lr": "lr",
    "optimizer": "optimizer",
    "weight_decay": "weight_decay",
    "momentum": "momentum",
    "clip": "clip_norm",
    "clip_value": "clip_value",
    "l1": "l1",
    "l2": "l2",
    "lr_schedule": "lr_schedule",
    "patience": "patience",
    "max_time": "max_time_minutes",
    "seed": "seed",
    "precision": "precision",
}


def add_training_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """The options of the training loop, with the task's defaults shown in --help."""
    d = defaults
    group = parser.add_argument_group("training")
    add = group.add_argument
    add("--epochs", type=int, help=f"passes over the training data (default: {d.epochs})")
    add("--batch-size", type=int, help="sequences per batch (default: the task's)")
    add("--lr", type=float, help=f"learning rate (default: {d.lr})")
    add("--optimizer", choices=sorted(OPTIMIZERS), help=f"(default: {d.optimizer})")
    add("--weight-decay", type=float, help=f"optimizer weight decay (default: {d.weight_decay})")
    add("--momentum", type=float, help="momentum for sgd and rmsprop (default: 0)")
    add(
        "--clip",
        type=float,
        metavar="NORM",
        help=f"clip the gradients' global L2 norm to NORM (default: {d.clip_norm})",
    )
    add("--clip-value", type=float, help="clamp every gradient element to ±VALUE (default: off)")
    add("--l1", type=float, help="L1 penalty on weight matrices, added to the loss (default: 0)")
    add("--l2", type=float, help="L2 penalty on weight matrices, added to the loss (default: 0)")
    add("--lr-schedule", choices=sorted(SCHEDULES), help=f"(default: {d.lr_schedule})")
    add("--patience", type=int, help="early stopping: epochs without improvement (default: off)")
    add(
        "--max-time",
        type=float,
        metavar="MINUTES",
        help="stop training after this many minutes, then evaluate and save (default: none)",
    )
    add("--seed", type=int, help=f"random seed for init, shuffling and dropout (default: {d.seed})")
    add(
        "--precision",
        choices=["fp32", "bf16", "auto"],
        help="bf16: forward passes under torch.autocast with bfloat16, about twice as fast on "
        "CPUs with AVX-512 bf16 or AMX and on recent GPUs; auto: bf16 where the hardware has "
        f"it (default: {d.precision})",
    )
    add("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    progress = parser.add_argument_group("output")
    progress.add_argument("--out", metavar="DIR", help="the run folder to create (required)")
    progress.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the interrupted run in DIR from its last finished epoch, with its saved "
        "settings (options given again, e.g. --epochs or --max-time, override them)",
    )
    progress.add_argument(
        "--overwrite", action="store_true", help="replace a finished run already in --out"
    )
    progress.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (default: when stderr is a terminal)",
    )


def resolve_run(args: argparse.Namespace, task: str) -> tuple[Path, Checkpoint | None]:
    """The run folder and, with ``--resume``, its last checkpoint (settings and artifacts)."""
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise UserError(f"--resume {args.resume} and --out {args.out} differ; give only --resume")
    if not (args.resume or args.out):
        raise UserError("expected --out DIR for a new run (or --resume DIR to continue one)")
    if not args.resume:
        return Path(args.out), None
    saved = load_checkpoint(Path(args.resume) / "last")
    if saved.config.get("task") != task:
        raise UserError(
            f"{args.resume} holds a {saved.config.get('task')!r} run; "
            f"expected a {task!r} run to resume"
        )
    return Path(args.resume), saved


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The options among ``names`` that the user set (left at None otherwise)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def refuse_changes(
    args: argparse.Namespace,
    options: list[str],
    saved: dict[str, Any],
    source: str | None,
    made: str,
) -> None:
    """With ``--resume``: a ``UserError`` naming every option among ``options`` set to a value
    other than the ``saved`` one, and ``--data`` when it names another ``source`` than saved."""
    clash = [k for k, v in given(args, options).items() if k in saved and saved[k] != v]
    if source is not None and source != saved.get("source"):
        clash.append("data")
    if clash:
        names = ", ".join("--" + k.replace("_", "-") for k in clash)
        raise UserError(
            f"cannot change {names} when resuming {args.resume}: {made} made for the saved "
            "settings; expected only training options (e.g. --epochs, --max-time), or a new run "
            "with --out"
        )


def train_config(
    args: argparse.Namespace, defaults: TrainConfig, saved: Checkpoint | None
) -> TrainConfig:
    """``defaults`` (or the saved run's settings), overridden by the options the user gave."""
    base = TrainConfig.from_dict(saved.config["train"]) if saved else defaults
    changes = {
        field: getattr(args, option)
        for option, field in TRAIN_OPTIONS.items()
        if getattr(args, option, None) is not None
    }
    if args.progress is not None:
        changes["progress"] = args.progress
    return base.replace(**changes)


def set_threads(threads: int | None) -> None:
    """``--threads N``: torch's CPU threads (None: leave torch's choice, one per core)."""
    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)


def fit_summary(trainer: Trainer, out: Path) -> dict[str, Any]:
    """What every ``rnnkit train`` returns: the run folder, epochs, why it stopped, the time,
    and the validation metrics of the best epoch (``val``: without the ``val_`` prefix)."""
    best = trainer.monitor.best_epoch
    row = trainer.history[best - 1] if best else trainer.history[-1]
    return {
        "out": str(out),
        "epochs": trainer.epoch,
        "best_epoch": best,
        "stop_reason": trainer.stop_reason,
        "train_time_s": round(trainer.elapsed_s, 3),
        "steps": trainer.global_step,
        "val": {key[4:]: value for key, value in row.items() if key.startswith("val_")},
    }
