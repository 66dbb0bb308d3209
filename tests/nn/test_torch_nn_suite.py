"""PyTorch's own tests of its recurrent modules (``test/test_nn.py``, one from
``test/test_autograd.py``), run against rnnkit.nn and, as the control, against torch.nn.

Ported from pytorch/pytorch ``test/test_nn.py`` at commit 74f2fa66 (the torch 2.13 era; the
installed wheel is 2.13.0+cpu, git cf30153c), CPU only; test_variable_sequence and
test_rnn_fused from an older revision of the same file (their TestNNDeviceType form was not in
the stored copy), with the device/dtype of today's TestNNDeviceType (CPU, float64). Each test
keeps upstream's inputs, loops and assertions (``TestCase.assertEqual``/``assertNotEqual`` with
their dtype-based tolerances); the module class ``nn.X`` is replaced by ``impl.X`` where
``impl`` is ``torch.nn`` (the control) or ``rnnkit.nn``.

Ported (32 upstream tests, each run against both):

- TestNN: test_RNN_cell, test_RNN_cell_forward_zero_hidden_size, test_RNN_cell_no_broadcasting,
  test_LSTM_cell, test_LSTM_cell_forward_input_size, test_LSTM_cell_forward_hidden_size,
  test_rnn_args_check, test_projections_lstm_args_check, test_rnn_initial_hidden_state,
  test_projections_lstm_initial_hidden_state, test_projections_errors_on_gru_and_rnn,
  test_cudnn_forward_exception (it runs on the CPU upstream too), test_RNN_input_size_zero,
  test_rnn_weight_norm, test_RNN_nonlinearity, test_RNN_nonlinearity_passed_as_arg;
- TestNN, CUDA/cuDNN-gated upstream, adapted to the CPU (the ``cuda=False`` half of their loops,
  or the module under test in the role of the CUDA one against torch.nn on the CPU, weights
  copied through ``all_weights`` as upstream copies them): test_RNN_cpu_vs_cudnn_no_dropout,
  test_RNN_cpu_vs_cudnn_with_dropout, test_RNN_cudnn_weight_norm, test_RNN_dropout,
  test_RNN_dropout_state, test_RNN_change_dropout, test_error_RNN_seq_len_zero, test_rnn_fused;
- TestNNDeviceType (CPU): test_save_lstm_compatibility, test_rnn_retain_variables,
  test_variable_sequence, test_LSTM_grad_and_gradgrad, test_GRU_grad_and_gradgrad,
  test_LSTM_differentiable_backward_using_oneDNN, and the CUDA-gated
  test_lstmcell_backward_only_one_output_grad on the CPU;
- test_autograd.py: the CUDA-gated test_rnn_backward_to_input_but_not_parameters on the CPU.

One deliberate change: in the cpu-vs-cudnn tests upstream returns the input's ``.grad`` tensor
itself, which for packed input is the same tensor in both runs (it accumulates), so the
comparison of ``grad_input`` there cannot fail; here it is cloned and reset between the runs.

Left out: test_rnn_check_device and test_projections_lstm_check_device (two GPUs),
test_cudnn_rnn_dropout_states_device, test_cudnn_weight_format, test_cudnn_weight_tying,
test_partial_flat_weights and test_pack_sequence_batch_sizes_throw (CUDA tensors or cuDNN's flat
weight buffer). Not searched: the packing utilities' own tests (test/nn/test_packed_sequence.py)
and any recurrent-module test outside test_nn.py's TestNN/TestNNDeviceType.

Run: ``.venv/bin/pytest tests/nn/test_torch_nn_suite.py -q`` (the two cpu-vs-cudnn tests, 258
forward/backward pairs each, are marked slow).
"""

from __future__ import annotations

import io
import re
import warnings
from copy import deepcopy
from functools import partial
from itertools import product

import pytest
import torch
import torch.nn.utils.rnn as rnn_utils

import rnnkit.nn

pytest.importorskip("expecttest")  # torch.testing._internal imports it

from torch.testing._internal import common_utils  # noqa: E402

# common_utils freezes torch.backends' flags on import; unfreeze them for the rest of the session.
torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True

IMPLS = {"torch": torch.nn, "rnnkit": rnnkit.nn}


class _Checks(common_utils.TestCase):
    """PyTorch's TestCase assertions (assertEqual with dtype-based tolerances, assertNotEqual)."""

    __test__ = False  # a helper, not a test case for pytest to collect

    def runTest(self) -> None:  # unittest needs a method to bind the instance to
        pass


check = _Checks()


def impls(**marks):
    """Parametrize ``nn`` over torch.nn (the control) and rnnkit.nn, with per-impl marks."""
    params = [
        pytest.param(module, id=name, marks=marks.get(name, ())) for name, module in IMPLS.items()
    ]
    return pytest.mark.parametrize("nn", params)


# -- cells ----------------------------------------------------------------------------------


@impls()
def test_RNN_cell(nn):
    for module in (nn.RNNCell, nn.GRUCell):
        for bias in (True, False):
            input = torch.randn(3, 10)
            hx = torch.randn(3, 20)
            cell = module(10, 20, bias=bias)
            for _ in range(6):
                hx = cell(input, hx)
            hx.sum().backward()


