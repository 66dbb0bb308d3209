"""The engines behind the layers: every backend against the loop engine and torch.nn.

Outputs, final states and every gradient are compared with copied weights and the same random
draws (dropout masks come from the layers, in the same order for every engine).
"""

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnkit import nn as rnn
from rnnkit.nn.engine import BACKENDS, choose_backend, kernels, matmul, native
from rnnkit.nn.engine.fused import FusedGRU, FusedLSTM, FusedRNN, GateLayerNorm
from rnnkit.nn.functional import gate_layer_norm

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
# Layer norm's backward divides by the standard deviation of W_hh h, which is tiny at the first
# steps: in float32 both engines are off from float64 by ~1e-5 of each tensor's largest entry
# (the fused one a little less), so elementwise 1e-5 fails on small entries. With layer norm in
# float32, errors are compared with each tensor's largest entry instead.
LN_TOL32 = 1e-4
MODES = ["RNN", "LSTM", "GRU"]
OPTIONS = {
    "plain": {},
    "layer_norm": {"layer_norm": True},
    "recurrent_dropout": {"recurrent_dropout": 0.3},
    "residual_dropout": {"residual": True, "dropout": 0.2},
    "projection": {"proj_size": 3},
}


def forward_backward(module, x, lengths, hx, seed=5):
    """Run ``module`` and backpropagate a fixed random projection of everything it returns."""
    module.zero_grad()
    xi = x.detach().clone().requires_grad_(True)
    hi = None if hx is None else tuple(h.detach().clone().requires_grad_(True) for h in hx)
    inp = xi if lengths is None else pack_padded_sequence(xi, lengths, enforce_sorted=False)
    torch.manual_seed(seed)  # the same dropout masks for every engine
    out, state = module(inp, hi if hi is None or len(hi) == 2 else hi[0])
    data = out.data if isinstance(out, PackedSequence) else out
    states = state if isinstance(state, tuple) else (state,)
    torch.manual_seed(1)
    loss = sum((t.float() * torch.randn(t.shape)).sum() for t in (data, *states))
    loss.backward()
    results = {"output": data, "input grad": xi.grad}
    results.update({f"state[{i}]": s for i, s in enumerate(states)})
    results.update({f"state grad[{i}]": h.grad for i, h in enumerate(hi or ())})
    results.update({f"grad {n}": p.grad for n, p in module.named_parameters()})
    return results


def assert_same(got, expected, tol, scaled=False):
    assert got.keys() == expected.keys()
    for what in expected:
        a, b = got[what], expected[what]
        assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
        if scaled:
            error = (a.to(b.dtype) - b).abs().max().item()
            assert error <= tol * max(1.0, b.abs().max().item()), f"{what}: error {error}"
            continue
        torch.testing.assert_close(
            a.to(b.dtype), b, rtol=tol, atol=tol, msg=lambda m, w=what: f"{w}: {m}"
        )


def twins(mode, backends, dtype, **kwargs):
    """Modules with the same weights, one per backend."""
    modules = [getattr(rnn, mode)(**kwargs, backend=b).to(dtype) for b in backends]
    for m in modules[1:]:
        m.load_state_dict(modules[0].state_dict())
    return modules


