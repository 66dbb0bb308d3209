"""Greedy search: the most likely token at each step (the step: :mod:`rnnkit.decoding.state`)."""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.decoding.hypothesis import Hypothesis
from rnnkit.decoding.state import StepFn, state_device

__all__ = ["greedy_search"]


@torch.no_grad()
def greedy_search(
    step: StepFn, state: Any, batch_size: int, bos: int, eos: int, max_length: int
) -> list[Hypothesis]:
    """The most likely token at each step until ``eos`` or ``max_length`` tokens, per sentence."""
    device = state_device(state)
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    outputs, log_probs, weights = [], torch.zeros(batch_size, device=device), []
    for _ in range(max_length):
        scores, state, attention = step(tokens, state)  # (B, V), ..., (B, S)
        best, tokens = scores.max(dim=-1)  # (B,), (B,)
        log_probs += torch.where(done, torch.zeros_like(best), best)
        outputs.append(torch.where(done, torch.full_like(tokens, eos), tokens))
        weights.append(attention.float())
        done |= tokens == eos
        if bool(done.all()):
            break
    out = torch.stack(outputs, 1).cpu()  # (B, T)
    attn = torch.stack(weights, 1).cpu()  # (B, T, S)
    results = []
    for b in range(batch_size):
        row = out[b].tolist()
        finished = eos in row
        n = row.index(eos) + 1 if finished else len(row)
        lp = float(log_probs[b])
        results.append(Hypothesis(row[: n - 1] if finished else row, lp, lp, attn[b, :n], finished))
    return results
