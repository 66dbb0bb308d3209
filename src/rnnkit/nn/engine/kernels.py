"""Fused pointwise gate math for the fused engine: small C kernels, with a PyTorch fallback.

One call per time step does all of a cell's elementwise work (bias add, activations, state
update, and what the backward pass needs), where eager PyTorch would launch a dozen ops. The
kernels are plain C (no PyTorch headers, so they build in about a second), in
``csrc/kernels.c`` beside this module (package data, read with :mod:`importlib.resources`),
compiled with the system C compiler on first use into ``$RNNKIT_CACHE`` (default
``~/.cache/rnnkit``)/kernels and loaded with ctypes. Without a compiler, or with
``RNNKIT_KERNELS=0``, the same math runs as PyTorch ops (:func:`available` says which).

Conventions, per time step with N rows (the batch) and H units; ``pre = gi + gh + b``, gates in
torch.nn order, every buffer contiguous:

LSTM forward::

    i, f, g, o = σ(pre_i), σ(pre_f), tanh(pre_g), σ(pre_o)       gates (N, 4H) saved
    c = f ⊙ c_prev + i ⊙ g;  tc = tanh(c);  h = o ⊙ tc            c, tc, h (N, H)

LSTM backward (``dh`` = gradient reaching h_t, ``dc`` = gradient reaching c_t from step t+1)::

    dc' = dc + dh ⊙ o ⊙ (1 - tc²)
    dpre = [dc' g i(1-i),  dc' c_prev f(1-f),  dc' i (1-g²),  dh tc o(1-o)]   (N, 4H)
    dc_prev = dc' ⊙ f

GRU forward (``gi``, ``gh`` without their biases ``bi`` = b_ih, ``b`` = b_hh)::

    r = σ(gi_r + bi_r + gh_r + b_r);  z = σ(gi_z + bi_z + gh_z + b_z);  hn = gh_n + b_n
    n = tanh(gi_n + bi_n + r ⊙ hn);   h = n + z ⊙ (h_prev - n)              r, z, n, hn saved

GRU backward::

    dn' = dh (1-z)(1-n²);  dgi = [dr', dz', dn'],  dgh = [dr', dz', dn' ⊙ r]
    with dr' = dn' hn r(1-r),  dz' = dh (h_prev - n) z(1-z);   dh_prev (direct part) = dh ⊙ z

Elman RNN: ``h = act(pre)``; backward ``dpre = dh ⊙ act'(h)``.

Each step kernel comes in float32, float64 and a bfloat16-operand variant (``*_bf16`` here) for
autocast: float32 state and gate math that reads ``gh`` in bfloat16 and also writes bfloat16
copies of ``h`` (forward) or of the gate gradients (backward), the operands of the next matrix
products. Whole-sequence kernels: the layer norm of every gate block of ``W_ih x``
(:func:`block_layer_norm_forward` / ``_backward``) and column sums of a product
(:func:`column_dot`, a layer-norm gain's gradient).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.resources
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.nn.engine import workspace

__all__ = [
    "available",
    "column_dot",
    "function",
    "bf16_available",
    "block_layer_norm_backward",
    "block_layer_norm_forward",
    "gru_backward",
    "gru_forward",
    "gru_sequence_backward",
    "gru_sequence_forward",
    "lstm_ln_backward",
    "lstm_ln_forward",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]

log = logging.getLogger(__name__)

_FLAGS = [
    "-O3",
    "-march=native",
    "-fopenmp",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fPIC",
    "-shared",
]
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_library: ctypes.CDLL | None | bool = False  # False: not tried yet; None: unavailable


def _cache_dir() -> Path:
    root = os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit"
    return Path(root) / "kernels"


def _build() -> ctypes.CDLL | None:
    """Compile (once per source, flags and machine) and load the kernels, or return None."""
    if os.environ.get("RNNKIT_KERNELS", "1") == "0":
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        log.info("rnnkit fused kernels: no C compiler found, using PyTorch ops")
        return None
    try:
        text = _source()
    except OSError as error:  # an installation without its package data
        log.warning("rnnkit fused kernels: no C source (%s); using PyTorch ops", error)
        return None
    path = _library_path(text, compiler)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                source = Path(tmp) / "kernels.c"
                source.write_text(text, encoding="utf-8")
                target = Path(tmp) / path.name
                subprocess.run(
                    [compiler, *_FLAGS, str(source), "-o", str(target), "-lm"],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                os.replace(target, path)  # atomic: concurrent builders race harmlessly
        library = ctypes.CDLL(str(path))
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("rnnkit fused kernels failed to build (%s); using PyTorch ops", error)
        return None
    i64, ptr, i32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    step_kernels = {  # the variants of each share their arguments (see csrc/kernels.c)
        "lstm_fwd": [i64, i64] + [ptr] * 9,
        "lstm_bwd": [i64, i64] + [ptr] * 8,
        "gru_fwd": [i64, i64] + [ptr] * 9,
        "gru_bwd": [i64, i64] + [ptr] * 10,
        "rnn_fwd": [i64, ptr, ptr, ptr, i64, i32, ptr, ptr],
        "rnn_bwd": [i64, ptr, ptr, ptr, i32, ptr, ptr],
    }
    for name, argtypes in step_kernels.items():
        for suffix in (*_SUFFIX.values(), "bf"):
            getattr(library, f"{name}_{suffix}").argtypes = argtypes
    for suffix in _SUFFIX.values():
        real = ctypes.c_float if suffix == "f32" else ctypes.c_double
        getattr(library, f"lstm_ln_fwd_{suffix}").argtypes = [i64, i64, real] + [ptr] * 15
        getattr(library, f"lstm_ln_bwd_{suffix}").argtypes = [i64, i64] + [ptr] * 15
        getattr(library, f"block_ln_fwd_{suffix}").argtypes = [i64, i64, i64, real] + [ptr] * 5
        getattr(library, f"block_ln_bwd_{suffix}").argtypes = [i64, i64, i64, i64] + [ptr] * 6
        getattr(library, f"col_dot_{suffix}").argtypes = [i64, i64, i64] + [ptr] * 3
    library.gru_seq_fwd_f32.argtypes = [i64] * 5 + [ptr] * 10
    library.gru_seq_bwd_f32.argtypes = [i64] * 4 + [ptr] * 12
    return library


def _library_path(text: str, compiler: str) -> Path:
    """Where the library built from the C source ``text`` is cached: a new source, compiler,
    flag or machine gets a new file."""
    key = hashlib.sha256(
        "\0".join([text, *_FLAGS, compiler, sys.platform, _cpu_id()]).encode()
    ).hexdigest()[:16]
    return _cache_dir() / f"rnnkit_kernels_{key}.so"


def _source() -> str:
    """The C source of the kernels (its text is part of the build's cache key)."""
    package = importlib.resources.files("rnnkit.nn.engine")
    return package.joinpath("csrc").joinpath("kernels.c").read_text(encoding="utf-8")


def _cpu_id() -> str:
    """What ``-march=native`` depends on: the CPU model and flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(lines[:2])


def _lib() -> ctypes.CDLL | None:
    global _library
    if _library is False:
        _library = _build()
    return _library


def available(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> bool:
    """Whether the C kernels serve this dtype and device (else PyTorch ops run the same math)."""
    return torch.device(device).type == "cpu" and dtype in _SUFFIX and _lib() is not None


_KERNELS: dict[tuple[str, torch.dtype, bool], object] = {}  # -> C function or None


def function(name: str, t: Tensor, bf16: bool = False):
    """The C kernel ``name`` for ``t``'s dtype (its bf16-operand variant with ``bf16``, for a
    float32 ``t``), or None where none serves.

    Called once per time step: the lookup is cached, as it costs more than a small kernel.
    """
    if not t.is_cpu:
        return None
    key = (name, t.dtype, bf16)
    kernel = _KERNELS.get(key, False)
    if kernel is False:
        suffix = _SUFFIX.get(t.dtype)
        if bf16:
            suffix = "bf" if t.dtype == torch.float32 else None
        lib = _lib() if suffix is not None else None
        kernel = None if lib is None else getattr(lib, f"{name}_{suffix}")
        _KERNELS[key] = kernel
    return kernel


def _ptrs(*tensors: Tensor | None) -> list[int | None]:
    """Data pointers for a C call; None (NULL) for an output not asked for."""
    return [None if t is None else t.data_ptr() for t in tensors]


def bf16_available(state: Tensor) -> bool:
    """Whether the bfloat16-operand kernels serve a float32 state on this device."""
    return state.dtype == torch.float32 and available(torch.float32, state.device)


# Every function below writes into the given output buffers (contiguous, same dtype). The
# optional bfloat16 outputs (hb, *_bf16) ask for the bf16-operand variant of the kernel: gh is
# then bfloat16 and those buffers get bf16 copies of h or of the gate gradients.


def lstm_forward(gi: Tensor, gh: Tensor, b: Tensor, c_prev: Tensor, gates, c, tc, h, hb=None):
    """gi, gh (N, 4H), b (4H,), c_prev (N, H) -> gates (N, 4H), c, tc, h [, hb] (N, H)."""
    kernel = function("lstm_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        n, hidden = c_prev.shape
        kernel(n, hidden, *_ptrs(gi, gh, b, c_prev, gates, c, tc, h, hb))
        return
    pre = gi + gh + b  # (N, 4H)
    i, f, g, o = pre.chunk(4, dim=-1)
    acts = torch.cat([torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)], -1)
    gates.copy_(acts)
    i, f, g, o = acts.chunk(4, dim=-1)
    torch.addcmul(f * c_prev, i, g, out=c)
    torch.tanh(c, out=tc)
    torch.mul(o, tc, out=h)
    _copy_to(hb, h)


def lstm_backward(gates, c_prev, tc, dh1, dh2, dc, dpre, dpre_bf16=None) -> None:
    """Gradient ``dh1 + dh2`` reaching h_t and ``dc`` (in/out: dc_t -> dc_{t-1}) -> dpre (N, 4H)."""
    kernel = function("lstm_bwd", gates, bf16=dpre_bf16 is not None)
    if kernel is not None:
        n, hidden = c_prev.shape
        kernel(n, hidden, *_ptrs(gates, c_prev, tc, dh1, dh2, dc, dpre, dpre_bf16))
        return
    i, f, g, o = gates.chunk(4, dim=-1)
    dh = dh1 + dh2
    dcc = dc + dh * o * (1 - tc * tc)
    grads = [dcc * g * i * (1 - i), dcc * c_prev * f * (1 - f), dcc * i * (1 - g * g)]
    grads.append(dh * tc * o * (1 - o))
    dpre.copy_(torch.cat(grads, -1))
    dc.copy_(dcc * f)
    _copy_to(dpre_bf16, dpre)


def gru_forward(gi, bi, gh, b, h_prev: Tensor, gates, hn, h, hb=None) -> None:
    """gi, gh (N, 3H), biases bi, b (3H,), h_prev (N, H) -> gates r, z, n (N, 3H), hn, h [, hb].

    ``bi`` is b_ih (added to gi), ``b`` is b_hh (added to gh, inside the reset gate for n).
    """
    kernel = function("gru_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        n, hidden = h_prev.shape
        kernel(n, hidden, *_ptrs(gi, bi, gh, b, h_prev, gates, hn, h, hb))
        return
    i_r, i_z, i_n = (gi + bi).chunk(3, dim=-1)
    h_r, h_z, h_n = (gh + b).chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    gates.copy_(torch.cat([r, z, n], -1))
    hn.copy_(h_n)
    h.copy_(n + z * (h_prev - n))
    _copy_to(hb, h)


def gru_backward(
    gates, hn, h_prev, dh1, dh2, dgi, dgh, dh_prev, dgi_bf16=None, dgh_bf16=None
) -> None:
    """Gradient ``dh1 + dh2`` reaching h_t -> dgi, dgh (N, 3H), direct part of dh_prev (N, H)."""
    kernel = function("gru_bwd", gates, bf16=dgh_bf16 is not None)
    if kernel is not None:
        n, hidden = h_prev.shape
        buffers = (gates, hn, h_prev, dh1, dh2, dgi, dgh, dh_prev, dgi_bf16, dgh_bf16)
        kernel(n, hidden, *_ptrs(*buffers))
        return
    r, z, n = gates.chunk(3, dim=-1)
    dh = dh1 + dh2
    dn = dh * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = dh * (h_prev - n) * z * (1 - z)
    dgi.copy_(torch.cat([dr, dz, dn], -1))
    dgh.copy_(torch.cat([dr, dz, dn * r], -1))
    dh_prev.copy_(dh * z)
    _copy_to(dgi_bf16, dgi)
    _copy_to(dgh_bf16, dgh)


def gru_sequence_available(like: Tensor) -> bool:
    """Whether :func:`gru_sequence_forward` / ``_backward`` serve ``like``'s dtype and device
    (float32 on CPU, with the C kernels built)."""
    return like.dtype == torch.float32 and available(like.dtype, like.device)


def _valid_bytes(valid: Tensor | None) -> Tensor | None:
    """The (L, N, 1) bool step mask as contiguous bytes for C, or None."""
    return None if valid is None else valid.contiguous().view(torch.uint8)


def gru_sequence_forward(gi, bi, w_hh, b, hall, gates, hn, valid=None) -> None:
    """Every GRU step in one C call (float32; :func:`gru_sequence_available` says where).

    gi (L, N, 3H) without b_ih; bi = b_ih, b = b_hh (3H,); w_hh (3H, H); hall (L+1, N, H)
    holding h_0, filled with h_1..h_L; gates (L or 1, N, 3H) and hn (L or 1, N, H) filled as
    :func:`gru_forward` fills them at each step (a leading 1: one step's buffers, rewritten);
    valid (L, N, 1) bool or None: rows where it is False keep their state.
    """
    steps, n, hidden = gi.shape[0], hall.shape[1], hall.shape[2]
    keep = int(gates.shape[0] == steps)
    gh = _pooled_like(gi[0])  # (N, 3H) scratch for W_hh h
    flags = (steps, n, hidden, keep, torch.get_num_threads())
    buffers = (gi, bi, w_hh, b, hall, gates, hn, _valid_bytes(valid), gh, _packed(w_hh.t()))
    _lib().gru_seq_fwd_f32(*flags, *_ptrs(*buffers))


def _packed(b: Tensor) -> Tensor:
    """Scratch for the C kernels' copy of a product's right operand b (K, M) in 16-column panels."""
    k, m = b.shape
    return workspace.empty((-(-m // 16) * k * 16,), b.dtype, b.device)


def gru_sequence_backward(gates, hn, hall, w_hh, dout, valid, dh, dgi, dgh) -> None:
    """Backward of :func:`gru_sequence_forward` in one C call, the steps in reverse.

    dout (L, N, H): the gradient reaching each output, zero past the lengths; dh (N, H) in: the
    gradient reaching h_L, out: the one reaching h_0; dgi, dgh (L, N, 3H) filled (gradients of
    gi and of W_hh h + b_hh, as :func:`gru_backward` fills them, zero past the lengths).
    """
    steps, n, hidden = dout.shape
    scratch = [_pooled_like(dh), _pooled_like(dh), _packed(w_hh)]  # z ⊙ dh, dgh W_hh, W_hh
    flags = (steps, n, hidden, torch.get_num_threads())
    buffers = (gates, hn, hall, w_hh, dout, _valid_bytes(valid), dh, dgi, dgh, *scratch)
    _lib().gru_seq_bwd_f32(*flags, *_ptrs(*buffers))


def rnn_forward(gi: Tensor, gh: Tensor, b: Tensor, relu: bool, h: Tensor, hb=None) -> None:
    """gi, gh (N, H), b (H,) -> h = act(gi + gh + b) (N, H) [, hb]."""
    kernel = function("rnn_fwd", gi, bf16=hb is not None)
    if kernel is not None:
        kernel(h.numel(), *_ptrs(gi, gh, b), b.numel(), int(relu), *_ptrs(h, hb))
        return
    pre = gi + gh + b
    torch.clamp_min(pre, 0, out=h) if relu else torch.tanh(pre, out=h)  # relu has no out=
    _copy_to(hb, h)


def rnn_backward(h: Tensor, dh1: Tensor, dh2: Tensor, relu: bool, dpre: Tensor, dpre_bf16=None):
    """Gradient ``dh1 + dh2`` reaching h_t = act(pre) -> dpre (N, H) [, dpre_bf16]."""
    kernel = function("rnn_bwd", h, bf16=dpre_bf16 is not None)
    if kernel is not None:
        kernel(h.numel(), *_ptrs(h, dh1, dh2), int(relu), *_ptrs(dpre, dpre_bf16))
        return
    dh = dh1 + dh2
    dpre.copy_(dh * (h > 0) if relu else dh * (1 - h * h))
    _copy_to(dpre_bf16, dpre)


def _copy_to(out: Tensor | None, x: Tensor) -> None:
    """The PyTorch fallbacks' bf16 copies, where asked for."""
    if out is not None:
        out.copy_(x)


def lstm_ln_forward(gi, gh, lg, b, cw, cb, c_prev, eps, xh, rh, gates, c, xc, rc, tc, h) -> bool:
    """The layer-normalised LSTM step in C; False (nothing done) where no kernel serves.

    gh is the raw W_hh h (N, 4H): normalised per gate block into xh (rh = 1/σ, (N, 4)), scaled
    by lg and added to gi + b; the new cell state c is normalised into xc (rc = 1/σ, (N,)) and
    tc = tanh(xc ⊙ cw + cb), h = o ⊙ tc.
    """
    kernel = function("lstm_ln_fwd", gi)
    if kernel is None:
        return False
    n, hidden = c_prev.shape
    buffers = (gi, gh, lg, b, cw, cb, c_prev, xh, rh, gates, c, xc, rc, tc, h)
    kernel(n, hidden, eps, *_ptrs(*buffers))
    return True


def lstm_ln_backward(gates, c_prev, xc, rc, tc, cw, xh, rh, lg, dh1, dh2, dc, dpre, draw, dcn):
    """Backward of :func:`lstm_ln_forward`: dc in/out; dpre (gradient of the pre-activation),
    draw (of the raw W_hh h) and dcn (of the normalised cell state, for its gain and shift)."""
    kernel = function("lstm_ln_bwd", gates)
    n, hidden = c_prev.shape
    buffers = (gates, c_prev, xc, rc, tc, cw, xh, rh, lg, dh1, dh2, dc, dpre, draw, dcn)
    kernel(n, hidden, *_ptrs(*buffers))


def block_layer_norm_forward(x: Tensor, gain: Tensor, blocks: int, eps: float):
    """Layer norm of each of the ``blocks`` gate blocks of x (..., G*H), times ``gain`` (G*H,).

    Returns y, x̂ (like x) and 1/σ (..., G). For a contiguous x whose dtype :func:`available`
    serves (the caller checks).
    """
    kernel = function("block_ln_fwd", x)
    width = x.shape[-1]
    rows = x.numel() // width
    y, xhat = _pooled_like(x), _pooled_like(x)
    rstd = x.new_empty(*x.shape[:-1], blocks)
    kernel(rows, blocks, width // blocks, eps, *_ptrs(x, gain, y, xhat, rstd))
    return y, xhat, rstd


def block_layer_norm_backward(dy: Tensor, xhat: Tensor, rstd: Tensor, gain: Tensor, blocks: int):
    """Backward of :func:`block_layer_norm_forward` (dy contiguous): dx (like dy), dgain (G*H,)."""
    kernel = function("block_ln_bwd", xhat)
    width = xhat.shape[-1]
    threads = torch.get_num_threads()
    dx = _pooled_like(xhat)
    partial = xhat.new_zeros(threads, width)  # each thread's share of dgain
    buffers = (dy, xhat, rstd, gain, dx, partial)
    kernel(xhat.numel() // width, blocks, width // blocks, threads, *_ptrs(*buffers))
    return dx, partial.sum(0)


def _pooled_like(x: Tensor) -> Tensor:
    """An uninitialised tensor like contiguous ``x``, from the workspace pool when it is big."""
    return workspace.empty(tuple(x.shape), x.dtype, x.device)


def column_dot(a: Tensor, b: Tensor) -> Tensor:
    """``(a * b)`` summed over every dim but the last, without making the product: (..., K) -> (K,).

    Falls back to PyTorch ops where no kernel serves (or an input is not contiguous).
    """
    kernel = function("col_dot", a)
    if kernel is None or b.dtype != a.dtype or not (a.is_contiguous() and b.is_contiguous()):
        return (a * b).reshape(-1, a.shape[-1]).sum(0)
    width = a.shape[-1]
    threads = torch.get_num_threads()
    partial = a.new_zeros(threads, width)
    kernel(a.numel() // width, width, threads, *_ptrs(a, b, partial))
    return partial.sum(0)