@impls()
def test_RNN_cell_forward_zero_hidden_size(nn):
    input = torch.randn(3, 10)
    hx = torch.randn(3, 0)
    cell_shared_param = (10, 0)
    for cell in (
        nn.RNNCell(*cell_shared_param, nonlinearity="relu"),
        nn.RNNCell(*cell_shared_param, nonlinearity="tanh"),
        nn.GRUCell(*cell_shared_param),
    ):
        check.assertEqual(cell(input, hx).shape, torch.Size([3, 0]))


@impls()
def test_RNN_cell_no_broadcasting(nn):
    def test(cell_module, input, hx, input_size, hidden_size):
        cell = cell_module(input_size, hidden_size)
        check.assertRaises(RuntimeError, lambda: cell(input, hx))

    def test_all(hidden_size, bad_hx, good_hx, input_size, input):
        test(nn.RNNCell, input, bad_hx, input_size, hidden_size)
        test(nn.GRUCell, input, bad_hx, input_size, hidden_size)
        test(nn.LSTMCell, input, (bad_hx, good_hx), input_size, hidden_size)
        test(nn.LSTMCell, input, (good_hx, bad_hx), input_size, hidden_size)

    hidden_size = 20
    input_size = 10
    input = torch.randn(3, input_size)
    bad_hx = torch.randn(1, hidden_size)
    good_hx = torch.randn(3, hidden_size)
    test_all(hidden_size, bad_hx, good_hx, input_size, input)  # batch sizes
    bad_hx = torch.randn(3, 1)
    test_all(hidden_size, bad_hx, good_hx, input_size, input)  # hx's hidden_size
    bad_input = torch.randn(3, 1)
    test_all(hidden_size, good_hx, good_hx, input_size, bad_input)  # input's input_size


@impls()
def test_LSTM_cell(nn):
    for bias in (True, False):
        input = torch.randn(3, 10)
        hx = torch.randn(3, 20)
        cx = torch.randn(3, 20)
        lstm = nn.LSTMCell(10, 20, bias=bias)
        for _ in range(6):
            hx, cx = lstm(input, (hx, cx))
        (hx + cx).sum().backward()


@impls()
def test_LSTM_cell_forward_input_size(nn):
    input = torch.randn(3, 11)
    hx = torch.randn(3, 20)
    cx = torch.randn(3, 20)
    lstm = nn.LSTMCell(10, 20)
    check.assertRaises(Exception, lambda: lstm(input, (hx, cx)))  # noqa: B017 (as upstream)


@impls()
def test_LSTM_cell_forward_hidden_size(nn):
    input = torch.randn(3, 10)
    hx = torch.randn(3, 21)
    cx = torch.randn(3, 20)
    lstm = nn.LSTMCell(10, 20)
    check.assertRaises(Exception, lambda: lstm(input, (hx, cx)))  # noqa: B017 (as upstream)
    check.assertRaises(Exception, lambda: lstm(input, (cx, hx)))  # noqa: B017 (as upstream)


# -- argument and shape checks --------------------------------------------------------------


def _update_shape(shape, dim, new_dim_size):
    new_shape = list(shape)
    new_shape[dim] = new_dim_size
    return tuple(new_shape)


@impls()
def test_rnn_args_check(nn):
    input_size = 3
    hidden_size = 5
    num_layers = 2
    batch_size = 4
    seq_len = 6
    num_directions = 1
    bad_size = 7  # prime number so that no size can divide it.

    correct_input_shape = (seq_len, batch_size, input_size)
    correct_hidden_shape = (num_layers * num_directions, batch_size, hidden_size)

    def get_inputs(input_shape, hidden_shape, mode):
        input = torch.randn(input_shape)
        hidden = torch.randn(hidden_shape)
        if mode != "LSTM":
            return [(input, hidden)]
        if hidden_shape == correct_hidden_shape:
            return [(input, (hidden, hidden))]
        good_hidden = torch.randn(correct_hidden_shape)
        return [(input, (hidden, good_hidden)), (input, (good_hidden, hidden))]

    def test(input_shape, hidden_shape, mode):
        for input, hidden in get_inputs(input_shape, hidden_shape, mode):
            model = getattr(nn, mode)(input_size, hidden_size, num_layers)
            check.assertRaises(RuntimeError, lambda: model(input, hidden))  # noqa: B023

    for mode in ("RNN", "GRU", "LSTM"):
        test(_update_shape(correct_input_shape, 1, bad_size), correct_hidden_shape, mode)
        test(correct_input_shape, _update_shape(correct_hidden_shape, 1, bad_size), mode)
        test(_update_shape(correct_input_shape, 2, bad_size), correct_hidden_shape, mode)
        test(correct_input_shape, _update_shape(correct_hidden_shape, 2, bad_size), mode)
        test(correct_input_shape, _update_shape(correct_hidden_shape, 0, bad_size), mode)


