"""Chapter 10 — the Hard-Mining loss: a per-sample gate that amplifies the hard samples of any
base loss."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from .base import LossHead, check_choice, check_positive, check_real


class HardMining(LossHead):
    """Hard-Mining loss: re-weights a base loss per sample with a sigmoid gate on its own value.

    Formula, with ``L_i`` the base loss's per-sample value and ``σ(u) = 1 / (1 + exp(-A(u - B)))``:

    * ``form="eq4"`` (Eq. 4 of the paper): ``L_HM,i = α·L_i·σ(β·L_i)``;
    * ``form="alg1"`` (Algorithm 1, which multiplies by β once more): ``L_HM,i = α·β·L_i·σ(β·L_i)``.

    Easy samples (``β·L_i`` well below B) are switched off, hard ones are scaled by α (or αβ).
    The gate is applied **per sample**: gating the batch mean instead would switch the whole batch
    off once the mean loss falls below about 0.6 (with the defaults σ(β·0.6) ≈ 0.04; the gate is
    half open at L = B/β ≈ 0.68). ``forward`` is the mean of the gated losses plus the base's
    batch-level term, if it has one (no loss of the course has one at present). ``weight`` is
    the base's prototypes; the base is the sub-module ``base`` (its parameters and buffers, e.g.
    SphereFace's iteration counter, are in this module's ``state_dict``). ``logits()`` returns
    the base's logits.

    Paper: Y. Srivastava, V. Murali, S. R. Dubey, "Hard-Mining Loss based Convolutional Neural
    Network for Face Recognition", CVIP 2020, arXiv:1908.09747. Two notes on the paper: its
    A-Softmax base (its Eq. 6) has no λ annealing, unlike ``sphereface`` here (pass
    ``base_kwargs={"lambda_base": 0.0, "lambda_min": 0.0}`` for the plain ψ); and its
    Algorithm 1 writes the gate's exponent as ``A(x - B)``, dropping the minus sign of Eq. 4's
    ``σ`` — this class uses ``σ(u) = 1/(1 + exp(-A(u - B)))`` for both forms.

    Detached: nothing. Hyper-parameters: ``base`` (any other loss name, default ``"softmax"``),
    ``base_kwargs`` (that loss's hyper-parameters, default none), ``alpha`` (> 0, 1.5),
    ``beta`` (> 0, 1.1), ``A`` (> 0, 35.0), ``B`` (0.75), ``form`` (``"eq4"`` or ``"alg1"``).
    """

    paper = (
        "Srivastava, Murali, Dubey: Hard-Mining Loss based Convolutional Neural Network for Face "
        "Recognition; CVIP 2020; arXiv:1908.09747"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        base: str = "softmax",
        base_kwargs: Mapping[str, Any] = MappingProxyType({}),
        alpha: float = 1.5,
        beta: float = 1.1,
        A: float = 35.0,
        B: float = 0.75,
        form: str = "eq4",
    ):
        super().__init__(embedding_dim, num_classes)
        from . import LOSSES, build  # the registry imports this module, so look it up late

        check_choice("base", base, [name for name in LOSSES if name != "hard_mining"])
        if not isinstance(base_kwargs, Mapping):
            raise ValueError(f"base_kwargs must be a mapping of hyper-parameters, got {base_kwargs!r}")
        self.base: LossHead = build(base, embedding_dim, num_classes, **base_kwargs)
        self.base_name = base
        self.alpha = check_positive("alpha", alpha)
        self.beta = check_positive("beta", beta)
        self.A = check_positive("A", A)
        self.B = check_real("B", B)
        self.form = check_choice("form", form, ("eq4", "alg1"))

    @property
    def weight(self) -> nn.Parameter:
        """The base loss's prototypes (C, d)."""
        return self.base.weight

    def gate(self, loss: Tensor) -> Tensor:
        """``σ(β·L) = 1 / (1 + exp(-A(β·L - B)))``."""
        return torch.sigmoid(self.A * (self.beta * loss - self.B))

    def per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        loss = self.base.per_sample(embeddings, labels)
        scale = self.alpha * self.beta if self.form == "alg1" else self.alpha
        return scale * loss * self.gate(loss)

    def logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return self.base.logits(embeddings, labels)

    def batch_term(self, labels: Tensor) -> Optional[Tensor]:
        return self.base.batch_term(labels)
