"""Train a model for one task and save it as a run folder.

Each task has its own options: see `rnnkit train TASK --help`. Every run folder holds best/ (the
checkpoint to use), last/ (what --resume reads), history.csv, curves.png and metrics.json.
Ctrl-C keeps every finished epoch: continue with `rnnkit train TASK --resume DIR`.

Several processes: `--nproc-per-node N` trains on N processes of this machine through torchrun
(`torch.distributed.run`), data-parallel (gloo on CPUs, NCCL on GPUs); each batch is shared by
all of them, so --batch-size is the global batch. Several machines: run the same command on each
with `--nnodes M --node-rank R --rdzv-endpoint HOST:PORT` (HOST: the machine of node 0).
`torchrun --nproc-per-node N -m rnnkit train ...` works too.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from rnnkit.commands import add_json_option
from rnnkit.commands.options import add_settings_options, given
from rnnkit.errors import UserError
from rnnkit.search.settings_file import read_settings_file
from rnnkit.tasks import TASKS, task_class
from rnnkit.train.distributed import env_world

__all__ = ["add_arguments", "run"]

# the settings sections shown under these --help headings
HEADINGS = {"data": "data", "model": "model", "train": "training"}
# the options that start processes: torchrun's, not passed on to the processes it starts
LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--rdzv-endpoint")
RESULT_FILE = "RNNKIT_RESULT_FILE"  # where rank 0 leaves the result for the launching command
# torchrun, printing its summary of a failed process without its own traceback
TORCHRUN = """import sys
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run
try:
    run(parse_args(sys.argv[1:]))
except ChildFailedError as error:
    sys.exit(f"torchrun: {error}")
"""


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
    scale = parser.add_argument_group("several processes and machines (torchrun)")
    scale.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        metavar="N",
        help="train on N processes of this machine, data-parallel; each batch is shared by all "
        "processes (--batch-size is the global batch) (default: 1)",
    )
    scale.add_argument(
        "--nnodes",
        type=int,
        default=1,
        metavar="M",
        help="machines taking part; run the same command on each (default: 1)",
    )
    scale.add_argument(
        "--node-rank",
        type=int,
        default=0,
        metavar="R",
        help="this machine's number in 0..M-1; node 0 saves the run (default: 0)",
    )
    scale.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help="where the machines meet: a free port on node 0's host, reachable from all "
        "(default: a free port on this machine, for one machine)",
    )


def run(args: argparse.Namespace) -> dict:
    if args.resume and args.out and args.out != args.resume:
        raise UserError(f"--resume {args.resume} and --out {args.out} differ; give only --resume")
    if not (args.resume or args.out):
        raise UserError("expected --out DIR for a new run (or --resume DIR to continue one)")
    if _launches(args):
        return launch(args)
    world = env_world()
    if not world.is_main:  # one writer: rank 0 prints the report, the JSON and the log lines
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (this process ends after the command)
        logging.getLogger("rnnkit").setLevel(logging.WARNING)
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
    result = {**summary, "report": task.summary_report(summary)}
    if world.distributed:
        result["processes"] = world.size
        if world.is_main and os.environ.get(RESULT_FILE):
            Path(os.environ[RESULT_FILE]).write_text(json.dumps(result), encoding="utf-8")
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the launching command prints it)
    return result


def _launches(args: argparse.Namespace) -> bool:
    """Whether this command starts the processes (rather than being one of them)."""
    for name in ("nproc_per_node", "nnodes"):
        if getattr(args, name) < 1:
            raise UserError(
                f"--{name.replace('_', '-')} must be at least 1, got {args.nproc_per_node}"
            )
    if not 0 <= args.node_rank < args.nnodes:
        raise UserError(f"--node-rank must be in 0..{args.nnodes - 1}, got {args.node_rank}")
    if args.nnodes > 1 and not args.rdzv_endpoint:
        raise UserError(
            "--nnodes > 1 needs --rdzv-endpoint HOST:PORT: a free port on node 0's machine, "
            "the same on every machine"
        )
    if args.rdzv_endpoint and not _valid_endpoint(args.rdzv_endpoint):
        raise UserError(f"--rdzv-endpoint must be HOST:PORT, got {args.rdzv_endpoint!r}")
    return args.nproc_per_node * args.nnodes > 1 and "LOCAL_RANK" not in os.environ


def _valid_endpoint(endpoint: str) -> bool:
    host, _, port = endpoint.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def torchrun_command(args: argparse.Namespace, argv: list[str]) -> list[str]:
    """The ``torch.distributed.run`` command starting this command's processes."""
    launch_args = [f"--nproc-per-node={args.nproc_per_node}"]
    if args.rdzv_endpoint:  # static rendezvous: node R of M meets the others at the endpoint
        timeout = args.dist_timeout_s or task_class(args.task).TRAIN_DEFAULTS.dist_timeout_s
        launch_args += [
            f"--nnodes={args.nnodes}",
            f"--node-rank={args.node_rank}",
            f"--rdzv-endpoint={args.rdzv_endpoint}",
            f"--rdzv-conf=timeout={max(int(timeout), 1)}",
        ]
    return [sys.executable, "-c", TORCHRUN, *launch_args, "-m", "rnnkit", *argv]


def without_launch_options(argv: list[str]) -> list[str]:
    """``argv`` without ``LAUNCH_OPTIONS`` (``--opt VALUE`` and ``--opt=VALUE``)."""
    out, words = [], iter(argv)
    for word in words:
        name = word.split("=", 1)[0]
        if name in LAUNCH_OPTIONS:
            if "=" not in word:
                next(words, None)
            continue
        out.append(word)
    return out


def launch(args: argparse.Namespace) -> dict:
    """Run this command on ``--nproc-per-node`` processes through torchrun; rank 0's result."""
    argv = args.argv if getattr(args, "argv", None) is not None else sys.argv[1:]
    command = torchrun_command(args, without_launch_options(argv))
    with tempfile.TemporaryDirectory(prefix="rnnkit-launch-") as folder:
        result_file = Path(folder) / "result.json"
        env = {**os.environ, RESULT_FILE: str(result_file)}
        status = subprocess.run(command, env=env, check=False).returncode
        if status != 0:
            run_folder = args.resume or args.out
            raise UserError(
                f"the {args.nproc_per_node * args.nnodes} training processes ended with an error "
                f"(torchrun exit status {status}): a process failed or was killed, see the "
                f"messages above; continue from the last finished epoch with --resume {run_folder}"
            )
        if result_file.exists():
            return json.loads(result_file.read_text(encoding="utf-8"))
    return {
        "node_rank": args.node_rank,
        "report": f"node {args.node_rank} done ({args.nproc_per_node} process(es)); "
        "node 0 saved the run",
    }
