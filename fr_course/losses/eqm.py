"""Chapter 6 — EqM (reconstructed): cross-entropy on cosines clipped at two thresholds."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import MarginLoss, check_range, replace_target, target_column


class EqM(MarginLoss):
    """EqM (reconstructed): softmax on cosines clipped below t1 (target) and above t2 (others).

    **A reconstruction, not the published method**: the course could not read the paper's text.
    What it is built from:

    * the abstract (primary source): EqM sets a *lower limit on the intra-class similarity*
      (through hard-sample mining) and an *upper limit on the inter-class similarity* (margins
      equal for every class, against data imbalance), builds on the normalised softmax and is
      stable when the scale s changes;
    * a public study note about the paper (a **secondary** source, not the paper itself), which
      describes its Eq. 7 as using the per-sample cosines ``cos θ_{i,y_i}`` and ``cos θ_{i,j}``,
      a lower limit ``t1`` on the first, an upper limit ``t2`` on the second, an "offset"
      ``t1 - t2``, a heavier penalty on hard samples (``cos θ_{i,y_i} < t1``), and gradients that
      are non-zero only inside those intervals.

    Formula (cross-entropy on clipped cosines)::

        z_y = s·min(cos θ_y, t1),    z_j = s·max(cos θ_j, t2)  (j ≠ y),    L_i = CE(z_i, y_i)

    which is the same as::

        L_i = log(1 + Σ_{j≠y} exp(s·([cos θ_j - t2]_+ + [t1 - cos θ_y]_+ - (t1 - t2))))

    The two hinges are the hard-sample terms, ``t1 - t2`` is the offset, and one pair of thresholds
    for every class gives the "equalised" margins. The gradient reaches ``W_y`` (and the feature
    through ``cos θ_y``) only while ``cos θ_y < t1``, and ``W_j`` only while ``cos θ_j > t2``; a
    sample with both limits met has exactly zero gradient whatever s is. At the kinks the clipped
    side is used (``cos θ_y = t1`` or ``cos θ_j = t2`` gives no gradient). ``t1 = 1, t2 = -1``
    is NormFace. There is no batch-level term: ``forward = per_sample.mean()``.

    Numerics: the cosine matrix, clipping and CE run in float32 (float64 for float64 inputs) with
    autocast off, as for every head of the course (see :mod:`fr_course.losses.base`); no
    ``arccos`` or ``sqrt`` is needed, so nothing beyond the shared cosine is clamped.

    Paper: J. Sun, W. Yang, J. Xue, Q. Liao, "An Equalized Margin Loss for Face Recognition",
    IEEE Transactions on Multimedia 22(11), 2020, doi:10.1109/TMM.2020.2966863. An open-access
    copy of the paper exists; reading its Eq. 7 would settle the form and replace this
    reconstruction.

    Detached: nothing. Hyper-parameters: ``s`` (> 0, default 64.0); ``t1`` and ``t2`` with
    ``-1 ≤ t2 < t1 ≤ 1``, defaults 0.7 and 0.1, chosen from a measured sweep
    (``benchmarks/bench_eqm_sweep.py``, recorded in ``benchmarks/results/eqm-sweep.json``):
    chapter 6's setting (quick profile, s = 32, synthetic faces with imbalance 2), t1 in
    {0.5, 0.7, 0.9} × t2 in {-0.1, 0.1, 0.3}, seeds 0 and 1. The grid was flat: all nine cells
    lay within 0.5 points of mean accuracy, less than the standard error of one run's 10-fold
    accuracy (about 0.6 points). We took the most robust cell, the one whose worse seed was
    best, (0.7, 0.1): 88.08 % mean, 0.02 points of spread over seeds, 0.13 points below the
    highest mean (0.9, 0.3), whose two seeds differed by 0.4 points.
    """

    paper = (
        "(reconstructed from the abstract and a secondary description of its Eq. 7) "
        "Sun, Yang, Xue, Liao: An Equalized Margin Loss for Face Recognition; IEEE TMM 2020; "
        "doi:10.1109/TMM.2020.2966863"
    )

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        s: float = 64.0,
        t1: float = 0.7,
        t2: float = 0.1,
    ):
        super().__init__(embedding_dim, num_classes, s)
        self.t1 = check_range("t1", t1, -1.0, 1.0)
        self.t2 = check_range("t2", t2, -1.0, 1.0)
        if not self.t2 < self.t1:
            raise ValueError(
                f"t2 (the inter-class upper limit) must be < t1 (the intra-class lower limit), "
                f"got t1={self.t1!r}, t2={self.t2!r}"
            )

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        """``min(cos θ_y, t1)``, with no gradient once ``cos θ_y ≥ t1``."""
        return torch.where(cos_y < self.t1, cos_y, torch.full_like(cos_y, self.t1))

    def scaled_logits(self, cos: Tensor, labels: Tensor) -> Tensor:
        """``s·max(cos, t2)`` with the target column replaced by ``s·min(cos θ_y, t1)``."""
        low = self.s * self.t2
        # threshold(v, a, a) = v where v > a, else a; its gradient is 0 where v ≤ a.
        logits = F.threshold(cos * self.s, low, low)
        target = self.target(target_column(cos, labels), labels)
        return replace_target(logits, labels, target * self.s)
