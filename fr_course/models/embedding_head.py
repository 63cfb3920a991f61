"""The ArcFace embedding head: "BN-Dropout-FC-BN" (Deng et al., ArcFace, arXiv:1801.07698).

From the last feature map (N, C, h, w) of a face backbone to the raw embedding (N, d)::

    x -> BatchNorm2d(C) -> Dropout(p) -> flatten (C·h·w) -> Linear(C·h·w, d) -> BatchNorm1d(d)

Unlike global average pooling, the flatten keeps where on the face each feature was seen (the
faces are aligned, so position carries identity information); the price is a Linear layer of
C·h·w·d weights (25,088 × 512 ≈ 12.8 M at 112×112), about half of a face ResNet-18's parameters.

The final BatchNorm1d has its scale γ fixed at 1 and not trained, as in insightface (MXNet
``fix_gamma=True``; arcface_torch sets ``features.weight`` to 1 with ``requires_grad=False``):
the embedding's per-dimension scale is then set by the batch statistics alone, and its norm is
not a free parameter the loss could inflate.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import check_dropout, check_positive_int


class EmbeddingHead(nn.Module):
    """BN2d -> Dropout -> flatten -> Linear -> BN1d (γ fixed at 1 when ``fix_gamma``)."""

    def __init__(self, in_channels: int, feature_size: tuple[int, int], embedding_dim: int = 512,
                 dropout: float = 0.0, fix_gamma: bool = True):
        super().__init__()
        check_positive_int("embedding_dim", embedding_dim)
        self.feature_size = (check_positive_int("feature height", feature_size[0]),
                             check_positive_int("feature width", feature_size[1]))
        self.bn = nn.BatchNorm2d(in_channels)
        self.dropout = nn.Dropout(p=check_dropout(dropout))
        self.fc = nn.Linear(in_channels * self.feature_size[0] * self.feature_size[1], embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim)
        if fix_gamma:
            nn.init.ones_(self.features.weight)
            self.features.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.feature_size:
            raise ValueError(
                f"the backbone's last feature map is {tuple(x.shape[-2:])} but the embedding head was built "
                f"for {self.feature_size}: build the model with the input_size of the images you feed it")
        x = self.dropout(self.bn(x))
        # flatten() of a channels_last tensor copies into logical (C, h, w) order, so the Linear
        # sees the same layout whatever the memory format.
        return self.features(self.fc(torch.flatten(x, 1)))
