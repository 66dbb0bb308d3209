"""Execution engines behind ``rnnkit.nn``'s layers, chosen with the layers' ``backend=`` option.

- ``loop``: the plain time loop over the step equations of ``rnnkit.nn.functional``, autograd
  doing the BPTT: the definition every faster engine is tested against (:mod:`.loop`; called
  ``reference`` before, a name still accepted with a DeprecationWarning);
- ``fused``: BPTT by hand, one matrix product per step and fused gate math (:mod:`.fused`);
  covers every option;
- ``torch``: torch's own kernels (cuDNN, oneDNN) for the configurations torch.nn has
  (:mod:`.native`);
- ``auto``: the fastest of these for the configuration (:mod:`.select`).

Under ``torch.compile``, ``torch.export``, ONNX export, ``torch.jit`` tracing and ``torch.func``
transforms the layers run an engine that supports them (:mod:`.capture`); under CPU autocast
every engine returns the dtypes torch.nn returns (:mod:`.autocast_dtypes`).

``loop`` and ``fused`` run one layer in one direction (``run_direction``); the layers stack
them. ``torch`` runs the whole stack.
"""

from rnnkit.nn.engine import capture, fused, loop
from rnnkit.nn.engine.autocast_dtypes import match_torch_dtypes
from rnnkit.nn.engine.loop import reverse_padded, run_direction
from rnnkit.nn.engine.select import BACKENDS, check_backend, choose_backend

__all__ = [
    "BACKENDS",
    "DIRECTION_ENGINES",
    "check_backend",
    "capture",
    "choose_backend",
    "match_torch_dtypes",
    "reverse_padded",
    "run_direction",
]

# The engines that run one layer in one direction, by backend name.
DIRECTION_ENGINES = {"loop": loop.run_direction, "fused": fused.run_direction}
