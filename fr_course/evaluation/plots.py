"""Pictures of a verification run (matplotlib only; they draw on an axes and return it).

Nothing here calls ``plt.show()``: in a notebook the figure is displayed by the cell, in a
script the caller saves it.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .protocol import RocCurve
from .verification import VerificationResult


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def plot_roc(results_by_name: Mapping[str, VerificationResult | RocCurve] | VerificationResult, ax=None):
    """TAR against FAR (log scale) for each named result; the legend gives the AUC.

    ``results_by_name`` maps a label to a :class:`VerificationResult` or a :class:`RocCurve`;
    a single :class:`VerificationResult` is drawn under its own name.
    """
    if isinstance(results_by_name, VerificationResult):
        results_by_name = {results_by_name.name: results_by_name}
    if not results_by_name:
        raise ValueError("plot_roc needs at least one result")
    ax = _axes(ax)
    smallest = 1.0
    for name, result in results_by_name.items():
        roc = result.roc if isinstance(result, VerificationResult) else result
        if not isinstance(roc, RocCurve):
            raise TypeError(f"plot_roc: {name!r} is a {type(result).__name__}, not a VerificationResult or RocCurve")
        ax.plot(roc.fpr, roc.tpr, label=f"{name} (AUC {roc.auc:.4f})")
        positive = roc.fpr[roc.fpr > 0]
        if len(positive):
            smallest = min(smallest, float(positive.min()))
    # FAR = 0 has no place on a log axis: start at the decade of the smallest non-zero FAR
    ax.set_xscale("log")
    ax.set_xlim(10 ** np.floor(np.log10(smallest)) if smallest < 1 else 1e-4, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false accept rate (FAR)")
    ax.set_ylabel("true accept rate (TAR)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def plot_cosine_histograms(result: VerificationResult, ax=None, bins: int = 50):
    """Histograms of the matched and mismatched pairs' cosines, with the protocol's threshold.

    The vertical line is the mean of the folds' chosen thresholds, converted from squared
    distance to cosine (d = 2 − 2 cos).
    """
    ax = _axes(ax)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    ax.hist(result.negative_cosines, bins=edges, density=True, alpha=0.6, color="tab:red",
            label=f"mismatched ({len(result.negative_cosines)})")
    ax.hist(result.positive_cosines, bins=edges, density=True, alpha=0.6, color="tab:blue",
            label=f"matched ({len(result.positive_cosines)})")
    threshold = result.cosine_threshold
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold cos = {threshold:.3f}")
    ax.set_xlabel("cosine similarity of the pair")
    ax.set_ylabel("density")
    ax.set_title(f"{result.name}: accuracy {result.accuracy} %")
    ax.legend(loc="upper left")
    return ax
