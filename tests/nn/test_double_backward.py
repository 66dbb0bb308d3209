"""Double backward (``create_graph=True``) through every engine: torch.nn's second derivatives.

A gradient penalty (WGAN-GP, input-gradient regularisation) or meta-learning differentiates a
gradient again. The fused engine's hand-written BPTT builds no graph, so under create_graph it
recomputes the layer differentiably; these tests check the second derivatives numerically
(gradgradcheck, float64, tiny sizes) and against torch.nn with copied weights.
"""

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnkit import nn as rnn
from rnnkit.nn.engine import kernels
from rnnkit.nn.engine.fused import FusedGRU, FusedLSTM, FusedRNN, GateLayerNorm
from rnnkit.nn.engine.matmul import Projection

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny ops: a second thread only waits

F64 = torch.float64
# name -> (class, constructor arguments)
MODELS = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 2}),
    "gru": ("GRU", {}),
}
# (num_layers, bidirectional, packed)
SHAPES = [(1, False, False), (2, True, True)]
LENGTHS = torch.tensor([3, 1, 2])  # packed: all different, unsorted


def build(model, backend, dtype=F64, seed=0, **options):
    torch.manual_seed(seed)
    cls, kwargs = MODELS[model]
    return getattr(rnn, cls)(**kwargs, **options, backend=backend).to(dtype)


def as_function(module, packed, seed=0):
    """``f(x, *hx, flat) -> (output data, *final state)``, the parameters as one flat input
    (gradgradcheck's cost grows with the number of inputs), with the same dropout masks at every
    call (a seeded draw)."""
    names, shapes = zip(*((n, p.shape) for n, p in module.named_parameters()))
    sizes = [shape.numel() for shape in shapes]
    lstm = module.mode == "LSTM"

    def call(x, *rest):
        states, flat = rest[:-1], rest[-1]
        params = [p.view(shape) for p, shape in zip(flat.split(sizes), shapes)]
        hx = states if lstm else states[0]
        inp = pack_padded_sequence(x, LENGTHS, enforce_sorted=False) if packed else x
        torch.manual_seed(seed)
        out, final = functional_call(module, dict(zip(names, params)), (inp, hx))
        data = out.data if isinstance(out, PackedSequence) else out
        return (data, *(final if lstm else (final,)))

    return call


def inputs_for(module, n=3, length=3, seed=1):
    torch.manual_seed(seed)
    d = module.num_directions * module.num_layers
    x = torch.randn(length, n, module.input_size, dtype=F64, requires_grad=True)
    sizes = [module.output_size] + ([module.hidden_size] if module.mode == "LSTM" else [])
    hx = [(0.5 * torch.randn(d, n, s, dtype=F64)).requires_grad_() for s in sizes]
    flat = torch.cat([p.detach().flatten() for p in module.parameters()]).requires_grad_()
    return (x, *hx, flat)


def gradgradcheck(module, packed):
    inputs = inputs_for(module)
    assert torch.autograd.gradgradcheck(as_function(module, packed), inputs, fast_mode=True)


CASES = [
    (model, backend, layers, bidirectional, packed)
    for model in MODELS
    for backend in ("fused", "loop", "torch")
    for layers, bidirectional, packed in SHAPES
]


@pytest.mark.parametrize("model,backend,layers,bidirectional,packed", CASES)
def test_gradgradcheck(model, backend, layers, bidirectional, packed):
    module = build(
        model, backend, input_size=2, hidden_size=3, num_layers=layers, bidirectional=bidirectional
    )
    gradgradcheck(module, packed)


OPTION_CASES = [(m, b) for m in MODELS for b in ("fused", "loop")]


@pytest.mark.parametrize("model,backend", OPTION_CASES)
def test_gradgradcheck_with_every_option(model, backend):
    """layer_norm, residual, forget_bias and variational recurrent dropout (training mode, the
    same masks at every call), bidirectional, packed."""
    extra = {"forget_bias": 1.0} if model.startswith("lstm") else {}
    module = build(
        model, backend, input_size=2, hidden_size=3, num_layers=2, bidirectional=True,
        layer_norm=True, residual=True, recurrent_dropout=0.3, **extra,
    )  # fmt: skip
    gradgradcheck(module.train(), packed=True)


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_gradgradcheck_recurrent_dropout_in_eval_mode(backend):
    module = build("gru", backend, input_size=2, hidden_size=3, recurrent_dropout=0.5).eval()
    gradgradcheck(module, packed=False)


# -- the gradient penalty of issue 12, against torch.nn -----------------------------------------


