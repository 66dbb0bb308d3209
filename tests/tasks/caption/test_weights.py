"""--encoder-weights: a torchvision/timm-named or rnnkit-named ResNet state dict starts the
captioner's CNN (safetensors or weights-only torch.save), with clear errors for what does not
fit."""

import pytest
import torch
from safetensors.torch import save_file

from rnnkit.errors import UserError
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.image_encoder import ResNetEncoder
from rnnkit.tasks.caption.weights import load_encoder, read_encoder_weights


def torchvision_names(state):
    """rnnkit's encoder names -> torchvision's (2 blocks a stage), the inverse of the mapping."""
    out = {}
    for key, value in state.items():
        if key.startswith("stem.0."):
            key = "conv1." + key[7:]
        elif key.startswith("stem.1."):
            key = "bn1." + key[7:]
        else:
            _, index, rest = key.split(".", 2)
            rest = rest.replace("shortcut.", "downsample.")
            key = f"layer{int(index) // 2 + 1}.{int(index) % 2}.{rest}"
        out[key] = value
    return out


def captioner_of(shape):
    return Captioner(CaptionerConfig(20, embed=8, hidden=8, **shape)).eval()


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_a_torchvision_resnet_state_dict_starts_the_encoder(tmp_path, kind):
    torch.manual_seed(0)
    source = ResNetEncoder(8, stages=3, blocks=2, stem_kernel=7, stem_pool=True).eval()
    for module in source.modules():  # non-trivial statistics, so a wrong copy shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.weight.data.uniform_(0.5, 1.5)
    state = torchvision_names(source.state_dict())
    state |= {"fc.weight": torch.zeros(10, 32), "fc.bias": torch.zeros(10)}
    path = tmp_path / f"resnet.{kind}"
    if kind == "pth":
        torch.save({"state_dict": state}, path)
    else:
        save_file({f"module.{k}": v.contiguous() for k, v in state.items()}, str(path))
    weights = read_encoder_weights(path)
    assert weights.shape == {"channels": 8, "stages": 3, "blocks": 2, "stem_kernel": 7,
                             "stem_pool": True}  # fmt: skip
    model = captioner_of(weights.shape)
    load_encoder(model.encoder, weights, str(path))
    images = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model.encoder(images), source(images), atol=1e-6)
    assert ResNetEncoder.grid(32, 3, stem_pool=True) == model.encoder(images).shape[-1] == 2


def test_rnnkit_names_and_clear_errors(tmp_path):
    model = captioner_of({"channels": 4, "stages": 2, "blocks": 1})
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "a.st"))
    (tmp_path / "a.st").rename(tmp_path / "a.safetensors")
    weights = read_encoder_weights(tmp_path / "a.safetensors")  # the "encoder." prefix dropped
    assert weights.shape == {"channels": 4, "stages": 2, "blocks": 1, "stem_kernel": 3}
    bottleneck = {"conv1.weight": torch.zeros(8, 3, 7, 7), "layer1.0.conv3.weight": torch.zeros(1)}
    torch.save(bottleneck, tmp_path / "r50.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for name, message in [("r50.pt", "bottleneck"), ("junk.pt", "cannot read"),
                          ("absent.pt", "no such file")]:  # fmt: skip
        with pytest.raises(UserError, match=message):
            read_encoder_weights(tmp_path / name)
    small = captioner_of({"channels": 8, "stages": 2, "blocks": 1})
    with pytest.raises(UserError, match="expected a ResNet"):
        load_encoder(small.encoder, weights, "a.safetensors")
