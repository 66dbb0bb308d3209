"""The fused engine: BPTT written out by hand, so each time step costs one matrix product.

Forward, for one layer in one direction (the layers stack them as with the loop engine)::

    gi = [LN](X W_ih^T) + b_ih                      all L steps in one product      (L, N, G*H)
    for t = 1..L:   gh_t = [LN]((h_{t-1} ⊙ m) W_hh^T)                              (N, G*H)
                    h_t, c_t = cell(gi_t + gh_t + b, h_{t-1}, c_{t-1})    one fused kernel

Backward, a custom :class:`torch.autograd.Function` looping over time in reverse::

    for t = L..1:   dpre_t = cell'(dh_t, dc_t, saved gates)                  one fused kernel
                    dh_{t-1} = (dgh_t W_hh) ⊙ m  (+ the direct paths of the cell)
    dW_hh = Σ_t dgh_t^T (h_{t-1} ⊙ m)    one product over the stacked (L·N, G*H) gradients
    db = Σ_t dpre_t,  dgi = dpre           (dW_ih and dX: backward of the first product)

The biases are added inside the kernels (``b = b_ih + b_hh``; the GRU keeps them apart, as
``b_hn`` sits inside the reset gate), so for the LSTM and the Elman RNN db_ih = db_hh.

The recurrent products use oneDNN with prepacked weights (:mod:`.matmul`), the pointwise math
the C kernels of :mod:`.kernels`. A plain float32 GRU runs its whole time loop, products
included, as one C call each way (:func:`.kernels.gru_sequence_forward` / ``_backward``), free
of the per-step costs of a Python loop that dominate at small sizes (16 x 128).

The engine covers every option of the layers: variable lengths (a sequence's state freezes after
its last step and its outputs are zero, as the loop engine does), reverse direction, variational
recurrent dropout ``m``, layer norm (on ``W_ih x`` in one C pass over the whole sequence each
way, :class:`GateLayerNorm`; per gate block on ``W_hh h`` and on the LSTM cell state inside the
LSTM's C kernel, as PyTorch ops per step for the GRU and RNN), LSTM projections, and bfloat16
autocast (matrix products in bfloat16, state and gate math in float32; for plain cells the
kernels read ``W_hh h`` in bfloat16 and write the bfloat16 copies of ``h_t`` and of the gate
gradients that the next products read; a batch of one or two stays float32, where bfloat16 gains
nothing). Without the C kernels the same math runs as PyTorch ops; no option falls back to the
loop engine.

Double backward (``create_graph=True``: gradient penalties, meta-learning): the hand-written
backward builds no graph, so there, and only there, each Function recomputes its
layer-direction with the loop engine's step functions from the saved inputs and returns
autograd's gradients of that, which carry a graph (:func:`_double_backward`). The same runs
when the backward itself runs under ``vmap`` (``torch.autograd.functional.jacobian(...,
vectorize=True)``), whose batched gradients the C kernels cannot read. Under ``torch.func``
transforms and graph capture the layers run the loop engine or torch's kernels instead of this
one (:mod:`.capture`). The Functions keep the ``forward(ctx, ...)`` form, not
``setup_context``: functorch would need their per-step buffers returned as outputs, and a Function
applied through ``setup_context`` costs more per call (a trivial one with three outputs, on the
shared 2-core test machine: 150 us against 68 us; with eleven saved buffers as extra outputs,
186 us), which every layer-direction would pay in eager mode, while no transform could run the C
kernels on its wrapped tensors anyway.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from rnnkit.nn import functional
from rnnkit.nn.engine import capture, kernels, loop, workspace
from rnnkit.nn.engine.loop import reverse_padded, run_recurrence, valid_steps
from rnnkit.nn.engine.matmul import (
    MKL_MAX_ROWS,
    Linear,
    Projection,
    autocast_dtype,
    weight_gradient,
)
from rnnkit.nn.functional import GATES, StepWeights, gate_layer_norm, input_projection

__all__ = ["FusedGRU", "FusedLSTM", "FusedRNN", "run_direction"]


def run_direction(
    mode: str,
    x: Tensor,
    state: tuple[Tensor, ...],
    weights: StepWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer in one direction; same contract as the loop engine's.

    Under graph capture, tracing or a ``torch.func`` transform, whose tensors have no memory for
    the C kernels to read (or which would record the kernels as constants), the loop engine runs
    instead (the layers choose so before; see
    :mod:`.capture`).
    """
    if torch.compiler.is_compiling() or capture.tracing():
        return loop.run_direction(mode, x, state, weights, lengths, reverse, recurrent_mask)
    # The matrix products' dtype when autocast lowers them, else None.
    compute = autocast_dtype(x.device.type) if x.dtype == torch.float32 else None
    if compute is not None and any(s.dtype != x.dtype for s in state):
        # A state returned under autocast (bf16, as torch.nn's; see .autocast_dtypes) and fed
        # back: the state and gate math stay in the input's float32, as without it.
        state = tuple(s.to(x.dtype) for s in state)
    if compute is not None and x.shape[1] <= MKL_MAX_ROWS:
        # A batch of one or two: matrix-vector products gain nothing in bf16 while the casts
        # cost (GRU, 1000 steps of 1 x 256: 180 ms bf16, 79 ms float32), so float32 it stays.
        compute = None
    w = weights
    # Contiguous once here: the product and the double backward below keep this one tensor.
    x = x.contiguous()  # (L, N, H_in)
    gi = Projection.apply(x, w.weight_ih, None, compute)  # (L, N, G*H), b_ih added later
    if w.ln_ih_weight is not None:
        gi = _input_layer_norm(gi, w.ln_ih_weight, GATES[mode])
    if reverse:
        gi = reverse_padded(gi, lengths)
    valid = valid_steps(lengths, x.shape[0], x.device)  # (L, N, 1) or None
    mask = recurrent_mask
    # What a double backward recomputes the layer from (see _double_backward).
    source = (x, w.weight_ih, w.ln_ih_weight, lengths, reverse)
    if mode == "LSTM":
        output, h, c = FusedLSTM.apply(
            gi, state[0], state[1], w.weight_hh, w.bias_ih, w.bias_hh, w.ln_hh_weight,
            w.ln_cell_weight, w.ln_cell_bias, w.weight_hr, mask, valid, compute, *source,
        )  # fmt: skip
        final = (h, c)
    elif mode == "GRU":
        output, h = FusedGRU.apply(
            gi, state[0], w.weight_hh, w.bias_ih, w.bias_hh, w.ln_hh_weight, mask, valid, compute,
            *source,
        )  # fmt: skip
        final = (h,)
    else:
        output, h = FusedRNN.apply(
            gi, state[0], w.weight_hh, w.bias_ih, w.bias_hh, w.ln_hh_weight, mask, valid,
            compute, mode == "RNN_RELU", *source,
        )  # fmt: skip
        final = (h,)
    if reverse:
        output = reverse_padded(output, lengths)
    return output, final


