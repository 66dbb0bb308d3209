"""The ``rnnkit`` command line: a thin front end over ``rnnkit.tasks``.

Each sub-command is registered in ``COMMANDS`` as ``name -> (module path, help)``; its module
provides ``add_arguments(parser)`` and ``run(args) -> dict``; a result with ``"ok": False``
makes the command exit with status 1. Only the module of the command being run is imported (and
none for ``rnnkit --help``), so a command does not pay for the others' imports.

Conventions: progress and logs go to stderr; a result's ``"report"`` (text for people) is
printed to stdout; with ``--json`` the last line of stdout is one JSON object holding the rest
of the command's results; a ``UserError`` prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys

from rnnkit import __version__
from rnnkit.commands import add_json_option
from rnnkit.errors import UserError

__all__ = ["COMMANDS", "build_parser", "main"]

# name -> (module implementing add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gradcheck": (
        "rnnkit.commands.gradcheck",
        "check hand-written BPTT gradients against finite differences and autograd",
    ),
    "gradients": (
        "rnnkit.commands.gradients",
        "show vanishing/exploding gradients: the norm of dL_T/dh_t for every step t",
    ),
    "train": ("rnnkit.commands.train", "train a model for a task and save it as a run folder"),
    "evaluate": ("rnnkit.commands.evaluate", "evaluate a trained model on a data split"),
    "predict": ("rnnkit.commands.predict", "predict with a trained model on new inputs"),
    "generate": ("rnnkit.commands.generate", "generate text or music with a trained model"),
    "translate": ("rnnkit.commands.translate", "translate text with a trained translation model"),
    "forecast": (
        "rnnkit.commands.forecast",
        "forecast past the end of a series with a trained forecaster, with intervals and a plot",
    ),
    "detect": (
        "rnnkit.commands.detect",
        "flag anomalies in a series with an LSTM detector or a forecaster (NAB windows scored)",
    ),
    "caption": ("rnnkit.commands.caption", "caption images with a trained captioning model"),
    "visualize": ("rnnkit.commands.visualize", "show a language model's hidden units on a text"),
    "search": (
        "rnnkit.commands.search",
        "search a task's settings with Optuna: grid, random, TPE or Gaussian process",
    ),
    "serve": ("rnnkit.commands.serve", "serve trained models over HTTP (FastAPI + uvicorn)"),
    "export": (
        "rnnkit.commands.export",
        "export a trained model as ONNX or TorchScript, with its preprocessing as JSON",
    ),
    "vectors": (
        "rnnkit.commands.vectors",
        "train word vectors (word2vec, gensim) on your own text, for --embeddings",
    ),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command named there gets its options (and imports)."""
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks from the gate equations to trained models.",
        epilog="Run 'rnnkit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    add_json_option(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else next((a for a in argv if a in COMMANDS), "")
    for name, (module_path, help_text) in COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name, help=help_text)  # listed in --help, options not loaded
            continue
        module = importlib.import_module(module_path)
        command_parser = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_json_option(command_parser)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while the command's modules are still importing
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # the words as given (rnnkit train --nproc-per-node hands them to torchrun)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result = args._run(args)
    except UserError as error:
        print(f"rnnkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    result = result or {}
    report = result.pop("report", None)  # the human-readable form, printed always
    try:
        if report:
            print(report)
        if args.json:
            print(json.dumps(result))
        sys.stdout.flush()
    except BrokenPipeError:  # `rnnkit predict ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    # A command whose check failed (e.g. gradcheck above tolerance) reports "ok": false.
    return 1 if result.get("ok") is False else 0
