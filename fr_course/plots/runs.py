"""Pictures of training runs (``fr_course.experiments.Run``): learning curves and pair cosines.

A run is anything with the attributes of :class:`fr_course.experiments.Run` that are used here:
``loss`` (the loss name, which picks the colour), ``epoch_losses``, ``epoch_accuracies``,
``positive_cosines`` and ``negative_cosines``. Several runs are given as a mapping
``label -> run``; a single run is drawn under its loss's display name.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

from .style import legend_below, loss_color, loss_label

_LINESTYLES = ("-", "--", ":", "-.")


def _named(runs: Any) -> Dict[str, Any]:
    if isinstance(runs, Mapping):
        if not runs:
            raise ValueError("runs is empty: give at least one run")
        return dict(runs)
    if hasattr(runs, "positive_cosines"):
        return {loss_label(runs.loss): runs}
    raise ValueError(f"runs must be a Run or a mapping label -> Run, got {type(runs).__name__}")


def _styles(named: Dict[str, Any]):
    """(label, run, colour, line style): the loss's colour; repeated losses get other line styles."""
    seen: Dict[str, int] = {}
    for label, run in named.items():
        count = seen.get(run.loss, 0)
        seen[run.loss] = count + 1
        yield label, run, loss_color(run.loss), _LINESTYLES[count % len(_LINESTYLES)]


def plot_history(runs, metric: str = "loss", ax=None):
    """Per-epoch training loss (``metric="loss"``) or verification accuracy in % (``"accuracy"``).

    Note that the losses of different loss functions are not on a common scale: compare their
    shapes (falling, flat, unstable), not their heights. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    named = _named(runs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, run, colour, style in _styles(named):
        values = run.epoch_losses if metric == "loss" else [100 * a for a in run.epoch_accuracies]
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, style, marker="o", ms=3, color=colour, label=label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over the epoch)" if metric == "loss" else "verification accuracy (%)")
    ax.grid(True, alpha=0.3)
    legend_below(ax)
    return ax


def plot_pair_cosines(runs, ax=None, bins: int = 40):
    """Histograms of the cosines of matched (solid) and mismatched (dashed, lighter) pairs.

    One run: filled histograms, matched blue and mismatched red. Several runs: outline
    histograms in each loss's colour. Returns the axes.
    """
    import matplotlib.pyplot as plt

    named = _named(runs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    edges = np.linspace(-1.0, 1.0, bins + 1)
    if len(named) == 1:
        (label, run), = named.items()
        ax.hist(np.asarray(run.negative_cosines), bins=edges, density=True, alpha=0.6, color="tab:red",
                label="mismatched pairs")
        ax.hist(np.asarray(run.positive_cosines), bins=edges, density=True, alpha=0.6, color="tab:blue",
                label="matched pairs")
        ax.set_title(label, fontsize=10)
    else:
        for label, run, colour, style in _styles(named):
            ax.hist(np.asarray(run.positive_cosines), bins=edges, density=True, histtype="step", lw=1.6,
                    linestyle=style, color=colour, label=f"{label}: matched")
            ax.hist(np.asarray(run.negative_cosines), bins=edges, density=True, histtype="step", lw=1.0,
                    linestyle=style, color=colour, alpha=0.5, label=f"{label}: mismatched")
    ax.set_xlabel("cosine similarity of the pair")
    ax.set_ylabel("density")
    legend_below(ax)
    return ax


__all__ = ["plot_history", "plot_pair_cosines"]
