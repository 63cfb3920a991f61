"""Chapter 6 — EqM (reconstructed): an intra-class floor and equalised inter-class margins."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import (
    check_non_negative,
    check_range,
    compute_dtype,
    cross_entropy,
    full_precision,
    target_column,
)
from .cosface import CosFace


class EqM(CosFace):
    """EqM (reconstructed): CosFace plus an intra-class floor and an equal inter-class ceiling.

    **Reconstruction, not the published method.** Only the abstract of the paper was available:
    EqM bounds the intra-class similarity from below using hard-sample mining, bounds the
    inter-class similarity from above with margins equal for every class (against data
    imbalance), and is stable to the scale s. This module implements the course's reading of it.

    Formula:

    * per sample: ``L_i = CE_i + intra_weight·max(0, intra_floor - cos θ_y)``, with ``CE_i`` the
      CosFace loss (``z_y = s(cos θ_y - m)``, ``z_j = s·cos θ_j``); the hinge is non-zero only on
      hard samples (target cosine below the floor);
    * per batch (:meth:`batch_term`, added once to the mean): for the set B of distinct labels,
      ``L_inter = inter_weight · mean_{c∈B} max(0, max_{c'≠c} Ŵ_c·Ŵ_{c'} - inter_ceiling)``, the
      same ceiling for every class (equalised margins between nearest prototypes);
    * ``forward = per_sample.mean() + L_inter``.

    Paper: J. Sun et al., "An Equalized Margin Loss for Face Recognition", IEEE Transactions on
    Multimedia, 2020, doi:10.1109/TMM.2020.2966863 — the course worked from the abstract
    only; see above.

    Detached: nothing (the nearest prototype c' is chosen by an argmax, through which the
    gradient flows as for ``max``). Hyper-parameters: ``s`` (64.0), ``m`` (0.35),
    ``intra_weight`` (≥ 0, 1.0), ``intra_floor`` (in [-1, 1], 0.5), ``inter_weight`` (≥ 0, 1.0),
    ``inter_ceiling`` (in [-1, 1], 0.3).
    """

    paper = (
        "(reconstructed from the abstract) Sun et al.: An Equalized Margin Loss for Face Recognition; "
        "IEEE TMM 2020; doi:10.1109/TMM.2020.2966863"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 64.0,
        m: float = 0.35,
        intra_weight: float = 1.0,
        intra_floor: float = 0.5,
        inter_weight: float = 1.0,
        inter_ceiling: float = 0.3,
    ):
        super().__init__(embedding_dim, num_classes, s, m)
        self.intra_weight = check_non_negative("intra_weight", intra_weight)
        self.intra_floor = check_range("intra_floor", intra_floor, -1.0, 1.0)
        self.inter_weight = check_non_negative("inter_weight", inter_weight)
        self.inter_ceiling = check_range("inter_ceiling", inter_ceiling, -1.0, 1.0)

    def _per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cos = self.cosine(embeddings)
        floor_gap = F.relu(self.intra_floor - target_column(cos, labels))
        return cross_entropy(self.scaled_logits(cos, labels), labels) + self.intra_weight * floor_gap

    def batch_term(self, labels: Tensor) -> Optional[Tensor]:
        """``L_inter`` for the classes present in ``labels`` (None when C = 1: no other class)."""
        labels = self.check_labels(labels)
        if self.num_classes < 2 or labels.numel() == 0:
            return None
        with full_precision(self.weight.device):
            weight = self.weight.to(compute_dtype(self.weight))
            classes = torch.unique(labels)
            # Find each class's nearest other prototype without building a graph over the (|B|, C)
            # similarity matrix or the (C, d) normalisation: the gradient of a max reaches only its
            # argmax, so only the 2|B| rows used below are normalised with a graph.
            with torch.no_grad():
                w = F.normalize(weight, dim=1)
                sim = w[classes] @ w.T
                sim[torch.arange(classes.numel(), device=sim.device), classes] = -float("inf")
                nearest = sim.argmax(dim=1)
            w_batch = F.normalize(weight[classes], dim=1)
            w_nearest = F.normalize(weight[nearest], dim=1)
            closest = (w_batch * w_nearest).sum(dim=1)
            return self.inter_weight * F.relu(closest - self.inter_ceiling).mean()
