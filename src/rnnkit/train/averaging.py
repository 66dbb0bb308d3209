"""NT-ASGD: SGD that starts averaging its iterates when validation stops improving (Merity et
al. 2017, the AWD-LSTM's optimizer; averaging after Polyak & Juditsky 1992).

``AveragedSGD`` (``optimizer="ntasgd"``) takes plain SGD steps,

    w_{k+1} = w_k - lr * (g_k + weight_decay * w_k),

and, once averaging has started at step T, also keeps the mean of the iterates since then,

    a_k = (1 / (k - T)) * sum_{j=T+1..k} w_j,
    updated as  a_k = a_{k-1} + (w_k - a_{k-1}) / (k - T).

``NonMonotonicTrigger`` (a callback) starts the averaging at the end of the first epoch whose
validation loss is worse than the best of the epochs before the last ``n`` (the non-monotone
criterion of Merity et al.: with ``losses`` the earlier epochs' validation losses, trigger when
``len(losses) > n and loss > min(losses[:-n])``). From then on each epoch is validated and
checkpointed with the averaged weights, as the AWD-LSTM evaluates and saves them, while training
goes on from the raw iterate. This is torch's ``ASGD`` with ``lambd=0`` and ``t0`` set when the
trigger fires, written so that both weights live in the optimizer's state: while the averaged
weights are in the model (from the end of a training pass to the end of the epoch, so during
validation and saving) the raw ones wait in the state as ``raw``, hence a checkpoint holds the
averaged weights as the model's and the raw ones in ``training_state.pt``, and resuming
(``on_fit_start``) puts the raw ones back: a resumed run continues exactly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from rnnkit.train.callbacks import Callback

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

__all__ = ["AveragedSGD", "NonMonotonicTrigger", "should_start_averaging"]

logger = logging.getLogger(__name__)


class AveragedSGD(torch.optim.Optimizer):
    """Plain SGD whose iterates are averaged once :meth:`start_averaging` is called.

    Args:
        params: the parameters (or parameter groups) to optimise.
        lr: learning rate.
        weight_decay: L2 decay added to the gradient.

    Each group holds ``averaging`` (bool) and ``averaged`` (the steps averaged so far); each
    parameter's state ``average`` (the mean iterate) and, while the model holds the average,
    ``raw`` (the iterate training continues from).
    """

    def __init__(self, params: Iterable[Any], lr: float, weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        defaults = {"lr": lr, "weight_decay": weight_decay, "averaging": False, "averaged": 0}
        super().__init__(params, defaults)
        self.trigger_attached = False  # set by NonMonotonicTrigger; else a warning at step 1
        self._warned = False

    @property
    def averaging(self) -> bool:
        """Whether averaging has started."""
        return any(group["averaging"] for group in self.param_groups)

    @property
    def has_average(self) -> bool:
        """Whether at least one step has been averaged."""
        return any(group["averaged"] > 0 for group in self.param_groups)

    def start_averaging(self) -> None:
        """Average the iterates of every step from the next one on."""
        for group in self.param_groups:
            group["averaging"] = True

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not self.trigger_attached and not self._warned:
            self._warned = True
            logger.warning(
                "optimizer ntasgd without its trigger (NonMonotonicTrigger): averaging never "
                "starts, so this is plain SGD"
            )
        if any("raw" in self.state[p] for g in self.param_groups for p in g["params"]):
            raise RuntimeError("step() while the model holds the averaged weights; call use_raw()")
        for group in self.param_groups:
            lr, decay = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                direction = p.grad if decay == 0 else p.grad.add(p, alpha=decay)
                p.add_(direction, alpha=-lr)
            if not group["averaging"]:
                continue
            group["averaged"] += 1
            count = group["averaged"]
            for p in group["params"]:
                state = self.state[p]
                if count == 1 or "average" not in state:
                    state["average"] = p.detach().clone()
                else:
                    state["average"].add_(p - state["average"], alpha=1.0 / count)
        return loss

    @torch.no_grad()
    def use_average(self) -> bool:
        """Put the averaged weights into the parameters, keeping the raw ones in the state
        (``raw``); returns whether it did (nothing is averaged yet, or it already holds them)."""
        swapped = False
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if "average" in state and "raw" not in state:
                    state["raw"] = p.detach().clone()
                    p.copy_(state["average"])
                    swapped = True
        return swapped

    @torch.no_grad()
    def use_raw(self) -> bool:
        """Put the raw weights back after :meth:`use_average`; returns whether it did."""
        swapped = False
        for group in self.param_groups:
            for p in group["params"]:
                raw = self.state[p].pop("raw", None)
                if raw is not None:
                    p.copy_(raw)
                    swapped = True
        return swapped


def should_start_averaging(losses: list[float], loss: float, patience: int) -> bool:
    """The non-monotone criterion: ``loss`` is worse than the best of ``losses`` (the earlier
    epochs', oldest first) before the last ``patience`` of them."""
    earlier = [value for value in losses[: len(losses) - patience] if math.isfinite(value)]
    return len(losses) > patience and bool(earlier) and loss > min(earlier)


class NonMonotonicTrigger(Callback):
    """Starts an :class:`AveragedSGD`'s averaging when validation loss stops improving for
    ``patience`` epochs (module docstring), and swaps the averaged weights in for validation and
    checkpoints.

    Args:
        patience: ``n`` of the criterion: epochs the loss may fail to beat the earlier best.
    """

    def __init__(self, patience: int = 5) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience

    @staticmethod
    def _optimizer(trainer: Trainer) -> AveragedSGD | None:
        optimizer = trainer.optimizer
        return optimizer if isinstance(optimizer, AveragedSGD) else None

    def on_fit_start(self, trainer: Trainer) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None:
            optimizer.trigger_attached = True
            optimizer.use_raw()  # a resumed checkpoint holds the average as the model's weights

    def on_train_epoch_end(self, trainer: Trainer, epoch: int) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None and optimizer.has_average:
            optimizer.use_average()

    def on_evaluate(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is None or optimizer.averaging:
            return
        losses = [row["val_loss"] for row in trainer.history.rows if "val_loss" in row]
        if should_start_averaging(losses, metrics["loss"], self.patience):
            optimizer.start_averaging()
            logger.info(
                "NT-ASGD: validation loss %.4f after epoch %d is worse than the best before the "
                "last %d epochs (%.4f): averaging the weights from now on",
                metrics["loss"], epoch, self.patience, min(losses[: len(losses) - self.patience]),
            )  # fmt: skip

    def on_epoch_end(self, trainer: Trainer, epoch: int, row: dict[str, Any]) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None:
            optimizer.use_raw()

    def on_fit_end(self, trainer: Trainer, history: Any) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None:
            optimizer.use_average()  # the trained model is the averaged one
