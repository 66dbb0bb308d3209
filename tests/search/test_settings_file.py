"""Settings files (best.toml, best.json) as written by a search and read by train --config."""

import pytest

from rnnkit.errors import UserError
from rnnkit.search.settings_file import read_settings_file, write_settings_file
from rnnkit.tasks.classify import TextClassifier

from .conftest import run_cli


@pytest.mark.parametrize("name", ["best.toml", "best.json"])
def test_settings_round_trip(tmp_path, name):
    settings = {"lr": 0.00123, "hidden": 64, "optimizer": "nadam", "betas": (0.8, 0.99),
                "bidirectional": False, "dropout": 1e-05}  # fmt: skip
    path = write_settings_file(tmp_path / name, settings, comment="the best trial\nretrain: ...")
    read = read_settings_file(path, TextClassifier)
    assert read == {**settings, "betas": [0.8, 0.99]}
    TextClassifier(**read)  # accepted by the task


def test_none_is_kept_in_json_and_said_in_toml(tmp_path):
    settings = {"max_length": None, "hidden": 8}
    toml = write_settings_file(tmp_path / "best.toml", settings)
    assert "# max_length = none" in toml.read_text()
    assert read_settings_file(toml, TextClassifier) == {"hidden": 8}
    assert read_settings_file(write_settings_file(tmp_path / "b.json", settings),
                              TextClassifier) == settings  # fmt: skip


def test_section_tables_and_the_task_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('task = "classify"\nepochs = 2\n[model]\nhidden = 16\n[train]\nlr = 0.01\n')
    assert read_settings_file(path, TextClassifier) == {"epochs": 2, "hidden": 16, "lr": 0.01}


@pytest.mark.parametrize(
    "text, message",
    [
        ("hiden = 8", "classify has no setting 'hiden' (did you mean 'hidden'?)"),
        ("vocab_size = 8", "(it comes from the data or the command line)"),
        ('task = "lm"', "is for task 'lm'; expected 'classify'"),
        ("hidden = ", "is not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        read_settings_file(path, TextClassifier)
    assert message in str(caught.value)


def test_a_json_file_that_is_not_an_object(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(UserError, match="holds a list; expected an object"):
        read_settings_file(path, TextClassifier)


def test_train_config_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "best.toml"
    path.write_text("hiden = 3\n")
    code, _, err = run_cli(capsys, "train", "classify", "--config", path, "--data", "x.csv",
                           "--out", tmp_path / "run")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "has no setting 'hiden' (did you mean 'hidden'?)" in err
    assert not (tmp_path / "run").exists()
