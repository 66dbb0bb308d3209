"""torch.nn's contract for errors and edge cases, case by case against rnnkit.nn.

Each case runs once with ``torch.nn`` and once with ``rnnkit.nn`` (every backend for the layers,
the modules built in the same order with torch's weights copied into rnnkit's). Where torch.nn
raises, rnnkit.nn must raise the same exception type; where it returns, rnnkit.nn must return
the same: the same shapes and values, gradients included. The table below was drawn up by
running each case on torch.nn 2.13 (its results are not written here: the test reads them
from torch.nn each time, so a torch that changes its contract shows up here).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnkit import nn as rnn

MODES = ["RNN", "LSTM", "GRU"]
CELLS = ["RNNCell", "LSTMCell", "GRUCell"]
BACKENDS = ["auto", "fused", "loop", "torch"]


class Maker:
    """Builds ``lib``'s modules for a case; rnnkit's get the weights of torch's twin."""

    def __init__(self, lib, backend: str | None = None, twins: list | None = None):
        self.lib, self.backend, self.twins, self.built = lib, backend, twins, []

    def __call__(self, name: str, *args, **kwargs):
        if self.lib is rnn and self.backend is not None and not name.endswith("Cell"):
            kwargs = {**kwargs, "backend": self.backend}
        module = getattr(self.lib, name)(*args, **kwargs)
        if self.twins is not None and len(self.built) < len(self.twins):
            module.load_state_dict(self.twins[len(self.built)].state_dict())
        self.built.append(module)
        return module