@impls()
def test_projections_lstm_args_check(nn):
    input_size = 3
    hidden_size = 5
    proj_size = 2
    num_layers = 2
    batch_size = 4
    seq_len = 6
    num_directions = 1
    bad_size = 7

    def test(input_shape, hidden_h_shape, hidden_c_shape):
        input = torch.randn(input_shape)
        hidden = (torch.randn(hidden_h_shape), torch.randn(hidden_c_shape))
        model = nn.LSTM(input_size, hidden_size, num_layers, proj_size=proj_size)
        check.assertRaises(RuntimeError, lambda: model(input, hidden))

    correct_input_shape = (seq_len, batch_size, input_size)
    correct_h = (num_layers * num_directions, batch_size, proj_size)
    correct_c = (num_layers * num_directions, batch_size, hidden_size)

    test(_update_shape(correct_input_shape, 1, bad_size), correct_h, correct_c)
    test(
        correct_input_shape,
        _update_shape(correct_h, 1, bad_size),
        _update_shape(correct_c, 1, bad_size),
    )
    test(_update_shape(correct_input_shape, 2, bad_size), correct_h, correct_c)
    test(
        correct_input_shape,
        _update_shape(correct_h, 2, bad_size),
        _update_shape(correct_c, 2, bad_size),
    )
    test(
        correct_input_shape,
        _update_shape(correct_h, 0, bad_size),
        _update_shape(correct_c, 0, bad_size),
    )
    test(correct_input_shape, _update_shape(correct_h, 0, hidden_size), correct_c)
    test(correct_input_shape, _update_shape(correct_h, 0, bad_size), correct_c)
    test(correct_input_shape, correct_h, _update_shape(correct_c, 0, bad_size))


@impls()
def test_rnn_initial_hidden_state(nn):
    for mode in ("RNN", "GRU", "LSTM"):
        rnn = getattr(nn, mode)(30, 20, 2)
        input = torch.randn(10, 32, 30)
        hidden = torch.zeros(2, 32, 20)
        if mode == "LSTM":
            hidden = (hidden, hidden)
        output1, hidden1 = rnn(input, hidden)
        output2, hidden2 = rnn(input)
        check.assertEqual(output1, output2)
        check.assertEqual(hidden1, hidden2)


@impls()
def test_projections_lstm_initial_hidden_state(nn):
    for bidir in (False, True):
        rnn = nn.LSTM(30, 20, 2, bidirectional=bidir, proj_size=10)
        num_dirs = 2 if bidir else 1
        input = torch.randn(10, 32, 30)
        hidden_h = torch.zeros(2 * num_dirs, 32, 10)
        hidden_c = torch.zeros(2 * num_dirs, 32, 20)
        output1, hidden1 = rnn(input, (hidden_h, hidden_c))
        output2, hidden2 = rnn(input)
        check.assertEqual(output1, output2)
        check.assertEqual(hidden1, hidden2)


@impls()
def test_projections_errors_on_gru_and_rnn(nn):
    error_msg = "proj_size argument is only supported for LSTM, not RNN or GRU"
    for mode in ("RNN", "GRU"):
        with check.assertRaisesRegex(ValueError, error_msg):
            getattr(nn, mode)(30, 20, 2, proj_size=10)


@impls()
def test_cudnn_forward_exception(nn):
    rnns = [
        (nn.LSTM(10, 20, batch_first=True), (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19))),
        (
            nn.LSTM(10, 20, batch_first=True, proj_size=10),
            (torch.zeros(1, 2, 19), torch.zeros(1, 2, 19)),
        ),
        (nn.GRU(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
        (nn.RNN(10, 20, batch_first=True), torch.zeros(1, 2, 19)),
    ]
    x_wrong = torch.randn(2, 3, 3)
    x_right = torch.randn(2, 3, 10)
    for rnn, hidden in rnns:
        check.assertRaisesRegex(RuntimeError, "Expected hidden.*size.*got", rnn, x_right, hidden)
        check.assertRaisesRegex(
            RuntimeError, re.escape("input.size(-1) must be equal to input_size"), rnn, x_wrong
        )


@impls()
def test_error_RNN_seq_len_zero(nn):
    with common_utils.set_default_dtype(torch.double):
        for module in (nn.RNN, nn.LSTM, nn.GRU):
            for bidirectional in (True, False):
                input = torch.ones(0, 10, 5)
                rnn = module(5, 6, bidirectional=bidirectional)
                with check.assertRaisesRegex(
                    RuntimeError, "Expected sequence length to be larger than 0 in RNN"
                ):
                    rnn(input)


@impls()
def test_RNN_input_size_zero(nn):
    for module in (nn.RNN, nn.LSTM, nn.GRU):
        input = torch.zeros((5, 0, 3))
        rnn = module(input_size=3, hidden_size=4)
        outs = rnn(input)
        check.assertEqual(outs[0].shape, torch.Size([5, 0, 4]))
        outs[0].sum().backward()  # no hard error in backward


@impls()
def test_RNN_nonlinearity(nn):
    rnn = nn.RNN(1, 10)
    check.assertEqual(rnn.nonlinearity, "tanh")
    rnn = nn.RNN(1, 10, nonlinearity="relu")
    check.assertEqual(rnn.nonlinearity, "relu")
    with check.assertRaisesRegex(ValueError, "Unknown nonlinearity"):
        nn.RNN(1, 10, nonlinearity="garbage")


@impls()
def test_RNN_nonlinearity_passed_as_arg(nn):
    rnn = nn.RNN(2, 3, 1, "relu")
    check.assertEqual(rnn.nonlinearity, "relu")


# -- weight norm ----------------------------------------------------------------------------


@impls()
@pytest.mark.filterwarnings("ignore:.*weight_norm.* is deprecated:FutureWarning")
def test_rnn_weight_norm(nn):
    def check_weight_norm(layer, name, num_params):
        layer = torch.nn.utils.weight_norm(layer, name=name)
        check.assertEqual(
            sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights), num_params - 1
        )
        layer = torch.nn.utils.remove_weight_norm(layer, name=name)
        check.assertEqual(
            sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights), num_params
        )
        check.assertTrue(name in layer._parameters)
        check.assertIsNotNone(layer._parameters[name])
        check.assertTrue(name + "_v" not in layer._parameters)
        check.assertTrue(name + "_g" not in layer._parameters)
        check.assertTrue(name in dict(layer.named_parameters()))
        check.assertIsNotNone(dict(layer.named_parameters())[name])
        check.assertTrue(name + "_v" not in dict(layer.named_parameters()))
        check.assertTrue(name + "_g" not in dict(layer.named_parameters()))

    check_weight_norm(nn.LSTM(32, 32), "weight_ih_l0", 4)
    check_weight_norm(nn.LSTM(32, 32, proj_size=16), "weight_hr_l0", 5)


