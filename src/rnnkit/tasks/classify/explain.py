"""Each token's contribution to a classifier's prediction: occlusion, or gradient × input.

For a text ``x = (x_1, ..., x_L)`` with predicted class ``ŷ = argmax_c p(c | x)``:

**Occlusion** (``"occlusion"``): the drop in ``ŷ``'s probability when token ``i`` alone is
replaced by a neutral token ``u`` (the vocabulary's ``<unk>``, else the padding token)::

    c_i = p(ŷ | x) - p(ŷ | x_1, ..., x_{i-1}, u, x_{i+1}, ..., x_L)        in [-1, 1]

A token that already reads as ``u`` (an unknown word) gets 0. Each text costs ``L + 1`` forward
passes, run as batches of its occluded copies (they share the text's length: no padding).

**Gradient × input** (``"gradient"``): the first-order estimate of the same drop with the
token's embedding ``e_i`` set to zero instead, from one forward and one backward pass::

    c_i = ∇_{e_i} p(ŷ | x) · e_i  ≈  p(ŷ | x) - p(ŷ | x with e_i = 0)

Either way ``c_i > 0``: the token speaks for the predicted label (without it the model is less
sure); ``c_i < 0``: against it. Deterministic: the model in eval mode, no sampling; the weights'
gradients are left untouched.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnkit.data import pad_sequences

__all__ = ["METHODS", "contributions"]

METHODS = ("occlusion", "gradient")  # the first is the default


def contributions(
    model: nn.Module,
    ids: list[list[int]],
    fill: int,
    pad_index: int,
    *,
    method: str,
    batch_size: int,
    device: torch.device,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The class probabilities of each text and each of its tokens' contribution.

    Args:
        model: a classifier ``model(tokens (N, L), lengths (N,)) -> logits (N, C)`` with an
            ``embedding`` layer (for ``"gradient"``).
        ids: each text's token indices (at least one each).
        fill: the index that replaces a token in occlusion (``u`` in the module docstring).
        pad_index: the padding index of the batches.
        method: one of :data:`METHODS`.
        batch_size: the most sequences one forward pass reads.
        device: where the model is.

    Returns:
        ``(probabilities (N, C), [contributions (L_n,) of each text])``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    sequences = [torch.tensor(row, dtype=torch.long) for row in ids]
    if method == "gradient":
        return _gradient_times_input(model, sequences, pad_index, batch_size, device)
    return _occlusion(model, sequences, fill, pad_index, batch_size, device)


@torch.no_grad()
def _occlusion(
    model: nn.Module, sequences: list[torch.Tensor], fill: int, pad_index: int, batch_size: int,
    device: torch.device,
) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
    probabilities = []
    for start in range(0, len(sequences), batch_size):
        tokens, lengths = pad_sequences(sequences[start : start + batch_size], pad_index)
        logits = model(tokens.to(device), lengths).float()  # (B, C)
        probabilities.append(torch.softmax(logits, -1).cpu())
    probabilities = torch.cat(probabilities)  # (N, C)
    predicted = probabilities.argmax(1)  # (N,)
    out = []
    for n, tokens in enumerate(sequences):
        length, without = len(tokens), []
        for start in range(0, length, batch_size):  # at most batch_size copies at a time
            positions = torch.arange(start, min(start + batch_size, length))  # (B,)
            occluded = tokens.repeat(len(positions), 1)  # (B, L): row b is the text ...
            occluded[torch.arange(len(positions)), positions] = fill  # ... less token start + b
            logits = model(occluded.to(device), torch.full((len(positions),), length)).float()
            without.append(torch.softmax(logits, -1).cpu())  # (B, C)
        change = probabilities[n, predicted[n]] - torch.cat(without)[:, predicted[n]]  # (L,)
        out.append(change.numpy())
    return probabilities.numpy(), out


def _gradient_times_input(
    model: nn.Module, sequences: list[torch.Tensor], pad_index: int, batch_size: int,
    device: torch.device,
) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
    embedded: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_()  # a leaf: the weights get no gradient
        embedded.append(leaf)
        return leaf

    handle = model.embedding.register_forward_hook(keep)
    probabilities, out = [], []
    try:
        for start in range(0, len(sequences), batch_size):
            chunk = sequences[start : start + batch_size]
            tokens, lengths = pad_sequences(chunk, pad_index)
            embedded.clear()
            with torch.enable_grad():
                logits = model(tokens.to(device), lengths).float()  # (B, C)
                p = torch.softmax(logits, -1)  # (B, C)
                chosen = p.gather(1, p.argmax(1, keepdim=True))  # (B, 1): p(ŷ | x)
                # each text's p(ŷ) depends on its own embeddings only: one backward for all
                (grad,) = torch.autograd.grad(chosen.sum(), embedded[0])  # (B, L, E)
            scores = (grad * embedded[0].detach()).sum(-1).float().cpu()  # (B, L)
            probabilities.append(p.detach().cpu())
            out.extend(scores[b, : len(row)].numpy() for b, row in enumerate(chunk))
    finally:
        handle.remove()
    return torch.cat(probabilities).numpy(), out
