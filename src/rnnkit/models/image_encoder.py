"""A small ResNet-style CNN (He et al. 2016) in plain PyTorch, trained from scratch: the image
encoder of the captioner.

    stem:   x -> ReLU(BN(convKxK_stride2(x)))                                  (N, C, S/2, S/2)
            (K = 3; a torchvision/timm ResNet's stem has K = 7 and a 3x3 max pool of stride 2
            after it, halving the grid once more: ``stem_kernel=7, stem_pool=True``)
    stage k (k = 1..K, width C * 2^(k-1), the first block of stages 2..K with stride 2):
    block:  y = ReLU(BN(conv3x3(ReLU(BN(conv3x3_stride(x))))) + shortcut(x))
            shortcut = x, or BN(conv1x1_stride(x)) when the shape changes

The output is the last stage's feature map ``(N, D, G, G)`` with D = C * 2^(K-1) and
G = S / 2^K: G x G regions of D features each, what soft attention looks over (Xu et al. 2015);
their mean is the image's feature vector (Show and Tell, Vinyals et al. 2015).

:class:`NoImageEncoder` is the image-free baseline's encoder: every image becomes one region of
one zero feature, so a captioner built on it learns the captions alone (a language model with a
learned start state) in the same harness, and its loss and BLEU show what the images add.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["BasicBlock", "NoImageEncoder", "ResNetEncoder"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn1(self.conv1(x)).relu()  # (N, C, H', W')
        y = self.bn2(self.conv2(y))  # (N, C, H', W')
        return (y + self.shortcut(x)).relu()


class ResNetEncoder(nn.Module):
    """The CNN of the module docstring.

    Args:
        channels: C, the stem's and the first stage's width (doubled each stage).
        stages: K, the stages; each halves the grid (the stem halves it once more).
        blocks: basic blocks per stage.
        stem_kernel: the stem convolution's size K.
        stem_pool: a 3x3 max pool of stride 2 after the stem (as a torchvision ResNet has).
    """

    def __init__(
        self, channels: int = 32, stages: int = 4, blocks: int = 1, stem_kernel: int = 3,
        stem_pool: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, stem_kernel, 2, stem_kernel // 2, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        if stem_pool:
            self.stem.append(nn.MaxPool2d(3, 2, 1))
        layers, width = [], channels
        for stage in range(stages):
            out = channels * 2**stage
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(width, out, stride))
                width = out
        self.stages = nn.Sequential(*layers)
        self.features = width  # D
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        for module in self.modules():  # each residual branch starts near zero (Goyal et al.)
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    @staticmethod
    def grid(image_size: int, stages: int, stem_pool: bool = False) -> int:
        """G, the feature map's side for ``image_size`` pixels."""
        side = (image_size + 1) // 2
        for _ in range(stages - 1 + stem_pool):
            side = (side + 1) // 2
        return side

    def forward(self, images: Tensor) -> Tensor:
        """``images (N, 3, S, S)`` normalised -> feature map ``(N, D, G, G)``."""
        return self.stages(self.stem(images))


class NoImageEncoder(nn.Module):
    """The image-free baseline (see the module docstring): ``(N, 3, S, S)`` -> zeros
    ``(N, 1, 1, 1)``, D = 1 feature on a 1 x 1 grid, whatever the image."""

    features = 1

    def forward(self, images: Tensor) -> Tensor:
        return images.new_zeros(images.shape[0], 1, 1, 1)  # (N, 1, 1, 1)
