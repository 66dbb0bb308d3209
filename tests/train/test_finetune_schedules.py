"""ULMFiT's fine-tuning pieces in rnnkit.train: discriminative learning rates per layer group and
the slanted triangular schedule."""

import math

import pytest

from rnnkit.errors import UserError
from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.optimizers import build_optimizer
from rnnkit.train.schedules import SlantedTriangularLR, slanted_triangular

from .helpers import make_loader, make_model, objective


def test_discriminative_rates_per_group():
    model = SequenceClassifier(ClassifierConfig(20, 2, embed=4, hidden=4, layers=2))
    config = TrainConfig(lr=0.01, lr_decay_per_layer=2.6)
    optimizer = build_optimizer(model.parameters(), config, model=model)
    groups = model.layer_groups()  # embedding, layer 0, layer 1, output
    assert len(optimizer.param_groups) == 4
    for g, (group, params) in enumerate(zip(optimizer.param_groups, groups, strict=True)):
        assert group["lr"] == pytest.approx(0.01 / 2.6 ** (3 - g))
        assert group["base_lr"] == group["lr"]
        assert [id(p) for p in group["params"]] == [id(p) for p in params]


def test_discriminative_rates_leave_frozen_parameters_out():
    model = SequenceClassifier(ClassifierConfig(20, 2, embed=4, hidden=4, layers=1))
    model.embedding.weight.requires_grad_(False)
    config = TrainConfig(lr=1.0, lr_decay_per_layer=2.0)
    optimizer = build_optimizer(model.parameters(), config, model=model)
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 1.0]  # layer 0, output


def test_discriminative_rates_need_layer_groups():
    with pytest.raises(UserError, match="lr_decay_per_layer=2.6 needs a model"):
        build_optimizer(make_model().parameters(), TrainConfig(lr_decay_per_layer=2.6),
                        model=make_model())  # fmt: skip
    assert len(build_optimizer(make_model().parameters(), TrainConfig()).param_groups) == 1


def test_history_lr_is_the_top_groups_rate():
    class Grouped(type(make_model())):
        def layer_groups(self):
            return [list(self.lstm.parameters()), list(self.out.parameters())]

    model = Grouped()
    config = TrainConfig(epochs=2, lr=0.02, lr_decay_per_layer=4.0, monitor="train_loss",
                         seed=0, plot=False, progress=False)  # fmt: skip
    history = Trainer(model, objective(), config).fit(make_loader())
    assert [row["lr"] for row in history.rows] == [0.02, 0.02]  # not the bottom group's 0.005


def _paper(t, total, cut_frac, ratio):
    """Howard & Ruder (2018), eq. 3, written out."""
    cut = math.floor(total * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return (1 + p * (ratio - 1)) / ratio


@pytest.mark.parametrize(("total", "cut_frac", "ratio"), [(100, 0.1, 32), (1000, 0.2, 10)])
def test_slanted_triangular_matches_the_formula(total, cut_frac, ratio):
    for t in range(total + 1):
        assert slanted_triangular(t, total, cut_frac, ratio) == pytest.approx(
            _paper(t, total, cut_frac, ratio)
        )
    assert slanted_triangular(0, total, cut_frac, ratio) == pytest.approx(1 / ratio)
    assert slanted_triangular(int(total * cut_frac), total, cut_frac, ratio) == 1.0
    assert slanted_triangular(total, total, cut_frac, ratio) == pytest.approx(1 / ratio)
    assert slanted_triangular(total + 5, total, cut_frac, ratio) == pytest.approx(1 / ratio)


def test_slanted_triangular_callback_sets_each_step_rate():
    loader = make_loader(n=48, batch_size=12)  # 4 steps an epoch
    total = 3 * len(loader)
    seen = []

    class Rates(SlantedTriangularLR):
        def on_batch_end(self, trainer, epoch, batch_index, loss, stats):
            seen.append(trainer.optimizer.param_groups[0]["lr"])  # the rate this step used
            super().on_batch_end(trainer, epoch, batch_index, loss, stats)

    config = TrainConfig(epochs=3, lr=0.1, monitor="train_loss", seed=0, plot=False,
                         progress=False)  # fmt: skip
    Trainer(make_model(), objective(), config, callbacks=[Rates(total, 0.25, 8)]).fit(loader)
    expected = [0.1 * slanted_triangular(t, total, 0.25, 8) for t in range(total)]
    assert seen == pytest.approx(expected)
    assert max(seen) == pytest.approx(0.1)
