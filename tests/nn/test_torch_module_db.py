"""PyTorch's generic module tests for its six recurrent classes, run against rnnkit.nn.

The checks of PyTorch's ``test/test_modules.py`` (``TestModule``, read at pytorch/pytorch commit
33263640 plus the newer ``test_save_load``/``test_to``/``test_to_empty``), driven by torch's own
``module_db`` entries (``torch.testing._internal.common_modules`` of the installed torch) for
``nn.RNN``, ``nn.LSTM``, ``nn.GRU``, ``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell``: the same
sample inputs, reference functions, error inputs, dtypes, train/eval flags and assertions
(``TestCase.assertEqual`` with ``TestModule``'s precision), with the module class replaced by
rnnkit.nn's. Every check also runs against torch.nn itself (``impl="torch"``), the control.

Ported (CPU): test_forward, test_factory_kwargs, test_repr, test_pickle and test_save_load
(whole module and state_dict, ``weights_only=True``), test_non_contiguous_tensors, test_grad and
test_gradgrad (float64, total and per-parameter derivatives, gradcheck's ``fast_mode`` and
``check_batched_grad`` as upstream), test_memory_format, test_if_train_and_eval_modes_differ,
test_device_ctx_init, test_errors, test_to (swap x set_grad) and test_to_empty (swap).
Left out: test_multiple_device_transfer and test_cpu_gpu_parity (CUDA only), test_check_inplace
(only for modules with an ``inplace`` argument; none of these six).

By default the checks that run backward passes (non-contiguous inputs, gradients, memory
format, save/load) take every 7th of the layers' 16 to 32 samples and test_grad/test_gradgrad
check the total derivative only; ``RNNKIT_TORCH_TESTS_FULL=1`` runs upstream's full matrix
(every sample, every per-parameter partial derivative: many minutes on two cores).
test_gradgrad of the three layers is marked slow.

Run: ``.venv/bin/pytest tests/nn/test_torch_module_db.py -q``.
"""

from __future__ import annotations

import copy
import os
import tempfile
from inspect import isgenerator
from itertools import chain, product
from operator import methodcaller
from unittest.mock import patch

import pytest
import torch
import torch.utils._pytree as pytree

import rnnkit.nn

pytest.importorskip("expecttest")  # torch.testing._internal imports it

from torch._subclasses.meta_utils import assert_metadata_eq  # noqa: E402
from torch.testing._internal import common_modules, common_utils  # noqa: E402

# common_utils freezes torch.backends' flags on import (for PyTorch's own test runs); unfreeze
# them so the rest of rnnkit's test session may set flags as it pleases.
torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True

CLASSES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
IMPLS = {"torch": torch.nn, "rnnkit": rnnkit.nn}
MODULE_INFOS = {
    info.module_cls.__name__: info
    for info in common_modules.module_db
    if info.module_cls in tuple(getattr(torch.nn, name) for name in CLASSES)
}
DEVICE = "cpu"
# The layers' module_db entries hold 16 to 32 two-layer samples (every combination of bias,
# batch_first, bidirectional, nonlinearity/proj_size, with and without an initial state). The
# checks that run backward passes take every 7th of them (a stride prime to the combinations'
# periods, so the subset still mixes every option) unless RNNKIT_TORCH_TESTS_FULL=1, which also
# turns on the per-parameter partial derivatives of test_grad/test_gradgrad: upstream's full
# matrix, several minutes on two cores.
FULL = os.environ.get("RNNKIT_TORCH_TESTS_FULL") == "1"
HEAVY_STRIDE = 7


class _Checks(common_utils.TestCase):
    """TestModule's assertions (its precision and rel_tol) for use outside unittest."""

    precision = 1e-5
    rel_tol = 1e-5

    __test__ = False  # a helper, not a test case for pytest to collect

    def runTest(self) -> None:  # unittest needs a method to bind the instance to
        pass


check = _Checks()


