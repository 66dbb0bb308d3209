"""``export_run``: a trained model as an ONNX or TorchScript file that runs without rnnkit, with
what it needs beside it as JSON.

    info = export_run("runs/imdb", "onnx", "imdb.onnx")   # writes imdb.onnx and imdb.json

The graphs (:mod:`rnnkit.export.graphs`):

- ``classify``: ``tokens`` (N, L) int64 padded with the vocabulary's pad index and ``lengths``
  (N,) int64 -> ``logits`` (N, C); softmax gives the probabilities of ``labels``;
- ``speech``: ``features`` (N, L, F) float32, each recording's frames standardised by the
  description's scaler (``(x - mean) / std``) and zero-padded, and ``lengths`` (N,) int64 ->
  ``logits`` (N, C);
- ``regress``: ``features`` (N, L, F) float32, each sequence's steps standardised by the
  description's scaler and zero-padded, and ``lengths`` (N,) int64 -> ``values`` (N, k), in
  standardised units: ``values * target_scaler.std + target_scaler.mean`` are the predictions;
- ``forecast``: ``windows`` (N, L, targets + covariates) of values scaled as the description's
  preprocessing says -> the model's raw ``output`` (N, horizon, targets, P): the forecast
  (point), mean and softplus(s) + 1e-4 = σ (gaussian), or three quantiles (quantile); a seq2seq
  model's decoder steps are recorded in the graph, one per horizon step;
- ``lm``: ``tokens`` (N, L) int64 and the state ``h`` (layers, N, H) (and ``c`` for an LSTM)
  -> ``logits`` (N, L, V) of each next token and the state after the last one (``h_out``,
  ``c_out``): feed one token and the state back in to generate.

Batch and sequence axes are dynamic. ONNX files are written by torch's TorchScript-based
exporter at opset :data:`OPSET` (it records torch.nn's recurrent layers as single ``LSTM``,
``GRU`` or ``RNN`` nodes whose length is an input's, where the dynamo exporter fixes output
shapes to the example's length); TorchScript files by ``torch.jit.trace`` of the same graph.
The JSON beside the model (``FILE`` with the suffix ``.json``) holds the task, the inputs'
and outputs' names and shapes, and the preprocessing: tokenizer (with its regular expression),
vocabulary, labels and truncation (speech: the feature settings and the standardisation).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit import __version__
from rnnkit.atomic import atomic_write_bytes
from rnnkit.errors import UserError
from rnnkit.export.graphs import ClassifierGraph, LanguageModelStep, forecaster_graph
from rnnkit.tasks import Task, load

__all__ = ["FORMATS", "OPSET", "TASKS", "example_inputs", "export_graph", "export_run"]

FORMATS = ("onnx", "torchscript")
OPSET = 17  # the ONNX opset the files are written at
TASKS = ("classify", "lm", "speech", "forecast", "regress")  # the tasks whose models export
CLASSIFIERS = ("classify", "speech", "regress")  # (inputs, lengths) -> (N, C) or (N, k)


def export_graph(task: Task) -> nn.Module:
    """The inference graph of ``task``'s model, which this moves to the CPU in float32 and eval
    mode."""
    if task.NAME not in TASKS:
        raise UserError(
            f"export cannot write {task.NAME!r} models yet; expected a model of: {', '.join(TASKS)}"
        )
    model = task.model.float().cpu().eval()
    if task.NAME == "forecast":
        return forecaster_graph(model)
    return ClassifierGraph(model) if task.NAME in CLASSIFIERS else LanguageModelStep(model)


def io_spec(task: Task) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The graph's inputs and outputs: name -> axis names (symbolic) or sizes."""
    if task.NAME == "forecast":
        c = task.model.config
        sizes = [c.output_steps, c.num_targets, task.model.outputs]
        inputs = {"windows": ["batch", "length", str(c.input_size)]}
        return inputs, {"output": ["batch", *map(str, sizes)]}
    if task.NAME in CLASSIFIERS:
        inputs = {"tokens": ["batch", "length"], "lengths": ["batch"]}
        if task.NAME == "speech":
            inputs = {"features": ["batch", "length", str(task.model.config.input_size)],
                      "lengths": ["batch"]}  # fmt: skip
        if task.NAME == "regress":
            inputs = {"features": ["batch", "length", str(task.model.config.input_size)],
                      "lengths": ["batch"]}  # fmt: skip
            return inputs, {"values": ["batch", str(task.model.config.num_outputs)]}
        return inputs, {"logits": ["batch", str(task.model.config.num_classes)]}
    rnn = task.model.rnn
    layers, vocab = str(rnn.num_layers), str(task.model.config.vocab_size)
    h_size = str(getattr(rnn, "proj_size", 0) or rnn.hidden_size)
    state = {"h": [layers, "batch", h_size]}
    if rnn.mode == "LSTM":
        state["c"] = [layers, "batch", str(rnn.hidden_size)]
    outputs = {"logits": ["batch", "length", vocab]}
    outputs.update({f"{name}_out": shape for name, shape in state.items()})
    return {"tokens": ["batch", "length"], **state}, outputs


