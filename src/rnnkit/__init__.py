"""rnnkit: recurrent neural networks from the gate equations to trained, usable models.

Subpackages (imports flow one way): ``rnnkit.nn`` (cells and layers, torch.nn-compatible),
``rnnkit.reference`` (NumPy forward pass and hand-written BPTT), ``rnnkit.tasks`` (end-to-end
jobs), and the command line in ``rnnkit.cli``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
