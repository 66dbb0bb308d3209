"""Command-line front ends over ``rnnkit.tasks``: parse options, call the task, return results."""

import argparse

from rnnkit.data.files import read_text_file
from rnnkit.errors import UserError

__all__ = ["add_input_arguments", "add_json_option", "read_inputs"]


def add_json_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--json``: the results as one JSON object on the last line of stdout. Accepted before
    and after the command (``rnnkit train --json lm ...`` = ``rnnkit train lm ... --json``): only
    the ``top`` parser sets a default, so a later parser never resets it."""
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print the results as one JSON object on the last line of stdout",
    )


def add_input_arguments(parser: argparse.ArgumentParser, what: str = "inputs") -> None:
    """``TEXT...`` positionals and ``--file F`` (one input per line) with ``--encoding``."""
    parser.add_argument("inputs", nargs="*", metavar="TEXT", help=f"{what}, as arguments")
    parser.add_argument("--file", metavar="F", help=f"read {what} from F, one per line")
    parser.add_argument("--encoding", default="utf-8", help="of --file (default: utf-8)")


def read_inputs(args: argparse.Namespace) -> list[str]:
    """The TEXT arguments followed by the non-blank lines of ``--file``; at least one."""
    inputs = list(args.inputs)
    if args.file:
        text = read_text_file(args.file, encoding=args.encoding)
        inputs += [line for line in text.splitlines() if line.strip()]
    if not inputs:
        raise UserError("nothing to do: expected TEXT arguments or --file F with text")
    return inputs
