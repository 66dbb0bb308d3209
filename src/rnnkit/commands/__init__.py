"""Command-line front ends over ``rnnkit.tasks``: parse options, call the task, return results."""

import argparse

__all__ = ["add_json_option"]


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: the results as one JSON object on the last line of stdout."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results as one JSON object on the last line of stdout",
    )
