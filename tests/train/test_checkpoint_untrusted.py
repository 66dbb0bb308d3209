"""A checkpoint is untrusted input: config.json cannot make a loader read outside its folder,
and errors about data files do not echo their content at length."""

import builtins
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.data.labels import LabelEncoder, describe_labels
from rnnkit.errors import UserError
from rnnkit.train import load_checkpoint, save_checkpoint


def _checkpoint(tmp_path, **config_changes):
    folder = tmp_path / "ckpt"
    save_checkpoint(folder, nn.Linear(2, 2), {"task": "x"}, artifacts={"vocab": {"a": 1}})
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("artifacts", "expected"),
    [
        (["/etc/passwd"], "artifacts entry '/etc/passwd' is not a plain name"),
        (["../secret"], "artifacts entry '../secret' is not a plain name"),
        (["a/b"], "artifacts entry 'a/b' is not a plain name"),
        (["..\\secret"], "is not a plain name"),
        ([".hidden"], "is not a plain name"),
        ([5], "artifacts entry 5 is not a plain name"),
        (5, "artifacts is int 5; expected a list of artifact names"),
        ("vocab", "artifacts is str 'vocab'; expected a list"),
    ],
)
def test_bad_artifact_entries_are_refused_without_reading(tmp_path, monkeypatch, artifacts,
                                                          expected):  # fmt: skip
    (tmp_path / "secret.json").write_text('{"secret": 1}')  # a sentinel outside the folder
    folder = _checkpoint(tmp_path, artifacts=artifacts)
    read = []
    original = Path.read_text

    def spy(self, *args, **kwargs):
        read.append(self.resolve())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda f, *a, **k: (read.append(f), real_open(f, *a, **k))[1]
    )
    with pytest.raises(UserError) as info:
        load_checkpoint(folder)
    assert str(folder / "config.json") in str(info.value) and expected in str(info.value)
    outside = [p for p in read if not str(p).startswith(str(folder.resolve()))]
    assert outside == []


def test_an_artifact_linked_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    folder = _checkpoint(tmp_path, artifacts=["vocab", "link"])
    (folder / "link.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(UserError, match="artifact 'link' is a link to a file outside"):
        load_checkpoint(folder)


@pytest.mark.parametrize("version", ["1", 1.5, None, True])
def test_checkpoint_format_must_be_an_integer(tmp_path, version):
    folder = _checkpoint(tmp_path, checkpoint_format=version)
    with pytest.raises(UserError, match="checkpoint_format is .*; expected an integer"):
        load_checkpoint(folder)


def test_good_artifacts_still_load(tmp_path):
    ckpt = load_checkpoint(_checkpoint(tmp_path))
    assert ckpt.artifacts == {"vocab": {"a": 1}}
    assert set(ckpt.state_dict) == {"weight", "bias"}
    assert isinstance(ckpt.state_dict["weight"], torch.Tensor)


def test_label_errors_quote_data_briefly():
    line = "root:x:0:0:root:/root:/bin/bash" * 10
    shown = describe_labels([line] * 30, 10)
    assert len(shown) < 600 and "(20 more)" in shown and line not in shown
    with pytest.raises(UserError) as info:
        LabelEncoder(["a", "b"]).index(line)
    assert line not in str(info.value)
