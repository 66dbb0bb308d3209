"""Predict with a trained model on new inputs given on the command line or in a file.

A .csv/.tsv file is read as a table: --text-column names the inputs' column (default: the
training run's text column, else "text"), and --out writes the rows back with the predictions
as new columns. Any other file holds one input per line.

Examples:
  rnnkit predict runs/imdb "A wonderful, moving film." "Two hours I will never get back."
  rnnkit predict runs/imdb --file reviews.txt --json      (one input per line)
  rnnkit predict runs/gop --file tweets.csv --text-column text --out predicted.csv
  rnnkit predict runs/imdb "A wonderful, moving film." --explain   (each word's contribution;
      --explain gradient: gradient x input)
  rnnkit predict runs/digits 4_7_2.wav --alignment-plot align.png   (which frames said which digit)
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from rnnkit.atomic import atomic_write_text
from rnnkit.commands import add_input_arguments, read_inputs
from rnnkit.data.tabular import read_text_column
from rnnkit.errors import UserError
from rnnkit.tasks import load
from rnnkit.tasks.classify.explain import METHODS

__all__ = ["add_arguments", "run"]

TABLES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    add_input_arguments(parser, "inputs to predict on")
    parser.add_argument("--text-column", help="of a .csv/.tsv --file (default: the run's, or text)")
    parser.add_argument("--delimiter", help="of a --file table (default: from the extension)")
    parser.add_argument(
        "--out", metavar="CSV", help="write the --file table's rows with the predictions added"
    )
    parser.add_argument(
        "--explain", nargs="?", const=METHODS[0], choices=METHODS, metavar="METHOD",
        help="a text classifier: each token's contribution to the label's probability, by "
        "occlusion (the drop when it is read as <unk>; the default) or gradient (x input)",
    )  # fmt: skip
    parser.add_argument(
        "--alignment-plot", metavar="PNG",
        help="a CTC speech recogniser (speech-ctc): draw the first file's spectrogram with the "
        "frames that emitted each symbol into PNG",
    )  # fmt: skip
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")


def run(args: argparse.Namespace) -> dict:
    if not (args.inputs or args.file):
        raise UserError("nothing to do: expected TEXT arguments or --file F with text")
    is_table = bool(args.file) and args.file.lower().endswith(TABLES)
    if args.out and not is_table:
        raise UserError("--out writes a table: expected --file with a .csv or .tsv file")
    if args.out and Path(args.out).is_dir():
        raise UserError(f"--out {args.out} is a folder; expected a file name")
    task = load(args.checkpoint, device=args.device)
    if args.explain and not callable(getattr(task, "explain", None)):
        raise UserError(
            f"--explain needs a text classifier; {args.checkpoint} holds a {task.NAME!r} model"
        )
    if args.alignment_plot and not callable(getattr(task, "alignment", None)):
        raise UserError(
            f"--alignment-plot needs a CTC speech recogniser (rnnkit train speech-ctc); "
            f"{args.checkpoint} holds a {task.NAME!r} model"
        )
    header, rows = None, None
    if is_table:
        column = args.text_column or getattr(task.settings["data"], "text_column", None) or "text"
        header, rows, texts = read_text_column(
            args.file, column, delimiter=args.delimiter, encoding=args.encoding
        )
        inputs = [*args.inputs, *texts]
        if not inputs:
            raise UserError("nothing to do: expected TEXT arguments or --file F with text")
    else:
        inputs = read_inputs(args)
    if args.explain:
        predictions = task.explain(inputs, method=args.explain)
    else:
        predictions = task.predict_rows(inputs)
    result = {"predictions": predictions, "report": task.predict_report(predictions)}
    if args.alignment_plot:
        result["alignment"] = task.alignment(inputs[0], plot=args.alignment_plot)
        if result["alignment"]["plot"]:
            result["report"] += f"\nalignment of {inputs[0]}: {args.alignment_plot}"
    if args.out:
        given = len(args.inputs)
        _write_table(Path(args.out), header, rows, predictions[given:])
        result["out"] = args.out
    return result


def _write_table(path: Path, header: list[str], rows: list[list[str]], predictions: list) -> None:
    """The rows with each prediction's fields as new columns (nested dicts as "a.b")."""
    flat = [_flatten(p) for p in predictions]
    added = [key for key in flat[0] if key != "input"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    writer.writerow([*header, *added])
    for row, values in zip(rows, flat):
        writer.writerow([*row, *(values[key] for key in added)])
    atomic_write_text(path, buffer.getvalue())


def _flatten(row: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            out[f"{prefix}{key}"] = value
    return out
