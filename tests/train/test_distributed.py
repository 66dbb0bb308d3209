"""Data-parallel training (rnnkit.train.distributed): sharding, rendezvous errors, the torchrun
launcher, and 2 processes with gloo on 127.0.0.1 computing what one process computes.

The multi-process tests start real processes (each imports torch and rnnkit: seconds apiece on a
busy 2-core machine), so they are marked slow; the others are fast unit tests.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from rnnkit.commands.train import _launches, torchrun_command, without_launch_options
from rnnkit.data.batching import BucketBatchSampler, PaddedBatch
from rnnkit.data.streams import TBPTTStream
from rnnkit.errors import UserError
from rnnkit.train import distributed
from rnnkit.train.distributed import World, shard_batches, shard_rows

from . import ddp_worker  # the worker script's tiny fits, shared with the processes

HERE = Path(__file__).parent

ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_tiny_data(root: Path) -> Path:
    """The worker's data: 20 two-class reviews, a short repeated text, 16 + 4 sentence pairs."""
    rows = ["text,label"] + [f'"{w} film {i}",{w}' for i in range(10) for w in ("good", "bad")]
    (root / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "corpus.txt").write_text("the cat sat on the mat.\n" * 20, encoding="utf-8")
    pairs = root / "pairs"
    pairs.mkdir()
    for split, n in (("train", 16), ("val", 4)):
        (pairs / f"{split}.de").write_text("".join(f"ein hund {i}\n" for i in range(n)))
        (pairs / f"{split}.en").write_text("".join(f"a dog {i}\n" for i in range(n)))
    return root


def history(path: Path) -> list[dict[str, float]]:
    with open(path, encoding="utf-8") as f:
        return [
            {k: float(v) for k, v in row.items() if v and k not in ("time_s",)}
            for row in csv.DictReader(f)
        ]


# -- sharding (fast) ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size, replicas", [(100, 8, 2), (100, 8, 3), (17, 4, 3)])
def test_sampler_shards_every_batch_without_overlap_and_covers_the_epoch(n, batch_size, replicas):
    lengths = torch.randint(1, 30, (n,), generator=torch.Generator().manual_seed(n))
    whole = BucketBatchSampler(lengths, batch_size, seed=4, chunk_size=3 * batch_size)
    shards = [
        BucketBatchSampler(
            lengths, batch_size, seed=4, chunk_size=3 * batch_size, num_replicas=replicas, rank=r
        )  # fmt: skip
        for r in range(replicas)
    ]
    for epoch in (0, 1):
        per_rank = [s.batches(epoch) for s in shards]
        assert len({len(batches) for batches in per_rank}) == 1  # the same number of steps
        assert all(batch for batches in per_rank for batch in batches)  # never an empty one
        seen = [i for batches in per_rank for batch in batches for i in batch]
        assert sorted(seen) == list(range(n))  # every example once, on one rank only
        steps = [
            sorted(i for batches in per_rank for i in batches[k]) for k in range(len(per_rank[0]))
        ]
        if n % batch_size == 0 or n % batch_size >= replicas:  # no small last batch merged
            assert steps == [sorted(b) for b in whole.batches(epoch)]  # the global batches
    assert shards[0].batches(0) != shards[0].batches(1)  # a new order every epoch
    again = BucketBatchSampler(lengths, batch_size, seed=4, chunk_size=3 * batch_size,
                               num_replicas=replicas, rank=1)  # fmt: skip
    again.set_epoch(1)
    assert list(again) == shards[1].batches(1)  # set_epoch: the order is the epoch's


def test_sampler_refuses_a_batch_smaller_than_the_processes():
    with pytest.raises(UserError, match="a batch of 2 cannot be shared by 3 processes"):
        BucketBatchSampler([3, 4, 5, 6], 2, num_replicas=3, rank=0)
    with pytest.raises(UserError, match=r"2 sequence\(s\) cannot be shared by 3"):
        BucketBatchSampler([3, 4], 4, num_replicas=3, rank=0)


def test_tbptt_stream_shards_split_the_rows_and_keep_the_windows():
    stream = TBPTTStream(torch.arange(103), batch_size=5, seq_length=4)
    shards = [stream.shard(2, r) for r in range(2)]
    assert [s.batch_size for s in shards] == [3, 2] and {len(s) for s in shards} == {len(stream)}
    for whole, *parts in zip(stream, *shards, strict=True):
        inputs = torch.empty_like(whole[0])  # (B, T)
        inputs[0::2], inputs[1::2] = parts[0][0], parts[1][0]
        assert torch.equal(inputs, whole[0])
    with pytest.raises(UserError, match=r"5 parallel stream\(s\) cannot be shared by 6"):
        stream.shard(6, 0)


