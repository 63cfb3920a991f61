"""Chapter 4 — the additive cosine margin (CosFace / AM-Softmax)."""

from __future__ import annotations

from torch import Tensor

from .base import MarginLoss, check_non_negative


class CosFace(MarginLoss):
    """Large-margin cosine loss (CosFace, also AM-Softmax): subtract m from the target cosine.

    Formula: ``z_y = s·(cos θ_y - m)``, ``z_j = s·cos θ_j`` for j ≠ y, then CE.
    The decision boundary between classes i and j becomes ``cos θ_i - m = cos θ_j``: a margin of
    constant width in cosine space.

    Papers: H. Wang, Y. Wang, Z. Zhou, X. Ji, D. Gong, J. Zhou, Z. Li, W. Liu, "CosFace: Large
    Margin Cosine Loss for Deep Face Recognition", CVPR 2018, arXiv:1801.09414; and, independently,
    F. Wang, J. Cheng, W. Liu, H. Liu, "Additive Margin Softmax for Face Verification",
    IEEE Signal Processing Letters 2018, arXiv:1801.05599.

    Detached: nothing. Hyper-parameters: ``s`` (> 0, default 64.0), ``m`` (≥ 0, default 0.35).
    """

    paper = (
        "Wang, Wang, Zhou, Ji, Gong, Zhou, Li, Liu: CosFace: Large Margin Cosine Loss for Deep Face "
        "Recognition; CVPR 2018; arXiv:1801.09414 (also AM-Softmax, IEEE SPL 2018, arXiv:1801.05599)"
    )

    def __init__(self, embedding_dim: int, num_classes: int, s: float = 64.0, m: float = 0.35):
        super().__init__(embedding_dim, num_classes, s)
        self.m = check_non_negative("m", m)

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        return cos_y - self.m
