"""Class imbalance and saturation: the measurements and pictures of chapters 6 (EqM) and 7 (HSM).

* :func:`nearest_prototype_cosines` — for each class, the cosine to its nearest other prototype,
  ``max_{c'≠c} Ŵ_c·Ŵ_{c'}``: the quantity EqM (reconstructed) caps with one ceiling for every
  class. A large value means a small inter-class margin around that class.
* :func:`plot_nearest_prototype_cosines` — those cosines, class by class, for several heads.
* :func:`training_sample` — cosines of a few training images per class under a trained run (the
  tail classes included), for per-class statistics of the training geometry.
* :func:`binned_statistic` / :func:`plot_against_class_size` — any per-class quantity (nearest
  prototype cosine, HSM's real-class margin ``m_c``, a per-class accuracy) against the number of
  training images of the class, on a log axis, with its median (or mean) in bins of class size.
* :func:`per_class_indices` / :func:`per_class_mean` — a sample of a training set that keeps every
  class (the first k images of each), and per-class means of per-image values.
* :class:`SaturationProbe` — wraps a margin-softmax head during training and records, at every
  training step, how many samples are *saturated* (target probability ``p_i > tau``: their
  cross-entropy gradient ``1 - p_i`` has all but vanished), how far they still are from their
  prototype, and the gradient weight ``1 - p_i`` the loss actually applies.
  :func:`plot_saturation` draws those traces for several heads.

Nothing here calls ``plt.show()``; every plotting function returns the axes it drew on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..losses.base import MarginLoss, target_column
from .style import legend_below, loss_color

_LINESTYLES = ("-", "--", ":", "-.")


# --------------------------------------------------------------------------- prototypes

def nearest_prototype_cosines(weight) -> np.ndarray:
    """``max_{c'≠c} Ŵ_c·Ŵ_{c'}`` for every class c: (C,) float64.

    ``weight``: the (C, d) prototypes (a tensor or an array; rows need not be normalised), C ≥ 2.
    """
    w = weight.detach().cpu().double().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight, float)
    if w.ndim != 2 or w.shape[0] < 2:
        raise ValueError(f"weight must have shape (C, d) with C >= 2 classes, got {w.shape}")
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError("weight has an all-zero row: that prototype has no direction")
    unit = w / norms
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    return sim.max(axis=1)


def plot_nearest_prototype_cosines(series: Mapping[str, Tuple[str, Any]], ax=None, *,
                                   ceiling: Optional[float] = None, sort: bool = True):
    """Each class's nearest-prototype cosine (:func:`nearest_prototype_cosines`), one line per head.

    ``series``: ``label -> (loss_name, weight)`` with ``weight`` the (C, d) prototypes; classes on
    the x axis (sorted by value if ``sort``, so the spread is easy to compare); ``ceiling``: a
    horizontal line, e.g. EqM's ``inter_ceiling``. Returns the axes (a new 6×4 figure if ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    if not series:
        raise ValueError("series is empty: give at least one label -> (loss_name, weight)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    seen: Dict[str, int] = {}
    for label, (loss, weight) in series.items():
        values = nearest_prototype_cosines(weight)
        if sort:
            values = np.sort(values)
        style = _LINESTYLES[seen.get(loss, 0) % len(_LINESTYLES)]
        seen[loss] = seen.get(loss, 0) + 1
        ax.plot(np.arange(len(values)), values, style, marker="o", ms=3, lw=1.4, color=loss_color(loss),
                label=f"{label} (spread {values.max() - values.min():.3f})")
    if ceiling is not None:
        ax.axhline(ceiling, color="0.3", ls=":", lw=1.2, label=f"ceiling {ceiling:g}")
    ax.set_xlabel("class (sorted by the value)" if sort else "class")
    ax.set_ylabel(r"nearest-prototype cosine $\max_{c'\neq c}\,\hat W_c\cdot\hat W_{c'}$")
    ax.grid(True, alpha=0.3)
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------- training images

@dataclass(frozen=True)
class TrainingSample:
    """Cosines of a sample of training images (every class kept) under a trained run's model.

    ``labels`` (N,) int64; ``cosines`` (N, C) float32, ``Ŵ_j·x̂`` for the run's head; ``head`` the
    trained loss head (eval mode, CPU); ``class_counts`` (C,) images per class in the *whole*
    training set; ``index`` (N,) the positions of the sampled images in the training set.
    """

    labels: torch.Tensor
    cosines: torch.Tensor
    head: nn.Module
    class_counts: np.ndarray
    index: np.ndarray

    @property
    def target_cosines(self) -> torch.Tensor:
        """(N,) ``cos θ_y`` of each image to its own prototype."""
        return target_column(self.cosines, self.labels)


def training_sample(run, per_class: int = 10, device: str = "cpu", batch_size: int = 256) -> TrainingSample:
    """Embed the first ``per_class`` training images of every class with ``run``'s trained backbone.

    ``run``: a :class:`fr_course.experiments.Run`; its configuration names the training set (the
    synthetic faces with their overrides, or CASIA-WebFace in the full profile). Single view (no
    flip), as in training; the backbone is moved to ``device`` for embedding.
    """
    from torch.utils.data import Subset

    from ..evaluation import embed_images
    from ..training import TrainConfig
    from ..training.sources import load_training_data

    backbone, head = run.load_model()
    train_set = load_training_data(TrainConfig.from_dict(run.results["config"])).train
    labels = np.asarray(train_set.labels)
    index = per_class_indices(labels, per_class)
    embeddings = embed_images(backbone.to(device), Subset(train_set, index.tolist()), batch_size=batch_size,
                              device=device, flip=False)
    with torch.no_grad():
        cosines = head.cosine(torch.from_numpy(embeddings))
    return TrainingSample(torch.from_numpy(labels[index]).long(), cosines, head,
                          np.asarray(train_set.class_counts), index)


# --------------------------------------------------------------------------- against class size

def binned_statistic(counts, values, bins: int = 6, statistic: str = "median") -> Tuple[np.ndarray, np.ndarray]:
    """A per-class value summarised in ``bins`` bins of class size, equally spaced in log(count).

    ``statistic``: ``"median"`` (robust, for continuous values such as cosines) or ``"mean"`` (for
    per-class fractions, whose medians jump between 0 and 1). NaN values (a class with no data)
    are ignored. Returns ``(positions, summaries)``: for each non-empty bin, the median class count
    of its classes (where its point is drawn) and the statistic of their values.
    """
    counts, values = _per_class(counts, values)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(_STATISTICS)}; got {statistic!r}")
    keep = np.isfinite(values)
    counts, values = counts[keep], values[keep]
    if not len(counts):
        return np.array([]), np.array([])
    low, high = np.log(counts.min()), np.log(counts.max())
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low, low])
    which = np.clip(np.searchsorted(edges, np.log(counts), side="right") - 1, 0, len(edges) - 2)
    positions, summaries = [], []
    for b in range(len(edges) - 1):
        inside = which == b
        if inside.any():
            positions.append(np.median(counts[inside]))
            summaries.append(_STATISTICS[statistic](values[inside]))
    return np.array(positions), np.array(summaries)


