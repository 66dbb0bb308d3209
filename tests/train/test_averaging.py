"""NT-ASGD: the non-monotone trigger fires when it says, the average is the mean of the iterates
since then, validation and checkpoints see the averaged weights, and resuming a run with
averaging active equals the run never stopped."""

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.train import Trainer
from rnnkit.train.averaging import AveragedSGD, NonMonotonicTrigger, should_start_averaging

from .helpers import make_loader, make_model, objective, quick_config


@pytest.mark.parametrize(
    "losses,loss,patience,fires",
    [
        ([5.0, 4.0, 3.0], 3.5, 2, False),  # 3.5 beats 5.0, the best before the last two
        ([5.0, 4.0, 3.0], 5.5, 2, True),  # worse than 5.0
        ([5.0, 4.0], 9.0, 2, False),  # not more than `patience` earlier epochs yet
        ([4.0, 3.0, 3.5, 3.6], 3.2, 2, True),  # 3.2 > 3.0 (epoch 2): no progress for 2 epochs
        ([4.0, 3.0, 3.5, 3.6], 2.9, 2, False),
    ],
)
def test_non_monotone_criterion(losses, loss, patience, fires):
    assert should_start_averaging(losses, loss, patience) is fires


def test_average_is_the_mean_of_the_iterates_since_the_start():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3))
    optimizer = AveragedSGD([w], lr=0.1, weight_decay=0.01)
    optimizer.trigger_attached = True
    iterates = []
    for step in range(6):
        if step == 2:
            optimizer.start_averaging()
        w.grad = torch.randn(3)
        expected = w.detach() - 0.1 * (w.grad + 0.01 * w.detach())
        optimizer.step()
        torch.testing.assert_close(w.detach(), expected)  # plain SGD steps
        if step >= 2:
            iterates.append(w.detach().clone())
    average = torch.stack(iterates).mean(0)
    torch.testing.assert_close(optimizer.state[w]["average"], average)
    raw = w.detach().clone()
    assert optimizer.use_average() and torch.equal(w.detach(), optimizer.state[w]["average"])
    with pytest.raises(RuntimeError, match="averaged weights"):
        optimizer.step()
    assert optimizer.use_raw() and torch.equal(w.detach(), raw)
    assert optimizer.param_groups[0]["averaged"] == 4


class ScriptedLoss:
    """The tiny classifier's objective with validation losses from a script, recording the
    weights validation saw."""

    def __init__(self, losses, done=0):
        self.inner = objective()
        self.losses, self.done = losses, done
        self.seen = []

    def train_loss(self, model, batch):
        return self.inner.train_loss(model, batch)

    def evaluate(self, model, batches):
        metrics = self.inner.evaluate(model, batches)
        self.seen.append([p.detach().clone() for p in model.parameters()])
        self.done += 1
        return {**metrics, "loss": self.losses[self.done - 1]}


# epoch 4's 2.7 is worse than 2.0, the best before the last two epochs: averaging from epoch 5
LOSSES = [2.0, 2.5, 2.6, 2.7, 2.8, 2.9]


def _fit(epochs, out=None, resume=False, done=0):
    model = make_model()
    scripted = ScriptedLoss(LOSSES, done)
    config = quick_config(epochs=epochs, optimizer="ntasgd", lr=0.05, seed=0)
    trainer = Trainer(model, scripted, config, callbacks=[NonMonotonicTrigger(2)])
    trainer.fit(make_loader(), make_loader(n=24, shuffle=False), out_dir=out, resume=resume)
    return trainer, scripted


def test_trigger_fires_and_validation_sees_the_average():
    trainer, scripted = _fit(6)
    optimizer = trainer.optimizer
    assert optimizer.averaging
    steps_per_epoch = len(make_loader())
    assert optimizer.param_groups[0]["averaged"] == 2 * steps_per_epoch  # epochs 5 and 6
    # epoch 6 was validated on the average (the model ends holding it, too)
    for seen, p in zip(scripted.seen[5], trainer.model.parameters(), strict=True):
        torch.testing.assert_close(seen, optimizer.state[p]["average"])
        assert torch.equal(p.detach(), optimizer.state[p]["average"])
        assert not torch.equal(p.detach(), optimizer.state[p]["raw"])


def test_trigger_has_not_fired_before_it_says():
    trainer, _ = _fit(3)  # epoch 3's 2.6: only two epochs before it
    assert not trainer.optimizer.averaging


def test_without_the_trigger_it_is_plain_sgd(caplog):
    runs = {}
    for name in ("ntasgd", "sgd"):
        model = make_model()
        config = quick_config(epochs=2, optimizer=name, lr=0.05)
        Trainer(model, objective(), config).fit(make_loader(), make_loader(n=24, shuffle=False))
        runs[name] = model
    assert "averaging never starts" in caplog.text
    for a, b in zip(runs["ntasgd"].parameters(), runs["sgd"].parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_resume_with_averaging_active_equals_the_straight_run(tmp_path):
    straight, _ = _fit(6, tmp_path / "straight")
    stopped, _ = _fit(5, tmp_path / "resumed")  # averaging since epoch 5
    saved = load_file(tmp_path / "resumed" / "last" / "model.safetensors")
    for name, p in stopped.model.named_parameters():  # the checkpoint holds the average
        assert torch.equal(saved[name], stopped.optimizer.state[p]["average"])
    resumed, _ = _fit(6, tmp_path / "resumed", resume=True, done=5)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        for key in ("average", "raw"):
            assert torch.equal(straight.optimizer.state[a][key], resumed.optimizer.state[b][key])
    assert (
        straight.optimizer.param_groups[0]["averaged"]
        == (resumed.optimizer.param_groups[0]["averaged"])
    )
