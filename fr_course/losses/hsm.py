"""Chapter 7 — HSM (reconstructed): class-variant real-class margins for minority classes and a
pseudo-class margin for early-saturated samples."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .base import (
    MarginLoss,
    check_non_negative,
    check_range,
    replace_target,
    target_column,
)


class HSM(MarginLoss):
    """HSM (reconstructed): hard-samples-based margins on a normalised softmax.

    **Reconstruction, not the published method.** The paper is closed access and no code was
    found; its abstract says the hard samples are minority-class samples and early-saturated
    samples, handled by a class-variant *real-class margin* (larger for minority classes) and a
    *pseudo-class margin* that pushes early-saturated samples away from saturation, on top of the
    same group's class-variant-margin (CVM) normalised softmax.

    Formula (the course's reading):

    * real-class margin (LDAM-style, Cao et al., NeurIPS 2019, arXiv:1906.07413):
      ``m_c = m_max·(n_min / n_c)^(1/4)`` with ``n_c`` the training images of class c
      (``class_counts``) and ``n_min`` the smallest count;
    * ``p_i`` = softmax probability of the label under ``z⁰_y = s(cos θ_y - m_y)``,
      ``z⁰_j = s·cos θ_j`` (detached);
    * pseudo-class margin ``μ_i = m_p·1[p_i > tau]`` (detached): a saturated sample gets its
      non-target logits raised, so its loss and gradient do not vanish;
    * logits ``z_y = s(cos θ_y - m_y)``, ``z_j = s(cos θ_j + μ_i)`` for j ≠ y; CE.

    Paper: X. Bai et al., "Hard Samples Based Margin Loss for Face Verification", ICIP 2023,
    doi:10.1109/ICIP49359.2023.10222437 — closed access; see above.

    Detached: ``p_i`` and ``μ_i``. Buffers: ``class_counts`` (C,) and ``class_margins`` (C,).
    Hyper-parameters: ``class_counts`` (required, length C, all > 0), ``s`` (64.0), ``m_max``
    (≥ 0, 0.5), ``m_p`` (≥ 0, 0.1), ``tau`` (in [0, 1], 0.9).
    """

    paper = (
        "(reconstructed from the abstract) Bai et al.: Hard Samples Based Margin Loss for Face "
        "Verification; ICIP 2023; doi:10.1109/ICIP49359.2023.10222437"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        class_counts: Union[Sequence[int], np.ndarray, Tensor],
        s: float = 64.0,
        m_max: float = 0.5,
        m_p: float = 0.1,
        tau: float = 0.9,
    ):
        super().__init__(embedding_dim, num_classes, s)
        counts = _check_counts(class_counts, num_classes)
        self.m_max = check_non_negative("m_max", m_max)
        self.m_p = check_non_negative("m_p", m_p)
        self.tau = check_range("tau", tau, 0.0, 1.0)
        margins = self.m_max * (counts.min() / counts) ** 0.25
        self.register_buffer("class_counts", counts.to(torch.long))
        self.register_buffer("class_margins", margins)  # float64: exact for gradcheck, C numbers

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        return cos_y - self.class_margins.to(cos_y.dtype)[labels]

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cos = self.cosine(embeddings)
        target = self.target(target_column(cos, labels), labels) * self.s
        logits = replace_target(cos * self.s, labels, target)           # z⁰
        with torch.no_grad():
            p = torch.exp(target - torch.logsumexp(logits, dim=1))
            pseudo = self.m_p * (p > self.tau).to(logits.dtype)
        logits.add_((self.s * pseudo)[:, None])                          # z⁰_j + s·μ_i
        return replace_target(logits, labels, target)                    # target without μ


def _check_counts(class_counts, num_classes: int) -> Tensor:
    """``class_counts`` as a float64 (C,) tensor, or ``ValueError`` naming ``class_counts``."""
    if class_counts is None:
        raise ValueError("class_counts is required: the number of training images of each class")
    try:
        counts = torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"class_counts must be a sequence of {num_classes} numbers: {err}") from None
    if counts.ndim != 1 or counts.numel() != num_classes:
        raise ValueError(
            f"class_counts must have length num_classes={num_classes}, got shape {tuple(counts.shape)}"
        )
    if not torch.isfinite(counts).all() or (counts <= 0).any():
        raise ValueError("class_counts must be finite and > 0 for every class (found a zero or negative count)")
    if (counts != counts.round()).any():
        raise ValueError("class_counts must be whole numbers of images")
    return counts
