"""Optimizers by name: an explicit registry from a name to a builder over ``TrainConfig``.

Each builder takes the parameters to optimise and the config and returns a ``torch.optim``
optimizer; it passes on only the settings that optimizer has (``momentum`` reaches sgd and
rmsprop, ``betas`` the Adam family, ``weight_decay`` all of them). ``ntasgd`` is SGD that averages
its iterates once validation stops improving (:mod:`rnnkit.train.averaging`).

Discriminative learning rates (Howard & Ruder 2018): with ``lr_decay_per_layer`` = ξ and a model
whose ``layer_groups()`` lists G parameter groups bottom to top, group g gets its own rate
``lr_g = lr / ξ**(G - 1 - g)`` (the top group ``lr``; ULMFiT uses ξ = 2.6). Each param group
also keeps its rate as ``base_lr``, for per-step schedules that scale it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import torch

from rnnkit.errors import UserError
from rnnkit.train.averaging import AveragedSGD

if TYPE_CHECKING:
    from rnnkit.train.config import TrainConfig

__all__ = ["OPTIMIZERS", "build_optimizer", "discriminative_groups"]

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


def _ntasgd(params: Params, c: TrainConfig) -> torch.optim.Optimizer:
    # plain SGD until a NonMonotonicTrigger starts averaging (rnnkit.train.averaging)
    return AveragedSGD(params, lr=c.lr, weight_decay=c.weight_decay)


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
    "ntasgd": _ntasgd,
    "adam": _adam_family(torch.optim.Adam),
    "adamax": _adam_family(torch.optim.Adamax),
    "nadam": _adam_family(torch.optim.NAdam),
    "adamw": _adam_family(torch.optim.AdamW),
}


def discriminative_groups(
    layer_groups: Sequence[Sequence[torch.nn.Parameter]], lr: float, decay: float
) -> list[dict]:
    """Param groups bottom to top, group g of G with ``lr / decay**(G - 1 - g)`` (and the same
    as ``base_lr``); empty groups are left out."""
    count = len(layer_groups)
    out = []
    for g, params in enumerate(layer_groups):
        rate = lr / decay ** (count - 1 - g)
        if params:
            out.append({"params": list(params), "lr": rate, "base_lr": rate})
    return out


def build_optimizer(
    params: Params, config: TrainConfig, *, model: torch.nn.Module | None = None
) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, over ``params`` (those with requires_grad);
    ``config.lr_decay_per_layer`` other than 1 gives ``model``'s layer groups their own rates."""
    try:
        builder = OPTIMIZERS[config.optimizer]
    except KeyError:
        raise UserError(
            f"unknown optimizer {config.optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}"
        ) from None
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no parameters with requires_grad=True to optimise")
    decay = getattr(config, "lr_decay_per_layer", 1.0)
    if decay == 1.0:
        return builder(trainable, config)
    model = getattr(model, "module", model)  # a DistributedDataParallel's model
    if model is None or not hasattr(model, "layer_groups"):
        raise UserError(
            f"lr_decay_per_layer={decay} needs a model that lists its layer groups (the text "
            f"classifier, the captioner); expected 1 for a {type(model).__name__}"
        )
    wanted = {id(p) for p in trainable}
    groups = [[p for p in group if id(p) in wanted] for group in model.layer_groups()]
    grouped = {id(p) for group in groups for p in group}
    if grouped != wanted:
        raise ValueError("the model's layer_groups() must hold each trainable parameter once")
    return builder(discriminative_groups(groups, config.lr, decay), config)
