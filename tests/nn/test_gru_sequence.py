"""The GRU's C time loop (kernels.gru_sequence_forward / _backward): which runs choose it, and
that it computes what the fused engine's Python time loop computes.

The case it was written for: a music model's training step (rnnkit train music: 16 pieces of up
to 100 frames, 88 keys, 128 units, padded, not packed), where ``auto`` runs the GRU on the fused
engine and each time step in Python cost more than its arithmetic.
"""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit import nn as rnn
from rnnkit.nn.engine import choose_backend, fused, kernels

pytestmark = pytest.mark.skipif(
    not kernels.available(torch.float32), reason="the C kernels did not build here"
)


@pytest.fixture
def calls(monkeypatch):
    """Count the C time loop's calls, by direction."""
    counts = {"forward": 0, "backward": 0}
    for name, original in [
        ("forward", kernels.gru_sequence_forward),
        ("backward", kernels.gru_sequence_backward),
    ]:

        def counted(*args, name=name, original=original):
            counts[name] += 1
            return original(*args)

        monkeypatch.setattr(kernels, f"gru_sequence_{name}", counted)
    return counts


@pytest.mark.parametrize("packed", [False, True])
def test_music_gru_training_runs_the_c_time_loop(calls, one_thread, packed):
    gru = rnn.GRU(88, 128, batch_first=True)  # the music task's default size, backend auto
    x = torch.rand(16, 100, 88).round()  # (N, L, 88) piano-roll frames
    lengths = torch.tensor([100] * 12 + [57, 40, 13, 2]) if packed else None
    with torch.enable_grad():
        assert choose_backend(gru.train(), x.transpose(0, 1), lengths) == "fused"
    inputs = pack_padded_sequence(x, lengths, batch_first=True) if packed else x
    out, h = gru(inputs)
    out = pad_packed_sequence(out, batch_first=True)[0] if packed else out
    (out.sum() + h.sum()).backward()
    assert calls == {"forward": 1, "backward": 1}


@pytest.mark.parametrize(
    "options",
    [{"layer_norm": True}, {"recurrent_dropout": 0.2}],
    ids=["layer_norm", "recurrent_dropout"],
)
def test_options_and_float64_keep_the_python_loop(calls, one_thread, options):
    x = torch.randn(3, 5, 4)  # (N, L, H_in)
    for gru in (rnn.GRU(4, 6, batch_first=True, backend="fused", **options),
                rnn.GRU(4, 6, batch_first=True, backend="fused").double()):  # fmt: skip
        out, _ = gru(x.to(gru.weight_hh_l0.dtype))
        out.sum().backward()
    assert calls == {"forward": 0, "backward": 0}


def run(gru, x, lengths, h0, grad_out, grad_h):
    """Outputs, final state and every gradient of one forward and backward pass."""
    gru.zero_grad()
    xi, hi = x.clone().requires_grad_(True), h0.clone().requires_grad_(True)
    inputs = xi if lengths is None else pack_padded_sequence(xi, lengths, enforce_sorted=False)
    out, h = gru(inputs, hi)
    if lengths is not None:
        out = pad_packed_sequence(out, total_length=x.shape[0])[0]  # (L, N, D*H)
    if torch.is_grad_enabled():
        ((out * grad_out).sum() + (h * grad_h).sum()).backward()
        grads = [xi.grad, hi.grad, *(p.grad for p in gru.parameters())]
    else:
        grads = []
    return [out, h, *grads]


# (N, L, H_in, H), packed, bidirectional, threads, training: batches that are not a multiple of
# the kernel's 6 rows, widths that are not a multiple of its 16 columns, and a product large
# enough for two threads to share it (N * 3H * H >= 2^18)
CASES = [
    ((1, 3, 2, 5), False, False, 1, True),
    ((7, 9, 6, 20), True, True, 1, True),
    ((7, 9, 6, 20), True, False, 1, False),
    ((13, 6, 5, 40), True, False, 1, True),
    ((13, 6, 5, 40), False, True, 1, False),
    ((7, 4, 3, 120), True, False, 2, True),
]


@pytest.mark.parametrize("shape,packed,bidirectional,threads,grad", CASES)
def test_c_loop_matches_python_loop(monkeypatch, shape, packed, bidirectional, threads, grad):
    n, steps, size, hidden = shape
    torch.manual_seed(0)
    layers = 1 if threads > 1 else 2  # two threads on a busy machine: keep it short
    gru = rnn.GRU(size, hidden, layers, bidirectional=bidirectional, backend="fused")
    d = 2 if bidirectional else 1
    x = torch.randn(steps, n, size)  # (L, N, H_in)
    h0 = torch.randn(layers * d, n, hidden)
    lengths = torch.randint(1, steps + 1, (n,)) if packed else None
    grad_out, grad_h = torch.randn(steps, n, d * hidden), torch.randn(layers * d, n, hidden)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.set_grad_enabled(grad):
            got = run(gru, x, lengths, h0, grad_out, grad_h)
            monkeypatch.setattr(fused, "_gru_sequence", lambda *args: False)
            expected = run(gru, x, lengths, h0, grad_out, grad_h)
    finally:
        torch.set_num_threads(before)
    assert len(got) == len(expected) == (4 + 4 * layers * d if grad else 2)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
