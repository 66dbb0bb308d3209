"""The matrix products of the fused engine, on the fastest kernel PyTorch offers for them.

On this kind of CPU, PyTorch's ``torch.mm`` in float32 goes to MKL, which runs far below the
machine's peak on AMD processors, while oneDNN (shipped inside PyTorch) reaches it. oneDNN is
reachable through ``torch.ops.mkldnn._linear_pointwise`` with a weight prepacked by
``torch.ops.mkldnn._reorder_linear_weight``: :class:`Linear` uses it for float32 and bfloat16 on
CPU and falls back to ``torch.mm`` elsewhere (float64, CUDA, builds without oneDNN).

oneDNN runs bfloat16 only on CPUs with AVX-512 (BW, VL, DQ), AVX-NE-CONVERT or AMX; elsewhere
(an AVX2-only AMD EPYC Zen 3, say) creating its bf16 primitive raises RuntimeError, while
``torch.mm`` in bf16 still works there (emulated, 4-7x slower than float32). Whether oneDNN's
bf16 product works is probed once (:func:`onednn_bfloat16`); where it does not, bf16 products go
to ``torch.mm``.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from rnnkit.nn.engine import workspace

__all__ = [
    "Linear",
    "Projection",
    "autocast_dtype",
    "onednn_available",
    "onednn_bfloat16",
    "weight_gradient",
]

# Matrix-vector products (a batch of one or two) and products with a small weight (a 256 x 256
# Elman RNN's) finish sooner through torch.mm: oneDNN's call costs ~15 us before any arithmetic.
MKL_MAX_ROWS = 2
MKL_MAX_WEIGHT = 256 * 256
# Rows per oneDNN product in a weight gradient (a sum over all L*N rows of a sequence).
WGRAD_CHUNK = 2048
# Input projections of at most this many features write their output with MKL into a workspace
# buffer (see Projection).
NARROW_INPUT = 128


def onednn_available() -> bool:
    """Whether this PyTorch build has the oneDNN linear ops used here."""
    mkldnn = torch.ops.mkldnn
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(mkldnn, "_linear_pointwise")
        and hasattr(mkldnn, "_reorder_linear_weight")
    )


_ONEDNN = onednn_available()
_LINEAR = torch.ops.mkldnn._linear_pointwise.default if _ONEDNN else None


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast lowers matrix products to on ``device_type``, or None when it is off."""
    try:
        if torch.is_autocast_enabled(device_type):
            return torch.get_autocast_dtype(device_type)
    except TypeError:  # PyTorch < 2.4: per-device functions
        if device_type == "cpu" and torch.is_autocast_cpu_enabled():
            return torch.get_autocast_cpu_dtype()
        if device_type == "cuda" and torch.is_autocast_enabled():
            return torch.get_autocast_gpu_dtype()
    return None


@functools.cache
def onednn_bfloat16() -> bool:
    """Whether oneDNN's linear runs bfloat16 on this CPU, prepacked weight or not (probed once:
    its bf16 primitive needs AVX-512 BW/VL/DQ, AVX-NE-CONVERT or AMX)."""
    if not _ONEDNN:
        return False
    x = torch.ones(4, 8, dtype=torch.bfloat16)
    w = torch.ones(16, 8, dtype=torch.bfloat16)
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(w, x.shape[0])
        _LINEAR(x, packed, None, "none", [], "")
        _LINEAR(x.t(), x.t(), None, "none", [], "")  # unpacked and transposed: weight_gradient
    except RuntimeError:
        return False
    return True


def _use_onednn(t: Tensor) -> bool:
    if not _ONEDNN or t.device.type != "cpu":
        return False
    return t.dtype == torch.float32 or (t.dtype == torch.bfloat16 and onednn_bfloat16())


class Linear:
    """``y = x @ W^T`` (x (M, K), W (N_out, K)) for many x against one W, prepacked once.

    ``dtype`` is the compute dtype (bfloat16 under autocast); x is cast to it and y comes back
    in it.
    """

    def __init__(self, weight: Tensor, rows: int, dtype: torch.dtype | None = None) -> None:
        weight = weight.detach().to(dtype or weight.dtype).contiguous()
        self.dtype = weight.dtype
        self.packed = None
        small = rows <= MKL_MAX_ROWS or weight.numel() <= MKL_MAX_WEIGHT
        if _use_onednn(weight) and not small:
            self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
        self.weight_t = weight.t()

    def __call__(self, x: Tensor) -> Tensor:
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.packed is not None:
            return _LINEAR(x, self.packed, None, "none", [], "")
        return torch.mm(x, self.weight_t)


def _narrow(x: Tensor, compute: torch.dtype | None) -> bool:
    """Whether x (M, K) is a long float32 CPU input of at most NARROW_INPUT features."""
    return (
        compute is None and x.dtype == torch.float32 and x.device.type == "cpu"
        and x.shape[-1] <= NARROW_INPUT and x.shape[0] > MKL_MAX_ROWS
    )  # fmt: skip


