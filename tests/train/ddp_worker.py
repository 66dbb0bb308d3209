"""One process of the 2-process tests in test_distributed.py (started there with the environment
torchrun would give it): fits the tiny classifier, language model and translator of
``TINY_FITS`` through the Python API, each into ``OUT/<task>``; the tests compare rank 0's
history with a single process's. Usage: ``python ddp_worker.py DATA_DIR OUT``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

import rnnkit
import rnnkit.nn
from rnnkit.train import distributed

# task -> (Python API class name, data file, settings): tiny, no dropout, fp32 (a task's "auto"
# precision is bf16 on a CPU with bf16 products, whose rounding differs between a batch and its
# halves), so that 2 processes compute what one does on the same global batch
TINY_FITS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "classify": (
        "TextClassifier",
        "reviews.csv",
        {"embed": 4, "hidden": 4, "min_freq": 1, "batch_size": 8, "max_length": 20,
         "dropout": 0.0, "epochs": 2, "precision": "fp32", "progress": False, "plot": False},
    ),
    "lm": (
        "LanguageModel",
        "corpus.txt",
        {"embed": 4, "hidden": 4, "layers": 1, "seq_length": 8, "batch_size": 6,
         "eval_batch_size": 4, "sample_length": 0, "dropout": 0.0, "epochs": 2,
         "precision": "fp32", "progress": False, "plot": False},
    ),
    "translate": (
        "Translator",
        "pairs",
        {"embed": 4, "encoder_hidden": 4, "hidden": 4, "tokens": "word", "min_freq": 1,
         "src_vocab": 16, "tgt_vocab": 16, "batch_size": 8, "dropout": 0.0, "epochs": 2,
         "precision": "fp32", "progress": False, "plot": False},
    ),
}  # fmt: skip


def engine_gradients(rank: int = 0, size: int = 1, bf16: bool = False) -> list[torch.Tensor]:
    """Gradients of a fused-engine LSTM's mean squared output over 8 seeded sequences, of which
    this rank takes rows ``rank::size``; under ``DistributedDataParallel`` when ``size`` > 1 (the
    engine's custom autograd functions must fire DDP's gradient hooks), and under bfloat16
    autocast with ``bf16``."""
    torch.manual_seed(0)
    layer = rnnkit.nn.LSTM(3, 5, batch_first=True, backend="fused")
    x = torch.randn(8, 6, 3)[rank::size]  # (N / size, L, H_in)
    model = torch.nn.parallel.DistributedDataParallel(layer) if size > 1 else layer
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out, _ = model(x)  # (N / size, L, H)
    out.float().pow(2).mean().backward()
    return [p.grad for p in layer.parameters()]


def fit(task: str, data_dir: Path, out: Path) -> Any:
    """Fit ``task``'s tiny model on ``data_dir``'s file into ``out / task``."""
    name, data, settings = TINY_FITS[task]
    model = getattr(rnnkit, name)(verbose=0, device="cpu", **settings)
    return model.fit(data=str(data_dir / data), out=out / task)


def fit_resumed(task: str, data_dir: Path, out: Path) -> Any:
    """Resume ``out / task`` (data_dir: unused, for the same call as ``fit``)."""
    name, _, _ = TINY_FITS[task]
    model = getattr(rnnkit, name)(verbose=0, device="cpu", epochs=3)
    return model.fit(out=out / task, resume=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    world, _, _ = distributed.init_from_env(torch.device("cpu"), timeout_s=60)
    grads = {
        f"bf16={bf16}": engine_gradients(world.rank, world.size, bool(bf16)) for bf16 in (0, 1)
    }
    if world.is_main:
        torch.save(grads, out / "engine_grads.pt")
    for task in TINY_FITS:  # each fit reuses the group joined above
        fit(task, data_dir, out)