def test_other_batches_are_cut_to_the_ranks_rows():
    batch = PaddedBatch(torch.arange(10).reshape(5, 2), torch.tensor([2, 2, 1, 1, 1]),
                        torch.arange(5), torch.arange(5))  # fmt: skip
    rank1 = shard_rows(batch, 1, 2)
    assert rank1.tokens.tolist() == [[2, 3], [6, 7]] and rank1.lengths.tolist() == [2, 1]
    assert shard_rows({"x": torch.ones(3, 2), "k": 7}, 0, 2)["x"].shape == (2, 2)
    sharded = shard_batches([(torch.ones(4, 3), torch.zeros(4))], World(1, 2))
    assert len(sharded) == 1 and next(iter(sharded))[0].shape == (2, 3)
    with pytest.raises(UserError, match="a batch of 1 rows cannot be split over 2 processes"):
        shard_rows(torch.ones(1, 3), 0, 2)


# -- rendezvous errors (fast) ------------------------------------------------------------------


@pytest.fixture
def world_of_two(monkeypatch):
    for name, value in zip(ENV, ("2", "1", "1", "127.0.0.1", str(free_port())), strict=True):
        monkeypatch.setenv(name, value)
    yield
    distributed.teardown()


def test_nothing_at_the_rendezvous_is_a_clear_error_not_a_hang(world_of_two):
    started = time.monotonic()
    with pytest.raises(UserError, match=r"rank 1 could not join the rendezvous at 127\.0\.0\.1"):
        distributed.init_from_env(torch.device("cpu"), timeout_s=1)
    assert time.monotonic() - started < 30


def test_a_port_in_use_is_a_clear_error(world_of_two, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("MASTER_PORT", str(busy.getsockname()[1]))
        with pytest.raises(UserError, match="its port is in use by another program"):
            distributed.init_from_env(torch.device("cpu"), timeout_s=5)


def test_a_world_of_one_joins_nothing(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    world, device, joined = distributed.init_from_env(torch.device("cpu"))
    assert world == World() and world.is_main and not joined and device.type == "cpu"
    assert distributed.sum_over_ranks([1.0, 2.0]) == [1.0, 2.0] and distributed.is_main()


# -- the launcher (fast) -----------------------------------------------------------------------


def test_launch_options_go_to_torchrun_and_the_rest_to_the_processes():
    argv = ["train", "lm", "--data", "x.txt", "--nproc-per-node", "2", "--nnodes=2",
            "--node-rank", "1", "--rdzv-endpoint", "10.0.0.1:29400", "--out", "runs/a"]  # fmt: skip
    rest = without_launch_options(argv)
    assert rest == ["train", "lm", "--data", "x.txt", "--out", "runs/a"]
    args = argparse.Namespace(task="lm", nproc_per_node=2, nnodes=2, node_rank=1,
                              rdzv_endpoint="10.0.0.1:29400", dist_timeout_s=30.0)  # fmt: skip
    command = torchrun_command(args, rest)
    assert command[1] == "-c" and "torch.distributed.run" in command[2]
    assert command[-len(rest) - 2 :] == ["-m", "rnnkit", *rest]
    assert {"--nproc-per-node=2", "--nnodes=2", "--node-rank=1",
            "--rdzv-endpoint=10.0.0.1:29400", "--rdzv-conf=timeout=30"} <= set(command)  # fmt: skip


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"nproc_per_node": 0}, "--nproc-per-node must be at least 1, got 0"),
        ({"node_rank": 2, "nnodes": 2}, r"--node-rank must be in 0\.\.1, got 2"),
        ({"nnodes": 2}, "--nnodes > 1 needs --rdzv-endpoint HOST:PORT"),
        ({"rdzv_endpoint": "localhost"}, "--rdzv-endpoint must be HOST:PORT, got 'localhost'"),
    ],
)
def test_bad_launch_options_are_clear_errors(changes, message):
    args = argparse.Namespace(**{"nproc_per_node": 2, "nnodes": 1, "node_rank": 0,
                                 "rdzv_endpoint": None, **changes})  # fmt: skip
    with pytest.raises(UserError, match=message):
        _launches(args)