def _cases(dtypes=None, train_only: bool = False, slow: tuple[str, ...] = ()):
    """(impl, class, dtype, training) as PyTorch's ``@modules`` decorator lists them: both modes
    where the entry says train and eval differ, training only otherwise."""
    params = []
    for name in CLASSES:
        info = MODULE_INFOS[name]
        flags = [True] if train_only or not info.train_and_eval_differ else [True, False]
        for impl, dtype, training in product(IMPLS, info.dtypes, flags):
            if dtypes is not None and dtype not in dtypes:
                continue
            mode = "train" if training else "eval"
            marks = [pytest.mark.slow] if name in slow else []
            params.append(
                pytest.param(
                    impl,
                    name,
                    dtype,
                    training,
                    id=f"{impl}-{name}-{str(dtype)[6:]}-{mode}",
                    marks=marks,
                )
            )
    return pytest.mark.parametrize(("impl", "name", "dtype", "training"), params)


def _module_cls(impl: str, name: str):
    return getattr(IMPLS[impl], name)


def _inputs(name, dtype, requires_grad, training, device=DEVICE, heavy=False):
    """torch's sample inputs for the class; for a ``heavy`` check (backward passes, gradcheck)
    every ``HEAVY_STRIDE``-th of them unless ``RNNKIT_TORCH_TESTS_FULL=1`` asks for all."""
    info = MODULE_INFOS[name]
    samples = list(
        info.module_inputs_func(
            info, device=device, dtype=dtype, requires_grad=requires_grad, training=training
        )
    )
    return samples if FULL or not heavy else samples[::HEAVY_STRIDE]


def _build(cls, module_input, dtype, training):
    args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
    m = cls(*args, **kwargs)
    m.to(DEVICE).to(dtype)
    m.train(training)
    return m


def _constructor_args(module_input):
    return module_input.constructor_input.args, module_input.constructor_input.kwargs


def _forward_args(module_input):
    return module_input.forward_input.args, module_input.forward_input.kwargs


def _assert_parameters_and_buffers_are(module, device, dtype) -> None:
    device = torch.device(device)
    named = (("Parameter", module.named_parameters()), ("Buffer", module.named_buffers()))
    for kind, items in named:
        for item_name, item in items:
            check.assertEqual(item.device, device, f"{kind} {item_name} on {item.device}")
            if item.dtype.is_floating_point:
                check.assertEqual(item.dtype, dtype, f"{kind} {item_name} is {item.dtype}")


def _traverse(obj, func):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_traverse(o, func) for o in obj)
    if isgenerator(obj):
        return tuple(_traverse(o, func) for o in obj)
    if isinstance(obj, dict):
        return {key: _traverse(o, func) for key, o in obj.items()}
    if isinstance(obj, torch.Tensor):
        return func(obj)
    return obj


def _retain_grad(obj) -> None:
    _traverse(obj, lambda t: t.retain_grad() if t.requires_grad else None)


def _get_grads(obj):
    return _traverse(obj, lambda t: t.grad if t.requires_grad else None)


def _zero_grad(obj) -> None:
    def clear(t):
        t.grad = None

    _traverse(obj, clear)


def _backward_each(output, grad_output) -> None:
    """Backward from every output that requires grad, as upstream does for tuple outputs."""
    flat_out, _ = pytree.tree_flatten(output)
    flat_grad, _ = pytree.tree_flatten(grad_output)
    for o, g in zip(flat_out, flat_grad):
        if o.requires_grad:
            o.backward(g, retain_graph=True)


# -- test_forward, test_factory_kwargs, test_repr, test_pickle / test_save_load ---------------


