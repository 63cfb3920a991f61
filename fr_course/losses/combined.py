"""Chapter 5 (end) — insightface's combined margin: SphereFace, ArcFace and CosFace in one."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import MarginLoss, check_non_negative, check_positive, theta_from_cos


class CombinedMargin(MarginLoss):
    """Combined margin: multiplicative, additive-angular and additive-cosine margins together.

    Formula: ``z_y = s·(cos(m1·θ_y + m2) - m3)`` while ``m1·θ_y + m2 ≤ π``; past that point the
    fallback ``z_y = s·(cos θ_y - m3 - δ)`` with ``δ = max(m2·sin m2, 1 + cos θ_b)``, where
    ``θ_b = (π - m2)/m1`` is the angle at which ``m1·θ + m2`` reaches π; ``z_j = s·cos θ_j`` for
    j ≠ y; then CE. ``θ_y = arccos(clamp(cos θ_y))``. (m1, m2, m3) = (1, m, 0) is ArcFace (with
    its fallback), (1, 0, m) CosFace.

    **The fallback is this project's own**, not insightface's: no insightface implementation of
    the combined margin has one (they keep ``cos(m1·θ + m2)``, which turns back up past π). It
    exists so that the target logit keeps decreasing as θ grows. For ``m1 = 1`` (and whenever
    ``m2·sin m2 ≥ 1 + cos θ_b``) δ is ArcFace's ``m2·sin m2`` and the logit steps *down* at
    θ_b. For ``m1 > 1`` the boundary θ_b is smaller, ``cos θ_b`` larger, and ArcFace's shift
    alone would make the logit jump *up* there (+0.40 at (1.35, 0.25, 0.1)); ``δ = 1 + cos θ_b``
    instead joins the two pieces continuously at ``-1 - m3``. Either way ``z_y`` is
    non-increasing in θ on all of [0, π].

    Note: insightface's ``arcface_torch`` ``CombinedMarginLoss`` with ``m3 > 0`` takes its CosFace
    branch and ignores ``m2`` (and m1), so its setting (1, 0.3, 0.2) trains CosFace with
    m = 0.2; this class applies all three margins.

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
        boundary = (math.pi - self.m2) / self.m1
        self.fallback_shift = max(self.m2 * math.sin(self.m2), 1.0 + math.cos(boundary))

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        angle = self.m1 * theta_from_cos(cos_y) + self.m2
        fallback = cos_y - self.m3 - self.fallback_shift
        return torch.where(angle <= math.pi, torch.cos(angle) - self.m3, fallback)