_STATISTICS = {"median": np.median, "mean": np.mean}


def plot_against_class_size(series: Mapping[str, Tuple[str, Any]], counts, ax=None, *,
                            ylabel: str = "", bins: int = 6, statistic: str = "median", points: bool = True):
    """Per-class values against the class's number of training images (log x axis).

    ``series``: ``label -> (loss_name, values)`` with one value per class (the loss name picks the
    colour of :mod:`fr_course.plots.style`; a loss drawn twice gets another line style).
    ``counts``: (C,) training images per class. Each series is drawn as faint points (one per
    class, if ``points``) and a line through the per-bin ``statistic`` of :func:`binned_statistic`.
    Returns the axes (a new 6×4 figure if ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    if not series:
        raise ValueError("series is empty: give at least one label -> (loss_name, values)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    seen: Dict[str, int] = {}
    jitter = np.random.default_rng(0)
    for label, (loss, values) in series.items():
        c, v = _per_class(counts, values)
        colour = loss_color(loss)
        style = _LINESTYLES[seen.get(loss, 0) % len(_LINESTYLES)]
        seen[loss] = seen.get(loss, 0) + 1
        if points:
            # small multiplicative jitter: many classes share the same small count
            ax.scatter(c * np.exp(jitter.uniform(-0.06, 0.06, len(c))), v, s=6, color=colour, alpha=0.25,
                       linewidths=0)
        positions, summaries = binned_statistic(c, v, bins, statistic)
        ax.plot(positions, summaries, style, marker="o", ms=4, lw=1.8, color=colour, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training images of the class $n_c$ (log scale)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3, which="both")
    legend_below(ax)
    return ax


def per_class_indices(labels, max_per_class: int) -> np.ndarray:
    """Indices of the first ``max_per_class`` items of every class (all of a smaller class), sorted.

    A cheap, deterministic sample of a training set that keeps every class — the tail included —
    for per-class statistics (e.g. embedding 10 images per identity instead of all of them).
    """
    labels = np.asarray(labels).ravel()
    if isinstance(max_per_class, bool) or not isinstance(max_per_class, (int, np.integer)) or max_per_class < 1:
        raise ValueError(f"max_per_class must be a positive integer, got {max_per_class!r}")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.arange(len(labels)) - starts          # position of each item within its class
    return np.sort(order[rank < max_per_class])


def per_class_mean(values, labels, num_classes: int) -> np.ndarray:
    """(num_classes,) mean of ``values`` over the items of each class (NaN for a class with none)."""
    values = np.asarray(values, dtype=float).ravel()
    labels = np.asarray(labels).ravel()
    if values.shape != labels.shape:
        raise ValueError(f"values and labels must have the same length, got {values.size} and {labels.size}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    sums = np.bincount(labels, weights=values, minlength=num_classes)
    numbers = np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(numbers > 0, sums / np.maximum(numbers, 1), np.nan)


def _per_class(counts, values) -> Tuple[np.ndarray, np.ndarray]:
    counts = np.asarray(counts, dtype=float).ravel()
    values = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=float).ravel()
    if counts.shape != values.shape or counts.size == 0:
        raise ValueError(f"counts and values must be two non-empty arrays of the same length (one entry per "
                         f"class), got {counts.size} counts and {values.size} values")
    if not np.all(counts > 0):
        raise ValueError("counts must be > 0 for every class")
    return counts, values


# --------------------------------------------------------------------------- saturation

@dataclass(frozen=True)
class SaturationTrace:
    """Per training step (one batch each): what :class:`SaturationProbe` measured.

    ``saturated``: fraction of the batch with ``p_i > tau``, where ``p_i`` is the label's softmax
    probability under the margin logits ``z⁰`` (``z⁰_y = s·f(cos θ_y)``, ``z⁰_j = s·cos θ_j``: the
    head's :meth:`~fr_course.losses.base.MarginLoss.scaled_logits`, without any extra term such as
    HSM's pseudo-class margin). ``grad_weight``: mean of ``1 − p_i`` under the logits the loss
    really feeds to cross-entropy (``head.logits``) — the size of ``∂L/∂z_y``.
    ``saturated_angle``: mean target angle θ_y (degrees) of the saturated samples (NaN when none).
    ``angle``: mean θ_y (degrees) of the whole batch.
    """

    tau: float
    saturated: np.ndarray
    grad_weight: np.ndarray
    saturated_angle: np.ndarray
    angle: np.ndarray

    def smoothed(self, name: str, window: int) -> np.ndarray:
        """Moving average of field ``name`` over ``window`` steps (NaNs skipped; 'valid' part only)."""
        values = np.asarray(getattr(self, name), dtype=float)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if window > len(values):
            raise ValueError(f"window={window} is longer than the trace ({len(values)} steps)")
        finite = np.isfinite(values)
        kernel = np.ones(window)
        total = np.convolve(np.where(finite, values, 0.0), kernel, mode="valid")
        number = np.convolve(finite.astype(float), kernel, mode="valid")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(number > 0, total / np.maximum(number, 1), np.nan)


class SaturationProbe(nn.Module):
    """A margin-softmax head that also measures saturation at every training step.

    ``SaturationProbe(head, tau)`` behaves as ``head`` (same loss, same parameters; ``weight`` is
    the head's prototypes) and, in training mode only, records for each batch the quantities of
    :class:`SaturationTrace` without touching the gradient. Use it wherever a head is trained,
    e.g. ``fr_course.data.digits.train_digits(SaturationProbe(head, 0.9), ...)``, then read
    :attr:`trace`.

    ``head`` must be a :class:`~fr_course.losses.base.MarginLoss` (normalised softmax with a
    target margin: NormFace, CosFace, ArcFace, HSM, SV-Softmax, ...).
    """

    def __init__(self, head: nn.Module, tau: float = 0.9):
        super().__init__()
        if not isinstance(head, MarginLoss):
            raise ValueError(f"head must be a margin-softmax loss head (fr_course.losses.base.MarginLoss), "
                             f"got {type(head).__name__}")
        tau = float(tau)
        if not 0.0 < tau < 1.0:
            raise ValueError(f"tau must lie in (0, 1), got {tau!r}")
        self.head = head
        self.tau = tau
        self._records: list = []

    @property
    def weight(self) -> torch.Tensor:
        return self.head.weight

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._record(embeddings, labels)
        return self.head(embeddings, labels)

    @torch.no_grad()
    def _record(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        head = self.head
        labels = labels.long()
        cos = head.cosine(embeddings)
        angle = torch.rad2deg(torch.acos(target_column(cos, labels).clamp(-1.0, 1.0)))
        plain = F.softmax(head.scaled_logits(cos * 1.0, labels), dim=1)
        used = F.softmax(head.logits(embeddings, labels).float(), dim=1)
        p_plain = target_column(plain, labels)
        p_used = target_column(used, labels)
        saturated = p_plain > self.tau
        self._records.append((
            float(saturated.float().mean()),
            float((1.0 - p_used).mean()),
            float(angle[saturated].mean()) if saturated.any() else float("nan"),
            float(angle.mean()),
        ))

    @property
    def trace(self) -> SaturationTrace:
        """Everything recorded so far, one entry per training step."""
        if not self._records:
            raise ValueError("the probe has recorded nothing yet: train with it (in train() mode) first")
        columns = np.array(self._records, dtype=float).T
        return SaturationTrace(self.tau, *columns)


#: What :func:`plot_saturation` can draw, with its axis label.
SATURATION_QUANTITIES: Dict[str, str] = {
    "saturated": r"saturated fraction, $p_i > \tau$",
    "grad_weight": r"gradient weight $1 - p_i$ (mean)",
    "saturated_angle": r"mean $\theta_y$ of saturated samples (deg)",
    "angle": r"mean target angle $\theta_y$ (deg)",
}


def plot_saturation(traces: Mapping[str, Tuple[str, SaturationTrace]], quantity: str = "saturated", ax=None,
                    *, window: int = 10, steps_per_epoch: Optional[int] = None):
    """Draw one quantity of several :class:`SaturationTrace` s against the training step.

    ``traces``: ``label -> (loss_name, trace)``; ``quantity``: a key of
    :data:`SATURATION_QUANTITIES`; ``window``: moving-average length in steps; with
    ``steps_per_epoch`` the x axis is in epochs. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if quantity not in SATURATION_QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(SATURATION_QUANTITIES)}; got {quantity!r}")
    if not traces:
        raise ValueError("traces is empty: give at least one label -> (loss_name, trace)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    seen: Dict[str, int] = {}
    for label, (loss, trace) in traces.items():
        values = trace.smoothed(quantity, window)
        steps = np.arange(len(values)) + window  # the step each average ends at
        x = steps / steps_per_epoch if steps_per_epoch else steps
        style = _LINESTYLES[seen.get(loss, 0) % len(_LINESTYLES)]
        seen[loss] = seen.get(loss, 0) + 1
        ax.plot(x, values, style, color=loss_color(loss), lw=1.6, label=label)
    ax.set_xlabel("epoch" if steps_per_epoch else "training step")
    ax.set_ylabel(SATURATION_QUANTITIES[quantity])
    ax.grid(True, alpha=0.3)
    legend_below(ax)
    return ax


__all__ = ["nearest_prototype_cosines", "plot_nearest_prototype_cosines", "TrainingSample", "training_sample",
           "binned_statistic", "per_class_indices", "per_class_mean", "plot_against_class_size", "SaturationTrace",
           "SaturationProbe", "SATURATION_QUANTITIES", "plot_saturation"]