@_cases()
def test_forward(impl, name, dtype, training):
    cls = _module_cls(impl, name)
    to_dtype = {torch.float32: methodcaller("float"), torch.float64: methodcaller("double")}
    for module_input in _inputs(name, dtype, False, training):
        if module_input.forward_input is None:
            continue
        with common_utils.freeze_rng_state():
            m = _build(cls, module_input, dtype, training)
            args, kwargs = _forward_args(module_input)
            outputs = m(*args, **kwargs)
            if module_input.reference_fn is not None:
                check.assertEqual(outputs, module_input.reference_fn(m, *args, **kwargs))
            to_dtype[dtype](m)
            m(*args, **kwargs)
            _assert_parameters_and_buffers_are(m, DEVICE, dtype)


@_cases()
def test_factory_kwargs(impl, name, dtype, training):
    cls = _module_cls(impl, name)
    for module_input in _inputs(name, dtype, False, training):
        args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
        # Does the module create parameters or buffers from tensors it was not given?
        creates = False
        parameter_new = common_utils.mock_wrapper(torch.nn.Parameter.__new__)
        with patch.object(torch.nn.Parameter, "__new__", parameter_new):
            register_buffer = common_utils.mock_wrapper(torch.nn.Module.register_buffer)
            with patch.object(torch.nn.Module, "register_buffer", register_buffer):
                cls(*args, **kwargs).train(training)
                given = common_utils.get_tensors_from(args, kwargs)
                for mock in (parameter_new.mock, register_buffer.mock):
                    for call_args, call_kwargs in mock.call_args_list:
                        tensors = common_utils.get_tensors_from(call_args, call_kwargs)
                        if tensors and not given.intersection(tensors):
                            creates = True
        assert creates, "every recurrent module creates its weights"
        m = cls(*args, **{**kwargs, "device": DEVICE, "dtype": dtype})
        m.train(training)
        _assert_parameters_and_buffers_are(m, DEVICE, dtype)


@_cases()
def test_repr(impl, name, dtype, training):
    cls = _module_cls(impl, name)
    torch_cls = getattr(torch.nn, name)
    for module_input in _inputs(name, dtype, False, training):
        m = _build(cls, module_input, dtype, training)
        m.__repr__()
        str(m)
        # Beyond upstream (which only calls them): the drop-in's repr is torch.nn's.
        check.assertEqual(repr(m), repr(_build(torch_cls, module_input, dtype, training)))


@_cases()
def test_save_load(impl, name, dtype, training):
    """Upstream's test_pickle and test_save_load: the whole module through torch.save/torch.load
    gives the same output; the state_dict round-trips, also with ``weights_only=True``."""
    cls = _module_cls(impl, name)
    for module_input in _inputs(name, dtype, False, training, heavy=True):
        if module_input.forward_input is None:
            continue
        with common_utils.freeze_rng_state():
            m = _build(cls, module_input, dtype, training)
            sd = m.state_dict()
            args, kwargs = _forward_args(module_input)
            output = m(*args, **kwargs)
            with tempfile.TemporaryFile() as f:
                torch.save(m, f)
                f.seek(0)
                m_copy = torch.load(f, weights_only=False)  # our own pickle, made just above
                check.assertEqual(output, m_copy(*args, **kwargs))
            with tempfile.TemporaryFile() as f:
                torch.save(sd, f)
                f.seek(0)
                check.assertEqual(torch.load(f, weights_only=False), sd)
                f.seek(0)
                check.assertEqual(torch.load(f, weights_only=True), sd)


# -- test_non_contiguous_tensors ----------------------------------------------------------------


def _make_non_contiguous(obj):
    def spread(t):
        if t.dim() == 0:
            return t
        out = torch.repeat_interleave(t, 2, dim=-1)[..., ::2].detach()
        out.requires_grad = t.requires_grad
        return out

    return _traverse(obj, spread)


def _can_be_non_contiguous(obj) -> bool:
    if isinstance(obj, (tuple, list)):
        return any(_can_be_non_contiguous(o) for o in obj)
    if isinstance(obj, dict):
        return any(_can_be_non_contiguous(o) for o in obj.values())
    return isinstance(obj, torch.Tensor) and obj.dim() > 0


