"""Argument checks: torch.nn's for the arguments torch.nn has (same order, exception types and
messages), messages that say what was expected and what was got for rnnkit's own options."""

from __future__ import annotations

import numbers

__all__ = ["check_layer_arguments", "check_probability", "rnn_mode"]


def check_layer_arguments(
    input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size
) -> None:
    """The checks of ``torch.nn.RNNBase.__init__``, in its order: ValueError for a bad value,
    TypeError for a wrong type (``bias`` and ``batch_first`` must be bool, the sizes int)."""
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            f"element being zeroed, got {dropout!r}"
        )
    for name, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero, got {value}")
    if not isinstance(num_layers, int):
        raise TypeError(f"num_layers should be of type int, got: {type(num_layers).__name__}")
    if num_layers <= 0:
        raise ValueError(f"num_layers must be greater than zero, got {num_layers}")
    if not isinstance(proj_size, int):
        raise TypeError(f"proj_size should be of type int, got: {type(proj_size).__name__}")
    if proj_size < 0:
        raise ValueError(
            "proj_size should be a positive integer or zero to disable projections, "
            f"got {proj_size}"
        )
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size has to be smaller than hidden_size ({hidden_size}), got {proj_size}"
        )


def check_probability(name: str, value) -> float:
    """Return ``value`` as a float if it lies in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def rnn_mode(nonlinearity: str) -> str:
    """The Elman RNN mode for a nonlinearity: "tanh" -> "RNN_TANH", "relu" -> "RNN_RELU"."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
