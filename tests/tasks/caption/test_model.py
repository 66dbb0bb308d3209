"""The captioner: encoder and decoder shapes, padding invariance, step-by-step decoding equal to
the teacher-forced forward pass, beam 1 equal to greedy, and the doubly stochastic penalty."""

import pytest
import torch

from rnnkit.decoding import beam_search, greedy_search
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.image_encoder import ResNetEncoder
from rnnkit.tasks.caption.data import CaptionBatch
from rnnkit.tasks.caption.objective import CaptionObjective

V = 30


def tiny(attention, **changes):
    torch.manual_seed(0)
    config = CaptionerConfig(V, embed=12, hidden=16, attention=attention, attention_size=8,
                             channels=4, stages=3, dropout=0.0, **changes)  # fmt: skip
    return Captioner(config).eval()


def images(n=2, size=24):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=
                         torch.Generator().manual_seed(1))  # fmt: skip


def test_encoder_shapes():
    encoder = ResNetEncoder(channels=4, stages=3, blocks=2)
    grid = encoder(torch.randn(2, 3, 24, 24))
    assert grid.shape == (2, 16, 3, 3) and encoder.features == 16
    assert ResNetEncoder.grid(24, 3) == 3 and ResNetEncoder.grid(128, 4) == 8


@pytest.mark.parametrize("attention, regions", [("none", 0), ("soft", 9)])
def test_decoder_shapes(attention, regions):
    model = tiny(attention)
    captions = torch.randint(1, V, (5, 7))
    out = model(images(), captions, torch.tensor([0, 0, 1, 1, 1]))
    assert out.logits.shape == (5, 7, V) and out.attention.shape == (5, 7, regions)
    if regions:
        assert torch.allclose(out.attention.sum(-1), torch.ones(5, 7))
    state = model.encode(images())
    log_probs, state, weights = model.step(torch.tensor([1, 2]), state)
    assert log_probs.shape == (2, V) and weights.shape == (2, regions)


@pytest.mark.parametrize("attention", ["none", "soft"])
def test_padding_does_not_change_the_real_steps(attention):
    model = tiny(attention)
    caption = torch.randint(3, V, (1, 6))
    short = model(images(1), caption).logits  # (1, 6, V)
    padded = model(images(1), torch.cat([caption, torch.zeros(1, 4, dtype=torch.long)], 1))
    assert torch.allclose(short, padded.logits[:, :6], atol=1e-6)


@pytest.mark.parametrize("attention", ["none", "soft"])
def test_step_by_step_equals_teacher_forcing(attention):
    model = tiny(attention)
    captions = torch.randint(3, V, (2, 5))
    forced = model(images(), captions)
    state, steps, weights = model.encode(images()), [], []
    for t in range(5):
        log_probs, state, attention_t = model.step(captions[:, t], state)
        steps.append(log_probs)
        weights.append(attention_t)
    assert torch.allclose(torch.stack(steps, 1), forced.logits.log_softmax(-1), atol=1e-5)
    assert torch.allclose(torch.stack(weights, 1), forced.attention, atol=1e-6)


@pytest.mark.parametrize("attention", ["none", "soft"])
def test_beam_of_one_is_greedy(attention):
    model = tiny(attention)
    greedy = greedy_search(model.step, model.encode(images(3)), 3, 1, 2, 8)
    beam = beam_search(model.step, model.encode(images(3)), 3, 1, 2, 8, beam_size=1, alpha=0.0)
    for g, (b,) in zip(greedy, beam):
        assert g.tokens == b.tokens and g.log_prob == pytest.approx(b.log_prob, abs=1e-4)


def test_the_doubly_stochastic_penalty_is_added_with_soft_attention():
    model = tiny("soft").train()
    batch = CaptionBatch(images(), torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]]), torch.tensor([0, 1]))
    plain, _ = CaptionObjective(pad_index=0).train_loss(model, batch)
    loss, stats = CaptionObjective(pad_index=0, doubly_stochastic=2.0).train_loss(model, batch)
    assert stats["attention_penalty"] > 0
    expected = float(plain.detach()) + 2.0 * stats["attention_penalty"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_features_with_a_large_shared_part_still_tell_the_images_apart():
    """Issue 14: a CNN's pooled features share a large part and differ little between images;
    with image_norm the decoder still learns the word each image calls for, not one caption for
    all (without it, this run gives every image the same word)."""
    g = torch.Generator().manual_seed(0)
    n, kinds, width = 32, 4, 16  # width: D of tiny()'s ResNet
    kind = torch.arange(n) % kinds  # (N,)
    shared = 3.0 * torch.rand(width, generator=g)  # (D,)
    features = (shared + 0.1 * torch.randn(kinds, width, generator=g)[kind]).abs()  # (N, D)
    regions = features.unsqueeze(1).expand(n, 4, width).contiguous()  # (N, L, D)
    ids = [[1, 3, 4 + k, 8, 9 + j, 2] for k in kind.tolist() for j in range(3)]
    batch = CaptionBatch(regions, torch.tensor(ids), torch.arange(n).repeat_interleave(3))
    model = tiny("none", image_norm=True).train()  # the image only starts the decoder
    objective = CaptionObjective(pad_index=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(150):
        loss, _ = objective.train_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    found = greedy_search(model.step, model.encode(regions), n, 1, 2, 8)
    assert [h.tokens[1] for h in found] == (4 + kind).tolist()


def test_the_image_free_baseline_ignores_the_image_and_the_captioner_does_not():
    captions = torch.randint(3, V, (2, 5))
    other = images(2).flip(0)  # the two images swapped
    free = tiny("none", encoder="none")
    assert torch.equal(free(images(), captions).logits, free(other, captions).logits)
    seeing = tiny("none")
    assert not torch.allclose(seeing(images(), captions).logits, seeing(other, captions).logits)
