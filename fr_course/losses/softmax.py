"""Chapter 1 — plain softmax cross-entropy, the baseline every margin is measured against."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import PrototypeLoss, compute_dtype


class Softmax(PrototypeLoss):
    """Softmax cross-entropy on an unnormalised linear layer with bias (the baseline).

    Formula: ``z_j = W_j·x + b_j`` for every class j, then ``L_i = -log softmax(z_i)[y_i]``.
    Neither features nor prototypes are normalised, so the logits grow with ``‖x‖`` and ``‖W_j‖``:
    the features spread radially (the picture of chapter 1).

    Paper: the classification-then-embed recipe of DeepFace (Y. Taigman, M. Yang, M. Ranzato,
    L. Wolf, CVPR 2014) and DeepID (Y. Sun, X. Wang, X. Tang, CVPR 2014).

    Detached: nothing. Hyper-parameters: none. Parameters: ``weight`` (C, d), ``bias`` (C,)
    initialised to zero.
    """

    paper = "DeepFace (Taigman, Yang, Ranzato, Wolf; CVPR 2014) / DeepID (Sun, Wang, Tang; CVPR 2014)"

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__(embedding_dim, num_classes)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        dtype = compute_dtype(embeddings, self.weight)
        return F.linear(embeddings.to(dtype), self.weight.to(dtype), self.bias.to(dtype))
