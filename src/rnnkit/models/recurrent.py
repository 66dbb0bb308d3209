"""Recurrent layers chosen by cell name, as every model's configuration names them."""

from __future__ import annotations

from rnnkit.nn import GRU, LSTM, RNN, RNNBase

__all__ = ["CELLS", "build_recurrent"]

# cell name -> (layer class, extra constructor arguments)
CELLS: dict[str, tuple[type[RNNBase], dict]] = {
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
    "rnn": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
}


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
