"""Chapter 9 — SFace: sigmoid-shaped gradient scales instead of a softmax."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import PrototypeLoss, check_positive, check_real, target_column, theta_from_cos


class SFace(PrototypeLoss):
    """Sigmoid-constrained hypersphere loss (SFace): no softmax, two sigmoid-weighted cosine terms.

    Formula, per sample:
    ``L_i = -s·σ_a(θ_y)·cos θ_y + Σ_{j≠y} s·σ_b(θ_j)·cos θ_j`` with
    ``σ_a(θ) = 1 / (1 + exp(-k(θ - a)))`` and ``σ_b(θ) = 1 / (1 + exp(k(θ - b)))``.
    θ, σ_a and σ_b are detached, so ``∂L/∂cos θ_y = -s·σ_a(θ_y)`` and
    ``∂L/∂cos θ_j = s·σ_b(θ_j)``: the sigmoids only *re-scale* the gradients — the target is pulled
    until θ_y falls below about a, and a negative is pushed only while θ_j is below about b —
    which limits how hard a mislabelled (noisy) sample can pull. ``logits()`` raises
    ``NotImplementedError``.

    Paper: Y. Zhong, W. Deng, J. Hu, D. Zhao, X. Li, D. Wen, "SFace: Sigmoid-Constrained
    Hypersphere Loss for Robust Face Recognition", IEEE Transactions on Image Processing 30, 2021,
    arXiv:2205.12010.

    Detached: θ, σ_a(θ_y), σ_b(θ_j). Hyper-parameters: ``s`` (> 0, 64.0), ``k`` (> 0, 80.0),
    ``a`` (0.87), ``b`` (1.2). These are the values of the official CASIA-WebFace training
    script; the official code's own defaults are a = 0.80, b = 1.23, and its other training
    scripts use a = 0.9, b = 1.2 (MS1MV2) and a = 0.88, b = 1.25 (VGGFace2).
    """

    paper = (
        "Zhong, Deng, Hu, Zhao, Li, Wen: SFace: Sigmoid-Constrained Hypersphere Loss for Robust "
        "Face Recognition; IEEE TIP 2021; arXiv:2205.12010"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 64.0,
        k: float = 80.0,
        a: float = 0.87,
        b: float = 1.2,
    ):
        super().__init__(embedding_dim, num_classes)
        self.s = check_positive("s", s)
        self.k = check_positive("k", k)
        self.a = check_real("a", a)
        self.b = check_real("b", b)

    def _per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cos = self.cosine(embeddings)
        cos_y = target_column(cos, labels)
        with torch.no_grad():
            theta = theta_from_cos(cos)
            pull = torch.sigmoid(self.k * (target_column(theta, labels) - self.a))   # σ_a(θ_y)
            push = torch.sigmoid(theta.sub_(self.b).mul_(-self.k))                    # σ_b(θ_j)
            push.scatter_(1, labels[:, None], 0.0)                                    # j ≠ y only
        return self.s * (torch.linalg.vecdot(cos, push, dim=1) - pull * cos_y)
