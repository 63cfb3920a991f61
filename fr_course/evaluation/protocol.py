"""The LFW verification protocol, as insightface runs it (the course spec, ``data.md`` §4).

Given P pairs of embeddings (a_k, b_k) and their labels (same identity or not):

1. L2-normalise every embedding; distance d_k = ‖â_k − b̂_k‖² = 2 − 2 cos θ_k ∈ [0, 4].
2. Split the P pairs into ``n_folds`` contiguous blocks in file order (scikit-learn's
   ``KFold(shuffle=False)``: when P is not a multiple of ``n_folds`` the first P mod n_folds
   blocks get one pair more). For LFW's ``pairs.txt`` / ``lfw.bin`` these are the official
   10 sets of 300 matched + 300 mismatched pairs.
3. **Accuracy** (:func:`kfold_accuracy`): for each fold, scan thresholds t ∈ ``np.arange(0, 4,
   0.01)``, predict "same" where d < t, keep the t with the best accuracy on the *other*
   folds (the first one if several tie) and report the accuracy of that t on the held-out fold;
   then the mean and the population standard deviation (ddof = 0) of the fold accuracies.
4. **TAR@FAR** (:func:`tar_at_far`, insightface's ``calculate_val``): for each fold, the false
   accept rate FAR(t) = #{negatives with d < t} / #negatives on the other folds, on the finer grid
   ``np.arange(0, 4, 0.001)``; the threshold at which FAR equals the target is found by linear
   interpolation of (FAR, t); the true accept rate TAR = #{positives with d < t} / #positives
   (insightface's "VAL") and the FAR are measured on the held-out fold; mean and std of TAR.
5. **ROC** (:func:`roc_curve`): scikit-learn's ROC of the cosine similarity over all pairs.

Other projects use other protocols (FaceX-Zoo: cosine score, the threshold maximising TPR − FPR,
standard error instead of std); numbers are comparable only under the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

ACCURACY_THRESHOLDS = np.arange(0, 4, 0.01)
"""insightface's accuracy grid, in squared-distance units (400 values, 0 ... 3.99)."""

VAL_THRESHOLDS = np.arange(0, 4, 0.001)
"""insightface's finer grid for VAL@FAR (4,000 values, 0 ... 3.999)."""


# ----------------------------------------------------------------------------- input checks

def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device, possibly in a dtype NumPy lacks (bf16)
        x = x.detach().cpu()
        x = (x.double() if x.is_floating_point() else x).numpy()
    return np.asarray(x)


def _embeddings(x, name: str) -> np.ndarray:
    array = _as_array(x)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D array (pairs, embedding_dim), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} row(s) with NaN/inf values (first: pair {int(np.argmax(bad))})")
    norm = np.sqrt(np.sum(array * array, axis=1, keepdims=True))
    if (norm == 0).any():
        raise ValueError(f"{name} has {int((norm == 0).sum())} all-zero embedding(s) (first: pair "
                         f"{int(np.argmax(norm[:, 0] == 0))}); they cannot be L2-normalised")
    return array / norm


def _labels(is_same, n_pairs: int) -> np.ndarray:
    labels = _as_array(is_same)
    if labels.ndim != 1 or len(labels) != n_pairs:
        raise ValueError(f"is_same must have shape ({n_pairs},) like the embeddings, got {labels.shape}")
    if labels.dtype != bool:
        if not np.issubdtype(labels.dtype, np.number) or not np.isin(labels, (0, 1)).all():
            raise ValueError(f"is_same must be booleans (or 0/1), got dtype {labels.dtype}")
        labels = labels.astype(bool)
    return labels


class PairScores(NamedTuple):
    """Per-pair squared distance (in [0, 4]) and cosine of the L2-normalised embeddings."""

    distance: np.ndarray
    cosine: np.ndarray
    is_same: np.ndarray


def pair_scores(emb_a, emb_b, is_same) -> PairScores:
    """Validate a pair list and score it: ‖â − b̂‖² and â·b̂ (float64), labels as bool.

    ``emb_a``/``emb_b``: (P, d) NumPy arrays or tensors, any scale (normalised here);
    ``is_same``: (P,) booleans or 0/1. Raises ValueError on shape mismatch, NaN/inf or all-zero
    embeddings, or labels that are not booleans.
    """
    a = _embeddings(emb_a, "emb_a")
    b = _embeddings(emb_b, "emb_b")
    if a.shape != b.shape:
        raise ValueError(f"emb_a and emb_b must have the same shape, got {a.shape} and {b.shape}")
    labels = _labels(is_same, len(a))
    diff = a - b
    # the difference form (insightface's), not 2 - 2cos: they differ in the last bits, and a
    # distance sitting on a grid threshold must fall on the same side as in insightface
    distance = np.sum(diff * diff, axis=1)
    return PairScores(distance, np.sum(a * b, axis=1), labels)


