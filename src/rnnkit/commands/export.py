"""Export a trained model for inference without rnnkit: an ONNX file (onnxruntime, ONNX opset
17) or a TorchScript file (torch.jit.load), with a JSON description beside it (FILE with the
suffix .json: the inputs' and outputs' names and shapes, and the preprocessing: tokenizer,
vocabulary, labels, truncation).

Text classifiers: tokens (N, L) int64 padded with the pad id and lengths (N,) -> logits (N, C).
Speech classifiers: standardised feature frames (N, L, F) float32 and lengths (N,) -> logits.
Forecasters: scaled windows (N, L, F) -> the head's raw output (N, horizon, targets, P).
Sequence regressors: standardised features (N, L, F) float32 and lengths (N,) -> standardised
values (N, k) (both scalers in the JSON).
Language models: tokens (N, L) and the state h (and c for an LSTM), each (layers, N, H) ->
logits (N, L, V) and the state after the last token (h_out, c_out), to step a generation.
Batch and sequence axes are dynamic. After writing, the file is run on random variable-length
inputs against the PyTorch model and the largest difference is reported.

Examples:
  rnnkit export runs/imdb --format onnx --out imdb.onnx
  rnnkit export runs/shakespeare --format torchscript --out shakespeare.pt
"""

from __future__ import annotations

import argparse

from rnnkit.export import FORMATS, export_run

__all__ = ["add_arguments", "run"]

TOLERANCE = 1e-5  # the largest difference from the PyTorch model a float32 export may show


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="the run folder of a trained model")
    formats = " or ".join(FORMATS)
    parser.add_argument("--format", required=True, metavar="FORMAT", help=f"{formats}")
    default = "default: RUN/model.onnx or RUN/model.pt"
    parser.add_argument("--out", metavar="FILE", help=f"the file to write ({default})")


def run(args: argparse.Namespace) -> dict:
    info = export_run(args.run_dir, args.format, args.out)
    ok = info["max_abs_diff"] <= TOLERANCE
    shapes = "; ".join(f"{name} {tuple(shape)}" for name, shape in
                       {**info["inputs"], **info["outputs"]}.items())  # fmt: skip
    opset = f" (opset {info['opset']})" if info["opset"] else ""
    report = (
        f"wrote the {info['task']} model as {info['format']}{opset}: {info['path']}\n"
        f"  and its description: {info['description']}\n"
        f"  graph: {shapes}\n"
        f"  max abs diff from the PyTorch model: {info['max_abs_diff']:.3g} "
        f"({'within' if ok else 'over'} {TOLERANCE:g})"
    )
    keys = ("task", "format", "opset", "inputs", "outputs", "path", "description", "max_abs_diff")
    return {"report": report, "ok": ok, **{key: info[key] for key in keys}}