def outcome(case, make):
    """("raises", exception type) or ("returns", value) of one case."""
    torch.manual_seed(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "returns", case(make)
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return "raises", type(error)


def assert_same_contract(case, backend=None):
    reference = Maker(torch.nn)
    expected = outcome(case, reference)
    got = outcome(case, Maker(rnn, backend, twins=reference.built))
    if expected[0] == "raises":
        assert got == expected, f"torch.nn raises {expected[1].__name__}, rnnkit.nn: {got}"
    else:
        assert got[0] == "returns", f"torch.nn returns, rnnkit.nn raises {got[1].__name__}"
        ours, theirs = (torch.utils._pytree.tree_flatten(value) for value in (got[1], expected[1]))
        assert ours[1] == theirs[1]  # the same structure: tuples, PackedSequence, Nones
        for a, b in zip(ours[0], theirs[0]):
            if isinstance(b, torch.Tensor):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
            else:
                assert a == b


def forward_backward(module, *inputs):
    """Outputs, the input's gradient and every parameter's after one backward pass."""
    x = inputs[0]
    output = module(*inputs)
    leaves = [t for t in torch.utils._pytree.tree_leaves(output) if t.requires_grad]
    torch.autograd.backward(leaves, [torch.ones_like(t) for t in leaves])
    grads = [p.grad for p in module.parameters()]
    return output, x.grad, grads


def state(mode, *shape, dtype=None):
    """An initial state of ``shape`` (h_0, or (h_0, c_0) for the LSTM)."""
    h = torch.randn(*shape, dtype=dtype)
    return (h, torch.randn(*shape, dtype=dtype)) if mode == "LSTM" else h


# -- construction --------------------------------------------------------------------------------

# (id, positional args, keyword args): built for each of RNN, LSTM and GRU
LAYER_ARGUMENTS = [
    ("valid", (3, 4), {}),
    ("input_size=0", (0, 4), {}),
    ("input_size=-1", (-1, 4), {}),
    ("input_size=3.0", (3.0, 4), {}),
    ("input_size='3'", ("3", 4), {}),
    ("hidden_size=0", (3, 0), {}),
    ("hidden_size=4.0", (3, 4.0), {}),
    ("num_layers=0", (3, 4, 0), {}),
    ("num_layers=1.5", (3, 4, 1.5), {}),
    ("bias=0", (3, 4), {"bias": 0}),
    ("bias=1", (3, 4), {"bias": 1}),
    ("bias='True'", (3, 4), {"bias": "True"}),
    ("batch_first=1", (3, 4), {"batch_first": 1}),
    ("batch_first='False'", (3, 4), {"batch_first": "False"}),
    ("dropout=-0.1", (3, 4, 2), {"dropout": -0.1}),
    ("dropout=1.5", (3, 4, 2), {"dropout": 1.5}),
    ("dropout='0.1'", (3, 4, 2), {"dropout": "0.1"}),
    ("dropout=True", (3, 4, 2), {"dropout": True}),
    ("dropout=1", (3, 4, 2), {"dropout": 1}),
    ("dropout=0.5 one layer", (3, 4), {"dropout": 0.5}),
    ("proj_size=2", (3, 4), {"proj_size": 2}),
    ("proj_size=-1", (3, 4), {"proj_size": -1}),
    ("proj_size=4", (3, 4), {"proj_size": 4}),
    ("nonlinearity='relu'", (3, 4), {"nonlinearity": "relu"}),
    ("nonlinearity='sigmoid'", (3, 4), {"nonlinearity": "sigmoid"}),
    ("positional nonlinearity", (3, 4, 1, "relu"), {}),
    ("unknown keyword", (3, 4), {"hidden": 4}),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", LAYER_ARGUMENTS, ids=[c[0] for c in LAYER_ARGUMENTS])
def test_layer_arguments(mode, case):
    _, args, kwargs = case
    assert_same_contract(lambda make: repr(make(mode, *args, **kwargs)))


# (id, positional args, keyword args): built for each of RNNCell, LSTMCell and GRUCell
CELL_ARGUMENTS = [
    ("valid", (3, 4), {}),
    ("hidden_size=0", (3, 0), {}),
    ("input_size=0", (0, 4), {}),
    ("hidden_size=-1", (3, -1), {}),
    ("input_size=-1", (-1, 4), {}),
    ("hidden_size=4.0", (3, 4.0), {}),
    ("bias=False", (3, 4), {"bias": False}),
    ("nonlinearity='relu'", (3, 4), {"nonlinearity": "relu"}),
]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("case", CELL_ARGUMENTS, ids=[c[0] for c in CELL_ARGUMENTS])
def test_cell_arguments(name, case):
    _, args, kwargs = case
    assert_same_contract(lambda make: repr(make(name, *args, **kwargs)))


REPRS = [
    ("RNN", (4, 5), {"nonlinearity": "relu"}),
    ("RNN", (4, 5, 3), {"dropout": 1, "bidirectional": True, "batch_first": True}),
    ("LSTM", (4, 5, 2), {"proj_size": 3, "bias": False, "dropout": 0.5, "bidirectional": True}),
    ("GRU", (4, 5), {"bias": False}),
    ("RNNCell", (4, 5), {"nonlinearity": "relu", "bias": False}),
    ("LSTMCell", (4, 5), {}),
    ("GRUCell", (4, 5), {"bias": False}),
]


@pytest.mark.parametrize("name,args,kwargs", REPRS)
def test_repr_is_torch_nn_repr(name, args, kwargs):
    ours = getattr(rnn, name)(*args, **kwargs)
    assert repr(ours) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_repr_shows_rnnkit_options_only_when_not_default():
    assert repr(rnn.LSTM(4, 5, backend="auto", init=None)) == "LSTM(4, 5)"
    lstm = rnn.LSTM(4, 5, 2, dropout=0.5, init="orthogonal", forget_bias=1.0, layer_norm=True)
    assert repr(lstm) == (
        "LSTM(4, 5, num_layers=2, dropout=0.5, init='orthogonal', forget_bias=1.0, layer_norm=True)"
    )
    assert repr(rnn.GRUCell(4, 5, layer_norm=True)) == "GRUCell(4, 5, layer_norm=True)"


# -- layer forward and backward ------------------------------------------------------------------


def _layer_forward_cases(mode):
    """(id, case) pairs: each case builds ``mode`` layers with ``make`` and runs them."""
    h3 = 1 if mode == "GRU" else 4  # a hidden state's feature count that is never right

    def run(*layer_args, x, hx=None, backward=True, **layer_kwargs):
        def case(make):
            module = make(mode, *layer_args, **layer_kwargs)
            inputs = (x().requires_grad_(True),) if backward else (x(),)
            inputs = inputs + (() if hx is None else (hx(),))
            if not backward:
                return module(*inputs)
            return forward_backward(module, *inputs)

        return case

    def packed(lengths, features=3, dtype=None):
        def build():
            x = torch.randn(max(lengths), len(lengths), features, dtype=dtype)
            return pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)

        return build

    f64 = torch.float64
    return [
        ("batch of zero", run(3, 4, x=lambda: torch.randn(5, 0, 3))),
        (
            "batch of zero, 2 layers bidirectional",
            run(3, 4, 2, bidirectional=True, x=lambda: torch.randn(5, 0, 3)),
        ),
        (
            "batch of zero, batch_first",
            run(3, 4, batch_first=True, x=lambda: torch.randn(0, 5, 3)),
        ),
        (
            "batch of zero, given state",
            run(3, 4, x=lambda: torch.randn(5, 0, 3), hx=lambda: state(mode, 1, 0, 4)),
        ),
        ("batch of zero, eval", run(3, 4, x=lambda: torch.randn(5, 0, 3), backward=False)),
        ("sequence of length zero", run(3, 4, x=lambda: torch.randn(0, 2, 3))),
        ("sequence of length zero, unbatched", run(3, 4, x=lambda: torch.randn(0, 3))),
        (
            "sequence of length zero, batch_first",
            run(3, 4, batch_first=True, x=lambda: torch.randn(2, 0, 3)),
        ),
        ("zero length and zero batch", run(3, 4, x=lambda: torch.randn(0, 0, 3))),
        ("dropout=1 between layers", run(3, 4, 3, dropout=1, x=lambda: torch.randn(5, 2, 3))),
        ("1-D input", run(3, 4, x=lambda: torch.randn(3), backward=False)),
        ("4-D input", run(3, 4, x=lambda: torch.randn(5, 2, 3, 1), backward=False)),
        ("not a tensor", run(3, 4, x=lambda: torch.randn(5, 2, 3).tolist(), backward=False)),
        ("wrong features", run(3, 4, x=lambda: torch.randn(5, 2, 2))),
        ("wrong features, unbatched", run(3, 4, x=lambda: torch.randn(5, 2))),
        ("float64 input, float32 weights", run(3, 4, x=lambda: torch.randn(5, 2, 3, dtype=f64))),
        ("float32 input, float64 weights", run(3, 4, dtype=f64, x=lambda: torch.randn(5, 2, 3))),
        (
            "float64 state, float32 weights",
            run(3, 4, x=lambda: torch.randn(5, 2, 3), hx=lambda: state(mode, 1, 2, 4, dtype=f64)),
        ),
        (
            "state of the wrong batch",
            run(3, 4, x=lambda: torch.randn(5, 2, 3), hx=lambda: state(mode, 1, 3, 4)),
        ),
        (
            "state of the wrong layers",
            run(3, 4, 2, x=lambda: torch.randn(5, 2, 3), hx=lambda: state(mode, 1, 2, 4)),
        ),
        (
            "state of the wrong size",
            run(3, 4, x=lambda: torch.randn(5, 2, 3), hx=lambda: state(mode, 1, 2, h3 + 1)),
        ),
        (
            "2-D state, batched input",
            run(3, 4, x=lambda: torch.randn(5, 2, 3), hx=lambda: state(mode, 2, 4)),
        ),
        (
            "3-D state, unbatched input",
            run(3, 4, x=lambda: torch.randn(5, 3), hx=lambda: state(mode, 1, 1, 4)),
        ),
        (
            "unbatched input and state",
            run(3, 4, 2, x=lambda: torch.randn(5, 3), hx=lambda: state(mode, 2, 4)),
        ),
        ("packed", run(3, 4, 2, x=packed([5, 3, 1]), backward=False)),
        ("packed, wrong features", run(3, 4, x=packed([5, 3], features=2), backward=False)),
        ("packed, float64", run(3, 4, x=packed([5, 3], dtype=f64), backward=False)),
        (
            "packed, state of a larger batch",
            run(3, 4, x=packed([5, 3]), backward=False, hx=lambda: state(mode, 1, 3, 4)),
        ),
        (
            "packed, state of a smaller batch",
            run(3, 4, x=packed([5, 3, 2]), backward=False, hx=lambda: state(mode, 1, 2, 4)),
        ),
    ]


# Where rnnkit.nn refuses on purpose what torch.nn lets through or refuses otherwise:
# (mode, case) -> (torch.nn's outcome, its exception type, rnnkit.nn's). Stated in the README.
DEVIATIONS = {
    # torch.nn's LSTM skips its dtype check for packed input (its RNN and GRU do not), and
    # the kernel raises RuntimeError; rnnkit raises the ValueError of the other layers.
    ("LSTM", "packed, float64"): ("raises", RuntimeError, ValueError),
    # torch.nn reorders a given state by the packing's sorted_indices before it checks the
    # state's size: a state with more sequences than the input passes, its extra rows
    # silently dropped; rnnkit raises the RuntimeError of the size check.
    **{
        (mode, "packed, state of a larger batch"): ("returns", None, RuntimeError) for mode in MODES
    },
}

LAYER_FORWARD = [(mode, name, case) for mode in MODES for name, case in _layer_forward_cases(mode)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "mode,name,case", LAYER_FORWARD, ids=[f"{m}-{n}" for m, n, _ in LAYER_FORWARD]
)
def test_layer_forward(mode, name, case, backend):
    if (mode, name) in DEVIATIONS:
        torch_kind, torch_error, ours = DEVIATIONS[mode, name]
        reference = Maker(torch.nn)
        kind, value = outcome(case, reference)
        assert kind == torch_kind and (torch_error is None or value is torch_error)
        assert outcome(case, Maker(rnn, backend, twins=reference.built)) == ("raises", ours)
        return
    assert_same_contract(case, backend)


# -- cell forward and backward -------------------------------------------------------------------


def _cell_forward_cases(name):
    lstm = name == "LSTMCell"

    def hidden(*shape, dtype=None):
        h = torch.randn(*shape, dtype=dtype)
        return (h, torch.randn(*shape, dtype=dtype)) if lstm else h

    def wrong_c():
        return torch.randn(3, 4), torch.randn(3, 5)

    def run(*cell_args, x, hx=None, backward=True, **cell_kwargs):
        def case(make):
            module = make(name, *cell_args, **cell_kwargs)
            inputs = (x().requires_grad_(True),) if backward else (x(),)
            inputs = inputs + (() if hx is None else (hx(),))
            return forward_backward(module, *inputs) if backward else module(*inputs)

        return case

    return [
        ("hidden_size=0", run(10, 0, x=lambda: torch.randn(3, 10), hx=lambda: hidden(3, 0))),
        ("hidden_size=0, no state", run(10, 0, x=lambda: torch.randn(3, 10))),
        ("input_size=0", run(0, 4, x=lambda: torch.randn(3, 0))),
        ("batch of zero", run(10, 4, x=lambda: torch.randn(0, 10))),
        ("unbatched", run(10, 4, x=lambda: torch.randn(10), hx=lambda: hidden(4))),
        ("3-D input", run(10, 4, x=lambda: torch.randn(2, 3, 10), backward=False)),
        ("4-D state", run(10, 4, x=lambda: torch.randn(3, 10), hx=lambda: hidden(3, 1, 1, 4))),
        ("wrong features", run(10, 4, x=lambda: torch.randn(3, 11))),
        (
            "state of the wrong batch",
            run(10, 4, x=lambda: torch.randn(3, 10), hx=lambda: hidden(5, 4)),
        ),
        (
            "state of the wrong size",
            run(10, 4, x=lambda: torch.randn(3, 10), hx=lambda: hidden(3, 5)),
        ),
        (
            "state broadcast over the batch",
            run(10, 4, x=lambda: torch.randn(3, 10), hx=lambda: hidden(1, 4)),
        ),
        (
            "unbatched input, batched state",
            run(10, 4, x=lambda: torch.randn(10), hx=lambda: hidden(1, 4)),
        ),
        (
            "batched input, unbatched state",
            run(10, 4, x=lambda: torch.randn(3, 10), hx=lambda: hidden(4)),
        ),
        (
            "float64 input, float32 weights",
            run(10, 4, x=lambda: torch.randn(3, 10, dtype=torch.float64)),
        ),
    ] + (
        [("c of the wrong size", run(10, 4, x=lambda: torch.randn(3, 10), hx=wrong_c))]
        if lstm
        else []
    )


CELL_FORWARD = [(name, label, case) for name in CELLS for label, case in _cell_forward_cases(name)]


@pytest.mark.parametrize(
    "name,label,case", CELL_FORWARD, ids=[f"{n}-{label}" for n, label, _ in CELL_FORWARD]
)
def test_cell_forward(name, label, case):
    assert_same_contract(case)


def test_table_holds_accepted_and_refused_cases():
    """The table is not vacuous: torch.nn accepts some cases and refuses others, with each of
    RuntimeError, ValueError and TypeError."""

    def kind(case):
        result, value = outcome(case, Maker(torch.nn))
        return value if result == "raises" else result

    kinds = {kind(case) for mode, _, case in LAYER_FORWARD if mode == "LSTM"}
    kinds |= {kind(case) for _, _, case in CELL_FORWARD}
    for _, args, kwargs in LAYER_ARGUMENTS:
        kinds.add(kind(lambda make, a=args, k=kwargs: make("GRU", *a, **k)))
    assert {RuntimeError, ValueError, TypeError, "returns"} <= kinds
