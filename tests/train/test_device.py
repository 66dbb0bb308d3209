import dataclasses
from collections import namedtuple

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.train import move_to_device, resolve_device
from rnnkit.train.objective import Objective

Pair = namedtuple("Pair", ["tokens", "lengths"])


@dataclasses.dataclass
class Batch:
    src: torch.Tensor
    src_lengths: torch.Tensor
    name: str


def test_moves_nested_tensors_and_keeps_lengths_on_cpu():
    t = torch.ones(2, 3)
    lengths = torch.tensor([3, 2])
    batch = {
        "tokens": t,
        "lengths": lengths,
        "pair": Pair(t, lengths),
        "items": [t, (t, 7)],
        "obj": Batch(t, lengths, "x"),
        "text": "hello",
    }
    moved = move_to_device(batch, "meta")  # a device every machine has
    assert moved["tokens"].device.type == "meta"
    assert moved["lengths"] is lengths
    assert isinstance(moved["pair"], Pair)
    assert moved["pair"].tokens.device.type == "meta" and moved["pair"].lengths is lengths
    assert [x.device.type for x in (moved["items"][0], moved["items"][1][0])] == ["meta", "meta"]
    assert moved["items"][1][1] == 7
    assert moved["obj"].src.device.type == "meta" and moved["obj"].src_lengths is lengths
    assert moved["obj"].name == "x" and moved["text"] == "hello"
    assert batch["tokens"].device.type == "cpu"  # the input is left alone


def test_positional_tuples_move_everything_and_keep_on_cpu_is_configurable():
    t = torch.ones(2)
    assert all(x.device.type == "meta" for x in move_to_device((t, t), "meta"))
    moved = move_to_device({"a": t, "lengths": t}, "meta", keep_on_cpu={"a"})
    assert moved["a"] is t and moved["lengths"].device.type == "meta"


def test_objective_default_mover_uses_its_keep_on_cpu():
    class Custom(Objective):
        keep_on_cpu = frozenset({"lens"})

    t = torch.ones(2)
    moved = Custom().move_batch({"x": t, "lens": t}, torch.device("meta"))
    assert moved["lens"] is t and moved["x"].device.type == "meta"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(UserError, match="unknown device 'gpu'; expected auto, cpu, cuda"):
        resolve_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_missing_cuda_is_a_user_error():
    with pytest.raises(UserError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")


def test_fast_bf16_reads_the_cpu_flags(monkeypatch, tmp_path):
    import builtins

    from rnnkit.train import device
    from rnnkit.train.device import fast_bf16

    monkeypatch.setattr(device, "bf16_works", lambda d: True)  # the flags decide here
    real_open = builtins.open

    def fake_cpuinfo(flags):
        path = tmp_path / f"cpuinfo-{len(flags)}"
        path.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 {flags}\n")
        return lambda file, *a, **k: real_open(path if file == "/proc/cpuinfo" else file, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_cpuinfo("avx512f avx512_bf16"))
    assert fast_bf16(torch.device("cpu"))
    monkeypatch.setattr(builtins, "open", fake_cpuinfo("avx2 amx_bf16"))
    assert fast_bf16(torch.device("cpu"))
    monkeypatch.setattr(builtins, "open", fake_cpuinfo("avx2 avx512f"))
    assert not fast_bf16(torch.device("cpu"))
    assert not fast_bf16(torch.device("meta"))
    monkeypatch.setattr(builtins, "open", fake_cpuinfo("avx512f avx512_bf16"))
    monkeypatch.setattr(device, "bf16_works", lambda d: False)  # flags, but the products fail
    assert not fast_bf16(torch.device("cpu"))


@pytest.mark.bf16
def test_bf16_works_probes_an_autocast_product():
    from rnnkit.train.device import bf16_works

    assert bf16_works("cpu") and bf16_works(torch.device("cpu"))  # cached per device
    assert not bf16_works("meta")  # autocast has no meta device: RuntimeError, caught


def test_bf16_without_bf16_hardware_runs_with_a_warning(monkeypatch, caplog):
    from rnnkit.train import device

    monkeypatch.setattr(device, "bf16_works", lambda d: True)
    monkeypatch.setattr(device, "fast_bf16", lambda d: False)
    cpu = torch.device("cpu")
    assert not device.use_bf16("auto", cpu) and not device.use_bf16("fp32", cpu)
    assert not caplog.records
    assert device.use_bf16("bf16", cpu, torch.nn.GRU(2, 3))
    assert "bf16 matrix products are emulated" in caplog.text
