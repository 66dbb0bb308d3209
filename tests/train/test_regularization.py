import copy

import torch
from torch import nn

from rnnkit.train import SupervisedObjective, Trainer
from rnnkit.train.regularization import clip_gradients, penalized_parameters, weight_penalty

from .helpers import quick_config


def _grads(l1: float = 0.0, l2: float = 0.0, **changes):
    """Gradients of one train_step on a fixed batch of a fixed linear model."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    batch = (torch.randn(16, 4), torch.randn(16, 3))
    settings = {"optimizer": "sgd", "lr": 1e-9, "clip_norm": None, "l1": l1, "l2": l2}
    config = quick_config(**{**settings, **changes})
    trainer = Trainer(model, SupervisedObjective(nn.MSELoss()), config, device="cpu")
    trainer.setup()
    weights = copy.deepcopy(model.state_dict())
    loss, stats = trainer.train_step(batch)
    return weights, {name: p.grad.clone() for name, p in model.named_parameters()}, stats


def test_l1_adds_sign_of_the_weights_to_their_gradient_only():
    weights, plain, _ = _grads()
    _, penalized, stats = _grads(l1=0.1)
    expected = 0.1 * torch.sign(weights["weight"])
    torch.testing.assert_close(penalized["weight"] - plain["weight"], expected)
    torch.testing.assert_close(penalized["bias"], plain["bias"])  # biases are not penalised
    assert stats["penalty"] == torch.tensor(0.1) * weights["weight"].abs().sum()


def test_l2_adds_twice_the_weights_to_their_gradient_only():
    weights, plain, _ = _grads()
    _, penalized, _ = _grads(l2=0.05)
    torch.testing.assert_close(penalized["weight"] - plain["weight"], 2 * 0.05 * weights["weight"])
    torch.testing.assert_close(penalized["bias"], plain["bias"])


def test_no_penalty_when_weights_are_zero():
    assert weight_penalty([torch.ones(2, 2)], 0.0, 0.0) is None
    assert "penalty" not in _grads()[2]


def test_penalized_parameters_are_the_matrices():
    model = nn.Sequential(nn.Embedding(5, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    shapes = [tuple(p.shape) for p in penalized_parameters(model)]
    assert shapes == [(5, 3), (2, 3)]


def test_clip_norm_bounds_the_global_norm():
    _, plain, _ = _grads()
    norm = torch.cat([g.flatten() for g in plain.values()]).norm().item()
    assert norm > 0.1
    _, clipped, stats = _grads(clip_norm=0.1)
    assert stats["grad_norm"] == torch.tensor(norm).item()
    clipped_norm = torch.cat([g.flatten() for g in clipped.values()]).norm().item()
    assert abs(clipped_norm - 0.1) < 1e-5
    torch.testing.assert_close(clipped["weight"], plain["weight"] * 0.1 / norm)


def test_clip_value_clamps_every_element():
    _, plain, _ = _grads()
    limit = plain["weight"].abs().max().item() / 2
    _, clipped, _ = _grads(clip_value=limit)
    torch.testing.assert_close(clipped["weight"], plain["weight"].clamp(-limit, limit))
    assert clipped["weight"].abs().max().item() <= limit


def test_clip_gradients_without_clipping_returns_none():
    p = nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 10.0)
    assert clip_gradients([p], None, None) is None
    assert torch.equal(p.grad, torch.full((3,), 10.0))
