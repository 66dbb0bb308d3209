import pytest
import torch
from torch import nn

from rnnkit.errors import UserError
from rnnkit.train import OPTIMIZERS, SCHEDULES, TrainConfig, build_optimizer, build_scheduler
from rnnkit.train.schedules import step_scheduler


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_builds_and_steps(name):
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = build_optimizer(model.parameters(), TrainConfig(optimizer=name, lr=0.1))
    model(torch.randn(8, 4)).square().mean().backward()
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_optimizer_names_cover_the_design():
    expected = {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam", "adamw"}
    expected.add("ntasgd")  # SGD averaged once validation stalls (rnnkit.train.averaging)
    assert set(OPTIMIZERS) == expected


def test_sgd_settings_reach_the_optimizer():
    config = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    optimizer = build_optimizer(_model().parameters(), config)
    group = optimizer.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.9, True, 0.01)


def test_unknown_optimizer_lists_the_known_ones():
    config = TrainConfig()
    config.optimizer = "adamm"  # set after the checks in __post_init__
    with pytest.raises(UserError, match="unknown optimizer 'adamm'; expected one of: sgd, "):
        build_optimizer(_model().parameters(), config)


def test_unknown_schedule_lists_the_known_ones():
    config = TrainConfig()
    config.lr_schedule = "cyclic"
    optimizer = build_optimizer(_model().parameters(), config)
    with pytest.raises(UserError, match="unknown lr_schedule 'cyclic'; expected one of: none"):
        build_scheduler(optimizer, config)


def _rates(schedule: str, metrics=(1.0, 1.0, 1.0, 1.0), **changes) -> list[float]:
    config = TrainConfig(optimizer="sgd", lr=1.0, lr_schedule=schedule, epochs=4, **changes)
    optimizer = build_optimizer(_model().parameters(), config)
    scheduler = build_scheduler(optimizer, config)
    rates = []
    for metric in metrics:
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        step_scheduler(scheduler, metric)
    return rates


@pytest.mark.parametrize(
    ("schedule", "changes", "expected"),
    [
        ("none", {}, [1.0, 1.0, 1.0, 1.0]),
        ("step", {"lr_step_size": 2, "lr_gamma": 0.5}, [1.0, 1.0, 0.5, 0.5]),
        ("exponential", {"lr_gamma": 0.5}, [1.0, 0.5, 0.25, 0.125]),
        ("cosine", {}, [1.0, 0.8535534, 0.5, 0.1464466]),
        ("linear", {"lr_min": 0.2}, [1.0, 0.8, 0.6, 0.4]),
        ("plateau", {"lr_patience": 1, "lr_gamma": 0.5}, [1.0, 1.0, 1.0, 0.5]),
    ],
)
def test_schedules(schedule, changes, expected):
    assert _rates(schedule, **changes) == pytest.approx(expected)


def test_every_schedule_has_a_test():
    assert set(SCHEDULES) == {"none", "step", "exponential", "cosine", "linear", "plateau"}
