"""Execution engines behind ``rnnkit.nn``'s layers.

An engine runs one layer in one direction over a padded, time-major batch. ``reference`` is the
plain time loop over the step equations of ``rnnkit.nn.functional``: the definition every faster
engine is tested against.
"""

from rnnkit.nn.engine.reference import reverse_padded, run_direction

__all__ = ["reverse_padded", "run_direction"]
