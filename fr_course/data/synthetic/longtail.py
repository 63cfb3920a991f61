"""How many images each training identity gets, and which training labels are corrupted.

CASIA-WebFace (the insightface copy: 10,572 identities, 490,623 images) is long-tailed: mean
46.4 images per identity, median in the high twenties, a minimum of 2 and a maximum around 800.
:func:`long_tail_counts` reproduces that shape deterministically at any scale: the counts are the
quantiles ``F^-1((i + 1/2) / C)`` of a log-normal law with log-std ``sigma = SIGMA * imbalance``,
scaled so that they sum to the requested total exactly after rounding and clipping to
``[min_count, max_ratio * mean]``, then shuffled over the identities with the stream
``(seed, COUNTS)``. ``imbalance = 0`` gives balanced counts (differing by at most one);
``imbalance = 1`` gives CASIA's shape (at CASIA's scale: median 28, max 803, min 2).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from . import seeding

SIGMA = 1.0        # log-std at imbalance 1: median 28 for CASIA's mean of 46.4
MAX_RATIO = 17.3   # CASIA's largest identity has ~17.3x the mean number of images


def long_tail_counts(num_ids: int, total: int, imbalance: float, seed: int, *, min_count: int = 2,
                     max_ratio: float = MAX_RATIO) -> np.ndarray:
    """Images per identity: int64 (num_ids,), summing to ``total``, each in [min_count, cap]."""
    if num_ids < 1:
        raise ValueError(f"num_ids must be >= 1, got {num_ids}")
    if not imbalance >= 0:
        raise ValueError(f"imbalance must be >= 0, got {imbalance}")
    cap = max(min_count, int(round(max_ratio * total / num_ids)))
    if not min_count * num_ids <= total <= cap * num_ids:
        raise ValueError(f"cannot give {num_ids} identities {total} images in all with "
                         f"{min_count}..{cap} each: check num_train_images against num_train_ids")
    normal = NormalDist()
    z = np.array([normal.inv_cdf((i + 0.5) / num_ids) for i in range(num_ids)])
    shape = np.exp(SIGMA * imbalance * z)

    def counts_for(scale: float) -> np.ndarray:
        return np.clip(np.round(scale * shape), min_count, cap).astype(np.int64)

    low, high = 0.0, float(cap) / shape.min()  # counts_for(high) is all at the cap
    for _ in range(200):  # the largest scale whose rounded sum does not exceed the total
        middle = 0.5 * (low + high)
        low, high = (middle, high) if counts_for(middle).sum() <= total else (low, middle)
    counts = counts_for(low)
    # Rounding leaves a few images over: hand them out one by one, largest identities first.
    order = np.argsort(-shape, kind="stable")
    position = 0
    while counts.sum() < total:
        identity = order[position % num_ids]
        if counts[identity] < cap:
            counts[identity] += 1
        position += 1
    return counts[seeding.stream(seed, seeding.COUNTS).permutation(num_ids)]


def corrupt_labels(true_labels: np.ndarray, image_index: np.ndarray, num_classes: int,
                   fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Give ``round(fraction * N)`` images a uniformly drawn wrong label.

    The first image (index 0) of every identity keeps its label, so no class loses all its
    samples. Returns ``(labels, noisy_mask)``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"label_noise must be in [0, 1), got {fraction}")
    labels = np.array(true_labels, dtype=np.int64)
    mask = np.zeros(len(labels), dtype=bool)
    count = int(round(fraction * len(labels)))
    if count == 0:
        return labels, mask
    if num_classes < 2:
        raise ValueError("label_noise needs at least 2 training identities")
    candidates = np.flatnonzero(np.asarray(image_index) > 0)
    if count > len(candidates):
        raise ValueError(f"label_noise={fraction} asks for {count} noisy images but only {len(candidates)} "
                         "can change (the first image of each identity keeps its label)")
    rng = seeding.stream(seed, seeding.LABEL_NOISE)
    chosen = np.sort(rng.choice(candidates, size=count, replace=False))
    shift = 1 + rng.integers(0, num_classes - 1, size=count)
    labels[chosen] = (labels[chosen] + shift) % num_classes
    mask[chosen] = True
    return labels, mask