@_cases()
def test_non_contiguous_tensors(impl, name, dtype, training):
    cls = _module_cls(impl, name)
    for module_input in _inputs(name, dtype, True, training, heavy=True):
        if module_input.forward_input is None:
            continue
        input_args, input_kwargs = _forward_args(module_input)
        if not (_can_be_non_contiguous(input_args) or _can_be_non_contiguous(input_kwargs)):
            continue
        m = _build(cls, module_input, dtype, training)
        _retain_grad((input_args, input_kwargs))

        with common_utils.freeze_rng_state():
            default_output = m(*input_args, **input_kwargs)
            if isinstance(default_output, torch.Tensor):
                grad_output = default_output.clone().detach_().normal_()
            else:
                grad_output = tuple(
                    _traverse(
                        o, lambda t: t.clone().detach_().normal_() if t.requires_grad else None
                    )
                    for o in default_output
                )
            _backward_each(default_output, grad_output)
        default_args_grad, default_kwargs_grad = copy.deepcopy(
            _get_grads((input_args, input_kwargs))
        )
        default_param_grad = copy.deepcopy([p.grad for p in m.parameters()])

        nc_args, nc_kwargs = _make_non_contiguous((input_args, input_kwargs))
        nc_grad_output = _make_non_contiguous(grad_output)
        inputs = [(input_args, input_kwargs), (nc_args, nc_kwargs)]
        for (in_args, in_kwargs), g_out in product(inputs, [grad_output, nc_grad_output]):
            g_out_copy = copy.deepcopy(g_out)
            _zero_grad((in_args, in_kwargs))
            _zero_grad(m.parameters())
            with common_utils.freeze_rng_state():
                out = m(*in_args, **in_kwargs)
                _backward_each(out, g_out_copy)
            args_grad, kwargs_grad = _get_grads((in_args, in_kwargs))
            check.assertEqual(out, default_output)
            check.assertEqual(args_grad, default_args_grad, atol=1e-4, rtol=0)
            check.assertEqual(kwargs_grad, default_kwargs_grad, atol=1e-4, rtol=0)
            check.assertEqual([p.grad for p in m.parameters()], default_param_grad)


# -- test_grad, test_gradgrad -------------------------------------------------------------------


def _check_gradients(impl, name, dtype, training, checker) -> None:
    """Upstream's _test_gradients_helper: the total derivative over inputs and parameters, then
    each parameter's partial derivative alone (the module's inputs always included)."""
    cls = _module_cls(impl, name)
    for module_input in _inputs(name, dtype, True, training, heavy=True):
        if module_input.forward_input is None:
            continue
        m = _build(cls, module_input, dtype, training)
        params = tuple(m.parameters())
        input_args, input_kwargs = _forward_args(module_input)
        kwarg_tensors = [(k, v) for k, v in input_kwargs.items() if isinstance(v, torch.Tensor)]
        other_kwargs = {k: v for k, v in input_kwargs.items() if not isinstance(v, torch.Tensor)}
        run_check = _gradient_check(m, checker, input_args, params, kwarg_tensors, other_kwargs)
        run_check()  # the total derivative
        if not FULL:
            continue
        for p in params:
            p.requires_grad = False
        for p in params:  # each partial derivative
            p.requires_grad = True
            run_check()
            p.requires_grad = False


def _gradient_check(m, checker, input_args, params, kwarg_tensors, other_kwargs):
    """A function running ``checker`` (gradcheck or gradgradcheck) over the module's output as
    a function of the flattened inputs, parameters and tensor keyword arguments."""
    spec = None

    def fn(*flat):
        restored = pytree.tree_unflatten(flat, spec)
        new_args = restored[: len(input_args)]
        kwarg_values = restored[-len(kwarg_tensors) :] if kwarg_tensors else ()
        new_kwargs = {k: v for (k, _), v in zip(kwarg_tensors, kwarg_values)}
        with common_utils.freeze_rng_state():
            output = m(*new_args, **new_kwargs, **other_kwargs)
        return pytree.tree_flatten(output)[0]

    def run_check():
        nonlocal spec
        grad_input = input_args + params + tuple(v for _, v in kwarg_tensors)
        flat, spec = pytree.tree_flatten(grad_input)
        assert checker(fn, flat, nondet_tol=0.0)

    return run_check


