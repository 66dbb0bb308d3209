"""Backend names, their validation, and what ``backend="auto"`` picks.

``auto`` picks, per forward call, the engine measured fastest for the configuration
(``benchmarks/layers.py``; numbers in ``benchmarks/results/``). A configuration is *plain* when
it uses nothing torch.nn lacks (no layer_norm, recurrent_dropout or residual); only plain ones
can go to ``torch``:

- CUDA, plain: ``torch`` (cuDNN);
- CPU, training on variable-length (packed) input: ``fused``. torch's CPU kernels take a slow
  path for packed sequences in training: a bidirectional LSTM 128 -> 256 over 64 IMDb-length
  reviews took 10.5 s a step there against 0.74 s padded, ~1 s fused;
- CPU, plain LSTM: ``fused`` for training batches of at least :data:`MIN_FUSED_LSTM_BATCH`
  sequences when a call's work L * N * H reaches :data:`MIN_FUSED_LSTM_WORK` (twice that under
  bfloat16 autocast, where oneDNN's LSTM is as fast at 200 x 32 x 256); ``torch`` (oneDNN's
  own LSTM) for inference and smaller work, where the fused engine's fixed cost per call
  (~2.5 ms at 32 x 256: weight packing, buffers) is not repaid;
- CPU, plain GRU and Elman RNN: ``fused`` (the GRU's float32 time loop in C: a music model's
  training step, 16 x 100 frames, 88 -> 128, took 39 ms there against 51 ms for oneDNN's LSTM and
  59 ms with the former Python loop; one thread, shared 2-core machine), except ``torch`` for
  inference of batches under :data:`MIN_FUSED_BATCH`, where torch's C++ loop costs less per call
  (a GRU's single step, 1 x 128: 0.3 ms against 1.2 ms fused; from ~50 steps on fused was faster)
  and, for the Elman RNN, per step than the fused engine's Python loop (but not under bfloat16
  autocast for a batch of one or two, which the fused engine keeps in float32: 1000 steps of 1 x
  256, GRU 42 vs 73 ms, RNN 24 vs 47 ms), and for the Elman RNN under bfloat16 from
  :data:`MIN_FUSED_BATCH` on (torch's bf16 RNN: 2-6% faster in training, ~30% in inference);
- everything else: ``fused``, which covers every option.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from rnnkit.nn.engine.matmul import MKL_MAX_ROWS, autocast_dtype
from rnnkit.nn.engine.native import unsupported_options

__all__ = [
    "BACKENDS",
    "MIN_FUSED_BATCH",
    "MIN_FUSED_LSTM_BATCH",
    "MIN_FUSED_LSTM_WORK",
    "RENAMED_BACKENDS",
    "check_backend",
    "choose_backend",
]

BACKENDS = ("auto", "loop", "torch", "fused")
# Former names, still accepted with a DeprecationWarning: old -> current.
RENAMED_BACKENDS = {"reference": "loop"}

# Below this batch size a step's work is too small to hide the fused engine's per-step overhead.
MIN_FUSED_BATCH = 16
# LSTM training: oneDNN's LSTM is as fast below this batch size (measured at 16 x 512) and this
# work per call, L * N * H (Penn Treebank's 35 steps of 32 x 256: fused 1.17x torch in float32;
# 200 steps: 0.93x).
MIN_FUSED_LSTM_BATCH = 32
MIN_FUSED_LSTM_WORK = 1 << 20


def check_backend(name, module=None) -> str:
    """Return ``name`` if it is a known backend that can run ``module``'s configuration (the
    current name of a renamed one, with a DeprecationWarning)."""
    if isinstance(name, str) and name in RENAMED_BACKENDS:
        new = RENAMED_BACKENDS[name]
        warnings.warn(
            f"backend={name!r} is now called {new!r} (the autograd time loop); "
            f"expected backend={new!r}, got {name!r}",
            DeprecationWarning,
            stacklevel=2,
        )
        name = new
    if name not in BACKENDS:
        known = ", ".join(repr(b) for b in BACKENDS)
        raise ValueError(f"backend must be one of {known}, got {name!r}")
    if name == "torch" and module is not None:
        missing = unsupported_options(module)
        if missing:
            raise ValueError(
                "backend='torch' runs torch's own RNN kernels, which lack "
                f"{', '.join(missing)}; expected backend 'auto', 'fused' or 'loop' "
                "for this configuration"
            )
    return name


def choose_backend(module, x: Tensor, lengths: Tensor | None = None) -> str:
    """The engine ``backend="auto"`` runs ``module`` with on the time-major input ``x``.

    ``lengths`` (N,): the sequences' lengths when they differ (packed input), else None.
    """
    if unsupported_options(module):
        return "fused"
    if x.device.type == "cuda":
        return "torch"
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.bfloat16):
        return "fused"
    training = module.training and torch.is_grad_enabled()
    if training and lengths is not None:
        return "fused"
    autocast = autocast_dtype("cpu") is not None and x.dtype == torch.float32
    bf16 = autocast or x.dtype == torch.bfloat16
    batch = x.shape[1]
    if module.mode == "LSTM":
        work = x.shape[0] * batch * module.hidden_size  # L * N * H
        needed = MIN_FUSED_LSTM_WORK * (2 if bf16 else 1)
        large = batch >= MIN_FUSED_LSTM_BATCH and work >= needed
        return "fused" if training and large else "torch"
    small = batch < MIN_FUSED_BATCH
    if not training and autocast and batch <= MKL_MAX_ROWS:
        return "fused"  # which keeps a batch of one or two in float32, faster there
    if small and not training:
        return "torch"
    if bf16 and not small and module.mode != "GRU":
        return "torch"
    return "fused"
