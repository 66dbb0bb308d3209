"""New music from a trained piano-roll model: ancestral sampling, one frame at a time.

The prime (the start of a piece, or nothing: silence) is read once; then each next frame is
drawn key by key from the model's independent Bernoulli outputs,

    x_tk ~ Bernoulli(σ(z_tk / τ))

with temperature τ (below 1: fewer, surer notes; above 1: wilder), and fed back as the next
input, stepping the recurrent state (never re-reading the piece).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnkit.data.pianoroll import KEYS
from rnnkit.errors import UserError
from rnnkit.models.music import PianoRollRNN
from rnnkit.tasks.lm.generate import stepping

__all__ = ["check_temperature", "sample_frames"]


def check_temperature(temperature: float) -> float:
    """``temperature`` if it is a finite number > 0, else a ``UserError``."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise UserError(f"temperature must be a number > 0, got {temperature!r}")
    if not math.isfinite(temperature) or temperature <= 0:
        raise UserError(f"temperature must be a finite number > 0, got {temperature}")
    return float(temperature)


@torch.no_grad()
def sample_frames(
    model: PianoRollRNN,
    length: int,
    *,
    prime: np.ndarray | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """``length`` frames (length, 88) uint8 continuing ``prime`` (T0, 88) (None: silence),
    sampled at ``temperature`` with a generator seeded by ``seed``."""
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    start = torch.zeros(1, 1, KEYS, device=device)  # (1, 1, 88): x_0, silence
    if prime is not None and len(prime):
        frames = torch.as_tensor(prime, dtype=torch.float32, device=device)[None]  # (1, T0, 88)
        start = torch.cat([start, frames], dim=1)  # (1, 1 + T0, 88)
    out = np.zeros((length, KEYS), np.uint8)
    with stepping(model, device):
        logits, state = model(start)  # (1, 1 + T0, 88)
        for t in range(length):
            probabilities = torch.sigmoid(logits[0, -1].float().cpu() / temperature)  # (88,)
            frame = torch.bernoulli(probabilities, generator=generator)  # (88,)
            out[t] = frame.numpy()
            if t + 1 < length:
                logits, state = model(frame.to(device)[None, None], state)  # (1, 1, 88)
    return out
