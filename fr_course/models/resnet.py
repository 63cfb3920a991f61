"""torchvision's ResNet-18 with its stem adapted to 112×112 aligned faces.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016. The adaptation to faces
(the common one for 112×112 crops):

* the 7×7 stride-2 stem convolution becomes a **3×3 stride-1** convolution (torchvision's
  stem, 7×7 stride 2 then the max-pool, would shrink a 112×112 face to 28×28 before the first
  residual block);
* the 3×3 stride-2 max-pool is **kept**, so the four stages run at 56, 28, 14 and 7 px;
* average pooling and ``fc`` are replaced by the ArcFace embedding head
  (:class:`~fr_course.models.embedding_head.EmbeddingHead`, BN-Dropout-FC-BN), whose flatten
  size follows from ``input_size`` (8·width × 7 × 7 = 25,088 at 112×112).

The residual blocks and the stage builder are torchvision's own (``BasicBlock``,
``ResNet._make_layer``); parameter names (``conv1``, ``bn1``, ``layer1`` ... ``layer4``) are
torchvision's, so its ImageNet weights map onto the trunk by name (all but ``conv1.weight``,
whose shape differs, and ``fc``, which is gone). Initialisation is torchvision's: Kaiming-normal (fan-out,
ReLU gain) convolutions, batch-norm γ = 1 and β = 0, PyTorch's default for the Linear.

Cost at 112×112, embedding_dim 512, width 64 (measured by :func:`fr_course.models.complexity`,
``torch.utils.flop_counter.FlopCounterMode``, MACs = FLOPs / 2):
1.730 GMACs and 24.02 M parameters (1.717 GMACs in the trunk, 12.85 M MACs in the head's
Linear; for comparison torchvision's unmodified ResNet-18 costs 0.485 GMACs at 112×112, and
6.80 GMACs in the trunk without the max-pool).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, ResNet

from .common import as_hw, check_positive_int, halved, kaiming_init_
from .embedding_head import EmbeddingHead


class FaceResNet18(ResNet):
    """ResNet-18 trunk (torchvision blocks) + 3×3 stride-1 stem + max-pool + ArcFace head.

    Channels per stage: width, 2·width, 4·width, 8·width (torchvision: 64 ... 512). ``width``
    smaller than 64 gives the narrow network of the same topology that the quick profile trains
    on a CPU. Input: float32 normalised images (N, 3, H, W) with (H, W) = ``input_size``;
    output: raw (un-normalised) embeddings (N, ``embedding_dim``).
    """

    def __init__(self, embedding_dim: int = 512, input_size: int | Sequence[int] = 112,
                 width: int = 64, dropout: float = 0.0):
        # ResNet.__init__ hard-codes 64 base channels and the 7×7 stem, so the attributes its
        # _make_layer reads are set here and the stages are built with that same method.
        nn.Module.__init__(self)
        width = check_positive_int("width", width)
        self.input_size = as_hw(input_size)
        self._norm_layer = nn.BatchNorm2d
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # BasicBlock only accepts the default; channel width comes from `planes`
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
        # max-pool + three strided stages = four halvings
        self.head = EmbeddingHead(8 * width, halved(self.input_size, 4), embedding_dim, dropout)
        kaiming_init_(self, nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N, 8·width, h, w) before the embedding head."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
