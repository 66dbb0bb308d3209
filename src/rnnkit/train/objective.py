"""What a task tells the trainer: how to compute a batch's loss and how to evaluate.

The trainer knows nothing about any task. Each task (``rnnkit.tasks.*``) supplies an object with
two required methods and three optional ones (the trainer looks the optional ones up with
``getattr``, so any object with the two required methods works; subclassing ``Objective`` just
provides the defaults):

``train_loss(model, batch) -> (loss, stats)``
    ``batch`` is already on the device (see ``move_batch``). ``loss`` is a scalar tensor to
    minimise; ``stats`` maps names to this batch's *mean* values (floats or 0-d tensors), for
    example ``{"accuracy": 0.75, "n": 32}``. The optional key ``"n"`` is the batch's weight
    (examples, or tokens for a language model; default 1): the epoch's ``train_loss`` and
    ``train_<name>`` are the ``n``-weighted means over the batches.

``evaluate(model, batches) -> metrics``
    Called under ``torch.no_grad()`` with the model in eval mode; ``batches`` yields batches
    already on the device. Returns full-dataset metrics that must include ``"loss"``; the
    history records them as ``val_<name>``.

``start_epoch(model, train)`` (optional)
    Called before each training epoch (``train=True``) and before each evaluation
    (``train=False``): the place to reset state carried across batches, such as the hidden
    state of truncated BPTT (carried from batch to batch, detached between them).

``move_batch(batch, device)`` (optional)
    Moves a batch to the device; the default is ``move_to_device`` with this objective's
    ``keep_on_cpu`` names (sequence lengths stay on the CPU for ``pack_padded_sequence``).

``summarize(means)`` (optional)
    Turns the epoch's weighted means into the reported training metrics, e.g. adds a
    perplexity computed from the mean loss; the default returns them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from rnnkit.train.device import CPU_KEYS, move_to_device
from rnnkit.train.metrics import WeightedMeans

__all__ = ["Objective", "SupervisedObjective"]


class Objective:
    """Base class with the optional hooks' defaults; subclasses define train_loss and evaluate."""

    keep_on_cpu: frozenset[str] = CPU_KEYS

    def train_loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, batches: Iterable[Any]) -> dict[str, float]:
        raise NotImplementedError

    def start_epoch(self, model: nn.Module, train: bool) -> None:
        """Reset state carried across batches; nothing to reset by default."""

    def move_batch(self, batch: Any, device: torch.device) -> Any:
        return move_to_device(batch, device, self.keep_on_cpu)

    def summarize(self, means: dict[str, float]) -> dict[str, float]:
        return means


class SupervisedObjective(Objective):
    """The generic case: a batch is ``(inputs, targets)``, the model maps inputs to outputs.

    Args:
        loss_fn: ``loss_fn(outputs, targets)`` → scalar mean loss, e.g. ``nn.CrossEntropyLoss()``.
        metrics: name → ``fn(outputs, targets)`` → float (a per-batch mean), e.g.
            ``{"accuracy": rnnkit.train.metrics.accuracy}``.
    """

    def __init__(
        self,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        metrics: Mapping[str, Callable[[Any, Any], float]] | None = None,
    ) -> None:
        self.loss_fn = loss_fn
        self.metrics = dict(metrics or {})

    def _batch_stats(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, targets = batch
        outputs = model(inputs)
        loss = self.loss_fn(outputs, targets)
        detached = outputs.detach()
        stats = {name: float(fn(detached, targets)) for name, fn in self.metrics.items()}
        stats["n"] = len(targets)
        return loss, stats

    def train_loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        return self._batch_stats(model, batch)

    def evaluate(self, model: nn.Module, batches: Iterable[Any]) -> dict[str, float]:
        means = WeightedMeans()
        for batch in batches:
            loss, stats = self._batch_stats(model, batch)
            n = stats.pop("n")
            means.add({"loss": loss.item(), **stats}, weight=n)
        return means.means()
