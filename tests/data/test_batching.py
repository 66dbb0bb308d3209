import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader

from rnnkit.data.batching import (
    BucketBatchSampler,
    PadCollate,
    PaddedBatch,
    SequenceDataset,
    make_loader,
    pad_sequences,
    truncate,
)
from rnnkit.errors import UserError


def random_lengths(n=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 200, (n,), generator=g)


def test_truncate_keeps_start_or_end():
    ids = [1, 2, 3, 4, 5]
    assert truncate(ids, 3) == [1, 2, 3]
    assert truncate(ids, 3, keep="end") == [3, 4, 5]
    assert truncate(ids, None) is ids and truncate(ids, 9) is ids
    with pytest.raises(ValueError, match="keep must be one of"):
        truncate(ids, 3, keep="middle")
    with pytest.raises(ValueError, match="max_length must be >= 1, got 0"):
        truncate(ids, 0)


def test_pad_sequences_batch_first_with_cpu_lengths():
    padded, lengths = pad_sequences([torch.tensor([1, 2, 3]), torch.tensor([4])], pad_index=0)
    assert padded.tolist() == [[1, 2, 3], [4, 0, 0]]
    assert lengths.tolist() == [3, 1] and lengths.device.type == "cpu"
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_sequences([])


def test_dataset_truncates_and_returns_examples():
    ds = SequenceDataset(
        [[1, 2, 3, 4], [5, 6], torch.tensor([7])], [1, 0, 1], max_length=3, keep="end"
    )
    assert len(ds) == 3 and ds.lengths.tolist() == [3, 2, 1]
    example = ds[0]
    assert (
        example.tokens.tolist() == [2, 3, 4] and example.target.item() == 1 and example.index == 0
    )
    assert ds[-1].index == 2 and ds[-1].target.dtype == torch.long
    with pytest.raises(IndexError):
        ds[3]
    assert SequenceDataset([[1]], [0.5])[0].target.dtype == torch.float32
    assert SequenceDataset([[1]])[0].target is None
    with pytest.raises(ValueError, match="expected one target per sequence, got 1 targets for 2"):
        SequenceDataset([[1], [2]], [0])
    with pytest.raises(UserError, match="1 sequence\\(s\\) are empty \\(the first at index 1\\)"):
        SequenceDataset([[1], []])


def test_collate_scalar_and_sequence_targets():
    ds = SequenceDataset([[1, 2, 3], [4]], [[7, 8], [9, 10, 11]])
    batch = PadCollate(pad_index=0, target_pad_index=-100)([ds[0], ds[1]])
    assert isinstance(batch, PaddedBatch)
    assert batch.tokens.tolist() == [[1, 2, 3], [4, 0, 0]] and batch.lengths.tolist() == [3, 1]
    assert batch.targets.tolist() == [[7, 8, -100], [9, 10, 11]]
    assert batch.target_lengths.tolist() == [2, 3] and batch.indices.tolist() == [0, 1]
    moved = batch.to("cpu")
    assert moved.lengths is batch.lengths


def test_packed_sequence_round_trip_through_an_rnn():
    torch.manual_seed(0)
    ds = SequenceDataset([[1, 2, 3, 4], [5, 6], [7, 8, 9]], [0, 1, 0])
    batch = next(iter(make_loader(ds, batch_size=3, shuffle=True, seed=0)))
    emb = torch.nn.Embedding(10, 4, padding_idx=0)(batch.tokens)  # (N, L, E)
    packed = pack_padded_sequence(emb, batch.lengths, batch_first=True)  # sorted: enforce_sorted ok
    out, _ = torch.nn.GRU(4, 5, batch_first=True)(packed)
    padded, lengths = pad_packed_sequence(out, batch_first=True)  # (N, L, H)
    assert padded.shape == (3, 4, 5) and torch.equal(lengths, batch.lengths)


def test_bucket_sampler_is_a_seeded_partition_with_little_padding():
    lengths = random_lengths()
    sampler = BucketBatchSampler(lengths, 32, seed=0)
    first = list(sampler)
    second = list(sampler)  # the epoch advanced: a new order
    assert len(first) == len(sampler) == 32
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert first != second
    again = BucketBatchSampler(lengths, 32, seed=0)
    assert list(again) == first
    again.set_epoch(1)
    assert list(again) == second

    def padding(batches):
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)

    unbucketed = BucketBatchSampler(lengths, 32, seed=0, chunk_size=32)
    assert padding(first) < padding(list(unbucketed)) / 10
    for batch in first:
        assert lengths[batch].tolist() == sorted(lengths[batch].tolist(), reverse=True)


def test_bucket_sampler_without_shuffle_and_drop_last():
    lengths = [1, 5, 2, 4, 3]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False, chunk_size=2)) == [
        [1, 0],
        [3, 2],
        [4],
    ]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [4, 2], [0]]
    dropped = BucketBatchSampler(lengths, 2, shuffle=False, drop_last=True)
    assert len(dropped) == 2 and all(len(b) == 2 for b in dropped)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        BucketBatchSampler(lengths, 0)


def test_bucket_sampler_replicas_split_the_batches():
    lengths = random_lengths(100)
    shards = [
        list(BucketBatchSampler(lengths, 8, num_replicas=3, rank=r, seed=5)) for r in range(3)
    ]
    # each global batch of 8 is shared: every rank runs all 13 steps, no example twice
    assert {len(s) for s in shards} == {len(BucketBatchSampler(lengths, 8, num_replicas=3))} == {13}
    seen = [i for shard in shards for batch in shard for i in batch]
    assert sorted(seen) == list(range(100))
    with pytest.raises(ValueError, match=r"rank must be in \[0, 3\), got 3"):
        BucketBatchSampler(lengths, 8, num_replicas=3, rank=3)


def test_make_loader_covers_the_dataset_and_works_with_dataloader():
    lengths = random_lengths(200).tolist()
    ds = SequenceDataset([[1] * n for n in lengths], list(range(200)))
    loader = make_loader(ds, batch_size=16, seed=3)
    assert isinstance(loader, DataLoader) and len(loader) == 13
    seen = []
    for batch in loader:
        assert batch.tokens.shape == (len(batch.indices), int(batch.lengths.max()))
        assert torch.equal(batch.targets, batch.indices)  # targets follow their sequences
        assert torch.equal((batch.tokens != 0).sum(1), batch.lengths)
        seen.extend(batch.indices.tolist())
    assert sorted(seen) == list(range(200))
    plain = make_loader(ds, batch_size=16, shuffle=False, bucket=False)
    assert [i for b in plain for i in sorted(b.indices.tolist())] == list(range(200))


def test_make_loader_with_worker_processes():
    ds = SequenceDataset([[1] * n for n in range(1, 41)], list(range(40)))
    loader = make_loader(ds, batch_size=8, seed=0, num_workers=2)
    assert sorted(i for b in loader for i in b.indices.tolist()) == list(range(40))