@impls()
def test_RNN_cudnn_weight_norm(nn):
    """Upstream moves the weight-normed module to CUDA; here it stays on the CPU."""
    input_size, hidden_size, num_layers, seq_length, batch = 10, 6, 2, 7, 6

    def check_weight_norm(m, name):
        input = torch.randn(seq_length, batch, input_size)
        expected_output = m(input)
        m = torch.nn.utils.weight_norm(m, name=name)
        check.assertEqual(m(input), expected_output)
        m = torch.nn.utils.remove_weight_norm(m, name=name)
        check.assertEqual(m(input), expected_output)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # weight_norm's deprecation
        check_weight_norm(nn.LSTM(input_size, hidden_size, num_layers), "weight_hh_l0")
        check_weight_norm(nn.LSTM(input_size, hidden_size, num_layers, proj_size=3), "weight_hr_l0")


# -- dropout --------------------------------------------------------------------------------


@impls()
def test_RNN_dropout(nn):
    """cuDNN's placement of dropout between layers, on the CPU (upstream's cuda=False half)."""
    with common_utils.set_default_dtype(torch.double):
        for p in (0, 0.276, 0.731, 1):
            for train in (True, False):
                rnn = nn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu")
                rnn.train(train)
                rnn.weight_ih_l0.data.fill_(1)
                rnn.weight_hh_l0.data.fill_(1)
                rnn.weight_ih_l1.data.fill_(1)
                rnn.weight_hh_l1.data.fill_(1)
                input = torch.ones(1, 1, 10)
                hx = torch.zeros(2, 1, 1000)
                output, hy = rnn(input, hx)
                check.assertEqual(output.data.min(), output.data.max())
                output_val = output.data[0][0][0]
                if p == 0 or not train:
                    check.assertEqual(output_val, 10000)
                elif p == 1:
                    check.assertEqual(output_val, 0)
                else:
                    check.assertGreater(output_val, 8000)
                    check.assertLess(output_val, 12000)
                    denorm_mod = (output_val * (1 - p)) % 10
                    check.assertLess(min(denorm_mod, 10 - denorm_mod), 1e-2)
                check.assertEqual(hy[0].data.min(), hy[0].data.max())
                check.assertEqual(hy[1].data.min(), hy[1].data.max())
                check.assertEqual(hy.data[0][0][0], 10)
                check.assertEqual(hy.data[1][0][0], output_val)


@impls()
def test_RNN_dropout_state(nn):
    for p in (0, 0.1234):
        for train in (True, False):
            rnn = nn.RNN(100, 100, 2, bias=False, dropout=p, nonlinearity="relu")
            rnn.train(train)
            input = torch.rand(1, 1, 100)
            hx = torch.rand(2, 1, 100)
            output1, hy1 = rnn(input, hx)
            output2, hy2 = rnn(input, hx)
            buf = io.BytesIO()
            torch.save(rnn, buf)
            buf.seek(0)
            rnn2 = torch.load(buf, weights_only=False)  # the module pickled just above
            rnn2.flatten_parameters()
            output3, hy3 = rnn2(input, hx)
            if p == 0 or not train:
                check.assertEqual(output1, output2)
                check.assertEqual(output1, output3)
                check.assertEqual(hy1, hy2)
                check.assertEqual(hy1, hy3)
            else:
                check.assertNotEqual(output1, output2)
                check.assertNotEqual(output1, output3)
                check.assertNotEqual(hy1, hy2)
                check.assertNotEqual(hy1, hy3)