_LAYERS = ("RNN", "LSTM", "GRU")  # gradgradcheck through two layers: seconds per case


@_cases(dtypes=(torch.float64,))
def test_grad(impl, name, dtype, training):
    _check_gradients(impl, name, dtype, training, common_utils.gradcheck)


@_cases(dtypes=(torch.float64,), slow=_LAYERS)
def test_gradgrad(impl, name, dtype, training):
    _check_gradients(impl, name, dtype, training, common_utils.gradgradcheck)


# -- test_memory_format -------------------------------------------------------------------------


@_cases()
def test_memory_format(impl, name, dtype, training):
    """Without 4-D or 5-D inputs upstream tries the contiguous input format and the module
    formats preserve_format and contiguous_format: same outputs and gradients, contiguous
    outputs and gradients."""
    cls = _module_cls(impl, name)

    def requires_grad(t):
        return isinstance(t, torch.Tensor) and t.requires_grad

    def assert_contiguous(obj):
        _traverse(obj, lambda t: check.assertTrue(t.is_contiguous()))

    def to_format(obj):
        return _traverse(
            obj, lambda t: t.clone().to(memory_format=torch.contiguous_format).detach()
        )

    for module_input in _inputs(name, dtype, True, training, heavy=True):
        if module_input.forward_input is None:
            continue
        with common_utils.freeze_rng_state():
            m = _build(cls, module_input, dtype, training)
            args, kwargs = _forward_args(module_input)
            desired = m(*args, **kwargs)
            ref_outputs = tuple(t for t in pytree.tree_flatten(desired)[0] if requires_grad(t))
            if training and ref_outputs:
                ref_inputs = tuple(
                    t
                    for t in pytree.tree_flatten((args, kwargs, tuple(m.parameters())))[0]
                    if requires_grad(t)
                )
                ref_grad_outputs = tuple(torch.rand_like(t) for t in ref_outputs)
                ref_grad_inputs = torch.autograd.grad(
                    ref_outputs, ref_inputs, grad_outputs=ref_grad_outputs
                )

            d_args, d_kwargs = to_format(args), to_format(kwargs)
            for new, old in chain(
                zip(pytree.tree_flatten(d_args)[0], pytree.tree_flatten(args)[0]),
                zip(pytree.tree_flatten(d_kwargs)[0], pytree.tree_flatten(kwargs)[0]),
            ):
                new.requires_grad_(old.requires_grad)
            for module_format in (torch.preserve_format, torch.contiguous_format):
                m.to(memory_format=module_format)
                outputs = m(*d_args, **d_kwargs)
                if module_format != torch.contiguous_format:
                    check.assertEqual(outputs, desired)
                assert_contiguous(outputs)
                diff_outputs = tuple(t for t in pytree.tree_flatten(outputs)[0] if requires_grad(t))
                if training and diff_outputs:
                    diff_inputs = tuple(
                        t
                        for t in pytree.tree_flatten((d_args, d_kwargs, tuple(m.parameters())))[0]
                        if requires_grad(t)
                    )
                    grad_outputs = tuple(
                        torch.empty_like(a).copy_(b) for a, b in zip(diff_outputs, ref_grad_outputs)
                    )
                    grad_inputs = torch.autograd.grad(
                        diff_outputs, diff_inputs, grad_outputs=grad_outputs
                    )
                    if module_format != torch.contiguous_format:
                        check.assertEqual(grad_inputs, ref_grad_inputs)
                    assert_contiguous(grad_inputs)


# -- test_if_train_and_eval_modes_differ, test_device_ctx_init, test_errors --------------------


