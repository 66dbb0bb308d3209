"""The loop engine: a Python loop over time steps, autograd does the BPTT.

The input projection of all time steps is one matrix product before the loop; only the
recurrent product and the gate math run inside it. Variable lengths are handled by masking: a
sequence's state stops changing after its last step and its outputs there are zero, as with
torch.nn and packed sequences. The reverse direction reads each sequence backwards from its own
last step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.nn.functional import GATES, StepWeights, input_projection, step

__all__ = ["reverse_padded", "run_direction", "run_recurrence", "valid_steps"]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a time-major batch ``x`` (L, N, ...) within its own length.

    Position t of sequence n maps to ``lengths[n] - 1 - t`` for t < lengths[n]; padding stays put.
    The map is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)  # (L, 1)
    lengths = lengths.to(x.device).unsqueeze(0)  # (1, N)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (L, N)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)  # (L, N, ...)
    return x.gather(0, index)


def run_direction(
    mode: str,
    x: Tensor,
    state: tuple[Tensor, ...],
    weights: StepWeights,
    lengths: Tensor | None = None,
    reverse: bool = False,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer in one direction.

    Args:
        mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
        x: (L, N, H_in) time-major input, padded past each sequence's length.
        state: ``(h_0,)`` or ``(h_0, c_0)``, each (N, H_state).
        lengths: (N,) int64 valid lengths, or None when every sequence has L steps.
        reverse: read each sequence from its last valid step to its first.
        recurrent_mask: (N, H_out) variational dropout mask on h_{t-1}, or None.

    Returns:
        output (L, N, H_out) with zeros past each length, and the final state tuple.
    """
    gi = input_projection(x, weights, GATES[mode])  # (L, N, G*H)
    if reverse:
        gi = reverse_padded(gi, lengths)
    valid = valid_steps(lengths, x.shape[0], x.device)
    output, state = run_recurrence(mode, gi, state, weights, valid, recurrent_mask)
    if reverse:
        output = reverse_padded(output, lengths)
    return output, state


def valid_steps(lengths: Tensor | None, steps: int, device: torch.device) -> Tensor | None:
    """(L, N, 1) bool, True where step t is within sequence n's length; None without lengths."""
    if lengths is None:
        return None
    t = torch.arange(steps, device=device).unsqueeze(1)  # (L, 1)
    return (t < lengths.to(device).unsqueeze(0)).unsqueeze(-1)  # (L, N, 1)


def run_recurrence(
    mode: str,
    gi: Tensor,
    state: tuple[Tensor, ...],
    weights: StepWeights,
    valid: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The time loop over the input projections ``gi`` (L, N, G*H), ``b_ih`` included, in the
    order the steps run; ``valid`` (L, N, 1) or None. -> output (L, N, H_out), final state.

    ``weights.weight_ih`` and ``bias_ih`` are not read: ``gi`` holds their part.
    """
    outputs = []
    for t in range(gi.shape[0]):
        new_state = step(mode, gi[t], state, weights, recurrent_mask)
        if valid is not None:
            new_state = tuple(torch.where(valid[t], new, old) for new, old in zip(new_state, state))
            outputs.append(new_state[0] * valid[t])  # (N, H_out), zero past the length
        else:
            outputs.append(new_state[0])
        state = new_state
    return torch.stack(outputs), state  # (L, N, H_out)
