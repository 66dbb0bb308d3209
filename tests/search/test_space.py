"""The space file: parsing, Optuna distributions, and one clear error for every bad space."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from rnnkit.errors import UserError
from rnnkit.search.space import read_space
from rnnkit.tasks.classify import TextClassifier

SPACE = """
bidirectional = [true, false]

[lr]
low = 1e-4
high = 1e-2
log = true

[hidden]
low = 32
high = 256
step = 32

[optimizer]
choices = ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]

[init]
choices = ["uniform", "lecun", "normal", "zeros", "glorot_normal", "glorot_uniform", "he"]

[dropout]
low = 0.0
high = 0.9
"""


def test_a_space_file_becomes_optuna_distributions(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    space = read_space(path, TextClassifier)
    d = {p.name: p.distribution for p in space.params}
    assert list(d) == ["bidirectional", "lr", "hidden", "optimizer", "init", "dropout"]
    assert d["lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert d["hidden"] == IntDistribution(32, 256, step=32)  # an int setting: ints
    assert d["optimizer"] == CategoricalDistribution(
        ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]
    )
    assert d["dropout"] == FloatDistribution(0.0, 0.9)
    assert d["bidirectional"] == CategoricalDistribution([True, False])
    assert space.spec()["hidden"] == {"low": 32, "high": 256, "step": 32}


def test_a_grid_lists_every_value():
    space = read_space(
        {"hidden": {"low": 8, "high": 20, "step": 4}, "dropout": {"low": 0, "high": 0.5,
         "step": 0.25}, "cell": ["lstm", "gru"]},
        TextClassifier, sampler="grid",
    )  # fmt: skip
    assert space.grid() == {"hidden": [8, 12, 16, 20], "dropout": [0.0, 0.25, 0.5],
                            "cell": ["lstm", "gru"]}  # fmt: skip
    assert space.grid_size() == 24


@pytest.mark.parametrize(
    "space, message",
    [
        ({"hiden": {"low": 8, "high": 16}}, "no setting 'hiden' (did you mean 'hidden'?)"),
        ({"lr": {"low": 0.01, "high": 0.001}}, "empty range: low 0.01 >= high 0.001"),
        ({"lr": {"low": 0.01, "high": 0.01}}, "empty range"),
        ({"hidden": {"low": 8.5, "high": 16}}, "hidden is a int setting: expected an integer"),
        ({"lr": {"low": "small", "high": 0.1}}, "lr is a float setting: expected a finite num"),
        ({"lr": {"low": True, "high": 0.1}}, "expected a finite number"),
        ({"optimizer": {"low": 1, "high": 2}}, "is a str setting: expected choices"),
        ({"betas": {"low": 0.1, "high": 0.9}}, "is a pair: expected choices"),
        ({"optimizer": {"choices": ["adam", "adamm"]}}, "value 'adamm' is refused: optimizer"),
        ({"dropout": {"low": 0.0, "high": 1.0}}, "value 1.0 is refused: dropout must lie in"),
        ({"hidden": {"low": 0, "high": 8}}, "value 0 is refused: hidden must be at least 1"),
        ({"cell": {"choices": []}}, "expected a non-empty list"),
        ({"cell": {"choices": "lstm"}}, "expected a non-empty list"),
        ({"cell": ["lstm", "lstm"]}, "lists a choice twice"),
        ({"cell": [["lstm"]]}, "expected strings, numbers or booleans"),
        ({"cell": {"choices": ["gru"], "low": 1}}, "has choices and low; expected only choices"),
        ({"lr": {"low": 0.1, "hihg": 1}}, "unknown key 'hihg' (did you mean 'high'?)"),
        ({"lr": {"low": 0.1}}, "has no high"),
        ({"lr": {"low": 0.0, "high": 1, "log": True}}, "log-uniform from 0.0; expected low > 0"),
        ({"lr": {"low": 0.1, "high": 1, "log": "yes"}}, "log = 'yes'; expected true or false"),
        ({"lr": {"low": 0.1, "high": 1, "step": 0.1, "log": True}}, "both step and log"),
        ({"hidden": {"low": 8, "high": 16, "step": 0}}, "expected a positive step"),
        ({"lr": 0.1}, "lr = 0.1; expected a table"),
        ({"vocab_size": [10, 20]}, "no setting 'vocab_size'"),
        ({"monitor": ["val_loss"]}, "is what the search optimises"),
        ({}, "names no settings"),
    ],
)
def test_a_bad_space_is_one_clear_error(space, message):
    with pytest.raises(UserError) as caught:
        read_space(space, TextClassifier)
    assert message in str(caught.value)


def test_the_grid_sampler_refuses_a_continuous_range():
    with pytest.raises(UserError, match=r"\[lr\] is a continuous range; the grid sampler"):
        read_space({"lr": {"low": 1e-3, "high": 1e-2}}, TextClassifier, sampler="grid")


def test_a_searched_setting_cannot_also_be_fixed():
    with pytest.raises(UserError, match="hidden is both searched and given as a fixed setting"):
        read_space({"hidden": [8, 16]}, TextClassifier, fixed={"hidden": 32})


def test_choices_are_checked_with_the_fixed_settings():
    # nesterov needs sgd with momentum: refused with the fixed optimizer adam
    with pytest.raises(UserError, match="nesterov needs optimizer='sgd'"):
        read_space({"nesterov": [True, False]}, TextClassifier, fixed={"optimizer": "adam"})


def test_a_shorthand_line_after_a_table_is_explained(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[lr]\nlow = 0.001\nhigh = 0.01\ncell = ['lstm', 'gru']\n")
    with pytest.raises(UserError, match=r"a line after \[lr\] belongs to it: put 'cell = ...'"):
        read_space(path, TextClassifier)


def test_a_bad_toml_file_is_one_clear_error(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[lr\nlow = 1")
    with pytest.raises(UserError, match="is not valid TOML"):
        read_space(path, TextClassifier)
    with pytest.raises(UserError, match="does not exist"):
        read_space(tmp_path / "missing.toml", TextClassifier)