@_cases(train_only=True)
def test_if_train_and_eval_modes_differ(impl, name, dtype, training):
    """If forward reads ``self.training``, the module_db entry must say train and eval differ."""
    cls = _module_cls(impl, name)
    for module_input in _inputs(name, dtype, False, training):
        if module_input.forward_input is None:
            continue
        m = _build(cls, module_input, dtype, training)
        delattr(m, "training")
        args, kwargs = _forward_args(module_input)
        try:
            m(*args, **kwargs)
        except AttributeError as error:
            if "'training'" not in str(error):
                raise
            assert MODULE_INFOS[name].train_and_eval_differ, (
                f"{impl}.{name}'s forward reads self.training, but torch's entry says train and "
                "eval do not differ"
            )


@_cases()
def test_device_ctx_init(impl, name, dtype, training):
    """Built under ``torch.device('meta')``, the parameters are meta tensors with the metadata
    (shape, dtype, strides, ...) of those built on the CPU."""
    cls = _module_cls(impl, name)
    module_inputs = _inputs(name, dtype, False, training)
    with torch.device("meta"):
        module_inputs_meta = _inputs(name, dtype, False, training, device=None)
    for module_input, module_input_meta in zip(module_inputs, module_inputs_meta):
        c_args, c_kwargs = _constructor_args(module_input)
        meta_ctor = module_input_meta.constructor_input
        m_cpu = cls(*c_args, **c_kwargs)
        with torch.device("meta"):
            m = cls(*meta_ctor.args, **meta_ctor.kwargs)
        pairs = chain(zip(m.parameters(), m_cpu.parameters()), zip(m.buffers(), m_cpu.buffers()))
        for p_meta, p_cpu in pairs:
            check.assertTrue(p_meta.is_meta)
            assert_metadata_eq(check.assertEqual, p_meta, p_cpu)


@_cases()
def test_errors(impl, name, dtype, training):
    """module_error_inputs: the same exception type and message as torch.nn's."""
    cls = _module_cls(impl, name)
    info = MODULE_INFOS[name]
    error_inputs = info.module_error_inputs_func(
        info, device=DEVICE, dtype=dtype, requires_grad=False, training=training
    )
    for error_input in error_inputs:
        module_input = error_input.module_error_input
        c_args, c_kwargs = _constructor_args(module_input)
        if error_input.error_on == common_modules.ModuleErrorEnum.CONSTRUCTION_ERROR:
            with pytest.raises(error_input.error_type, match=error_input.error_regex):
                cls(*c_args, **c_kwargs)
        else:
            m = cls(*c_args, **c_kwargs)
            fw_args, fw_kwargs = _forward_args(module_input)
            with pytest.raises(error_input.error_type, match=error_input.error_regex):
                m(*fw_args, **fw_kwargs)


# -- test_to, test_to_empty ---------------------------------------------------------------------


@pytest.fixture
def swap_reset():
    """Restore torch.__future__'s swap flag, as upstream's wrapSwapTensorsTest does."""
    before = torch.__future__.get_swap_module_params_on_conversion()
    yield torch.__future__.set_swap_module_params_on_conversion
    torch.__future__.set_swap_module_params_on_conversion(before)