def make_input(mode, dtype, n, length, size, layers, directions, state_sizes, packed, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(length, n, size, dtype=dtype)
    lengths = torch.tensor([length, 2, 5, 1][:n]) if packed else None
    hx = None
    if packed:  # given initial states on half the cases
        hx = tuple(torch.randn(layers * directions, n, s, dtype=dtype) for s in state_sizes)
    return x, lengths, hx


FUSED_MATRIX = [
    (mode, layers, bidirectional, packed, option, dtype)
    for mode, layers, bidirectional, packed, option, dtype in itertools.product(
        MODES, [1, 2], [False, True], [False, True], OPTIONS, [torch.float32, torch.float64]
    )
    if not (option == "projection" and mode != "LSTM")
    and not (option == "residual_dropout" and layers == 1)
    and not (option != "plain" and layers == 1 and bidirectional)
]


@pytest.mark.parametrize("mode,layers,bidirectional,packed,option,dtype", FUSED_MATRIX)
def test_fused_matches_loop(mode, layers, bidirectional, packed, option, dtype):
    d = 2 if bidirectional else 1
    hidden = 3 * d if option == "residual_dropout" else 6  # residual: input size = D * hidden
    size = 3 * d * d if option == "residual_dropout" else 5
    kwargs = dict(
        input_size=size, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional,
        **OPTIONS[option],
    )  # fmt: skip
    loop, fused = twins(mode, ["loop", "fused"], dtype, **kwargs)
    out_size = kwargs.get("proj_size", hidden)
    states = [out_size, hidden] if mode == "LSTM" else [out_size]
    x, lengths, hx = make_input(mode, dtype, 4, 7, size, layers, d, states, packed)
    scaled = option == "layer_norm" and dtype == torch.float32
    expected = forward_backward(loop, x, lengths, hx)
    got = forward_backward(fused, x, lengths, hx)
    assert_same(got, expected, LN_TOL32 if scaled else TOL[dtype], scaled=scaled)


TORCH_MATRIX = list(
    itertools.product(MODES, [1, 2], [False, True], [False, True], [torch.float32, torch.float64])
)


@pytest.mark.parametrize("mode,layers,bidirectional,packed,dtype", TORCH_MATRIX)
def test_torch_and_fused_match_torch_nn(mode, layers, bidirectional, packed, dtype):
    torch.manual_seed(0)
    kwargs = dict(input_size=5, hidden_size=6, num_layers=layers, bidirectional=bidirectional)
    reference = getattr(torch.nn, mode)(**kwargs).to(dtype)
    d = 2 if bidirectional else 1
    x, lengths, hx = make_input(
        mode, dtype, 4, 7, 5, layers, d, [6, 6] if mode == "LSTM" else [6], packed
    )
    expected = forward_backward(reference, x, lengths, hx)
    for ours in twins(mode, ["torch", "fused", "auto"], dtype, **kwargs):
        ours.load_state_dict(reference.state_dict())
        assert_same(forward_backward(ours, x, lengths, hx), expected, TOL[dtype])


@pytest.mark.parametrize("backend", ["torch", "fused"])
def test_lstm_projection_and_dropout_match_torch_nn(backend):
    torch.manual_seed(0)
    kwargs = dict(input_size=5, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3)
    reference = torch.nn.LSTM(**kwargs, dropout=0.0).double()
    ours = rnn.LSTM(**kwargs, backend=backend).double()
    ours.load_state_dict(reference.state_dict())
    x, lengths, hx = make_input("LSTM", torch.float64, 4, 7, 5, 2, 2, [3, 6], packed=True)
    expected = forward_backward(reference, x, lengths, hx)
    assert_same(forward_backward(ours, x, lengths, hx), expected, 1e-10)


def test_torch_backend_dropout_between_layers_is_torch_nn_s():
    """Same seed, same masks: torch's kernels draw dropout exactly as torch.nn does."""
    kwargs = dict(input_size=3, hidden_size=4, num_layers=3, dropout=0.5)
    reference = torch.nn.GRU(**kwargs).double()
    ours = rnn.GRU(**kwargs, backend="torch").double()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.manual_seed(3)
    expected = reference(x)[0]
    torch.manual_seed(3)
    torch.testing.assert_close(ours(x)[0], expected)


# -- the fused autograd Functions, gradchecked directly -----------------------------------------


def _function_inputs(mode, n=3, length=5, hidden=4, proj=0, ln=True, masked=True, seed=0):
    torch.manual_seed(seed)
    f64 = dict(dtype=torch.float64)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden
    out = proj or hidden

    def param(*shape):
        return torch.randn(*shape, **f64).requires_grad_(True)

    gi = param(length, n, gates)
    h0 = param(n, out)
    w_hh = (torch.randn(gates, out, **f64) / out**0.5).requires_grad_(True)
    b_ih, b_hh = param(gates), param(gates)
    ln_hh = (1 + 0.1 * torch.randn(gates, **f64)).requires_grad_(True) if ln else None
    mask = (torch.rand(n, out, **f64) > 0.3).to(torch.float64) / 0.7 if masked else None
    steps = torch.arange(length).unsqueeze(1)
    valid = (steps < torch.tensor([length, 2, 4][:n]).unsqueeze(0)).unsqueeze(-1)  # (L, N, 1)
    if mode == "LSTM":
        c0 = param(n, hidden)
        ln_cw = (1 + 0.1 * torch.randn(hidden, **f64)).requires_grad_(True) if ln else None
        ln_cb = param(hidden) if ln else None
        w_hr = (
            (torch.randn(proj, hidden, **f64) / hidden**0.5).requires_grad_(True) if proj else None
        )
        inputs = (gi, h0, c0, w_hh, b_ih, b_hh, ln_hh, ln_cw, ln_cb, w_hr, mask, valid, None)
        return FusedLSTM, inputs
    if mode == "GRU":
        return FusedGRU, (gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, None)
    return FusedRNN, (gi, h0, w_hh, b_ih, b_hh, ln_hh, mask, valid, None, mode == "RNN_RELU")


@pytest.mark.parametrize(
    "mode,proj,ln",
    [
        ("LSTM", 0, False),
        ("LSTM", 0, True),
        ("LSTM", 2, True),
        ("GRU", 0, False),
        ("GRU", 0, True),
        ("RNN_TANH", 0, True),
        ("RNN_RELU", 0, False),
    ],
)
def test_fused_function_gradcheck(mode, proj, ln):
    function, inputs = _function_inputs(mode, proj=proj, ln=ln)
    assert torch.autograd.gradcheck(lambda *a: function.apply(*a), inputs)


def test_gate_layer_norm_kernel_matches_eager_and_gradcheck():
    if not kernels.available(torch.float64):
        pytest.skip("no C compiler: the eager gate_layer_norm runs instead")
    torch.manual_seed(0)
    x = torch.randn(3, 4, 2 * 5, dtype=torch.float64, requires_grad=True)  # (L, N, G*H)
    gain = torch.randn(2 * 5, dtype=torch.float64, requires_grad=True)
    expected = gate_layer_norm(x, gain, 2)
    dy = torch.randn_like(expected)
    want = torch.autograd.grad(expected, (x, gain), dy)
    got_y = GateLayerNorm.apply(x, gain, 2)
    got = torch.autograd.grad(got_y, (x, gain), dy)
    torch.testing.assert_close(got_y, expected)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda a, g: GateLayerNorm.apply(a, g, 2), (x, gain))