def example_inputs(task: Task, batch: int = 3, length: int = 7, seed: int = 0) -> tuple:
    """Random inputs of the graph's shapes: tokens from the vocabulary (or standard normal
    feature frames), lengths from 1 to ``length`` (the longest one ``length``), a random
    state."""
    generator = torch.Generator().manual_seed(seed)
    if task.NAME == "forecast":
        size = task.model.config.input_size
        return (torch.randn(batch, length, size, generator=generator),)  # (N, L, F)
    if task.NAME in ("speech", "regress"):
        lengths = torch.randint(1, length + 1, (batch,), generator=generator)  # (N,)
        lengths[0] = length
        size = task.model.config.input_size
        frames = torch.randn(batch, length, size, generator=generator)  # (N, L, F)
        valid = torch.arange(length) < lengths.unsqueeze(1)  # (N, L)
        return frames * valid.unsqueeze(-1), lengths
    vocab = task.model.config.vocab_size
    tokens = torch.randint(0, vocab, (batch, length), generator=generator)  # (N, L)
    if task.NAME == "classify":
        lengths = torch.randint(1, length + 1, (batch,), generator=generator)  # (N,)
        lengths[0] = length
        pad = task.preprocessing.vocab.pad_index
        tokens = tokens.masked_fill(torch.arange(length) >= lengths.unsqueeze(1), pad)
        return tokens, lengths
    inputs, _ = io_spec(task)
    state = [
        torch.randn([int(s) if s.isdigit() else batch for s in shape], generator=generator)
        for name, shape in inputs.items()
        if name != "tokens"
    ]
    return (tokens, *state)


def preprocessing(task: Task) -> dict[str, Any]:
    """What turns text into the graph's tokens (and its logits into labels), as JSON."""
    artifacts = task.checkpoint.artifacts if task.checkpoint is not None else {}
    data = task.settings["data"].to_dict()
    data.pop("source", None)
    if task.NAME == "forecast":
        model = task.model.config
        return {
            **artifacts,  # "preprocessing": the series' transform, scaling and covariates
            "data": data,
            "head": model.head,
            "coverage": model.coverage,
            "steps": "windows = the last input_length steps, each [targets; covariates] "
            "transformed and scaled as preprocessing says; output -> forecast by head, "
            "unscaled and un-transformed; its bounds are each step's own (a seq2seq decoder "
            "reads its previous forecast as if known): rnnkit draws the bounds after the first "
            "fed-back step from sample paths",
        }
    if task.NAME == "speech":
        return {
            "labels": artifacts.get("labels"),
            "scaler": artifacts.get("scaler"),
            "features": data,
            "steps": "frames = the recording's features as 'features' says (rnnkit.data.audio: "
            "log-mel or MFCC of the samples at sample_rate); (frames - scaler.mean) / "
            "scaler.std; zero-pad to the longest; logits -> softmax over labels",
        }
    if task.NAME == "regress":
        return {
            "scaler": artifacts.get("scaler"),
            "target_scaler": artifacts.get("target_scaler"),
            "targets": artifacts.get("targets"),
            "steps": "features = each sequence's steps (T, F), (steps - scaler.mean) / "
            "scaler.std, zero-padded to the longest; lengths = each T; the predictions = values "
            "* target_scaler.std + target_scaler.mean, one column per targets.names",
        }
    out: dict[str, Any] = {"tokenizer": artifacts.get("tokenizer"), "vocab": artifacts.get("vocab")}
    tokenizer = out["tokenizer"] or {}
    if tokenizer.get("name") == "word":
        from rnnkit.data import tokenize

        words = {"split": tokenize._WORD_OR_PUNCT, "drop": tokenize._WORD}
        pattern = words.get(tokenizer.get("punctuation"))
        out["tokenizer"] = {**tokenizer, "pattern": pattern.pattern if pattern else r"\S+"}
    if task.NAME == "classify":
        out["labels"] = artifacts.get("labels")
        out["max_length"], out["keep"] = data.get("max_length"), data.get("keep")
        out["steps"] = (
            "tokens = vocab ids of tokenizer(text) (lower-cased first if tokenizer.lower; "
            "word tokens: the pattern's matches; a token not in the vocabulary: the unk "
            "special), at least one (an empty text: [unk]); cut to max_length keeping the "
            "start or end (keep); pad with the pad special's id; logits -> softmax over labels"
        )
    else:
        out["level"] = data.get("level")
        out["steps"] = (
            "start from zero states; feed the prime's token ids, then sample the next id from "
            "softmax(logits[:, -1] / temperature) and feed it back with the state outputs"
        )
    return out