@impls()
def test_RNN_change_dropout(nn):
    with common_utils.set_default_dtype(torch.double):
        for train in (True, False):
            rnn = nn.RNN(100, 100, 2, dropout=0, nonlinearity="relu")
            input = torch.rand(3, 2, 100)
            rnn.train(train)
            prev_output = None
            for p in (0, 0.5, 0, 0.7, 0.2, 1, 0.2, 0):
                rnn.dropout = p
                output1, hy1 = rnn(input)
                output2, hy2 = rnn(input)
                if p == 0 or p == 1 or not train:
                    check.assertEqual(output1, output2)
                    check.assertEqual(hy1, hy2)
                else:
                    check.assertNotEqual(output1, output2)
                    check.assertNotEqual(hy1, hy2)
                if prev_output is not None:
                    if not train:
                        check.assertEqual(output1.data, prev_output)
                        check.assertEqual(output2.data, prev_output)
                    else:
                        check.assertNotEqual(output1.data, prev_output)
                        check.assertNotEqual(output2.data, prev_output)
                prev_output = output1.data


# -- against torch.nn (upstream: CPU against cuDNN) -----------------------------------------


def _forward_backward(
    rnn, input_val, grad_output, weights_val, hx_val, grad_hy, cx_val=None, grad_cy=None
):
    """Upstream's forward_backward of _test_RNN_cpu_vs_cudnn, without the move to CUDA."""
    is_lstm = rnn.mode == "LSTM"
    for x_layer, y_layer in zip(rnn.all_weights, weights_val):
        for x, y in zip(x_layer, y_layer):
            x.data.copy_(y.data)
    if isinstance(input_val, rnn_utils.PackedSequence):
        input = rnn_utils.PackedSequence(
            input_val.data.data.requires_grad_(True), input_val.batch_sizes
        )
        input_var = input.data
    else:
        input = input_val.clone().requires_grad_(True)
        input_var = input
    if is_lstm:
        if cx_val is None:
            hx = (hx_val.clone().requires_grad_(True), hx_val.add(1).requires_grad_(True))
        else:
            hx = (hx_val.clone().requires_grad_(True), cx_val.add(1).requires_grad_(True))
    else:
        hx = hx_val.clone().requires_grad_(True)

    output, hy = rnn(input, hx)
    if isinstance(output, rnn_utils.PackedSequence):
        output = output.data
    if is_lstm:
        last = grad_hy + 1 if grad_cy is None else grad_cy + 1
        torch.autograd.backward([output, hy[0], hy[1]], [grad_output, grad_hy, last])
    else:
        torch.autograd.backward([output, hy], [grad_output, grad_hy])
    result = {
        "output": output.data,
        "hy": hy[0].data if is_lstm else hy.data,
        "weights": rnn.all_weights,
        "grad_input": input_var.grad.data.clone(),  # cloned: see the module docstring
        "grad_hx": hx[0].grad.data if is_lstm else hx.grad.data,
        "cy": hy[1].data if is_lstm else None,
        "grad_cx": hx[1].grad.data if is_lstm else None,
    }
    input_var.grad = None
    return result


def _compare(outputs_ref, outputs_test):
    check.assertEqual(list(outputs_ref.keys()), list(outputs_test.keys()))
    for key in outputs_ref.keys():
        if key != "weights":
            check.assertEqual(outputs_ref[key], outputs_test[key], atol=5e-5, rtol=0, msg=key)
    for ref_layer, test_layer in zip(outputs_ref["weights"], outputs_test["weights"]):
        for ref_weight, test_weight in zip(ref_layer, test_layer):
            check.assertEqual(ref_weight.grad.data, test_weight.grad.data, atol=5e-5, rtol=0)


def _make_noncontig(tensor):
    ndim = tensor.dim()
    return torch.stack([tensor.clone().zero_(), tensor], ndim).select(ndim, 1)