def test_a_lost_peer_is_told_from_other_errors():
    assert distributed.lost_peer(RuntimeError("[gloo/pair.cc:537] Read error: Connection reset"))
    assert not distributed.lost_peer(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


# -- two processes (slow) ----------------------------------------------------------------------


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    src = str(HERE.parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return {**env, "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    """ddp_worker.py on 2 processes (gloo, 127.0.0.1), as torchrun would start them."""
    root = tmp_path_factory.mktemp("ddp")
    data = write_tiny_data(root)
    port = str(free_port())
    processes = [
        subprocess.Popen(
            [sys.executable, str(HERE / "ddp_worker.py"), str(data), str(root / "two")],
            env=_environment(
                WORLD_SIZE="2",
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            ),  # fmt: skip
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    deadline = time.monotonic() + 240
    errors = [_finish(process, deadline) for process in processes]
    assert all(p.returncode == 0 for p in processes), "\n".join(
        f"rank {rank} (exit {p.returncode}): {err[-3000:]}"
        for rank, (p, err) in enumerate(zip(processes, errors, strict=True))
    )
    return data, root / "two"


def _finish(process: subprocess.Popen, deadline: float) -> str:
    """``process``'s stderr once it ends, killed at ``deadline`` (so a rank waiting for a dead
    peer fails the test with both ranks' messages instead of hanging it)."""
    try:
        return process.communicate(timeout=max(deadline - time.monotonic(), 1))[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1] + "\n(killed after the deadline)"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classify", "lm", "translate"])
def test_two_processes_train_as_one_on_the_same_global_batch(two_process_runs, tmp_path, task):
    data, two = two_process_runs
    ddp_worker.fit(task, data, tmp_path)  # the same fit in this one process
    one_rows, two_rows = (
        history(tmp_path / task / "history.csv"),
        history(two / task / "history.csv"),
    )
    assert len(one_rows) == len(two_rows) == 2
    for one, both in zip(one_rows, two_rows, strict=True):
        exact = {k for k in one if k.endswith(("loss", "accuracy", "perplexity", "bpc", "norm"))}
        assert exact >= {"train_loss", "val_loss"} and exact <= set(both)
        for key in exact:
            assert both[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
    assert not (two / task / ".lock").exists()


@pytest.mark.slow
@pytest.mark.parametrize("bf16", [0, 1])
def test_fused_engine_gradients_under_ddp_equal_one_process(two_process_runs, bf16):
    _, two = two_process_runs
    shared = torch.load(two / "engine_grads.pt", weights_only=True)[f"bf16={bf16}"]
    alone = ddp_worker.engine_gradients(bf16=bool(bf16))
    assert len(shared) == len(alone) == 4
    tolerance = {"rtol": 2e-2, "atol": 1e-3} if bf16 else {"rtol": 1e-5, "atol": 1e-7}
    for a, b in zip(shared, alone, strict=True):
        assert a.abs().sum() > 0  # the hooks fired: every parameter got its gradient
        torch.testing.assert_close(a, b, **tolerance)


@pytest.mark.slow
def test_resuming_on_another_number_of_processes_is_refused(two_process_runs):
    data, two = two_process_runs
    with pytest.raises(UserError, match=r"trained on 2; expected the same number"):
        ddp_worker.fit_resumed("classify", data, two)


def _rank_pid(marker: str, rank: int) -> int | None:
    """The pid of the training process of ``rank`` whose environment holds ``marker``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in environ and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def _epochs_done(run: Path) -> int:
    try:
        return len(history(run / "history.csv"))
    except OSError:
        return 0


def _train_lm(marker: str, *options: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "rnnkit", "train", "lm", "--threads", "1", "--no-progress",
               "--no-plot", *options]  # fmt: skip
    return subprocess.Popen(command, env=_environment(RNNKIT_TEST_MARK=marker),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_a_killed_rank_ends_the_job_and_resume_continues(tmp_path):
    """Two "machines" (two launches meeting at 127.0.0.1:PORT), one process each; rank 1 is
    killed; both end with a clear error; the run resumes on 2 processes of one launch."""
    corpus = tmp_path / "long.txt"
    corpus.write_text("the cat sat on the mat.\n" * 400, encoding="utf-8")
    run, marker = tmp_path / "run", str(uuid.uuid4())
    tiny = ["--data", str(corpus), "--embed", "4", "--hidden", "4", "--layers", "1",
            "--seq-length", "8", "--sample-length", "0", "--dropout", "0"]  # fmt: skip
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [
        _train_lm(
            marker,
            *tiny,
            "--epochs",
            "500",
            "--out",
            str(run),
            "--nnodes",
            "2",
            "--node-rank",
            str(node),
            "--rdzv-endpoint",
            endpoint,
        )  # fmt: skip
        for node in range(2)
    ]
    deadline = time.monotonic() + 180
    while not _epochs_done(run) and all(node.poll() is None for node in nodes):
        assert time.monotonic() < deadline, "no epoch finished in time"
        time.sleep(0.2)
    pid = _rank_pid(f"RNNKIT_TEST_MARK={marker}", 1)
    assert pid is not None and all(node.poll() is None for node in nodes)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    for rank, node in enumerate(nodes):
        _, err = node.communicate(timeout=120)
        assert node.returncode == 2, err[-3000:]
        assert "training processes ended with an error" in err and f"--resume {run}" in err
        assert "Traceback" not in err, err[-3000:]  # one clear line per process, torchrun's table
        if rank == 0:  # the survivor: its collective failed when the other one died
            assert "rank 0 lost contact with the other training processes" in err
    assert time.monotonic() - killed < 60  # bounded: torchrun and gloo notice the dead rank
    done = len(history(run / "last" / "history.csv"))
    resumed = _train_lm("again", "--resume", str(run), "--epochs", str(done + 1),
                        "--nproc-per-node", "2")  # fmt: skip
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err[-3000:]
    rows = history(run / "history.csv")
    assert [row["epoch"] for row in rows] == list(range(1, done + 2))
    assert "trained" in out and out.count("trained") == 1  # rank 0 alone reports
    assert "training on 2 processes (gloo): global batch 32 (16 per process), lr" in err
