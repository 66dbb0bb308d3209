"""Recurrent cells and layers from the gate equations, drop-in for their torch.nn namesakes.

>>> from rnnkit.nn import LSTM
>>> lstm = LSTM(10, 20, num_layers=2, batch_first=True, init="orthogonal", forget_bias=1.0)
"""

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.nn.init import INIT_SCHEMES, init_recurrent_
from rnnkit.nn.layers import GRU, LSTM, RNN, RNNBase

__all__ = [
    "GRU",
    "GRUCell",
    "INIT_SCHEMES",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNBase",
    "RNNCell",
    "init_recurrent_",
]
