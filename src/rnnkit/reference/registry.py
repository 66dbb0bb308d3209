"""The reference cells by name, as the command line and the tests ask for them."""

from __future__ import annotations

from rnnkit.reference.cell import Cell
from rnnkit.reference.gru import GRUCell
from rnnkit.reference.lstm import LSTMCell
from rnnkit.reference.rnn import NONLINEARITIES, ElmanCell

__all__ = ["CELLS", "make_cell"]

# name -> the class; "rnn" takes a nonlinearity, as torch.nn.RNN does
CELLS: dict[str, type[Cell]] = {"rnn": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


def make_cell(name: str, nonlinearity: str = "tanh") -> Cell:
    """Build a reference cell: ``"rnn"`` (tanh or relu ``nonlinearity``), ``"lstm"``, ``"gru"``."""
    if name not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {name!r}")
    if name == "rnn":
        return ElmanCell(nonlinearity)
    if nonlinearity != "tanh":
        raise ValueError(
            f"nonlinearity is for the rnn cell only ({NONLINEARITIES}), got {nonlinearity!r} "
            f"for {name}"
        )
    return CELLS[name]()
