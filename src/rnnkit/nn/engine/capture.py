"""Which engine runs under graph capture and function transforms, where the fused engine cannot.

The fused engine's C kernels and prepacked oneDNN products read tensors' memory, which the
tensors of ``torch.compile``, ``torch.export``, ONNX export, ``torch.jit.trace`` (fake, proxy
and functional tensors) and of ``torch.func``'s transforms (wrapped tensors) do not have. So:

- ``torch.compile`` (tracing by TorchDynamo, not exporting): the layer is a graph break and
  runs eagerly with the engine ``backend`` names, as TorchDynamo treats torch.nn's own
  recurrent layers (``torch._dynamo.config.allow_rnn`` is off by default); the rest of the
  model compiles, the layer keeps its eager speed, and ``fullgraph=True`` fails as it does with
  torch.nn (:func:`graph_break`, :func:`compiling`);
- ``torch.export`` (strict or not, which ONNX export calls), ``torch.jit.trace`` and
  ``torch.jit.script``: a plain configuration (nothing torch.nn lacks) over full-length
  sequences runs torch's own kernels, recorded as one ``aten.lstm``/``gru``/``rnn_*`` node as
  torch.nn's layers are; anything else the loop engine, recorded as its unrolled steps
  (:func:`traced_backend`; ``backend="loop"`` stays the loop engine);
- inside ``torch.func`` transforms (``grad``, ``vjp``, ``jacrev``, ``jacfwd``, ``vmap``) and
  forward-mode AD (``torch.autograd.forward_ad``): the loop engine,
  whose plain PyTorch ops every transform supports (torch's own kernels have no vmap rule).
  A fused layer run eagerly whose backward later runs under ``vmap`` (the vectorised
  jacobian) differentiates its loop-engine recomputation instead (see :mod:`.fused`).

Whatever the engine, the results are the layer's: the engines compute the same function.
"""

from __future__ import annotations

import torch
from torch.autograd import forward_ad

from rnnkit.nn.engine.native import unsupported_options

__all__ = ["compiling", "graph_break", "tracing", "traced_backend", "transforms_active"]


def transforms_active() -> bool:
    """Whether a ``torch.func`` transform (grad, vmap, jvp, ...) is running, or forward-mode
    AD (``torch.autograd.forward_ad.dual_level``), which the fused engine has no rule for."""
    return torch._C._are_functorch_transforms_active() or forward_ad._current_level >= 0


def tracing() -> bool:
    """Whether an exporter or tracer records the call: ``torch.export`` (hence ONNX export),
    ``torch.jit.trace`` or ``torch.jit.script``; or a ``torch.func`` transform runs."""
    return (
        torch.compiler.is_exporting()
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or transforms_active()
    )


def compiling() -> bool:
    """Whether TorchDynamo traces the call for ``torch.compile`` (not for an export)."""
    return torch.compiler.is_compiling() and not torch.compiler.is_exporting()


def traced_backend(module, lengths, requested: str) -> str:
    """The engine for ``module`` while :func:`tracing`, for the engine ``requested`` otherwise:
    ``"loop"`` stays; else ``"torch"`` for a plain configuration over full-length sequences
    outside ``torch.func`` transforms, and ``"loop"`` for the rest."""
    if requested == "loop" or transforms_active():
        return "loop"
    plain = not unsupported_options(module) and lengths is None
    return "torch" if plain else "loop"


_EAGER: dict = {}  # function -> the same function as a graph break


def graph_break(run):
    """``run`` as a function TorchDynamo does not trace: calling it from compiled code breaks
    the graph and runs it eagerly. Made on the first call (under ``torch.compile``), as making
    it imports TorchDynamo: seconds that a program which never compiles should not wait."""
    eager = _EAGER.get(run)
    if eager is None:
        eager = _EAGER[run] = torch.compiler.disable(run, recursive=True)
    return eager
