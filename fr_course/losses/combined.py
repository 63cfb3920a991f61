"""Chapter 5 (end) — insightface's combined margin: SphereFace, ArcFace and CosFace in one."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import MarginLoss, check_non_negative, check_positive, theta_from_cos


class CombinedMargin(MarginLoss):
    """Combined margin: multiplicative, additive-angular and additive-cosine margins together.

    Formula: ``z_y = s·(cos(m1·θ_y + m2) - m3)`` where ``m1·θ_y + m2 ≤ π``, else the ArcFace-style
    fallback ``z_y = s·(cos θ_y - m3 - m2·sin m2)``; ``z_j = s·cos θ_j`` for j ≠ y; then CE.
    ``θ_y = arccos(clamp(cos θ_y))``. (m1, m2, m3) = (1, m, 0) is ArcFace, (1, 0, m) CosFace.

    Paper: J. Deng, J. Guo, N. Xue, S. Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep
    Face Recognition", CVPR 2019, arXiv:1801.07698 (Sec. 3, combined margin; insightface code).

    Detached: nothing. Hyper-parameters: ``s`` (> 0, default 64.0), ``m1`` (> 0, default 1.0),
    ``m2`` (≥ 0, default 0.3), ``m3`` (≥ 0, default 0.2).
    """

    paper = (
        "Deng, Guo, Xue, Zafeiriou: ArcFace: Additive Angular Margin Loss for Deep Face Recognition "
        "(combined margin); CVPR 2019; arXiv:1801.07698"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 64.0,
        m1: float = 1.0,
        m2: float = 0.3,
        m3: float = 0.2,
    ):
        super().__init__(embedding_dim, num_classes, s)
        self.m1 = check_positive("m1", m1)
        self.m2 = check_non_negative("m2", m2)
        self.m3 = check_non_negative("m3", m3)

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        angle = self.m1 * theta_from_cos(cos_y) + self.m2
        fallback = cos_y - self.m3 - self.m2 * math.sin(self.m2)
        return torch.where(angle <= math.pi, torch.cos(angle) - self.m3, fallback)