def _test_RNN_against_torch(nn, dropout, dtype=torch.double):
    """Upstream's _test_RNN_cpu_vs_cudnn with torch.nn (CPU) as the reference and the module
    under test in the role of the cuDNN module."""
    input_size, hidden_size, proj_size, num_layers, seq_length, batch = 10, 6, 3, 2, 7, 6

    for name in ("RNN", "LSTM", "GRU"):
        for bias, bidirectional, batch_first, contig, variable_len, lens_as_tensor in product(
            (True, False), repeat=6
        ):
            num_directions = 2 if bidirectional else 1
            if batch_first:
                input_val = torch.randn(batch, seq_length, input_size, dtype=dtype)
                grad_output = torch.randn(
                    batch, seq_length, hidden_size * num_directions, dtype=dtype
                )
            else:
                input_val = torch.randn(seq_length, batch, input_size, dtype=dtype)
                grad_output = torch.randn(
                    seq_length, batch, hidden_size * num_directions, dtype=dtype
                )
            hx_val = torch.randn(num_layers * num_directions, batch, hidden_size, dtype=dtype)
            grad_hy = torch.randn(num_layers * num_directions, batch, hidden_size, dtype=dtype)
            if not contig:
                grad_output = _make_noncontig(grad_output)
                grad_hy = _make_noncontig(grad_hy)
                _make_noncontig(input_val)  # upstream assigns it to an unused name
                hx_val = _make_noncontig(hx_val)
            if variable_len:
                lengths = [7, 5, 5, 2, 1, 1]
                if lens_as_tensor:
                    lengths = torch.tensor(lengths, dtype=torch.long)
                input_val = rnn_utils.pack_padded_sequence(
                    input_val, lengths, batch_first=batch_first
                )
                grad_output = rnn_utils.pack_padded_sequence(
                    grad_output, lengths, batch_first=batch_first
                ).data
            options = dict(
                bias=bias, dropout=dropout, bidirectional=bidirectional, batch_first=batch_first
            )
            rnn = getattr(torch.nn, name)(input_size, hidden_size, num_layers, **options)
            rnn = rnn.to(dtype)
            outputs_ref = _forward_backward(
                rnn, input_val, grad_output, rnn.all_weights, hx_val, grad_hy
            )
            rnn_test = getattr(nn, name)(input_size, hidden_size, num_layers, **options)
            rnn_test = rnn_test.to(dtype)
            outputs_test = _forward_backward(
                rnn_test, input_val, grad_output, rnn.all_weights, hx_val, grad_hy
            )
            _compare(outputs_ref, outputs_test)

    # bias and num_directions as the loop above left them (upstream reuses them)
    for nonlinearity in ("tanh", "relu"):
        hx_val = torch.randn(num_layers, batch, hidden_size, dtype=dtype)
        input_val = torch.randn(seq_length, batch, input_size, dtype=dtype)
        grad_output = torch.randn(seq_length, batch, hidden_size * num_directions, dtype=dtype)
        grad_hy = torch.randn(num_layers * num_directions, batch, hidden_size, dtype=dtype)
        rnn = torch.nn.RNN(
            input_size, hidden_size, num_layers, bias=bias, nonlinearity=nonlinearity
        ).to(dtype)
        outputs_ref = _forward_backward(
            rnn, input_val, grad_output, rnn.all_weights, hx_val, grad_hy
        )
        rnn_test = nn.RNN(
            input_size, hidden_size, num_layers, bias=bias, nonlinearity=nonlinearity
        ).to(dtype)
        outputs_test = _forward_backward(
            rnn_test, input_val, grad_output, rnn.all_weights, hx_val, grad_hy
        )
        _compare(outputs_ref, outputs_test)

    # LSTM with projections
    for bias, bidirectional, batch_first, contig, variable_len, lens_as_tensor in product(
        (True, False), repeat=6
    ):
        num_directions = 2 if bidirectional else 1
        if batch_first:
            input_val = torch.randn(batch, seq_length, input_size, dtype=dtype)
            grad_output = torch.randn(batch, seq_length, proj_size * num_directions, dtype=dtype)
        else:
            input_val = torch.randn(seq_length, batch, input_size, dtype=dtype)
            grad_output = torch.randn(seq_length, batch, proj_size * num_directions, dtype=dtype)
        hx_val = torch.randn(num_layers * num_directions, batch, proj_size, dtype=dtype)
        cx_val = torch.randn(num_layers * num_directions, batch, hidden_size, dtype=dtype)
        grad_hy = torch.randn(num_layers * num_directions, batch, proj_size, dtype=dtype)
        grad_cy = torch.randn(num_layers * num_directions, batch, hidden_size, dtype=dtype)
        if not contig:
            grad_output = _make_noncontig(grad_output)
            grad_hy = _make_noncontig(grad_hy)
            grad_cy = _make_noncontig(grad_cy)
            _make_noncontig(input_val)  # upstream assigns it to an unused name
            hx_val = _make_noncontig(hx_val)
            cx_val = _make_noncontig(cx_val)
        if variable_len:
            lengths = [7, 5, 5, 2, 1, 1]
            if lens_as_tensor:
                lengths = torch.tensor(lengths, dtype=torch.long)
            input_val = rnn_utils.pack_padded_sequence(input_val, lengths, batch_first=batch_first)
            grad_output = rnn_utils.pack_padded_sequence(
                grad_output, lengths, batch_first=batch_first
            ).data
        options = dict(
            bias=bias,
            dropout=dropout,
            bidirectional=bidirectional,
            batch_first=batch_first,
            proj_size=proj_size,
        )
        rnn = torch.nn.LSTM(input_size, hidden_size, num_layers, **options).to(dtype)
        outputs_ref = _forward_backward(
            rnn, input_val, grad_output, rnn.all_weights, hx_val, grad_hy, cx_val, grad_cy
        )
        rnn_test = nn.LSTM(input_size, hidden_size, num_layers, **options).to(dtype)
        outputs_test = _forward_backward(
            rnn_test, input_val, grad_output, rnn.all_weights, hx_val, grad_hy, cx_val, grad_cy
        )
        _compare(outputs_ref, outputs_test)