def test_fused_function_gradcheck_full_lengths_without_options():
    function, inputs = _function_inputs("LSTM", ln=False, masked=False)
    inputs = inputs[:-2] + (None, None)  # no lengths, no autocast
    assert torch.autograd.gradcheck(lambda *a: function.apply(*a), inputs)


def test_fused_output_modified_in_place_is_caught():
    lstm = rnn.LSTM(3, 4, backend="fused")
    out, _ = lstm(torch.randn(5, 2, 3))
    with pytest.raises(RuntimeError, match="inplace"):  # the saved states must not change
        out.mul_(2)
        out.sum().backward()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("option", ["plain", "layer_norm"])
def test_fused_without_c_kernels_matches_loop(mode, option, monkeypatch):
    monkeypatch.setattr(kernels, "_library", None)  # the PyTorch-ops fallback
    monkeypatch.setattr(kernels, "_KERNELS", {})
    assert not kernels.available()
    dtype = torch.float32 if option == "plain" else torch.float64
    kwargs = dict(input_size=5, hidden_size=6, num_layers=2, bidirectional=True)
    loop, fused = twins(mode, ["loop", "fused"], dtype, **kwargs, **OPTIONS[option])
    x, lengths, hx = make_input(mode, dtype, 4, 7, 5, 2, 2, [6, 6], packed=True)
    hx = hx if mode == "LSTM" else hx[:1]
    expected = forward_backward(loop, x, lengths, hx)
    assert_same(forward_backward(fused, x, lengths, hx), expected, TOL[dtype])


def test_fused_relu_rnn_without_c_kernels_matches_loop(monkeypatch):
    monkeypatch.setattr(kernels, "_library", None)  # the PyTorch-ops fallback
    monkeypatch.setattr(kernels, "_KERNELS", {})
    kwargs = dict(input_size=3, hidden_size=4, nonlinearity="relu")
    loop, fused = twins("RNN", ["loop", "fused"], torch.float64, **kwargs)
    x, lengths, hx = make_input("RNN", torch.float64, 4, 5, 3, 1, 1, [4], packed=True)
    expected = forward_backward(loop, x, lengths, hx)
    assert_same(forward_backward(fused, x, lengths, hx), expected, TOL[torch.float64])


def test_kernel_source_is_package_data_and_keys_the_build_cache():
    text = kernels._source()
    packaged = Path(kernels.__file__).parent / "csrc" / "kernels.c"
    assert text == packaged.read_text(encoding="utf-8") and "void NAME" in text
    path = kernels._library_path(text, "cc")
    assert path.parent == kernels._cache_dir() and path.suffix == ".so"
    assert kernels._library_path(text + "/* edited */", "cc") != path
    assert kernels._library_path(text, "clang") != path


# -- bfloat16 autocast --------------------------------------------------------------------------


