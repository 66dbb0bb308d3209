import json

import pytest
import safetensors.torch
import torch
from torch import nn

from rnnkit import __version__
from rnnkit.errors import UserError
from rnnkit.train import checkpoint as checkpoint_module
from rnnkit.train import load_checkpoint, load_model_state, save_checkpoint


class TiedLM(nn.Module):
    """Embedding and output layer share one matrix (weight tying)."""

    def __init__(self, vocab: int = 7, hidden: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        self.out.weight = self.embed.weight


VOCAB = {"itos": ["<pad>", "a", "b"], "stoi": {"<pad>": 0, "a": 1, "b": 2}}


def _save(path, model=None, **kwargs):
    torch.manual_seed(0)
    model = model or TiedLM()
    save_checkpoint(path, model, {"task": "lm", "model": {"vocab": 7}}, **kwargs)
    return model


def _assert_same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_round_trip_with_tied_weights_and_artifacts(tmp_path):
    model = _save(tmp_path / "ck", artifacts={"vocab": VOCAB}, metrics={"val_loss": 0.5})
    loaded = load_checkpoint(tmp_path / "ck")
    _assert_same_state(loaded.state_dict, model.state_dict())
    assert loaded.artifacts == {"vocab": VOCAB}
    assert loaded.metrics == {"val_loss": 0.5}
    assert loaded.config["task"] == "lm" and loaded.config["model"] == {"vocab": 7}
    assert loaded.config["rnnkit_version"] == __version__
    assert loaded.config["torch_version"] == torch.__version__
    assert loaded.training_state is None
    fresh = TiedLM()
    load_model_state(fresh, loaded.state_dict)  # strict
    assert fresh.out.weight is fresh.embed.weight
    _assert_same_state(fresh.state_dict(), model.state_dict())


def test_views_of_one_storage_are_saved_apart(tmp_path):
    base = torch.arange(12.0)
    state = {"whole": base, "tail": base[6:], "strided": base.view(3, 4).t()}
    save_checkpoint(tmp_path / "ck", state, {})
    loaded = load_checkpoint(tmp_path / "ck").state_dict
    for key, value in state.items():
        assert torch.equal(loaded[key], value)


def test_json_only_values(tmp_path):
    with pytest.raises(ValueError, match="artifact 'vocab' must be JSON-serialisable"):
        _save(tmp_path / "ck", artifacts={"vocab": {1, 2}})
    with pytest.raises(ValueError, match="artifact names must be file-name safe"):
        _save(tmp_path / "ck", artifacts={"config": {}})
    assert not (tmp_path / "ck").exists()


def test_run_folder_resolves_to_best(tmp_path):
    _save(tmp_path / "run" / "best")
    assert load_checkpoint(tmp_path / "run").path == tmp_path / "run" / "best"


def _break(path, how):
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00\x01not what you think" * 3)
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["missing", "truncated", "garbage", "empty"])
@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "vocab.json"])
def test_broken_files_are_one_clear_user_error(tmp_path, name, how):
    _save(tmp_path / "ck", artifacts={"vocab": VOCAB})
    _break(tmp_path / "ck" / name, how)
    expected = "is missing; expected" if how == "missing" else "truncated or corrupt"
    with pytest.raises(UserError, match=expected) as caught:
        load_checkpoint(tmp_path / "ck")
    assert name in str(caught.value)


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist; expected a training run's output"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file; expected a checkpoint directory"):
        load_checkpoint(tmp_path / "file")


def test_newer_format_is_refused(tmp_path):
    _save(tmp_path / "ck")
    config_path = tmp_path / "ck" / "config.json"
    config = json.loads(config_path.read_text())
    config["checkpoint_format"] = 99
    config_path.write_text(json.dumps(config))
    with pytest.raises(UserError, match="newer rnnkit"):
        load_checkpoint(tmp_path / "ck")


class Payload:
    """Anything that is not weights: unpickling it would run code."""


@pytest.mark.parametrize("how", ["truncated", "pickled_object", "missing"])
def test_training_state_is_loaded_weights_only(tmp_path, monkeypatch, how):
    _save(tmp_path / "ck", training_state={"epoch": 1, "optimizer": {"state": {}}})
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    assert load_checkpoint(tmp_path / "ck", training_state=True).training_state["epoch"] == 1
    path = tmp_path / "ck" / "training_state.pt"
    if how == "pickled_object":
        torch.save({"epoch": 1, "evil": Payload()}, path)
    else:
        _break(path, how)
    with pytest.raises(UserError, match="training_state.pt"):
        load_checkpoint(tmp_path / "ck", training_state=True)
    assert calls and all(flag is True for flag in calls)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _save(tmp_path / "ck", artifacts={"vocab": VOCAB})
    real_save_file = safetensors.torch.save_file

    def crash_mid_write(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:
            f.truncate(10)
        raise OSError("no space left on device")

    monkeypatch.setattr(checkpoint_module.safetensors.torch, "save_file", crash_mid_write)
    with pytest.raises(OSError, match="no space left"):
        _save(tmp_path / "ck", model=TiedLM(vocab=7), artifacts={"vocab": {"changed": True}})
    loaded = load_checkpoint(tmp_path / "ck")
    _assert_same_state(loaded.state_dict, model.state_dict())
    assert loaded.artifacts == {"vocab": VOCAB}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_model_mismatch_is_a_user_error(tmp_path):
    _save(tmp_path / "ck")
    state = load_checkpoint(tmp_path / "ck").state_dict
    with pytest.raises(UserError, match="does not match the model: missing"):
        load_model_state(nn.Linear(2, 2), state)
    with pytest.raises(UserError, match=r"has shape \(7, .* expects \(9, "):
        load_model_state(TiedLM(vocab=9), state)