@pytest.mark.slow
@impls()
def test_RNN_cpu_vs_cudnn_no_dropout(nn):
    _test_RNN_against_torch(nn, 0, torch.double)


@pytest.mark.slow
@impls()
def test_RNN_cpu_vs_cudnn_with_dropout(nn):
    # Because of dropout randomness, can only compare dropout=0 and dropout=1
    _test_RNN_against_torch(nn, 1)


# -- serialisation --------------------------------------------------------------------------


@impls()
def test_save_lstm_compatibility(nn):
    model = nn.LSTM(2, 3)
    x = torch.randn(32, 5, 2)
    expected = model(x)
    assert model.proj_size == 0
    state_dict = model.__dict__
    del state_dict["proj_size"]
    loaded_model = nn.LSTM(2, 3)
    loaded_model.__setstate__(state_dict)
    result = loaded_model(x)
    check.assertEqual(result, expected)


# -- test_autograd.py -----------------------------------------------------------------------


def _test_rnn_mod(mod, inp):
    def flatten_out(mod, inp):
        out = mod(inp)
        return tuple(t if isinstance(t, torch.Tensor) else tt for t in out for tt in t)

    gradcheckfunc = partial(flatten_out, mod)
    common_utils.gradcheck(gradcheckfunc, inp, check_batched_grad=False)
    common_utils.gradgradcheck(gradcheckfunc, inp, check_batched_grad=False)


@impls()
def test_LSTM_grad_and_gradgrad(nn):
    hsize = 4
    inp = torch.rand(1, 3, hsize, dtype=torch.float64, requires_grad=True)
    for bias in (True, False):
        mod = nn.LSTM(hsize, hsize, bias=bias).to(torch.float64)
        _test_rnn_mod(mod, inp)


@impls()
def test_GRU_grad_and_gradgrad(nn):
    hsize = 4
    inp = torch.rand(1, 3, hsize, dtype=torch.float64, requires_grad=True)
    for bias in (True, False):
        mod = nn.GRU(hsize, hsize, bias=bias).to(torch.float64)
        _test_rnn_mod(mod, inp)


@impls()
def test_lstmcell_backward_only_one_output_grad(nn):
    """Undefined gradients must not hamper the backward (upstream: CUDA only, #11872)."""
    cell = nn.LSTMCell(2, 3).double()
    s = torch.randn(1, 2, dtype=torch.double, requires_grad=True)
    for i in range(2):
        out = cell(s)[i]
        out.sum().backward()
        check.assertFalse(s.grad is None or s.grad.abs().sum().item() == 0)


@impls()
def test_rnn_backward_to_input_but_not_parameters(nn):
    """Inputs that require grad, weights that do not (upstream: CUDA only, #7722)."""
    layer = nn.LSTM(2, 3)
    for p in layer.parameters():
        p.requires_grad = False
    s = torch.randn(1, 1, 2, requires_grad=True)
    out, _ = layer(s)
    out.sum().backward()
    check.assertFalse(s.grad is None or s.grad.abs().sum().item() == 0)


# -- TestNNDeviceType (CPU) -----------------------------------------------------------------


@impls()
def test_rnn_retain_variables(nn):
    dtype = torch.double  # upstream's CPU dtype
    rnns = [
        nn.LSTM(10, 20, num_layers=2).to(dtype=dtype),
        nn.GRU(10, 20, num_layers=2).to(dtype=dtype),
        nn.RNN(10, 20, num_layers=2).to(dtype=dtype),
    ]
    for rnn in rnns:
        input = torch.randn(5, 6, 10, dtype=dtype, requires_grad=True)
        output = rnn(input)
        output[0].sum().backward(retain_graph=True)
        grads = [input.grad.data.clone()] + [p.grad.data.clone() for p in rnn.parameters()]
        for _ in range(4):
            rnn.zero_grad()
            input.grad.data.zero_()
            output[0].sum().backward(retain_graph=True)
            grads2 = [input.grad.data] + [p.grad.data for p in rnn.parameters()]
            check.assertEqual(grads, grads2)


@impls()
def test_variable_sequence(nn):
    """Packed sequences against each sequence run alone (upstream ``_test_variable_sequence``,
    CPU, float64)."""
    dtype = torch.double

    def pad(var, length):
        if var.size(0) == length:
            return var
        return torch.cat([var, var.new_zeros(length - var.size(0), *var.size()[1:])])

    lengths = [10, 10, 6, 2, 2, 1, 1]
    max_length = lengths[0]
    x_leaf = torch.randn(max_length, len(lengths), 3, dtype=dtype, requires_grad=True)
    lstm = nn.LSTM(3, 4, bidirectional=True, num_layers=2).to(dtype=dtype)
    lstm2 = deepcopy(lstm)
    x = x_leaf

    seq_outs = []
    seq_hiddens = []
    for i, length in enumerate(lengths):
        out, hid = lstm2(x[:length, i : i + 1])
        seq_outs.append(pad(out, max_length))
        seq_hiddens.append(hid)
    seq_out = torch.cat(seq_outs, 1)
    seq_hidden = tuple(torch.cat(hids, 1) for hids in zip(*seq_hiddens))

    packed = rnn_utils.pack_padded_sequence(x, lengths)
    packed_out, packed_hidden = lstm(packed)
    unpacked, unpacked_len = rnn_utils.pad_packed_sequence(packed_out)

    check.assertEqual(packed_hidden, seq_hidden)
    check.assertEqual(unpacked, seq_out)
    check.assertEqual(unpacked_len, lengths)

    seq_out.sum().backward()
    grad_x = x_leaf.grad.data.clone()
    x_leaf.grad.data.zero_()
    unpacked.sum().backward()
    check.assertEqual(x_leaf.grad.data, grad_x)
    for p1, p2 in zip(lstm.parameters(), lstm2.parameters()):
        check.assertEqual(p1.grad, p2.grad)


