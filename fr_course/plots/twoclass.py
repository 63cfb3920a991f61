"""The two-class, two-dimensional setup in which the pictures evaluate a loss.

Every curve and every decision boundary of the course is computed by the loss heads of
:mod:`fr_course.losses` themselves, not by re-typed formulas: a head is built for ``C = 2``
classes and ``d = 2`` dimensions, its prototypes are set to the unit vectors at angles ``0``
(class 0) and ``separation`` (class 1), and embeddings are placed on the circle of radius
``embedding_norm`` at chosen angles. The head runs in float64 and in ``eval()`` mode, so that
stateful losses (SphereFace's λ annealing) do not advance while they are drawn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .. import losses
from ..losses.base import LossHead


def two_class_head(loss: str, separation: float = math.pi / 2, **hparams: Any) -> LossHead:
    """``losses.build(loss, embedding_dim=2, num_classes=2, **hparams)`` with fixed prototypes.

    Prototype 0 is ``(1, 0)``, prototype 1 is ``(cos φ, sin φ)`` with ``φ = separation``; a bias
    (plain softmax) is zero, so the softmax logits are ``‖x‖·cos θ_j`` like the others.
    """
    separation = float(separation)
    if not 0.0 < separation <= math.pi:
        raise ValueError(f"separation must lie in (0, π] radians, got {separation!r}")
    head = losses.build(loss, embedding_dim=2, num_classes=2, **hparams).double().eval()
    prototypes = torch.tensor([[1.0, 0.0], [math.cos(separation), math.sin(separation)]],
                              dtype=torch.float64)
    with torch.no_grad():
        head.weight.copy_(prototypes)
        bias = getattr(head, "bias", None)
        if isinstance(bias, torch.Tensor):
            bias.zero_()
    return head


def embeddings_at(angles: torch.Tensor, embedding_norm: float = 1.0) -> torch.Tensor:
    """(M, 2) float64 embeddings ``r·(cos α, sin α)``; differentiable in ``angles``."""
    embedding_norm = float(embedding_norm)
    if not embedding_norm > 0.0 or not math.isfinite(embedding_norm):
        raise ValueError(f"embedding_norm must be a finite number > 0, got {embedding_norm!r}")
    angles = angles.to(torch.float64)
    return embedding_norm * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def logits_of(head: LossHead, embeddings: torch.Tensor, label: int, loss: str) -> torch.Tensor:
    """``head.logits`` for every embedding labelled ``label``; a clear error for losses without logits."""
    labels = torch.full((embeddings.shape[0],), label, dtype=torch.long)
    try:
        return head.logits(embeddings, labels)
    except NotImplementedError as error:
        raise ValueError(
            f"loss {loss!r} has no logits (it is not cross-entropy on logits), so it has no target "
            f"logit or softmax decision boundary; draw its per-sample loss with "
            f"fr_course.plots.curves.loss_curve instead"
        ) from error


def scale_of(head: LossHead, embedding_norm: float) -> float:
    """The factor in front of the cosines: ``s`` for the normalised losses, else ``‖x‖``.

    Plain softmax (unit prototypes, zero bias here) and SphereFace have no ``s``: the feature norm
    plays its role. A wrapper (Hard-Mining) has the scale of its base loss.
    """
    base = getattr(head, "base", None)
    if isinstance(base, LossHead):
        return scale_of(base, embedding_norm)
    s = getattr(head, "s", None)
    if isinstance(s, torch.Tensor):
        return float(s.detach())
    if isinstance(s, (int, float)):
        return float(s)
    return float(embedding_norm)


def as_angles(theta: Any, name: str = "theta") -> np.ndarray:
    """``theta`` as a 1-D float64 array of finite angles (radians), or ``ValueError`` naming it."""
    values = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of angles in radians, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must contain only finite angles")
    return values