@pytest.mark.parametrize("set_grad", [True, False])
@pytest.mark.parametrize("swap", [True, False])
@_cases(dtypes=(torch.float32,))
def test_to(impl, name, dtype, training, swap, set_grad, swap_reset):
    """``Module.to`` over devices x dtypes: parameters (and their grads) keep their identity,
    their storage swapped (``swap``) or their ``.data`` set (no swap)."""
    cls = _module_cls(impl, name)
    devices = ["cpu"]
    dtypes = MODULE_INFOS[name].dtypes
    swap_reset(swap)

    def move(module):  # without Module.to, the method under test
        for child in module.children():
            move(child)
        for n, p in module.named_parameters(recurse=False):
            new_p = torch.nn.Parameter(p.detach().clone().to(DEVICE, dtype))
            setattr(module, n, new_p)
            if set_grad:
                new_p.grad = torch.randn_like(new_p)
        for n, b in module.named_buffers(recurse=False):
            setattr(module, n, b.detach().clone().to(DEVICE, dtype))

    for module_input in _inputs(name, dtype, False, training):
        c_args, c_kwargs = _constructor_args(module_input)
        args, kwargs = _forward_args(module_input)
        m = cls(*c_args, **c_kwargs)
        move(m)
        if swap and not set_grad and list(m.parameters()):
            out = m(*args, **kwargs)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
            m.to(dtype=torch.half)
            m.to(dtype=torch.float32)

        prev_device, prev_dtype = DEVICE, dtype
        for device_, dtype_ in product(devices, dtypes):
            g_no_swap = device_ == prev_device and dtype_ == prev_dtype
            prev_device, prev_dtype = device_, dtype_
            p_ids_before = [id(p) for p in m.parameters()]
            p_cdatas_before = [p._cdata for p in m.parameters()]
            if set_grad:
                g_ids_before = [id(p.grad) for p in m.parameters()]
                g_cdatas_before = [p.grad._cdata for p in m.parameters()]

            m.to(device=device_, dtype=dtype_)

            assert all(isinstance(p, torch.nn.Parameter) for p in m.parameters())
            assert all(p.device.type == device_ for p in m.parameters())
            assert all(p.dtype == dtype_ for p in m.parameters())
            p_ids_after = [id(p) for p in m.parameters()]
            p_cdatas_after = [p._cdata for p in m.parameters()]
            if set_grad:
                assert all(p.grad.device.type == device_ for p in m.parameters())
                assert all(p.grad.dtype == dtype_ for p in m.parameters())
                g_ids_after = [id(p.grad) for p in m.parameters()]
                g_cdatas_after = [p.grad._cdata for p in m.parameters()]
            assert p_ids_before == p_ids_after
            if swap:
                assert all(a != b for a, b in zip(p_cdatas_before, p_cdatas_after))
                if set_grad:
                    assert all(
                        (a == b) if g_no_swap else (a != b)
                        for a, b in zip(g_cdatas_before, g_cdatas_after)
                    )
            else:
                assert p_cdatas_before == p_cdatas_after
                if set_grad:
                    assert g_cdatas_before == g_cdatas_after
                    assert g_ids_before == g_ids_after


@pytest.mark.parametrize("swap", [True, False])
@_cases(dtypes=(torch.float32,))
def test_to_empty(impl, name, dtype, training, swap, swap_reset):
    """A module built on the meta device, then ``to_empty``: real parameters on the CPU, swapped
    in place (``swap``) or replaced by new ones."""
    cls = _module_cls(impl, name)
    with torch.device("meta"):
        module_inputs = _inputs(name, dtype, False, training, device=None)
    swap_reset(swap)
    device = torch.device(DEVICE)
    for module_input in module_inputs:
        c_args, c_kwargs = _constructor_args(module_input)
        with torch.device("meta"):
            m = cls(*c_args, **c_kwargs)
        p_ids_before = [id(p) for p in m.parameters()]
        p_cdatas_before = [p._cdata for p in m.parameters()]
        m.to_empty(device=device)
        assert all(isinstance(p, torch.nn.Parameter) for p in m.parameters())
        assert all(p.device == device for p in m.parameters())
        assert all(p.dtype == dtype for p in m.parameters())
        p_ids_after = [id(p) for p in m.parameters()]
        p_cdatas_after = [p._cdata for p in m.parameters()]
        if swap:
            assert all(a == b for a, b in zip(p_ids_before, p_ids_after))
        else:
            assert all(a != b for a, b in zip(p_ids_before, p_ids_after))
        assert all(a != b for a, b in zip(p_cdatas_before, p_cdatas_after))