def assert_bfloat16_close(mode, backend, lengths=None):
    """Under bf16 autocast, ``backend`` is within bf16 rounding of the float32 loop engine."""
    torch.manual_seed(0)
    kwargs = dict(input_size=8, hidden_size=16, num_layers=2, bidirectional=True)
    loop, ours = twins(mode, ["loop", backend], torch.float32, **kwargs)
    x = torch.randn(6, 3, 8)
    expected = forward_backward(loop, x, lengths, None)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = forward_backward(ours, x, lengths, None)
    for what, value in expected.items():
        scale = value.abs().max().item()
        error = (got[what].float() - value).abs().max().item()
        assert error <= 0.05 * scale + 1e-2, f"{what}: error {error} vs scale {scale}"


@pytest.mark.bf16
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_autocast_bfloat16_is_close_to_float32(mode, backend):
    assert_bfloat16_close(mode, backend)


@pytest.mark.bf16
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_autocast_bfloat16_without_onednn_bfloat16(mode, backend, monkeypatch):
    """Where oneDNN cannot run bf16 (CPUs without AVX-512 or AMX: its primitives raise), the
    fused engine's products go to torch.mm and the torch backend's LSTM to torch's generic
    bf16 path, where torch.nn.LSTM itself fails; forced here, so every machine checks it."""
    monkeypatch.setattr(matmul, "onednn_bfloat16", lambda: False)
    monkeypatch.setattr(native, "onednn_bfloat16_lstm", lambda: False)
    assert_bfloat16_close(mode, backend)
    assert_bfloat16_close(mode, backend, lengths=torch.tensor([6, 2, 4]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_autocast_training_of_one_sequence_stays_float32(mode, backend):
    """A batch of one gains nothing from bf16 products: the engines keep float32 math there,
    and return its results in torch.nn's dtypes (bf16 but for the GRU; test_autocast_dtypes)."""
    kwargs = dict(input_size=3, hidden_size=5, num_layers=2)
    loop, ours = twins(mode, ["loop", backend], torch.float32, **kwargs)
    x = torch.randn(6, 1, 3)  # (L, N=1, H_in)
    dtype = torch.float32 if mode == "GRU" else torch.bfloat16
    results = []
    for module, autocast in ((loop, False), (ours, True)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out, _ = module(x)
        assert out.dtype == (dtype if autocast else torch.float32)
        out = out.to(dtype)  # the float32 loop engine's results, rounded as torch.nn's
        out.float().pow(2).sum().backward()  # outside autocast, as training does
        results.append([out, *(p.grad for p in module.parameters())])
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, atol=TOL[torch.float32], rtol=TOL[torch.float32])


@pytest.mark.bf16
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_bfloat16_kernels_match_the_generic_bfloat16_path(mode, monkeypatch):
    """The kernels reading/writing the products' bf16 operands change no number (packed too)."""
    if not kernels.bf16_available(torch.zeros(1)):
        pytest.skip("no C compiler: the generic path is the only one")
    torch.manual_seed(0)
    kwargs = dict(input_size=8, hidden_size=16, num_layers=2, bidirectional=True)
    (fused,) = twins(mode, ["fused"], torch.float32, **kwargs)
    states = [16, 16] if mode == "LSTM" else [16]
    x, lengths, hx = make_input(mode, torch.float32, 4, 7, 8, 2, 2, states, packed=True)
    results = []
    for mixed in (True, False):
        monkeypatch.setattr(kernels, "bf16_available", lambda state, on=mixed: on)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            results.append(forward_backward(fused, x, lengths, hx))
    for what, value in results[1].items():
        torch.testing.assert_close(results[0][what], value, atol=2e-2, rtol=2e-2, msg=what)


# -- backend selection and validation -----------------------------------------------------------


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'loop', 'torch'"):
        rnn.LSTM(3, 4, backend="cudnn")
    assert BACKENDS == ("auto", "loop", "torch", "fused")


def test_former_backend_name_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="backend='reference' is now called 'loop'"):
        lstm = rnn.LSTM(3, 4, backend="reference")
    assert lstm.backend == "loop"
    gru = rnn.GRU(3, 4)
    gru.backend = "reference"  # set after construction: checked at the call
    with pytest.warns(DeprecationWarning, match="now called 'loop'"):
        gru(torch.randn(2, 1, 3))


@pytest.mark.parametrize(
    "options,named",
    [
        ({"layer_norm": True}, "layer_norm=True"),
        ({"recurrent_dropout": 0.2}, "recurrent_dropout=0.2"),
        ({"residual": True, "num_layers": 2}, "residual=True"),
    ],
)
def test_torch_backend_rejects_options_torch_lacks(options, named):
    with pytest.raises(ValueError, match=f"backend='torch' .* lack[s]? {named}"):
        rnn.GRU(3, 3, backend="torch", **options)


def test_backend_is_keyword_only_and_shown():
    with pytest.raises(TypeError):
        rnn.RNN(3, 4, 1, "tanh", True, False, 0.0, False, None, None, "fused")
    assert "backend='fused'" in repr(rnn.GRU(3, 4, backend="fused"))
    assert "backend" not in repr(rnn.GRU(3, 4))


def test_auto_choice():
    def x(device="cpu", n=64, dtype=torch.float32, steps=100):
        return SimpleNamespace(device=torch.device(device), shape=(steps, n, 3), dtype=dtype)

    lstm, gru, rnn_ = rnn.LSTM(3, 256), rnn.GRU(3, 4), rnn.RNN(3, 4)
    assert choose_backend(lstm, x("cuda")) == "torch"
    assert choose_backend(gru, x("cuda")) == "torch"
    assert choose_backend(rnn.GRU(3, 4, layer_norm=True), x("cuda")) == "fused"
    assert choose_backend(rnn.LSTM(3, 4, recurrent_dropout=0.1), x()) == "fused"
    assert choose_backend(lstm, x()) == "fused"  # float32 training, batch 64
    assert choose_backend(lstm, x(n=1)) == "torch"
    assert choose_backend(lstm, x(dtype=torch.float64)) == "fused"
    assert choose_backend(gru, x(n=1)) == "fused"
    assert choose_backend(rnn_, x(n=1)) == "fused"
    assert choose_backend(rnn_.eval(), x(n=1)) == "torch"
    lengths = torch.tensor([10, 3])  # packed: torch's CPU training path for it is slow
    assert choose_backend(lstm, x(n=2), lengths) == "fused"
    assert choose_backend(lstm, x(n=16)) == "torch"
    assert choose_backend(lstm, x(steps=35)) == "torch"  # Penn Treebank's BPTT windows
    assert choose_backend(rnn.LSTM(3, 1024), x(n=128, steps=35)) == "fused"  # L * N * H
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert choose_backend(lstm, x()) == "torch"  # 1.6M < 2 * 2^20
        assert choose_backend(rnn.LSTM(3, 512), x()) == "fused"
        assert choose_backend(lstm, x(n=16)) == "torch"
        assert choose_backend(lstm, x(n=32, steps=200)) == "torch"  # 1.6M < 2 * 2^20
        assert choose_backend(gru, x()) == "fused"
        assert choose_backend(rnn_.train(), x()) == "torch"
        assert choose_backend(rnn_, x(n=1)) == "fused"
        assert choose_backend(lstm, x(), lengths) == "fused"
        with torch.no_grad():
            assert choose_backend(rnn_, x(n=1)) == "fused"  # kept float32: faster
            assert choose_backend(lstm, x(n=1)) == "torch"
    with torch.no_grad():
        assert choose_backend(lstm, x(), lengths) == "torch"
        assert choose_backend(lstm, x()) == "torch"
        assert choose_backend(gru, x()) == "fused"
        assert choose_backend(gru, x(n=2)) == "torch"
        assert choose_backend(rnn_, x()) == "fused"  # vectorised kernels: 0.77-0.82x torch
        assert choose_backend(rnn_, x(n=8)) == "torch"
    assert choose_backend(lstm.eval(), x()) == "torch"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("option", ["plain", "layer_norm", "recurrent_dropout", "projection"])
def test_fused_inference_matches_loop(mode, option):
    """Without autograd the fused engine keeps one step of buffers instead of all of them."""
    if option == "projection" and mode != "LSTM":
        pytest.skip("proj_size is for LSTM only")
    kwargs = dict(input_size=5, hidden_size=6, num_layers=2, bidirectional=True, **OPTIONS[option])
    loop, fused = twins(mode, ["loop", "fused"], torch.float64, **kwargs)
    out_size = kwargs.get("proj_size", 6)
    states = [out_size, 6] if mode == "LSTM" else [out_size]
    x, lengths, hx = make_input(mode, torch.float64, 4, 7, 5, 2, 2, states, packed=True)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    hx = hx if mode == "LSTM" else hx[0]
    with torch.no_grad():
        results = []
        for module in (loop, fused):
            torch.manual_seed(5)
            results.append(module(packed, hx))
    (out_a, state_a), (out_b, state_b) = results
    torch.testing.assert_close(out_b.data, out_a.data, rtol=1e-10, atol=1e-10)
    for a, b in zip(
        state_a if mode == "LSTM" else (state_a,), state_b if mode == "LSTM" else (state_b,)
    ):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