def weight_gradient(grad: Tensor, x: Tensor) -> Tensor:
    """``grad^T @ x`` summed over all leading dims: (..., N_out), (..., K) -> (N_out, K)."""
    grad = grad.reshape(-1, grad.shape[-1])  # (M, N_out)
    x = x.reshape(-1, x.shape[-1]).to(grad.dtype)  # (M, K)
    # A narrow x (K <= NARROW_INPUT: a 128-unit GRU's h, 88 piano keys) goes to torch.mm, which
    # was faster there on one thread (1,600 rows, 384 x 128: 2.0 vs 3.0 ms; 384 x 88: 1.5 vs
    # 2.4 ms, best of 15 interleaved, shared 2-core AMD EPYC).
    if _use_onednn(grad) and not (grad.dtype == torch.float32 and x.shape[-1] <= NARROW_INPUT):
        # (x^T grad)^T as oneDNN's linear with input x^T (K, M) and weight grad^T (N_out, M):
        # the fastest of the layouts measured (torch.mm runs MKL, slow on AMD); summed over
        # chunks of about WGRAD_CHUNK rows, which oneDNN runs faster than one long reduction
        # (GRU 1024, 6400 rows: 139 -> 181 GFLOP/s).
        rows = grad.shape[0]
        size = -(-rows // max(1, round(rows / WGRAD_CHUNK)))
        out = None
        for chunk_x, chunk_grad in zip(x.split(size), grad.split(size)):
            part = _LINEAR(chunk_x.t(), chunk_grad.t(), None, "none", [], "")  # (K, N_out)
            out = part if out is None else out.add_(part)
        return out.t().contiguous()  # (N_out, K)
    return torch.mm(grad.t(), x)


class Projection(torch.autograd.Function):
    """``y = x W^T + b`` over all leading dims, with each product on the fastest kernel.

    The input projection of every time step at once: (..., K), (N_out, K), (N_out,) ->
    (..., N_out). ``compute`` is the autocast dtype of the products, or None.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, compute):
        x2 = x.reshape(-1, x.shape[-1])  # (M, K)
        with torch.autocast(x.device.type, enabled=False):  # ``compute`` says the dtype
            if _narrow(x2, compute):
                # A narrow input makes a wide output whose writing dominates, and writing it into
                # fresh memory page-faults: MKL fills a reused workspace buffer instead
                # (6400 x 64 -> 3072: 40 -> 24 ms).
                y = workspace.empty((x2.shape[0], weight.shape[0]), x2.dtype, x2.device)
                torch.mm(x2, weight.t(), out=y)  # (M, N_out)
            else:
                y = Linear(weight, x2.shape[0], compute)(x2)  # (M, N_out)
        if bias is not None:
            y = y + bias.to(y.dtype)
        ctx.compute = compute
        # x itself, not x2: the same memory for a contiguous x, and a double backward needs the
        # input (with its graph), which x2, made here without one, is not.
        ctx.save_for_backward(x, weight, bias)
        ctx.set_materialize_grads(False)
        return y.view(*x.shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx, dy):
        if dy is None:  # no gradient reached y (the fused layers' double backward)
            return None, None, None, None
        with torch.autocast(dy.device.type, enabled=False):  # ``ctx.compute`` says the dtype
            # create_graph=True, or a batched dy of vmap over the backward (no memory for
            # oneDNN to read): a differentiable composition
            batched = not torch._C._has_storage(dy) or torch._C._are_functorch_transforms_active()
            if torch.is_grad_enabled() or batched:
                return Projection._differentiable_backward(ctx, dy)
            return Projection._backward(ctx, dy)

    @staticmethod
    def _differentiable_backward(ctx, dy):
        x, weight, bias = ctx.saved_tensors
        dy2 = dy.reshape(-1, dy.shape[-1])  # (M, N_out)
        x2 = x.reshape(-1, x.shape[-1])  # (M, K)
        low = dy2 if ctx.compute is None else dy2.to(ctx.compute)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = (low @ weight.to(low.dtype)).to(x.dtype).view(x.shape)  # (..., K)
        if ctx.needs_input_grad[1]:
            dw = (low.t() @ x2.to(low.dtype)).to(weight.dtype)  # (N_out, K)
        if bias is not None and ctx.needs_input_grad[2]:
            db = dy2.sum(0).to(bias.dtype)
        return dx, dw, db, None

    @staticmethod
    def _backward(ctx, dy):
        x, weight, bias = ctx.saved_tensors
        x2 = x.reshape(-1, x.shape[-1])  # (M, K), a view for a contiguous x
        dy2 = dy.reshape(-1, dy.shape[-1])  # (M, N_out)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = Linear(weight.t(), dy2.shape[0], ctx.compute)(dy2)  # (M, K)
            dx = dx.to(x2.dtype).view(x.shape)
        if ctx.needs_input_grad[1]:
            low = dy2 if ctx.compute is None else dy2.to(ctx.compute)
            dw = weight_gradient(low, x2 if ctx.compute is None else x2.to(ctx.compute))
            dw = dw.to(weight.dtype)
        if bias is not None and ctx.needs_input_grad[2]:
            db = dy2.sum(0).to(bias.dtype)
        return dx, dw, db, None
