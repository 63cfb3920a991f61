"""Chapter 3 — the multiplicative angular margin of SphereFace (A-Softmax), with λ annealing."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import (
    PrototypeLoss,
    check_non_negative,
    compute_dtype,
    replace_target,
    target_column,
    theta_from_cos,
)


def sphereface_psi(theta: Tensor, m: int) -> Tensor:
    """``ψ(θ) = (-1)^k cos(mθ) - 2k`` with ``k = floor(mθ/π)`` taken from the detached θ.

    ψ is cos(mθ) folded into a monotonically decreasing function on [0, π]; k only selects the
    branch, so it carries no gradient.
    """
    k = torch.floor(theta.detach() * (m / math.pi))
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    return sign * torch.cos(m * theta) - 2.0 * k


class SphereFace(PrototypeLoss):
    """A-Softmax (SphereFace): multiplicative angular margin, the feature norm as the scale.

    Formula (prototypes normalised, features *not*):
    ``z_j = ‖x‖·cos θ_j`` for j ≠ y and, with the annealing of the official Caffe code,
    ``z_y = ‖x‖·(λ·cos θ_y + ψ(θ_y)) / (1 + λ)``, where
    ``ψ(θ) = (-1)^k cos(mθ) - 2k``, ``k = floor(mθ/π)``, and
    ``λ = max(lambda_min, lambda_base·(1 + lambda_gamma·it)^(-lambda_power))``.
    ``it`` is the buffer ``iteration``: the number of training-mode loss evaluations
    (``forward``/``per_sample``) *including the current one*. The official Caffe layer
    (``margin_inner_product_layer``) increments its counter before it computes λ, so the first
    training call already uses ``it = 1``, λ = 1000/1.12 ≈ 892.9, not 1000. The counter does not
    move in ``eval()`` mode or in :meth:`logits` (they use the λ of the last training call), and it
    is saved in ``state_dict()``. With
    ``lambda_base = lambda_min = 0`` the target logit is exactly ``‖x‖·ψ(θ_y)``.

    Paper: W. Liu, Y. Wen, Z. Yu, M. Li, B. Raj, L. Song, "SphereFace: Deep Hypersphere Embedding
    for Face Recognition", CVPR 2017, arXiv:1704.08063.

    Detached: k (the branch index). Hyper-parameters: ``m`` (integer ≥ 1, default 4),
    ``lambda_base`` (1000.0), ``lambda_gamma`` (0.12), ``lambda_power`` (1.0), ``lambda_min`` (5.0).
    """

    paper = (
        "Liu, Wen, Yu, Li, Raj, Song: SphereFace: Deep Hypersphere Embedding for Face Recognition; "
        "CVPR 2017; arXiv:1704.08063"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        m: int = 4,
        lambda_base: float = 1000.0,
        lambda_gamma: float = 0.12,
        lambda_power: float = 1.0,
        lambda_min: float = 5.0,
    ):
        super().__init__(embedding_dim, num_classes)
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"m must be a positive integer (the angle multiplier), got {m!r}")
        self.m = m
        self.lambda_base = check_non_negative("lambda_base", lambda_base)
        self.lambda_gamma = check_non_negative("lambda_gamma", lambda_gamma)
        self.lambda_power = check_non_negative("lambda_power", lambda_power)
        self.lambda_min = check_non_negative("lambda_min", lambda_min)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def current_lambda(self) -> Tensor:
        """λ at the current value of ``iteration`` (a 0-dim float64 tensor; no device sync)."""
        it = self.iteration.to(torch.float64)
        annealed = self.lambda_base * (1.0 + self.lambda_gamma * it) ** (-self.lambda_power)
        return annealed.clamp_min(self.lambda_min)

    def per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        if not self.training:
            return super().per_sample(embeddings, labels)
        # counted before λ is computed, as in the official layer; a call that fails on bad input
        # must not move the schedule
        self.iteration += 1
        try:
            return super().per_sample(embeddings, labels)
        except Exception:
            self.iteration -= 1
            raise

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cos = self.cosine(embeddings)
        norm = torch.linalg.vector_norm(embeddings.to(compute_dtype(embeddings, self.weight)), dim=1)
        cos_y = target_column(cos, labels)
        lam = self.current_lambda()
        target = (lam * cos_y + sphereface_psi(theta_from_cos(cos_y), self.m)) / (1.0 + lam)
        return replace_target(cos * norm[:, None], labels, target * norm)
