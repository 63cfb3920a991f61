"""One verification run, bundled: accuracy, TAR@FAR, ROC and the cosine distributions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch.nn as nn

from .embed import embed_pairs
from .protocol import (MIN_NEGATIVES_PER_FAR, KFoldResult, RocCurve, TarAtFar, fold_bounds, kfold_accuracy,
                       pair_scores, roc_curve, supported_fars, tar_at_far)

#: The FAR targets a run asks for; only those its negatives support are reported.
DEFAULT_FARS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True, eq=False)
class VerificationResult:
    """Everything the protocol of data.md §4 reports for one pair set.

    ``accuracy`` is the k-fold :class:`KFoldResult`; ``tar_at_far`` maps each target FAR that the
    pair set's negatives support to its :class:`TarAtFar` (``not_reported`` lists the others: a
    threshold at FAR f needs at least 10/f mismatched pairs in the training folds); ``roc`` is the
    cosine ROC (its AUC and EER are threshold-free); ``positive_cosines`` / ``negative_cosines`` are
    the cosine similarities of the matched / mismatched pairs.
    """

    name: str
    accuracy: KFoldResult
    tar_at_far: dict[float, TarAtFar]
    roc: RocCurve
    positive_cosines: np.ndarray
    negative_cosines: np.ndarray
    not_reported: tuple[float, ...] = ()

    @classmethod
    def from_embeddings(cls, emb_a, emb_b, is_same, name: str = "pairs", n_folds: int = 10,
                        far: float | Sequence[float] = DEFAULT_FARS) -> "VerificationResult":
        """Run the whole protocol on given embeddings (normalised inside)."""
        scores = pair_scores(emb_a, emb_b, is_same)
        negatives = int((~scores.is_same).sum())
        # the threshold of each held-out fold is set on the other folds' negatives; the smallest
        # such set decides which FARs can be measured
        fewest = min(negatives - int((~scores.is_same[a:b]).sum()) for a, b in fold_bounds(len(scores.is_same), n_folds))
        ok, dropped = supported_fars(far, fewest)
        return cls(name=name,
                   accuracy=kfold_accuracy(emb_a, emb_b, is_same, n_folds=n_folds),
                   tar_at_far=tar_at_far(emb_a, emb_b, is_same, far=ok, n_folds=n_folds) if ok else {},
                   roc=roc_curve(emb_a, emb_b, is_same),
                   positive_cosines=scores.cosine[scores.is_same],
                   negative_cosines=scores.cosine[~scores.is_same],
                   not_reported=dropped)

    @property
    def num_pairs(self) -> int:
        return len(self.positive_cosines) + len(self.negative_cosines)

    @property
    def eer(self) -> float:
        return self.roc.eer

    @property
    def cosine_threshold(self) -> float:
        """The mean of the folds' chosen distance thresholds, as a cosine: d = 2 − 2 cos."""
        return 1.0 - self.accuracy.threshold_mean / 2.0

    def summary(self) -> dict[str, float]:
        """Flat numbers for a results table (fractions, not percent)."""
        row = {"accuracy": self.accuracy.accuracy_mean, "accuracy_std": self.accuracy.accuracy_std,
               "auc": self.roc.auc, "eer": self.eer, "pairs": self.num_pairs}
        for target, value in self.tar_at_far.items():
            row[f"tar@far={target:g}"] = value.tar_mean
        if self.not_reported:
            row["tar_not_reported"] = (
                f"TAR@FAR={', '.join(f'{t:g}' for t in self.not_reported)} not reported: "
                f"{len(self.negative_cosines)} mismatched pairs; FAR f needs at least "
                f"{MIN_NEGATIVES_PER_FAR}/f in the training folds")
        return row

    def __str__(self) -> str:
        tars = "".join(f", TAR@FAR={t:g} {100 * v.tar_mean:.2f}" for t, v in self.tar_at_far.items())
        return f"{self.name}: accuracy {self.accuracy} %, AUC {self.roc.auc:.4f}, EER {100 * self.eer:.2f} %{tars}"


def verify(model: nn.Module, pairs, batch_size: int = 256, device="cpu", flip: bool = True,
           num_workers: int = 0, n_folds: int = 10,
           far: float | Sequence[float] = DEFAULT_FARS) -> VerificationResult:
    """Embed a :class:`~fr_course.data.pairs.PairSet` (:func:`embed_pairs`) and run the protocol."""
    emb_a, emb_b = embed_pairs(model, pairs, batch_size=batch_size, device=device, flip=flip,
                               num_workers=num_workers)
    return VerificationResult.from_embeddings(emb_a, emb_b, pairs.is_same, name=getattr(pairs, "name", "pairs"),
                                              n_folds=n_folds, far=far)