def fold_bounds(n_pairs: int, n_folds: int = 10) -> list[tuple[int, int]]:
    """Contiguous [start, stop) blocks of ``KFold(n_folds, shuffle=False)`` over ``n_pairs`` pairs."""
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    if n_pairs < n_folds:
        raise ValueError(f"too few pairs: {n_pairs} pairs cannot be split into n_folds={n_folds} folds")
    sizes = np.full(n_folds, n_pairs // n_folds)
    sizes[: n_pairs % n_folds] += 1
    stops = np.cumsum(sizes)
    return [(int(stop - size), int(stop)) for stop, size in zip(stops, sizes)]


def _readonly(array) -> np.ndarray:
    array = np.array(array)
    array.flags.writeable = False
    return array


# ----------------------------------------------------------------------------- accuracy

@dataclass(frozen=True, eq=False)
class KFoldResult:
    """k-fold verification accuracy; fractions in [0, 1], thresholds in squared-distance units.

    ``str(result)`` gives the usual "mean ± std" in percent, e.g. ``99.53 ± 0.31``.
    """

    accuracy_mean: float
    accuracy_std: float  # population std (ddof = 0) of the fold accuracies
    fold_accuracies: np.ndarray  # (n_folds,)
    thresholds: np.ndarray  # (n_folds,) the distance threshold chosen on each fold's training part
    fold_sizes: np.ndarray  # (n_folds,) pairs per held-out fold

    @property
    def n_folds(self) -> int:
        return len(self.fold_accuracies)

    @property
    def threshold_mean(self) -> float:
        return float(np.mean(self.thresholds))

    def __str__(self) -> str:
        return f"{100 * self.accuracy_mean:.2f} ± {100 * self.accuracy_std:.2f}"


def kfold_accuracy(emb_a, emb_b, is_same, n_folds: int = 10) -> KFoldResult:
    """insightface/LFW k-fold accuracy (see the module docstring, step 3).

    ``emb_a``, ``emb_b``: (P, d) arrays or tensors, L2-normalised here; ``is_same``: (P,) bool.
    """
    scores = pair_scores(emb_a, emb_b, is_same)
    bounds = fold_bounds(len(scores.distance), n_folds)
    grid = ACCURACY_THRESHOLDS
    correct = (scores.distance[None, :] < grid[:, None]) == scores.is_same[None, :]  # (T, P)
    # counts, not rates: the training part has the same size for every threshold, so the
    # arg-max of the counts is the arg-max of the accuracies, without rounding ties
    fold_correct = np.stack([correct[:, start:stop].sum(axis=1) for start, stop in bounds])  # (F, T)
    total_correct = fold_correct.sum(axis=0)
    sizes = np.array([stop - start for start, stop in bounds])
    accuracies, thresholds = np.empty(len(bounds)), np.empty(len(bounds))
    for fold in range(len(bounds)):
        best = int(np.argmax(total_correct - fold_correct[fold]))  # first maximum
        thresholds[fold] = grid[best]
        accuracies[fold] = fold_correct[fold, best] / sizes[fold]
    return KFoldResult(float(np.mean(accuracies)), float(np.std(accuracies)), _readonly(accuracies),
                       _readonly(thresholds), _readonly(sizes))


# ----------------------------------------------------------------------------- TAR @ FAR

@dataclass(frozen=True, eq=False)
class TarAtFar:
    """True accept rate at a target false accept rate (insightface's VAL@FAR), over k folds."""

    far_target: float
    tar_mean: float
    tar_std: float  # population std of the fold TARs
    far_mean: float  # FAR actually measured on the held-out folds
    fold_tars: np.ndarray
    fold_fars: np.ndarray
    thresholds: np.ndarray  # (n_folds,) interpolated distance thresholds

    def __str__(self) -> str:
        return (f"TAR {100 * self.tar_mean:.2f} ± {100 * self.tar_std:.2f} % at FAR {self.far_target:g} "
                f"(held-out FAR {100 * self.far_mean:.3f} %)")


def threshold_at_far(negative_distances: np.ndarray, far_target: float,
                     grid: np.ndarray = VAL_THRESHOLDS) -> float:
    """Distance threshold at which FAR = ``far_target`` on these negatives, interpolated on ``grid``.

    FAR(t) = #{d < t} / #negatives is a non-decreasing step function of t. With i the last grid
    index whose FAR(t_i) ≤ target: if FAR(t_i) equals the target, t_i; otherwise the linear
    interpolation between (FAR(t_i), t_i) and (FAR(t_{i+1}), t_{i+1}). This is what insightface's
    ``interp1d(far, thresholds, kind="slinear")(target)`` returns with SciPy up to 1.9.2 (later
    SciPy refuses the repeated FAR values), with one exception: where the target equals the FAR
    of a plateau below 1 (several grid thresholds with the same FAR), insightface's interpolation
    returns threshold 0 and this function the plateau's last threshold — the sensible reading, so
    results differ from insightface in exactly that case. If no grid threshold reaches the target,
    0 (nothing accepted), as insightface does.
    """
    negatives = np.sort(negative_distances)
    far = np.searchsorted(negatives, grid, side="left") / len(negatives)
    if far[-1] < far_target:
        return 0.0
    i = int(np.searchsorted(far, far_target, side="right")) - 1
    if far[i] == far_target:
        return float(grid[i])
    return float(grid[i] + (far_target - far[i]) * (grid[i + 1] - grid[i]) / (far[i + 1] - far[i]))


def _far_targets(far) -> tuple[float, ...]:
    targets = (far,) if np.isscalar(far) else tuple(far)
    if not targets:
        raise ValueError("far must name at least one target false accept rate")
    for target in targets:
        if not 0 < target < 1:
            raise ValueError(f"far targets must lie in (0, 1), got {target!r}")
    return tuple(float(t) for t in targets)


def tar_at_far(emb_a, emb_b, is_same, far: float | Sequence[float] = (1e-3, 1e-4),
               n_folds: int = 10) -> dict[float, TarAtFar]:
    """insightface's VAL@FAR for each target in ``far`` (module docstring, step 4).

    Returns ``{far_target: TarAtFar}``. Every held-out fold needs a matched pair and every
    training part a mismatched pair, otherwise TAR/FAR are undefined and a ValueError says which.
    """
    targets = _far_targets(far)
    scores = pair_scores(emb_a, emb_b, is_same)
    bounds = fold_bounds(len(scores.distance), n_folds)
    results = {}
    for target in targets:
        tars, fars, thresholds = [], [], []
        for fold, (start, stop) in enumerate(bounds):
            held_out = np.zeros(len(scores.distance), dtype=bool)
            held_out[start:stop] = True
            train_negatives = scores.distance[~held_out & ~scores.is_same]
            if len(train_negatives) == 0:
                raise ValueError(f"FAR undefined: no mismatched pairs outside fold {fold}")
            threshold = threshold_at_far(train_negatives, target)
            test_distance, test_same = scores.distance[start:stop], scores.is_same[start:stop]
            if not test_same.any() or test_same.all():
                raise ValueError(f"TAR/FAR undefined: fold {fold} (pairs {start}..{stop - 1}) needs both "
                                 f"matched and mismatched pairs")
            accepted = test_distance < threshold
            tars.append(np.sum(accepted & test_same) / np.sum(test_same))
            fars.append(np.sum(accepted & ~test_same) / np.sum(~test_same))
            thresholds.append(threshold)
        results[target] = TarAtFar(target, float(np.mean(tars)), float(np.std(tars)), float(np.mean(fars)),
                                   _readonly(tars), _readonly(fars), _readonly(thresholds))
    return results


# ----------------------------------------------------------------------------- ROC

class RocCurve(NamedTuple):
    """ROC of the cosine score over all pairs: "same" predicted where cos ≥ threshold.

    ``fpr`` is the false accept rate, ``tpr`` the true accept rate; ``thresholds`` are cosines
    (scikit-learn's convention: decreasing, the first one +inf); ``auc`` the area under it.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float

    @property
    def eer(self) -> float:
        """Equal error rate: where the false accept rate equals the false reject rate 1 − TPR.

        Linear interpolation between the two ROC points that bracket FPR = 1 − TPR; threshold-free
        like the AUC, so it stays informative where a fixed threshold grid does not.
        """
        return equal_error_rate(self.fpr, self.tpr)


def equal_error_rate(fpr, tpr) -> float:
    """EER of a ROC curve given as increasing ``fpr`` and ``tpr`` arrays (scikit-learn's order)."""
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    gap = fpr - (1.0 - tpr)  # increases along the curve from −1 to +1
    i = int(np.searchsorted(gap, 0.0, side="left"))
    if i == 0:
        return float(fpr[0])
    if i == len(gap):
        return float(fpr[-1])
    w = -gap[i - 1] / (gap[i] - gap[i - 1])
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


#: A TAR at false accept rate f is only reported where the negatives that set its threshold number
#: at least ``MIN_NEGATIVES_PER_FAR / f``: at FAR = 1e-3 the threshold is set by the closest
#: 1/1000 of the mismatched pairs, so with fewer than 10,000 of them it rests on fewer than ten
#: pairs and the number is noise.
MIN_NEGATIVES_PER_FAR = 10


def supported_fars(far, n_train_negatives: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Split FAR targets into (supported, unsupported) for ``n_train_negatives`` mismatched pairs."""
    targets = _far_targets(far)
    ok = tuple(t for t in targets if n_train_negatives * t >= MIN_NEGATIVES_PER_FAR - 1e-9)
    return ok, tuple(t for t in targets if t not in ok)


def roc_curve(emb_a, emb_b, is_same) -> RocCurve:
    """ROC curve and AUC of the cosine similarity of the L2-normalised pairs (scikit-learn)."""
    from sklearn import metrics

    scores = pair_scores(emb_a, emb_b, is_same)
    if scores.is_same.all() or not scores.is_same.any():
        raise ValueError("roc_curve needs both matched and mismatched pairs in is_same")
    fpr, tpr, thresholds = metrics.roc_curve(scores.is_same, scores.cosine)
    return RocCurve(fpr, tpr, thresholds, float(metrics.auc(fpr, tpr)))