# -- shared pieces ------------------------------------------------------------------------------


class GateLayerNorm(torch.autograd.Function):
    """:func:`~rnnkit.nn.functional.gate_layer_norm` of a whole sequence's ``W_ih x`` in one C
    pass each way: (..., G*H), (G*H,) -> (..., G*H); where eager PyTorch makes about ten passes
    over the (L, N, G*H) tensor (normalise, scale, and their backward)."""

    @staticmethod
    def forward(ctx, x, gain, blocks):
        y, xhat, rstd = kernels.block_layer_norm_forward(x, gain, blocks, functional.LN_EPS)
        ctx.blocks = blocks
        ctx.save_for_backward(xhat, rstd, gain)
        ctx.set_materialize_grads(False)
        return y

    @staticmethod
    def backward(ctx, dy):
        if dy is None:  # the fused layer's double backward bypasses this node (see below)
            return None, None, None
        if _graph_backward(dy):
            raise RuntimeError(
                "GateLayerNorm cannot be differentiated twice (it keeps no input to recompute "
                "from); expected it only inside the fused layers, whose double backward "
                "recomputes the layer norm itself. Use gate_layer_norm for create_graph=True."
            )
        xhat, rstd, gain = ctx.saved_tensors
        dx, dgain = kernels.block_layer_norm_backward(dy.contiguous(), xhat, rstd, gain, ctx.blocks)
        return dx, dgain, None


def _input_layer_norm(gi: Tensor, gain: Tensor, blocks: int) -> Tensor:
    """``gate_layer_norm(gi, gain, blocks)``, in C where a kernel serves the dtype."""
    if kernels.available(gi.dtype, gi.device) and gi.is_contiguous() and gain.dtype == gi.dtype:
        return GateLayerNorm.apply(gi, gain.contiguous(), blocks)
    return gate_layer_norm(gi, gain, blocks)


def _empty(like: Tensor, *shape: int, dtype: torch.dtype | None = None) -> Tensor:
    """A pooled uninitialised buffer with ``like``'s device and dtype (or ``dtype``); see
    :mod:`.workspace`."""
    return workspace.empty(shape, dtype or like.dtype, like.device)


