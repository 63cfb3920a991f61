"""One verification run, bundled: accuracy, TAR@FAR, ROC and the cosine distributions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch.nn as nn

from .embed import embed_pairs
from .protocol import KFoldResult, RocCurve, TarAtFar, kfold_accuracy, pair_scores, roc_curve, tar_at_far


@dataclass(frozen=True, eq=False)
class VerificationResult:
    """Everything the protocol of data.md §4 reports for one pair set.

    ``accuracy`` is the k-fold :class:`KFoldResult`; ``tar_at_far`` maps each target FAR to its
    :class:`TarAtFar`; ``roc`` is the cosine ROC; ``positive_cosines`` / ``negative_cosines`` are
    the cosine similarities of the matched / mismatched pairs.
    """

    name: str
    accuracy: KFoldResult
    tar_at_far: dict[float, TarAtFar]
    roc: RocCurve
    positive_cosines: np.ndarray
    negative_cosines: np.ndarray

    @classmethod
    def from_embeddings(cls, emb_a, emb_b, is_same, name: str = "pairs", n_folds: int = 10,
                        far: float | Sequence[float] = (1e-3, 1e-4)) -> "VerificationResult":
        """Run the whole protocol on given embeddings (normalised inside)."""
        scores = pair_scores(emb_a, emb_b, is_same)
        return cls(name=name,
                   accuracy=kfold_accuracy(emb_a, emb_b, is_same, n_folds=n_folds),
                   tar_at_far=tar_at_far(emb_a, emb_b, is_same, far=far, n_folds=n_folds),
                   roc=roc_curve(emb_a, emb_b, is_same),
                   positive_cosines=scores.cosine[scores.is_same],
                   negative_cosines=scores.cosine[~scores.is_same])

    @property
    def cosine_threshold(self) -> float:
        """The mean of the folds' chosen distance thresholds, as a cosine: d = 2 − 2 cos."""
        return 1.0 - self.accuracy.threshold_mean / 2.0

    def summary(self) -> dict[str, float]:
        """Flat numbers for a results table (fractions, not percent)."""
        row = {"accuracy": self.accuracy.accuracy_mean, "accuracy_std": self.accuracy.accuracy_std,
               "auc": self.roc.auc}
        for target, value in self.tar_at_far.items():
            row[f"tar@far={target:g}"] = value.tar_mean
        return row

    def __str__(self) -> str:
        tars = ", ".join(f"TAR@FAR={t:g} {100 * v.tar_mean:.2f}" for t, v in self.tar_at_far.items())
        return f"{self.name}: accuracy {self.accuracy} %, {tars}, AUC {self.roc.auc:.4f}"


def verify(model: nn.Module, pairs, batch_size: int = 256, device="cpu", flip: bool = True,
           num_workers: int = 0, n_folds: int = 10,
           far: float | Sequence[float] = (1e-3, 1e-4)) -> VerificationResult:
    """Embed a :class:`~fr_course.data.pairs.PairSet` (:func:`embed_pairs`) and run the protocol."""
    emb_a, emb_b = embed_pairs(model, pairs, batch_size=batch_size, device=device, flip=flip,
                               num_workers=num_workers)
    return VerificationResult.from_embeddings(emb_a, emb_b, pairs.is_same, name=getattr(pairs, "name", "pairs"),
                                              n_folds=n_folds, far=far)
