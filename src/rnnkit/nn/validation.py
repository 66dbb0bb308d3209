"""Argument checks with messages that say what was expected and what was got."""

from __future__ import annotations

__all__ = ["check_positive_int", "check_probability", "rnn_mode"]


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum`` (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_probability(name: str, value) -> float:
    """Return ``value`` as a float if it lies in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def rnn_mode(nonlinearity: str) -> str:
    """The Elman RNN mode for a nonlinearity: "tanh" -> "RNN_TANH", "relu" -> "RNN_RELU"."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