def _contiguous(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x`` as a contiguous tensor of ``dtype``, copied into a pooled buffer if it must be."""
    if x.is_contiguous() and x.dtype == dtype:
        return x
    out = workspace.empty(tuple(x.shape), dtype, x.device)
    return out.copy_(x)


def _block_norm(x: Tensor, blocks: int) -> tuple[Tensor, Tensor]:
    """Per-block layer norm without gain: x (N, G*H) -> x̂ (N, G*H), 1/σ (N, G, 1)."""
    xb = x.unflatten(-1, (blocks, -1))  # (N, G, H)
    var, mean = torch.var_mean(xb, -1, keepdim=True, correction=0)
    rstd = (var + functional.LN_EPS).rsqrt()  # (N, G, 1)
    return ((xb - mean) * rstd).flatten(-2), rstd


def _block_norm_backward(dxhat: Tensor, xhat: Tensor, rstd: Tensor, blocks: int) -> Tensor:
    """Gradient through x̂ = (x - μ)/σ per block: dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ."""
    d = dxhat.unflatten(-1, (blocks, -1))  # (N, G, H)
    xh = xhat.unflatten(-1, (blocks, -1))
    dx = d - d.mean(-1, keepdim=True) - xh * (d * xh).mean(-1, keepdim=True)
    return (dx * rstd).flatten(-2)  # (N, G*H)


def _step_views(buffer: str) -> functools.cached_property:
    """The per-step views ``getattr(self, buffer).unbind(0)`` of an (L, ...) buffer, made once,
    when a Python time loop first asks (indexing costs ~1 us a step; the GRU's C loop needs
    none)."""

    def views(self) -> tuple[Tensor, ...]:
        return getattr(self, buffer).unbind(0)

    return functools.cached_property(views)


class _Recurrence:
    """What the three cells share: dtypes, the recurrent product and its saved inputs."""

    def __init__(
        self, ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute, blocks, bf16_kernels
    ):
        # Without a backward pass to feed, per-step buffers shrink to one reused step.
        self.keep = any(ctx.needs_input_grad)
        # bfloat16 autocast of a plain cell: the kernels read and write the products' bf16
        # operands themselves (kernels.*_bf16); the caller says whether its cell qualifies.
        self.mixed = (
            bf16_kernels and compute == torch.bfloat16 and ln_hh is None and mask is None
            and kernels.bf16_available(h0)
        )  # fmt: skip
        self.out_dtype = gi.dtype
        self.dtype = h0.dtype  # state and gate math (float32 under autocast)
        self.compute = compute
        self.blocks = blocks
        self.L, self.N, _ = gi.shape
        self.gi = _contiguous(gi, self.dtype)  # (L, N, G*H)
        self.rec = Linear(w_hh, self.N, compute)  # h (N, H_out) -> (N, G*H)
        zero = h0.new_zeros(w_hh.shape[0])
        self.bias_ih = b_ih.to(self.dtype) if b_ih is not None else zero  # (G*H,)
        self.bias_hh = b_hh.to(self.dtype) if b_hh is not None else zero
        self.bias = self.bias_ih + self.bias_hh  # one bias where the cell allows it
        self.ln_hh = ln_hh
        self.mask = mask
        self.valid = valid
        L, N = self.L, self.N
        self.hall = _empty(h0, L + 1, N, h0.shape[-1])  # h_0 .. h_L, (L+1, N, H_out)
        self.hall[0] = h0
        self.hall_bf16 = None
        self.hbs = [None] * (L + 1)  # the kernels' bf16 outputs: none unless mixed
        if self.mixed:  # bf16 copies of h_0 .. h_L: the products' inputs
            self.hall_bf16 = _empty(h0, L + 1, N, h0.shape[-1], dtype=torch.bfloat16)
            self.hall_bf16[0] = h0
            self.hbs = self.hall_bf16.unbind(0)
        self.hm = self.per_step(h0, h0.shape[-1]) if mask is not None else None
        self.hms = self.steps(self.hm)
        self.xh = self.rh = None
        if ln_hh is not None:
            self.xh = self.per_step(h0, w_hh.shape[0])  # normalised W_hh h, (L, N, G*H)
            self.rh = self.per_step(h0, blocks, 1)
        self.xhs, self.rhs = self.steps(self.xh), self.steps(self.rh)

    gis = _step_views("gi")  # gi_t, (N, G*H) each
    hs = _step_views("hall")  # h_0 .. h_L, (N, H_out) each

    def per_step(self, like: Tensor, *shape: int) -> Tensor:
        """A buffer (L, N, *shape) for backward, or (1, N, *shape) reused at every step."""
        return _empty(like, self.L if self.keep else 1, self.N, *shape)

    def steps(self, buffer: Tensor | None) -> list[Tensor] | None:
        """The view of each step t = 0..L-1 into a :meth:`per_step` buffer."""
        if buffer is None:
            return None
        return list(buffer.unbind(0)) if self.keep else [buffer[0]] * self.L

    def recurrent(self, t: int, raw: bool = False) -> Tensor:
        """gh_t = [LN]((h_{t-1} ⊙ m) W_hh^T) without b_hh: (N, G*H); ``raw``: without LN."""
        if self.mixed:
            return self.rec(self.hbs[t])  # (N, G*H) bfloat16, read as such by the kernels
        h = self.hs[t]  # (N, H_out)
        if self.mask is not None:
            h = torch.mul(h, self.mask, out=self.hms[t])
        gh = self.rec(h)  # (N, G*H)
        if gh.dtype != self.dtype:
            gh = gh.to(self.dtype)
        if self.ln_hh is not None and not raw:
            xhat, rstd = _block_norm(gh, self.blocks)
            self.xhs[t].copy_(xhat)
            self.rhs[t].copy_(rstd)
            gh = xhat * self.ln_hh
        return gh

    def freeze(self, t: int, *pairs: tuple[Tensor, Tensor]) -> None:
        """Past a sequence's length its state stays: ``new = old`` on rows with t >= length."""
        if self.valid is not None:
            for new, old in pairs:
                new.copy_(torch.where(self.valid[t], new, old))
        # The bf16 copies of frozen rows stay unfrozen: nothing reads them (their products feed
        # steps that are frozen again, and their gate gradients are zero).

    def output(self) -> Tensor:
        bf16 = self.mixed and self.out_dtype == torch.bfloat16  # the kernels' copy serves
        out = self.hall_bf16[1:] if bf16 else self.hall[1:]  # (L, N, H_out)
        if self.valid is not None:
            out = out * self.valid
        return out.to(self.out_dtype)

    def save(self, ctx, **tensors) -> None:
        """Keep what backward needs; as saved tensors, so in-place edits of outputs are caught."""
        ctx.rec_info = (self.out_dtype, self.dtype, self.compute, self.blocks, self.N)
        tensors.update(mask=self.mask, valid=self.valid, ln_hh=self.ln_hh)
        tensors.setdefault("b_ih", None)
        tensors.update(hall=self.hall, hm=self.hm, xh=self.xh, rh=self.rh)
        tensors.update(hall_bf16=self.hall_bf16)
        ctx.names = list(tensors)
        ctx.save_for_backward(*tensors.values())


def _saved(ctx) -> dict[str, Tensor | None]:
    return dict(zip(ctx.names, ctx.saved_tensors))


class _Backward:
    """The recurrent half of the backward pass shared by the three cells."""

    def __init__(self, ctx, s: dict, dout: Tensor, dh: Tensor):
        self.out_dtype, self.dtype, self.compute, self.blocks, n = ctx.rec_info
        self.s = s
        self.rec = Linear(s["w_hh"].t(), n, self.compute)  # dgh (N, G*H) -> (N, H_out)
        self.valid = s["valid"]
        self.dout = _contiguous(dout, self.dtype)  # (L, N, H_out)
        if self.valid is not None:
            self.dout = self.dout * self.valid
        self.dh = dh.to(self.dtype).clone()  # (N, H_out)
        self.zeros = torch.zeros_like(self.dh)
        L, N, G = self.dout.shape[0], n, s["w_hh"].shape[0]
        self.dgh = _empty(self.dout, L, N, G)  # (L, N, G*H) gradient reaching b_hh
        self.dgh_raw = _empty(self.dout, L, N, G) if s["ln_hh"] is not None else self.dgh
        self.mixed = s["hall_bf16"] is not None  # the kernels also write dgh in bfloat16
        self.dgh_bf16 = None
        self.dghbs = [None] * L  # the kernels' bf16 outputs: none unless mixed
        if self.mixed:
            self.dgh_bf16 = _empty(self.dgh, L, N, G, dtype=torch.bfloat16)
            self.dghbs = self.dgh_bf16.unbind(0)

    douts = _step_views("dout")  # (N, H_out) each
    dghs = _step_views("dgh")  # (N, G*H) each
    dgh_raws = _step_views("dgh_raw")

    @property
    def rec_inputs(self):
        """What the dh product reads at each step."""
        return self.dghbs if self.mixed else self.dgh_raws

    def recurrent(self, t: int, keep: Tensor | None = None, raw_done: bool = False) -> Tensor:
        """dh_{t-1} through W_hh from dgh[t]; rows past their length pass ``self.dh`` on.

        ``raw_done``: a kernel already filled dgh_raw[t] (the gradient before the layer norm).
        """
        s = self.s
        if self.valid is not None:
            self.dghs[t].mul_(self.valid[t])
            if raw_done:
                self.dgh_raws[t].mul_(self.valid[t])
            if self.mixed:
                self.dghbs[t].mul_(self.valid[t])
        if s["ln_hh"] is not None and not raw_done:
            self.dgh_raws[t].copy_(
                _block_norm_backward(self.dghs[t] * s["ln_hh"], s["xh"][t], s["rh"][t], self.blocks)
            )
        dh = self.rec(self.rec_inputs[t])  # (N, H_out)
        if dh.dtype != self.dtype:
            dh = dh.to(self.dtype)
        if s["mask"] is not None:
            dh = dh * s["mask"]
        if keep is not None:
            dh = dh + keep
        if self.valid is not None:
            dh = torch.where(self.valid[t], dh, self.dh)
        return dh

    def gate_gradient(self, f32: Tensor, bf16: Tensor | None) -> Tensor:
        """A gate gradient (L, N, G*H) in the dtype of gi, from its float32 or bf16 copy."""
        if bf16 is not None and self.out_dtype == torch.bfloat16:
            return bf16
        return f32.to(self.out_dtype)

    def weight_grads(self, dgi: Tensor | None = None):
        """dW_hh, db_ih, db_hh, dln_hh from the stacked per-step gradients, one product each.

        ``dgi`` is the gradient reaching b_ih where it differs from the one reaching b_hh (GRU).
        """
        s = self.s
        w_hh, b_ih, b_hh, ln_hh = s["w_hh"], s["b_ih"], s["b_hh"], s["ln_hh"]
        if self.mixed:
            dw = weight_gradient(self.dgh_bf16, s["hall_bf16"][:-1])
        else:
            hm = s["hm"] if s["hm"] is not None else s["hall"][:-1]  # (L, N, H_out)
            dw = weight_gradient(_lower(self.dgh_raw, self.compute), _lower(hm, self.compute))
        db = self.dgh.sum((0, 1)) if b_ih is not None or b_hh is not None else None  # (G*H,)
        db_ih = None
        if b_ih is not None:
            db_ih = (db if dgi is None else dgi.sum((0, 1))).to(b_ih.dtype)
        db_hh = db.to(b_hh.dtype) if b_hh is not None else None
        dln = kernels.column_dot(self.dgh, s["xh"]).to(ln_hh.dtype) if ln_hh is not None else None
        return dw.to(w_hh.dtype), db_ih, db_hh, dln


def _lower(x: Tensor, dtype: torch.dtype | None) -> Tensor:
    """x in the autocast dtype of the matrix products, if any."""
    return x if dtype is None else x.to(dtype)


# -- double backward ----------------------------------------------------------------------------

# The trailing inputs of the three Functions: what a double backward recomputes the layer from.
SOURCE = ("x", "w_ih", "ln_ih", "lengths", "reverse")
NO_SOURCE_GRADS = (None,) * len(SOURCE)  # the first-order backward's gradients for them
# The inputs a double backward differentiates the recomputed layer with respect to.
_DIFFERENTIABLE = {
    "gi", "h0", "c0", "w_hh", "b_ih", "b_hh", "ln_hh", "ln_cw", "ln_cb", "w_hr", "x", "w_ih",
    "ln_ih",
}  # fmt: skip


def _source(ctx, gi, h0, c0, x, w_ih, ln_ih, lengths, reverse) -> dict:
    """The tensors a double backward recomputes the layer-direction from (saved references,
    no copies): the initial state and the layer's input ``x`` (L, N, H_in) with its input
    weights where :func:`run_direction` gives them, else ``gi`` itself (a direct call)."""
    ctx.reverse = reverse
    source = dict(x=x, w_ih=w_ih, ln_ih=ln_ih, lengths=lengths)
    return dict(h0=h0, c0=c0, gi=gi if x is None else None, **source)


def _graph_backward(*grads: Tensor) -> bool:
    """Whether a backward reached by ``grads`` (of the output and the final state) must run as
    autograd of the loop engine's recomputation (:func:`_double_backward`): under
    ``create_graph=True``, or when any of ``grads`` has no memory for the C kernels to read (a
    batched tensor of ``vmap`` over the backward, as in gradcheck's batched gradients and
    ``torch.autograd.functional.jacobian(..., vectorize=True)``, or of a ``torch.func``
    transform)."""
    return (
        torch.is_grad_enabled()
        or not all(torch._C._has_storage(grad) for grad in grads)
        or torch._C._are_functorch_transforms_active()
    )


def _double_backward(ctx, mode: str, names: tuple[str, ...], grads: tuple[Tensor, ...]):
    """The backward of a fused Function under ``create_graph=True``, as gradients that carry a
    graph, so that they can be differentiated again (gradient penalties, meta-learning).

    The hand-written BPTT builds no graph. Here the layer-direction is recomputed instead, for
    this call only, with the loop engine's differentiable step functions from the saved inputs
    (the same math, dropout mask and lengths), and autograd differentiates the recomputation:
    ``torch.autograd.grad(..., create_graph=True)``. From the layer's input ``x`` where the
    layers gave it, so ``x``, ``W_ih`` and the layer norm's gain get their gradients here and
    the gi path (the projection and its layer norm) none; else from ``gi``. Returns one gradient
    per name in ``names`` (the Function's inputs, in order).
    """
    s = _saved(ctx)
    compute = ctx.rec_info[2]  # the autocast dtype of the forward's products, or None
    weights = StepWeights(
        weight_ih=s["w_ih"], weight_hh=s["w_hh"], bias_ih=s["b_ih"], bias_hh=s["b_hh"],
        weight_hr=s.get("w_hr"), ln_ih_weight=s["ln_ih"], ln_hh_weight=s["ln_hh"],
        ln_cell_weight=s.get("ln_cw"), ln_cell_bias=s.get("ln_cb"),
    )  # fmt: skip
    state = (s["h0"], s["c0"]) if mode == "LSTM" else (s["h0"],)
    device = s["h0"].device.type
    if compute is None:
        autocast = torch.autocast(device, enabled=False)
    else:
        autocast = torch.autocast(device, dtype=compute)
    # Grad mode is off in a first-order backward (run here under vmap; see _graph_backward).
    with autocast, torch.enable_grad():
        if s["x"] is not None:
            x = s["x"]
            if compute is None:  # the forward's product runs in W_ih's dtype (Projection)
                x = x.to(s["w_ih"].dtype)
            gi = input_projection(x, weights, GATES[mode])  # (L, N, G*H), b_ih included
            if ctx.reverse:
                gi = reverse_padded(gi, s["lengths"])
        else:
            gi = s["gi"].to(s["h0"].dtype)  # the forward's gate math runs in the state's dtype
            gi = gi if s["b_ih"] is None else gi + s["b_ih"]
        output, final = run_recurrence(mode, gi, state, weights, s["valid"], s["mask"])
    pairs = [(o, g.to(o.dtype)) for o, g in zip((output, *final), grads) if o.requires_grad]
    create_graph = torch.is_grad_enabled()
    wanted = [
        n for n in names
        if n in _DIFFERENTIABLE and s.get(n) is not None and s[n].requires_grad
    ]  # fmt: skip
    if not pairs or not wanted:
        return (None,) * len(names)
    outputs, grad_outputs = zip(*pairs)
    found = torch.autograd.grad(
        outputs, [s[n] for n in wanted], grad_outputs, create_graph=create_graph, allow_unused=True
    )
    found = dict(zip(wanted, found))
    return tuple(found.get(n) for n in names)


# -- LSTM ---------------------------------------------------------------------------------------


class FusedLSTM(torch.autograd.Function):
    """One LSTM layer-direction over a whole sequence; see the module docstring."""

    INPUTS = (
        "gi", "h0", "c0", "w_hh", "b_ih", "b_hh", "ln_hh", "ln_cw", "ln_cb", "w_hr", "mask",
        "valid", "compute", *SOURCE,
    )  # fmt: skip

    @staticmethod
    def forward(
        ctx, gi, h0, c0, w_hh, b_ih, b_hh, ln_hh, ln_cw, ln_cb, w_hr, mask, valid, compute,
        x=None, w_ih=None, ln_ih=None, lengths=None, reverse=False,
    ):  # fmt: skip
        with torch.autocast(gi.device.type, enabled=False):
            plain = w_hr is None and ln_cw is None
            r = _Recurrence(ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute, 4, plain)
            L, N, H = r.L, r.N, c0.shape[-1]
            proj = Linear(w_hr, N, compute) if w_hr is not None else None
            call = _empty(c0, L + 1 if r.keep else 2, N, H)  # c_0 .. c_L (or two in turn)
            call[0] = c0
            cs = call.unbind(0)
            gates = r.per_step(c0, 4 * H)  # activated i, f, g, o
            tcs = r.per_step(c0, H)  # tanh([LN](c_t))
            hcs = r.per_step(c0, H) if proj is not None else None  # o ⊙ tanh(c): pre-proj
            xc = rc = None
            if ln_cw is not None:
                xc, rc = r.per_step(c0, H), r.per_step(c0, 1, 1)
            gs, ts, hps, xcs, rcs = (r.steps(b) for b in (gates, tcs, hcs, xc, rc))
            fast_ln = _fast_ln(gi, ln_hh, ln_cw, ln_cb)
            for t in range(L):
                gh = r.recurrent(t, raw=fast_ln)  # (N, 4H)
                c_prev, c = (cs[t], cs[t + 1]) if r.keep else (cs[t % 2], cs[1 - t % 2])
                h_out = hps[t] if proj is not None else r.hs[t + 1]  # (N, H)
                if fast_ln:
                    kernels.lstm_ln_forward(
                        r.gis[t], gh, ln_hh, r.bias, ln_cw, ln_cb, c_prev, functional.LN_EPS,
                        r.xhs[t], r.rhs[t], gs[t], c, xcs[t], rcs[t], ts[t], h_out,
                    )  # fmt: skip
                elif ln_cw is None:
                    kernels.lstm_forward(
                        r.gis[t], gh, r.bias, c_prev, gs[t], c, ts[t], h_out, r.hbs[t + 1]
                    )
                else:
                    _lstm_forward_ln(
                        r.gis[t] + gh + r.bias, c_prev, ln_cw, ln_cb,
                        gs[t], c, xcs[t], rcs[t], ts[t], h_out,
                    )  # fmt: skip
                if proj is not None:
                    r.hs[t + 1].copy_(proj(h_out))  # (N, H_proj)
                if r.valid is not None:
                    r.freeze(t, (r.hs[t + 1], r.hs[t]), (c, c_prev))
            r.save(
                ctx, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, ln_cw=ln_cw, ln_cb=ln_cb, w_hr=w_hr,
                call=call, gates=gates, tcs=tcs, hcs=hcs, xc=xc, rc=rc,
                **_source(ctx, gi, h0, c0, x, w_ih, ln_ih, lengths, reverse),
            )  # fmt: skip
            hn, cn = r.hall[L].to(r.out_dtype, copy=True), c.to(r.out_dtype, copy=True)
            return r.output(), hn, cn

    @staticmethod
    def backward(ctx, dout, dhn, dcn):
        if _graph_backward(dout, dhn, dcn):  # create_graph=True or vmap: autograd of a recompute
            return _double_backward(ctx, "LSTM", FusedLSTM.INPUTS, (dout, dhn, dcn))
        s = _saved(ctx)
        with torch.autocast(dout.device.type, enabled=False):
            b = _Backward(ctx, s, dout, dhn)
            gates, call, tcs, w_hr, ln_cw = s["gates"], s["call"], s["tcs"], s["w_hr"], s["ln_cw"]
            L, N, H = gates.shape[0], gates.shape[1], call.shape[-1]
            proj = Linear(w_hr.t(), N, b.compute) if w_hr is not None else None
            dhs = _empty(b.dout, L, N, w_hr.shape[0]) if w_hr is not None else None
            dc = dcn.to(b.dtype).clone()  # (N, H), updated in place step by step
            zeros_h = dc.new_zeros(N, H)
            dln_cw = dln_cb = None
            if ln_cw is not None:
                dln_cw, dln_cb = torch.zeros_like(ln_cw), torch.zeros_like(s["ln_cb"])
            fast_ln = _fast_ln(gates, s["ln_hh"], ln_cw, s["ln_cb"])
            dcns = _empty(b.dout, L, N, H) if fast_ln else None  # gradient of LN(c_t)
            gs, cs, ts = gates.unbind(0), call.unbind(0), tcs.unbind(0)
            for t in reversed(range(L)):
                d1, d2 = b.dh, b.douts[t]  # gradient reaching h_t: d1 + d2, (N, H_out)
                if b.valid is not None:
                    d1, d2 = (d1 + d2) * b.valid[t], b.zeros
                if proj is not None:
                    dhs[t] = d1 + d2
                    d1, d2 = proj(dhs[t]).to(b.dtype), zeros_h  # (N, H)
                dc_next = dc.clone() if b.valid is not None else None
                if fast_ln:
                    kernels.lstm_ln_backward(
                        gs[t], cs[t], s["xc"][t], s["rc"][t], ts[t], ln_cw, s["xh"][t],
                        s["rh"][t], s["ln_hh"], d1, d2, dc, b.dghs[t], b.dgh_raws[t], dcns[t],
                    )  # fmt: skip
                elif ln_cw is None:
                    kernels.lstm_backward(gs[t], cs[t], ts[t], d1, d2, dc, b.dghs[t], b.dghbs[t])
                else:
                    _lstm_backward_ln(
                        gs[t], cs[t], s["xc"][t], s["rc"][t], ts[t], ln_cw,
                        d1 + d2, dc, b.dghs[t], dln_cw, dln_cb,
                    )  # fmt: skip
                if dc_next is not None:
                    dc = torch.where(b.valid[t], dc, dc_next)
                b.dh = b.recurrent(t, raw_done=fast_ln)
            if fast_ln:  # the cell norm's gain and shift, one reduction each
                if b.valid is not None:
                    dcns *= b.valid
                dln_cw = kernels.column_dot(dcns, s["xc"]).to(ln_cw.dtype)
                dln_cb = dcns.sum((0, 1)).to(dln_cb.dtype)
            dw, db_ih, db_hh, dln = b.weight_grads()
            dw_hr = None
            if w_hr is not None:  # (H_proj, H)
                dw_hr = weight_gradient(_lower(dhs, b.compute), _lower(s["hcs"], b.compute))
                dw_hr = dw_hr.to(w_hr.dtype)
            dgi = b.gate_gradient(b.dgh, b.dgh_bf16)  # dpre: (L, N, 4H)
            return (
                dgi, b.dh.to(b.out_dtype), dc.to(b.out_dtype), dw, db_ih, db_hh, dln,
                dln_cw, dln_cb, dw_hr, None, None, None, *NO_SOURCE_GRADS,
            )  # fmt: skip


def _fast_ln(like: Tensor, ln_hh, ln_cw, ln_cb) -> bool:
    """Whether the layer-normalised LSTM step runs as one C kernel (both norms, a kernel)."""
    has_all = ln_hh is not None and ln_cw is not None and ln_cb is not None
    return has_all and kernels.available(like.dtype, like.device)


def _lstm_forward_ln(pre, c_prev, w, bias, gates, c, xc, rc, tc, h) -> None:
    """The LSTM step with a layer-normalised cell state, as PyTorch ops (fills the buffers)."""
    i, f, g, o = pre.chunk(4, dim=-1)  # each (N, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    gates.copy_(torch.cat([i, f, g, o], -1))
    torch.addcmul(f * c_prev, i, g, out=c)
    xhat, rstd = _block_norm(c, 1)
    xc.copy_(xhat)
    rc.copy_(rstd)
    torch.tanh(xhat * w + bias, out=tc)
    torch.mul(o, tc, out=h)


def _lstm_backward_ln(gates, c_prev, xc, rc, tc, w, dh, dc, dpre, dw, db) -> None:
    """Backward of :func:`_lstm_forward_ln`: dc in/out, dpre filled, dw and db accumulated."""
    i, f, g, o = gates.chunk(4, dim=-1)
    dcn = dh * o * (1 - tc * tc)  # gradient of LN(c), (N, H)
    dw += (dcn * xc).sum(0)
    db += dcn.sum(0)
    dcc = dc + _block_norm_backward(dcn * w, xc, rc, 1)
    grads = [dcc * g * i * (1 - i), dcc * c_prev * f * (1 - f), dcc * i * (1 - g * g)]
    grads.append(dh * tc * o * (1 - o))
    dpre.copy_(torch.cat(grads, -1))
    dc.copy_(dcc * f)


# -- GRU and Elman RNN --------------------------------------------------------------------------


class FusedGRU(torch.autograd.Function):
    """One GRU layer-direction over a whole sequence; see the module docstring."""

    INPUTS = ("gi", "h0", "w_hh", "b_ih", "b_hh", "ln_hh", "mask", "valid", "compute", *SOURCE)

    @staticmethod
    def forward(
        ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute,
        x=None, w_ih=None, ln_ih=None, lengths=None, reverse=False,
    ):  # fmt: skip
        with torch.autocast(gi.device.type, enabled=False):
            r = _Recurrence(ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute, 3, True)
            L, H = r.L, h0.shape[-1]
            gates = r.per_step(h0, 3 * H)  # r, z, n
            hns = r.per_step(h0, H)  # [LN](W_hn h) + b_hn
            bi, bh = r.bias_ih, r.bias_hh
            ctx.sequence = _gru_sequence(r, h0, w_hh)
            if ctx.sequence:  # every step in one C call
                w = w_hh.detach().to(r.dtype).contiguous()  # (3H, H)
                kernels.gru_sequence_forward(r.gi, bi, w, bh, r.hall, gates, hns, r.valid)
            else:
                gis, gs, qs, hs, hbs = r.gis, r.steps(gates), r.steps(hns), r.hs, r.hbs
                for t in range(L):
                    gh = r.recurrent(t)  # (N, 3H)
                    kernels.gru_forward(
                        gis[t], bi, gh, bh, hs[t], gs[t], qs[t], hs[t + 1], hbs[t + 1]
                    )
                    if r.valid is not None:
                        r.freeze(t, (hs[t + 1], hs[t]))
            r.save(
                ctx, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, gates=gates, hns=hns,
                **_source(ctx, gi, h0, None, x, w_ih, ln_ih, lengths, reverse),
            )  # fmt: skip
            return r.output(), r.hall[L].to(r.out_dtype, copy=True)

    @staticmethod
    def backward(ctx, dout, dhn):
        if _graph_backward(dout, dhn):  # create_graph=True or vmap: autograd of a recompute
            return _double_backward(ctx, "GRU", FusedGRU.INPUTS, (dout, dhn))
        s = _saved(ctx)
        with torch.autocast(dout.device.type, enabled=False):
            b = _Backward(ctx, s, dout, dhn)
            gates, hns, hall = s["gates"], s["hns"], s["hall"]
            dgi = _empty(b.dgh, *b.dgh.shape)  # (L, N, 3H)
            dgi_bf16 = None
            if ctx.sequence:  # every step in one C call, as in forward
                w = s["w_hh"].detach().to(b.dtype).contiguous()  # (3H, H)
                # b.dh: the gradient reaching h_L in, the one reaching h_0 out
                kernels.gru_sequence_backward(
                    gates, hns, hall, w, b.dout, b.valid, b.dh, dgi, b.dgh
                )
            else:
                dgi_bf16 = _gru_backward_loop(b, gates, hns, hall, dgi)
            dw, db_ih, db_hh, dln = b.weight_grads(dgi)
            dh0 = b.dh.to(b.out_dtype)
            dgi = b.gate_gradient(dgi, dgi_bf16)  # (L, N, 3H)
            return dgi, dh0, dw, db_ih, db_hh, dln, None, None, None, *NO_SOURCE_GRADS


def _gru_backward_loop(b: _Backward, gates, hns, hall, dgi) -> Tensor | None:
    """The GRU's backward time loop in Python: fills dgi (L, N, 3H) and b.dgh, leaves the
    gradient reaching h_0 in b.dh; returns dgi's bf16 copy under mixed autocast, else None."""
    direct = torch.empty_like(b.dh)  # z ⊙ dh: the path that skips W_hh, (N, H)
    gs, qs, hs, dis = gates.unbind(0), hns.unbind(0), hall.unbind(0), dgi.unbind(0)
    dgi_bf16, dibs = None, [None] * dgi.shape[0]
    if b.mixed:
        dgi_bf16 = _empty(dgi, *dgi.shape, dtype=torch.bfloat16)
        dibs = dgi_bf16.unbind(0)
    for t in reversed(range(dgi.shape[0])):
        d1, d2 = b.dh, b.douts[t]
        if b.valid is not None:
            d1, d2 = (d1 + d2) * b.valid[t], b.zeros
        kernels.gru_backward(
            gs[t], qs[t], hs[t], d1, d2, dis[t], b.dghs[t], direct, dibs[t], b.dghbs[t]
        )
        if b.valid is not None:
            dis[t].mul_(b.valid[t])
            if b.mixed:
                dibs[t].mul_(b.valid[t])
        b.dh = b.recurrent(t, keep=direct)
    return dgi_bf16


def _gru_sequence(r: _Recurrence, h0: Tensor, w_hh: Tensor) -> bool:
    """Whether the GRU's whole time loop runs as one C call (:func:`kernels.gru_sequence_forward`):
    a plain float32 cell (no layer norm on W_hh h, no recurrent dropout, no autocast) with the
    C kernels built. Per step the Python loop's product and kernel call cost ~40 us more than
    the arithmetic at 16 x 128 (music, speech), where oneDNN's LSTM runs its loop in C++."""
    plain = r.ln_hh is None and r.mask is None and r.compute is None and not r.mixed
    return plain and kernels.gru_sequence_available(h0) and w_hh.dtype == torch.float32


class FusedRNN(torch.autograd.Function):
    """One Elman RNN layer-direction (tanh or ReLU) over a whole sequence."""

    INPUTS = (
        "gi", "h0", "w_hh", "b_ih", "b_hh", "ln_hh", "mask", "valid", "compute", "relu", *SOURCE,
    )  # fmt: skip

    @staticmethod
    def forward(
        ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute, relu,
        x=None, w_ih=None, ln_ih=None, lengths=None, reverse=False,
    ):  # fmt: skip
        with torch.autocast(gi.device.type, enabled=False):
            r = _Recurrence(ctx, gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, compute, 1, True)
            for t in range(r.L):
                gh = r.recurrent(t)  # (N, H)
                kernels.rnn_forward(r.gis[t], gh, r.bias, relu, r.hs[t + 1], r.hbs[t + 1])
                if r.valid is not None:
                    r.freeze(t, (r.hs[t + 1], r.hs[t]))
            r.save(
                ctx, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
                **_source(ctx, gi, h0, None, x, w_ih, ln_ih, lengths, reverse),
            )  # fmt: skip
            ctx.relu = relu
            return r.output(), r.hall[r.L].to(r.out_dtype, copy=True)

    @staticmethod
    def backward(ctx, dout, dhn):
        if _graph_backward(dout, dhn):  # create_graph=True or vmap: autograd of a recompute
            mode = "RNN_RELU" if ctx.relu else "RNN_TANH"
            return _double_backward(ctx, mode, FusedRNN.INPUTS, (dout, dhn))
        s = _saved(ctx)
        with torch.autocast(dout.device.type, enabled=False):
            b = _Backward(ctx, s, dout, dhn)
            hs = s["hall"].unbind(0)
            for t in reversed(range(b.dgh.shape[0])):
                d1, d2 = b.dh, b.douts[t]
                if b.valid is not None:
                    d1, d2 = (d1 + d2) * b.valid[t], b.zeros
                kernels.rnn_backward(hs[t + 1], d1, d2, ctx.relu, b.dghs[t], b.dghbs[t])
                b.dh = b.recurrent(t)
            dw, db_ih, db_hh, dln = b.weight_grads()
            dgi = b.gate_gradient(b.dgh, b.dgh_bf16)
            return (
                dgi, b.dh.to(b.out_dtype), dw, db_ih, db_hh, dln, None, None, None, None,
                *NO_SOURCE_GRADS,
            )  # fmt: skip
