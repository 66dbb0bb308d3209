"""A user's own backbone as the captioner's CNN (``--encoder-weights FILE``): a ResNet state dict
in safetensors or a weights-only ``torch.save`` file, in rnnkit's names or torchvision's / timm's.

The file is read without running code (``safetensors`` or ``torch.load(weights_only=True)``); a
dict holding the state under ``"state_dict"`` or ``"model"`` is unwrapped, and a prefix before
the stem (``module.``, ``backbone.``, ``encoder.``, ...) is dropped. torchvision's and timm's
ResNet names map onto :class:`~rnnkit.models.image_encoder.ResNetEncoder`'s as

    conv1.*                          -> stem.0.*          (the stem convolution, K x K)
    bn1.*                            -> stem.1.*          (its batch norm; the max pool after it
                                                           has no weights: stem_pool is set)
    layer{s}.{b}.{conv,bn}{1,2}.*    -> stages.{(s-1) B + b}.{conv,bn}{1,2}.*
    layer{s}.{b}.downsample.{0,1}.*  -> stages.{(s-1) B + b}.shortcut.{0,1}.*
    fc.*                             -> left out (the ImageNet classifier)

(B the blocks per stage). The encoder's shape (width C, stages K, blocks B, stem kernel) is read
from the weights, so a ResNet-18 (64 channels, 4 stages of 2 basic blocks, a 7x7 stem and a max
pool) loads as is; ResNets whose stages differ in depth (ResNet-34) or that use bottleneck
blocks (ResNet-50 and deeper) do not fit this encoder and are refused with a clear error. The
loaded CNN is then trained with the decoder (fine-tuned), its batch norms too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import UserError

__all__ = ["EncoderWeights", "load_encoder", "read_encoder_weights"]

STEMS = ("stem.0.weight", "conv1.weight")  # rnnkit's, torchvision's / timm's
_LAYER = re.compile(r"layer(\d+)\.(\d+)\.(.+)")
_STAGE = re.compile(r"stages\.(\d+)\.")


class EncoderWeights:
    """A ResNet state dict in :class:`ResNetEncoder`'s names and the shape it fits:
    ``shape = {"channels", "stages", "blocks", "stem_kernel"}``, and ``"stem_pool"`` for
    torchvision's / timm's names (rnnkit's own leave it to the settings)."""

    def __init__(self, state: dict[str, torch.Tensor], shape: dict[str, Any]) -> None:
        self.state, self.shape = state, shape


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"--encoder-weights {path}: no such file; expected a ResNet state dict "
                        "(.safetensors, or a .pt/.pth saved with torch.save)")  # fmt: skip
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and header errors alike: one clear line
        raise UserError(f"cannot read --encoder-weights {path} ({type(error).__name__}: "
                        f"{str(error)[:200]}); expected a safetensors file or a weights-only "
                        "torch.save state dict") from None  # fmt: skip
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise UserError(f"--encoder-weights {path} holds a {type(state).__name__}; expected a "
                        "state dict of tensors")  # fmt: skip
    return state


def _stem_prefix(state: dict[str, Any], path: Path) -> tuple[str, str]:
    """(the prefix before the stem convolution, the stem key's own name)."""
    found = [
        (key[: -len(stem)], stem)
        for key, value in state.items()
        for stem in STEMS
        if key.endswith(stem) and isinstance(value, torch.Tensor) and value.dim() == 4
        and value.shape[1] == 3 and (key == stem or key[: -len(stem)].endswith("."))
    ]  # fmt: skip
    if not found:
        raise UserError(f"--encoder-weights {path}: found no ResNet stem (conv1.weight or "
                        "stem.0.weight, a 3-channel convolution); expected a torchvision, timm "
                        "or rnnkit ResNet state dict")  # fmt: skip
    return min(found, key=lambda f: len(f[0]))


def _renamed(name: str, blocks: int) -> str | None:
    """A torchvision/timm name in rnnkit's (None: not part of the encoder)."""
    if name.startswith("conv1."):
        return "stem.0." + name[6:]
    if name.startswith("bn1."):
        return "stem.1." + name[4:]
    match = _LAYER.fullmatch(name)
    if match is None:
        return None
    stage, block, rest = int(match[1]), int(match[2]), match[3]
    rest = rest.replace("downsample.", "shortcut.")
    return f"stages.{(stage - 1) * blocks + block}.{rest}"


def load_encoder(encoder: torch.nn.Module, weights: EncoderWeights, path: str) -> None:
    """Copy ``weights`` into ``encoder``; a tensor missing or of another shape is a UserError."""
    expected = encoder.state_dict()
    missing = [k for k in expected if k not in weights.state and "num_batches" not in k]
    wrong = [k for k, v in weights.state.items() if k in expected and v.shape != expected[k].shape]
    if missing or wrong:
        raise UserError(f"--encoder-weights {path}: "
                        + (f"missing {', '.join(missing[:3])}" if missing else
                           f"{wrong[0]} is {tuple(weights.state[wrong[0]].shape)}, expected "
                           f"{tuple(expected[wrong[0]].shape)}")
                        + "; expected a ResNet of basic blocks")  # fmt: skip
    encoder.load_state_dict({k: v for k, v in weights.state.items() if k in expected},
                            strict=False)  # fmt: skip


def read_encoder_weights(path: str | Path) -> EncoderWeights:
    """The backbone in ``path`` (see the module docstring) in rnnkit's names, with its shape."""
    path = Path(path).expanduser()
    state = _load(path)
    prefix, stem = _stem_prefix(state, path)
    state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    torchvision = stem == "conv1.weight"
    if any(".conv3." in k for k in state):
        raise UserError(f"--encoder-weights {path}: a bottleneck ResNet (50 layers or more); "
                        "expected basic blocks (a ResNet-18 or rnnkit's ResNet)")  # fmt: skip
    if torchvision:
        depth: dict[int, int] = {}
        for key in state:
            if match := _LAYER.fullmatch(key):
                depth[int(match[1])] = max(depth.get(int(match[1]), 0), int(match[2]) + 1)
        stages = len(depth)
        if not depth or set(depth) != set(range(1, stages + 1)) or len(set(depth.values())) != 1:
            raise UserError(f"--encoder-weights {path}: stages of {sorted(depth.items())} "
                            "(stage, blocks); expected the same number of basic blocks in "
                            "every stage (a ResNet-18: 2 each)")  # fmt: skip
        blocks = depth[1]
        state = {new: v for k, v in state.items() if (new := _renamed(k, blocks)) is not None}
    else:
        indices = {int(m[1]) for k in state if (m := _STAGE.match(k))}
        state = {k: v for k, v in state.items() if k.startswith(("stem.", "stages."))}
        widths = [state[f"stages.{i}.conv1.weight"].shape[0] for i in sorted(indices)
                  if f"stages.{i}.conv1.weight" in state]  # fmt: skip
        stages = len(set(widths))
        blocks = len(widths) // max(stages, 1)
    weight = state["stem.0.weight"]  # (C, 3, K, K)
    shape = {
        "channels": int(weight.shape[0]),
        "stages": stages,
        "blocks": blocks,
        "stem_kernel": int(weight.shape[-1]),
    }
    if torchvision:
        shape["stem_pool"] = True
    if stages < 1 or blocks < 1:
        raise UserError(f"--encoder-weights {path}: found no residual stages; expected a ResNet")
    return EncoderWeights({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                          shape)  # fmt: skip
