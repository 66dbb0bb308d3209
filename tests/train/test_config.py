import pytest

from rnnkit.errors import UserError
from rnnkit.train import TrainConfig
from rnnkit.train.monitor import better_direction


def test_defaults_round_trip_through_dict():
    config = TrainConfig(lr=0.5, betas=(0.8, 0.9), clip_norm=None)
    again = TrainConfig.from_dict(config.to_dict())
    assert again == config
    assert config.to_dict()["betas"] == [0.8, 0.9]


def test_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(UserError, match=r"unknown training setting 'lrr' \(did you mean 'lr'\?\)"):
        TrainConfig.from_dict({"lrr": 0.1})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("epochs", "3", "expected int, got str '3'"),
        ("epochs", 2.5, "expected int, got float 2.5"),
        ("epochs", True, "expected int, got bool True"),
        ("lr", "0.1", "expected float, got str"),
        ("clip_norm", "x", "expected float | None, got str"),
        ("betas", [0.9], "expected tuple"),
        ("nesterov", 1, "expected bool, got int"),
        ("optimizer", 3, "expected str, got int"),
    ],
)
def test_wrong_type_says_what_was_expected(key, value, expected):
    with pytest.raises(UserError, match=f"'{key}' {expected}"):
        TrainConfig.from_dict({key: value})


def test_ints_are_accepted_for_floats_and_none_for_optionals():
    config = TrainConfig.from_dict({"lr": 1, "clip_norm": None, "betas": [0, 0.5]})
    assert isinstance(config.lr, float) and config.lr == 1.0
    assert config.clip_norm is None
    assert config.betas == (0.0, 0.5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": 0}, "lr must be positive, got 0.0"),
        ({"epochs": 0}, "epochs must be at least 1, got 0"),
        ({"clip_norm": -1}, "clip_norm must be positive"),
        ({"patience": 0}, "patience must be at least 1"),
        ({"optimizer": "adamm"}, "optimizer must be one of sgd, rmsprop, .*adamw; got 'adamm'"),
        ({"lr_schedule": "cyclic"}, "lr_schedule must be one of none, step"),
        ({"mode": "avg"}, "mode must be one of min, max"),
        ({"nesterov": True}, "nesterov needs optimizer='sgd' and momentum > 0"),
        ({"betas": (0.9, 1.0)}, r"betas must lie in \[0, 1\)"),
    ],
)
def test_out_of_range_values_raise(changes, message):
    with pytest.raises(UserError, match=message):
        TrainConfig(**changes)


def test_replace_checks_the_new_values():
    config = TrainConfig()
    assert config.replace(lr=0.1).lr == 0.1
    with pytest.raises(UserError, match="lr must be positive"):
        config.replace(lr=-1.0)


def test_mapping_required():
    with pytest.raises(UserError, match="must be a mapping, got list"):
        TrainConfig.from_dict([("lr", 1)])


@pytest.mark.parametrize(
    "column, direction",
    [("val_loss", "min"), ("train_perplexity", "min"), ("val_mase", "min"),
     ("val_accuracy", "max"), ("val_macro_f1", "max"), ("val_bleu4", "max"), ("val_custom", None)],
)  # fmt: skip
def test_a_known_metric_says_which_way_is_better(column, direction):
    assert better_direction(column) == direction


@pytest.mark.parametrize(
    ("given", "mode"),
    [({}, "min"), ({"monitor": "val_accuracy"}, "max"), ({"monitor": "val_bleu4"}, "max"),
     ({"monitor": "val_custom"}, "min"), ({"monitor": "val_accuracy", "mode": "min"}, "min")],
)  # fmt: skip
def test_a_config_without_a_mode_takes_its_monitors_direction(given, mode):
    config = TrainConfig(**given)
    assert config.mode == mode
    assert TrainConfig.from_dict(config.to_dict()) == config  # saved resolved, read back alike
