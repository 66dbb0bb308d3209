"""Recurrent layers chosen by cell name, as every model's configuration names them."""

from __future__ import annotations

from torch import nn

from rnnkit.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell

__all__ = ["CELLS", "build_cell", "build_recurrent"]

# cell name -> (layer class, extra constructor arguments)
CELLS: dict[str, tuple[type[RNNBase], dict]] = {
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "rnn": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
}
# cell name -> (single-step cell class, extra constructor arguments), for step-by-step decoders
STEP_CELLS: dict[str, tuple[type[nn.Module], dict]] = {
    "lstm": (LSTMCell, {}),
    "gru": (GRUCell, {}),
    "rnn": (RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, {"nonlinearity": "relu"}),
}


def build_cell(
    cell: str, input_size: int, hidden_size: int, *, init: str | None = None,
    forget_bias: float | None = None,
) -> nn.Module:  # fmt: skip
    """An rnnkit.nn single-step cell for ``cell`` in :data:`CELLS` (``forget_bias``: LSTM only)."""
    if cell not in STEP_CELLS:
        raise ValueError(f"cell must be one of {sorted(STEP_CELLS)}, got {cell!r}")
    cell_class, extra = STEP_CELLS[cell]
    if cell == "lstm" and forget_bias is not None:
        extra = {**extra, "forget_bias": forget_bias}
    return cell_class(input_size, hidden_size, init=init, **extra)


def build_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    bidirectional: bool = False,
    dropout: float = 0.0,
    init: str | None = None,
    forget_bias: float | None = None,
    **options,
) -> RNNBase:
    """A batch-first rnnkit.nn layer for ``cell`` in :data:`CELLS` (``forget_bias``: LSTM only)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    layer_class, extra = CELLS[cell]
    if cell == "lstm" and forget_bias is not None:
        extra = {**extra, "forget_bias": forget_bias}
    return layer_class(
        input_size,
        hidden_size,
        num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
        init=init,
        **extra,
        **options,
    )
