"""Chapter 5 — the additive angular margin (ArcFace), its fallback, easy margin and the
straight-through gradient."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import MarginLoss, check_choice, check_non_negative, sin_from_cos


def additive_angular_margin(cos_y: Tensor, m: float, easy_margin: bool = False) -> Tensor:
    """``cos(θ_y + m)`` computed as ``cos θ_y·cos m - sin θ_y·sin m`` (no arccos).

    Where ``θ_y + m > π`` (i.e. ``cos θ_y ≤ cos(π - m)``) ``cos(θ + m)`` would start to *increase*
    with θ; the ArcFace code then falls back to the CosFace-like ``cos θ_y - m·sin m``, which keeps
    the target logit decreasing. With ``easy_margin`` the margin is applied only where
    ``cos θ_y > 0`` and the logit is left unchanged elsewhere (no fallback).
    """
    shifted = cos_y * math.cos(m) - sin_from_cos(cos_y) * math.sin(m)
    if easy_margin:
        return torch.where(cos_y > 0, shifted, cos_y)
    return torch.where(cos_y > math.cos(math.pi - m), shifted, cos_y - m * math.sin(m))


class ArcFace(MarginLoss):
    """Additive angular margin loss (ArcFace): add m to the target angle.

    Formula: ``z_y = s·cos(θ_y + m)`` where ``θ_y + m ≤ π``, else the fallback
    ``z_y = s·(cos θ_y - m·sin m)``; ``z_j = s·cos θ_j`` for j ≠ y; then CE.
    ``cos(θ + m) = cos θ cos m - sin θ sin m`` with ``sin θ = sqrt(max(1 - cos²θ, 1e-6))``.
    ``easy_margin=True``: margin only where ``cos θ_y > 0``, unchanged elsewhere, no fallback.

    Gradient (``grad``):

    * ``"exact"``: autograd through the formula; ``∂z_y/∂cos θ_y = s·sin(θ+m)/sin θ``.
    * ``"ste"`` (insightface ≥ 2022, OpenSphere): ``z_y = s·(cos θ_y + sg(f(cos θ_y) - cos θ_y))``,
      the same value, but the margin is a constant shift for backward: ``∂z_y/∂cos θ_y = s``.
      The two differ by the factor ``sin(θ+m)/sin θ``. Here ``f`` keeps the fallback, so the
      forward value is this module's; insightface's current ``arcface_torch`` code has no
      fallback past ``π - m`` (it keeps ``cos(θ + m)`` there), so its values agree with ours
      only where ``θ_y + m ≤ π``.

    Paper: J. Deng, J. Guo, N. Xue, S. Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep
    Face Recognition", CVPR 2019, arXiv:1801.07698.

    Detached: nothing with ``grad="exact"``; the margin shift ``f(cos θ_y) - cos θ_y`` with
    ``grad="ste"``. Hyper-parameters: ``s`` (> 0, default 64.0), ``m`` (≥ 0, radians, default 0.5),
    ``easy_margin`` (default False), ``grad`` (``"exact"`` or ``"ste"``, default ``"exact"``).
    """

    paper = (
        "Deng, Guo, Xue, Zafeiriou: ArcFace: Additive Angular Margin Loss for Deep Face Recognition; "
        "CVPR 2019; arXiv:1801.07698"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 64.0,
        m: float = 0.5,
        easy_margin: bool = False,
        grad: str = "exact",
    ):
        super().__init__(embedding_dim, num_classes, s)
        self.m = check_non_negative("m", m)
        if not isinstance(easy_margin, bool):
            raise ValueError(f"easy_margin must be True or False, got {easy_margin!r}")
        self.easy_margin = easy_margin
        self.grad = check_choice("grad", grad, ("exact", "ste"))

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        target = additive_angular_margin(cos_y, self.m, self.easy_margin)
        if self.grad == "ste":
            return cos_y + (target - cos_y).detach()
        return target