def export_run(run: str | Path | Task, fmt: str, out: str | Path | None = None) -> dict[str, Any]:
    """Write the model of the run folder ``run`` (or a loaded task) as ``fmt`` (one of
    :data:`FORMATS`) to ``out`` (default: ``model.onnx`` or ``model.pt`` in the run folder)
    and its description beside it (``out`` with the suffix ``.json``). Returns that
    description plus the paths written and ``max_abs_diff``: the largest difference between
    the file's outputs and the PyTorch model's on random variable-length inputs."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    task = run if isinstance(run, Task) else load(run, device="cpu")
    graph = export_graph(task)
    if out is None:
        if task.run_dir is None:
            raise UserError("no run folder to write into; expected --out FILE")
        out = task.run_dir / ("model.onnx" if fmt == "onnx" else "model.pt")
    out = Path(out)
    if out.suffix == ".json":
        raise UserError(f"{out}: the model's description is written as .json beside it; "
                        "expected another name for the model, e.g. model.onnx")  # fmt: skip
    inputs, outputs = io_spec(task)
    example = example_inputs(task)
    write = write_onnx if fmt == "onnx" else write_torchscript
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, write(graph, example, inputs, outputs))
    description = {
        "rnnkit_version": __version__,
        "task": task.NAME,
        "format": fmt,
        "opset": OPSET if fmt == "onnx" else None,
        "inputs": inputs,
        "outputs": outputs,
        "preprocessing": preprocessing(task),
    }
    sidecar = out.with_suffix(".json")
    atomic_write_bytes(sidecar, json.dumps(description, indent=1).encode())
    check = example_inputs(task, batch=4, length=11, seed=1)
    found = run_file(out, fmt, check, list(inputs))
    with torch.no_grad():
        expected = task_outputs(task, check)
    diff = max((f - e).abs().max().item() for f, e in zip(found, expected))
    return {**description, "path": str(out), "description": str(sidecar), "max_abs_diff": diff}


def task_outputs(task: Task, inputs: tuple) -> list[Tensor]:
    """The PyTorch model's own outputs (its packed, engine-run forward) on the graph's inputs."""
    model = task.model
    if task.NAME in (*CLASSIFIERS, "forecast"):
        return [model(*inputs)]
    tokens, *state = inputs
    logits, new_state = model(tokens, tuple(state) if len(state) > 1 else state[0])
    return [logits, *(new_state if isinstance(new_state, tuple) else (new_state,))]


def run_file(path: Path, fmt: str, inputs: tuple, names: list[str]) -> list[Tensor]:
    """The outputs of the exported file at ``path`` on ``inputs`` (onnxruntime or torch.jit)."""
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch 2.13's deprecation notice of torch.jit
            module = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            found = module(*inputs)
        return list(found) if isinstance(found, tuple) else [found]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: value.numpy() for name, value in zip(names, inputs)}
    return [torch.from_numpy(value) for value in session.run(None, feeds)]


def write_onnx(graph: nn.Module, example: tuple, inputs: dict, outputs: dict) -> bytes:
    """The ONNX file's bytes, with the axes named in ``inputs``/``outputs`` dynamic."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("ONNX export needs onnx: pip install 'rnnkit[export]'") from None
    dynamic = {
        name: {axis: size for axis, size in enumerate(shape) if not size.isdigit()}
        for name, shape in {**inputs, **outputs}.items()
    }
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            graph, example, buffer, dynamo=False, opset_version=OPSET,
            input_names=list(inputs), output_names=list(outputs), dynamic_axes=dynamic,
        )  # fmt: skip
    return buffer.getvalue()


def write_torchscript(graph: nn.Module, example: tuple, inputs: dict, outputs: dict) -> bytes:
    """The TorchScript file's bytes: ``torch.jit.trace`` of ``graph`` on ``example``."""
    with warnings.catch_warnings(), torch.no_grad():
        # tracer notes on shapes read as tensors; torch 2.13's deprecation of torch.jit, whose
        # files are still what C++ (libtorch) and older deployments load
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()