def penalty_gradients(module, x, lengths=None):
    """Weight gradients of ``mean(out^2) + |d sum(out) / dx|^2`` (a gradient penalty)."""
    module.zero_grad()
    xi = x.detach().clone().requires_grad_(True)
    inp = xi if lengths is None else pack_padded_sequence(xi, lengths, enforce_sorted=False)
    out, _ = module(inp)
    out = out.data if isinstance(out, PackedSequence) else out
    (g,) = torch.autograd.grad(out.sum(), xi, create_graph=True)
    assert g.requires_grad
    (out.pow(2).mean() + (g**2).sum()).backward()
    return {name: p.grad for name, p in module.named_parameters()}


PENALTY_CASES = [
    (model, backend, shape)
    for model in MODELS
    for backend in ("fused", "loop", "torch", "auto")
    for shape in ("plain", "stacked")
]


@pytest.mark.parametrize("model,backend,shape", PENALTY_CASES)
def test_gradient_penalty_matches_torch_nn(model, backend, shape):
    cls, kwargs = MODELS[model]
    stacked = shape == "stacked"  # 2 layers, bidirectional, packed
    sizes = dict(input_size=4, hidden_size=8, num_layers=1 + stacked, bidirectional=stacked)
    torch.manual_seed(0)
    reference = getattr(torch.nn, cls)(**kwargs, **sizes)
    ours = getattr(rnn, cls)(**kwargs, **sizes, backend=backend)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 32 if not stacked else 4, 4)
    lengths = torch.tensor([5, 2, 4, 1]) if stacked else None
    expected = penalty_gradients(reference, x, lengths)
    got = penalty_gradients(ours, x, lengths)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=1e-4, atol=1e-4, msg=name)


def test_issue_example_gru():
    torch.manual_seed(0)
    reference = torch.nn.GRU(4, 8)
    ours = rnn.GRU(4, 8, backend="fused")
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 32, 4)
    expected = penalty_gradients(reference, x)["weight_hh_l0"]
    got = penalty_gradients(ours, x)["weight_hh_l0"]
    assert got.abs().sum() > 1.0  # 0.0133 summed before: no graph, wrong gradients
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.bf16
def test_double_backward_under_bfloat16_autocast_is_close_to_float32():
    torch.manual_seed(0)
    kwargs = dict(input_size=4, hidden_size=8, num_layers=2, bidirectional=True)
    reference = rnn.LSTM(**kwargs, backend="loop")
    ours = rnn.LSTM(**kwargs, backend="fused")
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 8, 4)
    expected = penalty_gradients(reference, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = penalty_gradients(ours, x)
    for name, value in expected.items():
        error = (got[name].float() - value).abs().max().item()
        assert error <= 0.05 * value.abs().max().item() + 1e-2, f"{name}: error {error}"


# -- the autograd Functions themselves ----------------------------------------------------------


def test_fused_functions_called_directly_gradgradcheck():
    """Without the layer's input (a direct call) the recomputation starts from gi."""
    torch.manual_seed(0)
    n, length, hidden = 2, 3, 2
    valid = (torch.arange(length).unsqueeze(1) < torch.tensor([3, 2])).unsqueeze(-1)

    def param(*shape):
        return (0.5 * torch.randn(*shape, dtype=F64)).requires_grad_()

    for function, gates, extra in (
        (FusedLSTM, 4, None),
        (FusedGRU, 3, ()),
        (FusedRNN, 1, (True,)),
    ):
        g = gates * hidden
        gi, h0, w_hh, b_ih, b_hh, ln = (
            param(length, n, g), param(n, hidden), param(g, hidden), param(g), param(g),
            (1 + param(g)).detach().requires_grad_(),
        )  # fmt: skip
        mask = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=F64)
        if function is FusedLSTM:
            c0, cw, cb = param(n, hidden), param(hidden), param(hidden)
            inputs = (gi, h0, c0, w_hh, b_ih, b_hh, ln, cw, cb, None, mask, valid, None)
        else:
            inputs = (gi, h0, w_hh, b_ih, b_hh, ln, mask, valid, None, *extra)
        check = torch.autograd.gradgradcheck
        assert check(lambda *a, f=function: f.apply(*a), inputs, fast_mode=True)


def test_projection_gradgradcheck():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, dtype=F64, requires_grad=True)
    w = torch.randn(5, 4, dtype=F64, requires_grad=True)
    b = torch.randn(5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda *a: Projection.apply(*a, None), (x, w, b))


def test_gate_layer_norm_alone_refuses_double_backward_loudly():
    """Never a silent zero: outside the fused layers (which bypass it) it raises."""
    if not kernels.available(F64):
        pytest.skip("no C compiler: the eager gate_layer_norm runs instead")
    x = torch.randn(3, 2, 4, dtype=F64, requires_grad=True)
    gain = torch.ones(4, dtype=F64, requires_grad=True)
    y = GateLayerNorm.apply(x, gain, 2)
    with pytest.raises(RuntimeError, match="cannot be differentiated twice"):
        torch.autograd.grad((y * torch.randn_like(y)).sum(), x, create_graph=True)
