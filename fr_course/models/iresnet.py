"""iResNet-18: the "IR" residual network of insightface's ArcFace trainers.

Architecture (Deng et al., ArcFace, arXiv:1801.07698, the "improved residual unit" of its network
settings; the pre-activation ordering of He et al., ECCV 2016, with a PReLU — He et al., ICCV 2015 —
in the middle):

* stem: 3×3 stride-1 convolution (3 -> width) -> BN -> PReLU, at full resolution;
* four stages of two IR blocks each (layers [2, 2, 2, 2]), channels width, 2·width, 4·width,
  8·width (64 ... 512); the **first block of every stage** halves the resolution, so the stages
  run at 56, 28, 14 and 7 px for a 112×112 input;
* IR block: ``BN -> conv3×3 -> BN -> PReLU -> conv3×3(stride) -> BN``, added to the shortcut
  (identity, or 1×1 conv(stride) -> BN when the shape changes); no activation after the sum.
  The stride sits in the block's *second* convolution, so the first one runs at the input
  resolution — this is where most of the cost is spent;
* head: the ArcFace BN-Dropout-FC-BN (:class:`~fr_course.models.embedding_head.EmbeddingHead`).

Initialisation: Kaiming-normal (fan-out) convolutions with the gain of a leaky ReLU of slope
0.25 — the PReLU's initial slope, the case He et al. 2015 derived the init for (insightface
itself draws conv weights from N(0, 0.1)); batch-norm γ = 1, β = 0; PReLU slopes 0.25
(PyTorch's default); PyTorch's default for the Linear.

Cost at 112×112, embedding_dim 512, width 64 (measured by :func:`fr_course.models.complexity`,
``torch.utils.flop_counter.FlopCounterMode``, MACs = FLOPs / 2):
2.610 GMACs and 24.03 M parameters (2.597 GMACs in the trunk, 12.85 M MACs in the head's
Linear).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .common import as_hw, check_positive_int, halved, kaiming_init_
from .embedding_head import EmbeddingHead

_PRELU_INIT = 0.25  # nn.PReLU's default slope; also the slope the init's gain assumes


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class IRBlock(nn.Module):
    """``BN -> conv3×3 -> BN -> PReLU -> conv3×3(stride) -> BN`` + shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = _conv3x3(in_channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.prelu = nn.PReLU(channels, init=_PRELU_INIT)
        self.conv2 = _conv3x3(channels, channels, stride)
        self.bn3 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.bn1(x))
        out = self.bn3(self.conv2(self.prelu(self.bn2(out))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet18(nn.Module):
    """IR-block ResNet-18 with a 3×3 stride-1 stem and the ArcFace embedding head.

    Input: float32 normalised images (N, 3, H, W) with (H, W) = ``input_size``; output: raw
    embeddings (N, ``embedding_dim``). ``width`` < 64 gives a narrow network of the same topology.
    """

    layers = (2, 2, 2, 2)

    def __init__(self, embedding_dim: int = 512, input_size: int | Sequence[int] = 112,
                 width: int = 64, dropout: float = 0.0):
        super().__init__()
        width = check_positive_int("width", width)
        self.input_size = as_hw(input_size)
        self.conv1 = _conv3x3(3, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.prelu = nn.PReLU(width, init=_PRELU_INIT)
        in_channels = width
        stages = []
        for index, blocks in enumerate(self.layers):
            channels = width * 2 ** index
            stage = [IRBlock(in_channels, channels, stride=2)]
            stage += [IRBlock(channels, channels) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        # every stage halves once
        self.head = EmbeddingHead(in_channels, halved(self.input_size, len(self.layers)), embedding_dim, dropout)
        kaiming_init_(self, nonlinearity="leaky_relu", negative_slope=_PRELU_INIT)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N, 8·width, h, w) before the embedding head."""
        x = self.prelu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