@impls()
def test_rnn_fused(nn):
    """Upstream compares CUDA's fused kernels (cuDNN off) with the CPU; here torch.nn on the CPU
    is the reference and the module under test takes the CUDA module's place."""

    def copy_rnn(rnn1, rnn2):
        for x_layer, y_layer in zip(rnn1.all_weights, rnn2.all_weights):
            for x, y in zip(x_layer, y_layer):
                x.data.copy_(y.data)

    def check_rnn_grads(rnn1, rnn2):
        for x_layer, y_layer in zip(rnn1.all_weights, rnn2.all_weights):
            for x, y in zip(x_layer, y_layer):
                check.assertEqual(x.grad, y.grad, atol=5e-5, rtol=0)

    input_size, hidden_size, num_layers, seq_length, batch = 10, 6, 2, 7, 6
    input_val = torch.randn(seq_length, batch, input_size)
    grad_output = torch.randn(seq_length, batch, hidden_size)
    hx_val = torch.randn(num_layers, batch, hidden_size)
    grad_hy = torch.randn(num_layers, batch, hidden_size)
    for name in ("GRU", "LSTM"):
        for bias in (True, False):
            rnn = getattr(torch.nn, name)(input_size, hidden_size, num_layers, bias=bias)
            rnn_test = getattr(nn, name)(input_size, hidden_size, num_layers, bias=bias)
            copy_rnn(rnn_test, rnn)
            is_lstm = name == "LSTM"
            if is_lstm:
                hx = (hx_val.clone().requires_grad_(), hx_val.clone().add(1).requires_grad_())
                hx_test = (
                    hx_val.clone().requires_grad_(),
                    hx_val.clone().add(1).requires_grad_(),
                )
            else:
                hx = hx_val.clone().requires_grad_()
                hx_test = hx_val.clone().requires_grad_()
            inp = input_val.clone().requires_grad_()
            inp_test = input_val.clone().requires_grad_()
            output1, hy1 = rnn(inp, hx)
            output2, hy2 = rnn_test(inp_test, hx_test)
            if is_lstm:
                torch.autograd.backward(
                    [output1, hy1[0], hy1[1]], [grad_output, grad_hy, grad_hy + 1]
                )
                torch.autograd.backward(
                    [output2, hy2[0], hy2[1]], [grad_output, grad_hy, grad_hy + 1]
                )
            else:
                torch.autograd.backward([output1, hy1], [grad_output, grad_hy])
                torch.autograd.backward([output2, hy2], [grad_output, grad_hy])
            check.assertEqual(output1, output2)
            check.assertEqual(hy1, hy2)
            check_rnn_grads(rnn, rnn_test)
            check.assertEqual(inp.grad.data, inp_test.grad.data)
            if is_lstm:
                check.assertEqual(hx[0].grad.data, hx_test[0].grad.data)
                check.assertEqual(hx[1].grad.data, hx_test[1].grad.data)
            else:
                check.assertEqual(hx.grad.data, hx_test.grad.data)


@impls()
def test_LSTM_differentiable_backward_using_oneDNN(nn):
    """Double backward with oneDNN off and on gives the same result (upstream parametrizes a
    dtype it does not use; the input is float32 either way)."""
    batch, seq_len, input = 10, 12, 3
    net = nn.LSTM(input, 3, 20, batch_first=True)
    net_clone = deepcopy(net)  # noqa: F841 (as upstream: made, not used)
    x = torch.rand(batch, seq_len, input)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    enabled = torch._C._get_mkldnn_enabled()
    try:
        torch._C._set_mkldnn_enabled(False)
        out1, _ = net(x1)
        der_out1 = torch.autograd.grad(
            out1, x1, grad_outputs=torch.ones_like(out1), retain_graph=True, create_graph=True
        )[0]
        der_out1.sum().backward(retain_graph=True)
        torch._C._set_mkldnn_enabled(True)
        out2, _ = net(x2)
        der_out2 = torch.autograd.grad(
            out2, x2, grad_outputs=torch.ones_like(out2), retain_graph=True, create_graph=True
        )[0]
        der_out2.sum().backward(retain_graph=True)
    finally:
        torch._C._set_mkldnn_enabled(enabled)
    assert torch.allclose(der_out1, der_out2)
    assert torch.allclose(x1.grad, x2.grad)
