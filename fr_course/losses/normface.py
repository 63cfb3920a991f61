"""Chapter 2 — normalise features and prototypes, then scale (NormFace)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .base import MarginLoss, check_real


class NormFace(MarginLoss):
    """Normalised softmax (NormFace): cross-entropy on scaled cosines.

    Formula: ``z_j = s·cos θ_j`` with ``cos θ_j = Ŵ_j·x̂`` (both L2-normalised), then CE.
    With cosines in [-1, 1] the loss can never go below ``log(1 + (C-1)·e^{-s·C/(C-1)})``, which
    for s = 1 is far from 0: the scale is what lets the loss fall. :func:`normface_min_scale`
    gives the smallest s for which a target probability P is reachable at all.

    Paper: F. Wang, X. Xiang, J. Cheng, A. L. Yuille, "NormFace: L2 Hypersphere Embedding for Face
    Verification", ACM Multimedia 2017, arXiv:1704.06369.

    Detached: nothing. Hyper-parameters: ``s`` (scale, > 0, default 64.0); ``learn_scale``
    (default False; if True, s is an ``nn.Parameter`` initialised to ``s``, as in the paper).
    """

    paper = (
        "Wang, Xiang, Cheng, Yuille: NormFace: L2 Hypersphere Embedding for Face Verification; "
        "ACM MM 2017; arXiv:1704.06369"
    )

    def __init__(self, embedding_dim: int, num_classes: int, s: float = 64.0, learn_scale: bool = False):
        super().__init__(embedding_dim, num_classes, s)
        if not isinstance(learn_scale, bool):
            raise ValueError(f"learn_scale must be True or False, got {learn_scale!r}")
        self.learn_scale = learn_scale
        if learn_scale:
            self.s = nn.Parameter(torch.tensor(float(self.s)))

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return self.cosine(embeddings) * self.s


def normface_min_scale(num_classes: int, probability: float) -> float:
    """Smallest scale s for which NormFace can reach target-class probability P with C classes.

    NormFace, Proposition 2: with prototypes at the vertices of a regular simplex and each feature
    on its prototype (the best case, ``cos θ_y = 1``, ``cos θ_j = -1/(C-1)``),
    ``P = e^s / (e^s + (C-1) e^{-s/(C-1)})``; solving for s gives
    ``s = (C-1)/C · log((C-1)P / (1-P))``, a lower bound for any other configuration.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    probability = check_real("probability", probability)
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must lie strictly between 0 and 1, got {probability!r}")
    c = num_classes
    return (c - 1) / c * math.log((c - 1) * probability / (1.0 - probability))
