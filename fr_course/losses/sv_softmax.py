"""Chapter 8 — SV-Softmax: re-weight the support vectors, the negatives that beat the target."""

from __future__ import annotations

from torch import Tensor

from .arcface import additive_angular_margin
from .base import (
    MarginLoss,
    check_choice,
    check_non_negative,
    check_real,
    replace_target,
    target_column,
)


class SVSoftmax(MarginLoss):
    """Support-vector-guided softmax (SV-Softmax), in the paper's parametrisation.

    Formula: the target ``f = cos θ_y - m`` (``margin_type="am"``) or ``f = cos(θ_y + m)`` with
    the ArcFace fallback (``margin_type="arc"``); ``m = 0`` gives ``f = cos θ_y``. ``z_y = s·f``.
    For each non-target class k the support-vector indicator is ``I_k = 1[cos θ_k > f]``
    (a mask: no gradient). Non-target logits ``z_k = s·cos θ_k`` where ``I_k = 0`` and, where
    ``I_k = 1``:

    * ``form="adaptive"`` (the SV-Softmax paper's ``h = e^{s(t-1)(cos θ_k + 1)}``):
      ``z_k = s·(t·cos θ_k + t - 1)``;
    * ``form="fixed"``: ``z_k = s·(cos θ_k + t - 1)``, i.e. ``h = e^{s(t-1)I_k}``. This indicator
      weight is **MV-Softmax's** (X. Wang, S. Zhang, S. Wang, T. Fu, H. Shi, T. Mei, AAAI 2020,
      arXiv:1912.00833, FaceX-Zoo), with ``t_MV = t - 1``, not the SV-Softmax paper's, whose
      form is the adaptive one.

    ``t = 1`` is the plain margin loss (AM-/Arc-Softmax). The authors' released code defaults
    to ``easy_margin=True`` and its arc variant has no fallback past ``θ + m > π``; this class
    follows the paper (no easy margin) with the ArcFace fallback.

    Paper: X. Wang, S. Wang, S. Zhang, T. Fu, H. Shi, T. Mei, "Support Vector Guided Softmax Loss
    for Face Recognition", arXiv:1812.11317, 2018.

    Detached: the indicator ``I_k``. Hyper-parameters: ``s`` (> 0, default 32.0), ``m`` (≥ 0, 0.35),
    ``t`` (≥ 1, 1.2), ``margin_type`` (``"am"`` or ``"arc"``), ``form`` (``"adaptive"`` or ``"fixed"``).
    """

    paper = (
        "Wang, Wang, Zhang, Fu, Shi, Mei: Support Vector Guided Softmax Loss for Face Recognition; "
        "2018; arXiv:1812.11317"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 32.0,
        m: float = 0.35,
        t: float = 1.2,
        margin_type: str = "am",
        form: str = "adaptive",
    ):
        super().__init__(embedding_dim, num_classes, s)
        self.m = check_non_negative("m", m)
        self.t = check_real("t", t)
        if self.t < 1.0:
            raise ValueError(f"t must be >= 1 (t = 1 is the plain margin loss), got {t!r}")
        self.margin_type = check_choice("margin_type", margin_type, ("am", "arc"))
        self.form = check_choice("form", form, ("adaptive", "fixed"))

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        if self.margin_type == "arc":
            return additive_angular_margin(cos_y, self.m)
        return cos_y - self.m

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cos = self.cosine(embeddings)
        target = self.target(target_column(cos, labels), labels)
        # The target column of the mask is irrelevant: replace_target overwrites that logit.
        support = (cos > target.detach()[:, None]).to(cos.dtype)
        boost = support.mul_(self.s * (self.t - 1.0))
        if self.form == "adaptive":
            boost = boost * (cos + 1.0)
        logits = (cos * self.s).add_(boost)
        return replace_target(logits, labels, target * self.s)
