"""--members M: a deep ensemble of forecasters, each trained on its own loss, forecasting with
the combination of their outputs (the mixture of Gaussians, the mean of points and quantiles)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.models.forecaster import (
    EnsembleForecaster,
    ForecasterConfig,
    RNNForecaster,
    Seq2SeqForecaster,
    build_forecaster,
    combine_members,
    forecast_loss,
    interval,
)
from rnnkit.tasks.forecast.data import window_origins, windows

SINE = 10 + np.sin(2 * np.pi * np.arange(240) / 12)  # period 12, level 10


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny models train faster on one thread (tests/conftest.py)."""


def test_a_gaussian_mixture_keeps_its_mean_and_variance():
    torch.manual_seed(0)
    outputs = torch.randn(4, 3, 2, 1, 2)  # (M, N, h, k, 2): means and raw spreads
    mean, _, upper = interval(combine_members(outputs, "gaussian"), "gaussian", 0.8)
    means, sigmas = outputs[..., 0], F.softplus(outputs[..., 1]) + 1e-4
    expected_mean = means.mean(dim=0)
    expected_sigma = ((sigmas**2 + means**2).mean(dim=0) - expected_mean**2).sqrt()
    torch.testing.assert_close(mean, expected_mean)
    z = 1.2815516  # the 90% quantile of the standard normal: coverage 0.8
    torch.testing.assert_close((upper - mean) / z, expected_sigma, rtol=1e-5, atol=1e-6)


def test_one_member_combines_to_itself_and_points_and_quantiles_average():
    output = torch.randn(1, 5, 3, 2, 2)
    torch.testing.assert_close(combine_members(output, "gaussian"), output[0], rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    points = torch.randn(3, 5, 3, 2, 1)
    torch.testing.assert_close(combine_members(points, "point"), points.mean(dim=0))
    quantiles = torch.tensor([[[[[3.0, 1.0, 2.0]]]], [[[[0.0, 1.0, 5.0]]]]])  # (2, 1, 1, 1, 3)
    assert combine_members(quantiles, "quantile").flatten().tolist() == [0.5, 1.5, 4.0]  # sorted


@pytest.mark.parametrize("architecture", ["direct", "seq2seq"])
def test_training_mode_gives_each_members_output_and_eval_mode_their_combination(architecture):
    torch.manual_seed(0)
    config = ForecasterConfig(2, 1, 3, hidden=8, members=3, architecture=architecture)
    model = build_forecaster(config)
    assert isinstance(model, EnsembleForecaster) and len(model.members) == 3
    kind = Seq2SeqForecaster if architecture == "seq2seq" else RNNForecaster
    assert all(type(member) is kind for member in model.members)
    first, second = (m.head.weight for m in model.members[:2])
    assert not torch.equal(first, second)  # different initial weights
    windows_, targets = torch.randn(5, 7, 2), torch.randn(5, 3, 1)
    assert model.train()(windows_, targets).shape == (3, 5, 3, 1, 2)
    combined = model.eval()(windows_)
    assert combined.shape == (5, 3, 1, 2)
    each = torch.stack([member(windows_) for member in model.members])
    torch.testing.assert_close(combined, combine_members(each, "gaussian"))


def test_each_member_learns_from_its_own_loss_alone():
    torch.manual_seed(0)
    model = EnsembleForecaster(ForecasterConfig(1, 1, 2, hidden=6, members=3)).train()
    windows_, targets = torch.randn(4, 5, 1), torch.randn(4, 2, 1)
    forecast_loss(model(windows_, targets), targets, "gaussian", 0.8).backward()
    for member in model.members:
        alone = [p.grad.clone() for p in member.parameters()]
        member.zero_grad()
        forecast_loss(member(windows_, targets), targets, "gaussian", 0.8).backward()
        for got, own in zip(alone, (p.grad for p in member.parameters())):
            torch.testing.assert_close(got, own / 3)  # the mean of the 3 losses


def test_an_ensemble_overfits_one_batch_of_a_sine():
    torch.manual_seed(0)
    z = np.sin(2 * np.pi * np.arange(120) / 12)[:, None]  # (120, 1)
    origins = window_origins(12, 0, 120, 3, stride=6)
    inputs, targets = windows(z, np.zeros((120, 0)), origins, 12, 3)  # (N, 12, 1), (N, 3, 1)
    model = EnsembleForecaster(ForecasterConfig(1, 1, 3, hidden=32, head="point", members=2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        loss = forecast_loss(model.train()(inputs), targets, "point", 0.8)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    error = (model.eval()(inputs)[..., 0] - targets).pow(2).mean().item()
    assert loss.item() < 1e-3 and error < 1e-3


def test_a_forecaster_with_members_trains_saves_loads_and_exports(tmp_path):
    model = rnnkit.Forecaster(members=3, epochs=3, hidden=8, input_length=12, horizon=3,
                              test_size=36, val_size=36, transform="none", seed=0,
                              verbose=0).fit(SINE, out=tmp_path / "run")  # fmt: skip
    assert isinstance(model.model, EnsembleForecaster) and len(model.model.members) == 3
    expected = model.forecast(steps=6)["forecast"]
    loaded = rnnkit.load(tmp_path / "run")
    assert loaded.settings["model"].members == 3
    assert loaded.forecast(steps=6)["forecast"] == expected
    row = expected[0]["value"]
    assert row["lower"] < row["forecast"] < row["upper"] and math.isfinite(row["forecast"])
    pytest.importorskip("onnxruntime")
    from rnnkit.export import export_run

    for fmt in ("onnx", "torchscript"):
        info = export_run(loaded, fmt, tmp_path / f"model-{fmt}")
        assert info["outputs"] == {"output": ["batch", "3", "1", "2"]}
        assert info["max_abs_diff"] < 1e-5  # the file against the model on random windows
