"""Optimizers by name: an explicit registry from a name to a builder over ``TrainConfig``.

Each builder takes the parameters to optimise and the config and returns a ``torch.optim``
optimizer; it passes on only the settings that optimizer has (``momentum`` reaches sgd and
rmsprop, ``betas`` the Adam family, ``weight_decay`` all of them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch

from rnnkit.errors import UserError

if TYPE_CHECKING:
    from rnnkit.train.config import TrainConfig

__all__ = ["OPTIMIZERS", "build_optimizer"]

Params = Iterable[torch.nn.Parameter]


def _sgd(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
    )


def _rmsprop(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(
        params, lr=c.lr, momentum=c.momentum, eps=c.eps, weight_decay=c.weight_decay
    )


def _adagrad(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, lr=c.lr, eps=c.eps, weight_decay=c.weight_decay)


def _adadelta(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
    # Adadelta's paper has no learning rate (torch's default is 1.0): set lr=1.0 to match it.
    return torch.optim.Adadelta(params, lr=c.lr, eps=c.eps, weight_decay=c.weight_decay)


def _adam_family(cls: type[torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer]:
    def build(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
        return cls(params, lr=c.lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay)

    build.__name__ = f"_{cls.__name__.lower()}"
    return build


# name -> builder(params, config)
OPTIMIZERS: dict[str, Callable[[Params, TrainConfig], torch.optim.Optimizer]] = {
    "sgd": _sgd,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "adam": _adam_family(torch.optim.Adam),
    "adamax": _adam_family(torch.optim.Adamax),
    "nadam": _adam_family(torch.optim.NAdam),
    "adamw": _adam_family(torch.optim.AdamW),
}


def build_optimizer(params: Params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, over ``params`` (those with requires_grad)."""
    try:
        builder = OPTIMIZERS[config.optimizer]
    except KeyError:
        raise UserError(
            f"unknown optimizer {config.optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}"
        ) from None
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no parameters with requires_grad=True to optimise")
    return builder(trainable, config)
