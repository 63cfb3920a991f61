"""Pictures on the unit circle: features and prototypes, and two-class decision regions.

* :func:`plot_features_on_circle` — 2-D (or 3-D) features projected on the unit circle (sphere),
  coloured by class, with the prototype directions (it draws with
  :func:`fr_course.data.digits.plot_features_2d` / ``plot_features_3d``).
* :func:`two_class_regions` / :func:`plot_decision_regions` — where on the circle each of two
  classes wins *during training*, i.e. where the loss's own logits (margins included) favour the
  labelled class: for a sample of class 0 at angle α, class 0 wins where ``z_0 > z_1``. Without a
  margin the two boundaries coincide at the bisector; a margin pulls each class's boundary back
  towards its own prototype and leaves a gap between them that neither class owns. The logits are
  those of the head itself (:mod:`fr_course.plots.twoclass`), not a re-typed formula.

Angles are radians in the frame where prototype 0 is at angle 0 and prototype 1 at
``separation``; the drawing rotates that frame so the picture is symmetric about the vertical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np
import torch

from .style import CLASS_COLORS, loss_label
from .twoclass import embeddings_at, logits_of, scale_of, two_class_head

#: Grid steps around the full circle before the boundaries are refined by bisection.
RESOLUTION = 3600


#: Font size of the class legends (points): 9 pt stays readable in the book's ~688 px column.
LEGEND_FONTSIZE = 9


def plot_features_on_circle(features, labels, weight=None, ax=None, title: Optional[str] = None, *,
                            normalize: bool = True, legend: Optional[str] = "auto"):
    """Features (N, 2) or (N, 3) projected on the unit circle/sphere, coloured by class, with
    rays along the prototypes ``weight`` (C, d). Returns the axes.

    ``normalize=False`` (2-D only) draws the raw features instead of their directions.
    ``legend``: ``"below"`` puts the class legend under the axes and its tick labels, where it
    hides no point (five entries a row); ``"right"`` to the right of the axes; ``None`` draws none
    (use :func:`class_legend` for one legend shared by a row of panels); ``"auto"`` (default):
    ``"below"`` for 2-D features, none for 3-D ones (a sphere has no room under it).
    """
    from ..data.digits import plot_features_2d, plot_features_3d

    if legend not in ("auto", "below", "right", None):
        raise ValueError(f"legend must be 'auto', 'below', 'right' or None, got {legend!r}")
    dim = np.shape(features)[-1] if np.ndim(features) == 2 else None
    if dim == 2:
        ax = plot_features_2d(features, labels, weight=weight, ax=ax, normalize=normalize, title=title)
    elif dim == 3:
        if not normalize:
            raise ValueError("3-D features are always drawn on the unit sphere (normalize=True)")
        ax = plot_features_3d(features, labels, weight=weight, ax=ax, title=title)
    else:
        raise ValueError(f"features must have shape (N, 2) or (N, 3), got {np.shape(features)}")
    if title:
        ax.set_title(title, fontsize=10)
    if legend == "auto":
        legend = "below" if dim == 2 else None
    _place_class_legend(ax, labels, legend)
    return ax


def _class_handles(labels):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colours = plt.get_cmap("tab10")
    classes = [int(c) for c in np.unique(np.asarray(labels))]
    handles = [Line2D([], [], ls="", marker="o", markersize=6, color=colours(c % 10)) for c in classes]
    return handles, [str(c) for c in classes]


def _place_class_legend(ax, labels, where: Optional[str]) -> None:
    old = ax.get_legend()
    if old is not None:
        old.remove()
    if where is None:
        return
    handles, names = _class_handles(labels)
    if where == "below":
        from matplotlib.transforms import ScaledTranslation

        # under the tick labels: the axes' bottom edge moved down by 22 points
        below = ax.transAxes + ScaledTranslation(0, -22 / 72, ax.figure.dpi_scale_trans)
        ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  bbox_transform=below, ncol=5,
                  fontsize=LEGEND_FONTSIZE, frameon=False, handletextpad=0.1, columnspacing=1.0,
                  borderaxespad=0.0)
    else:
        ax.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1,
                  fontsize=LEGEND_FONTSIZE, frameon=False, handletextpad=0.1)


def class_legend(fig, labels, *, title: Optional[str] = "class", ncol: Optional[int] = None):
    """One class legend for a whole figure, under its panels (where it hides no data).

    ``labels``: the class labels drawn (their distinct values make the entries). Returns the
    legend. Use with ``plot_features_on_circle(..., legend=None)`` on every panel.
    """
    handles, names = _class_handles(labels)
    return fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.02),
                      ncol=ncol or len(names), fontsize=LEGEND_FONTSIZE, title=title,
                      title_fontsize=LEGEND_FONTSIZE, frameon=False, handletextpad=0.1,
                      columnspacing=1.0)


@dataclass(frozen=True)
class TwoClassRegions:
    """Decision regions of a loss for two prototypes ``separation`` radians apart.

    ``angles``: the grid (radians, ``[-π, π)``, prototype 0 at 0); ``wins0[i]``: a class-0 sample
    at ``angles[i]`` has ``z_0 > z_1``; ``wins1[i]``: a class-1 sample there has ``z_1 > z_0``.
    ``boundary0``: the angle on the arc between the prototypes (in ``[0, separation]``) where a
    class-0 sample's two logits are equal; ``boundary1`` the same for a class-1 sample (NaN if the
    loss leaves no such point on that arc).
    """

    loss: str
    hparams: Dict[str, Any] = field(repr=False)
    separation: float
    angles: np.ndarray = field(repr=False)
    wins0: np.ndarray = field(repr=False)
    wins1: np.ndarray = field(repr=False)
    boundary0: float
    boundary1: float

    @property
    def gap(self) -> float:
        """``boundary1 − boundary0``: the angular width of the no-man's-land between the
        prototypes (0 without a margin, > 0 with one, < 0 where the regions overlap)."""
        return self.boundary1 - self.boundary0


def two_class_regions(loss: str, separation: float = math.pi / 2, *, embedding_norm: float = 1.0,
                      resolution: int = RESOLUTION, **hparams: Any) -> TwoClassRegions:
    """Where each class wins on the circle under ``loss`` (its logits, margins included).

    ``hparams`` go to ``losses.build``; ``embedding_norm`` only matters for losses whose logits
    are not homogeneous in ‖x‖ (none of the course's CE-family losses: both logits scale alike).
    The boundaries between the prototypes are found by root bracketing on the head's logits.
    """
    from scipy.optimize import brentq

    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise ValueError(f"resolution must be an integer >= 8, got {resolution!r}")
    head = two_class_head(loss, separation, **hparams)
    separation = float(separation)
    scale = scale_of(head, embedding_norm)
    grid = np.linspace(-math.pi, math.pi, resolution, endpoint=False)

    def advantage(label: int, angles: np.ndarray) -> np.ndarray:
        """(z_label − z_other)/scale for samples of ``label`` at ``angles``."""
        with torch.no_grad():
            z = logits_of(head, embeddings_at(torch.from_numpy(angles), embedding_norm), label, loss)
        return ((z[:, label] - z[:, 1 - label]) / scale).numpy()

    def boundary(label: int) -> float:
        # on the arc [0, φ] class 0's advantage falls and class 1's rises with α; look for the
        # sign change on a fine grid of that arc, then refine it
        arc = np.linspace(0.0, separation, max(resolution // 4, 8) + 1)
        values = advantage(label, arc)
        changes = np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) <= 0)
        if not len(changes):
            return float("nan")
        i = changes[0] if label == 0 else changes[-1]
        if values[i] == 0.0:
            return float(arc[i])
        if values[i + 1] == 0.0:
            return float(arc[i + 1])
        return float(brentq(lambda a: advantage(label, np.array([a]))[0], arc[i], arc[i + 1],
                            xtol=1e-12, rtol=1e-12))

    return TwoClassRegions(loss, dict(hparams), separation, grid, advantage(0, grid) > 0,
                           advantage(1, grid) > 0, boundary(0), boundary(1))


def plot_decision_regions(loss: str, separation: float = math.pi / 2, ax=None, *,
                          title: Optional[str] = None, embedding_norm: float = 1.0, **hparams: Any):
    """Draw the two-class picture of :func:`two_class_regions` on the unit circle.

    The circle is coloured where a class wins (class 0 blue, class 1 orange; grey where neither
    does — the margin; dark where both do), the prototypes are arrows, and dashed rays mark the
    two boundaries between them. Returns the axes (a new 4×4 figure if ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    regions = two_class_regions(loss, separation, embedding_norm=embedding_norm, **hparams)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    turn = math.pi / 2 - regions.separation / 2  # the picture is symmetric about the vertical
    kind = regions.wins0.astype(int) + 2 * regions.wins1.astype(int)  # 0 none, 1, 2, 3 both
    colours = {0: "0.8", 1: CLASS_COLORS[0], 2: CLASS_COLORS[1], 3: "0.2"}
    step = regions.angles[1] - regions.angles[0]
    for start, stop in _runs(kind):
        arc = np.linspace(regions.angles[start], regions.angles[stop - 1] + step, 2 + stop - start)
        ax.plot(np.cos(arc + turn), np.sin(arc + turn), color=colours[kind[start]], lw=6,
                solid_capstyle="butt")
    for c, angle in enumerate((0.0, regions.separation)):
        ax.annotate("", xy=(math.cos(angle + turn), math.sin(angle + turn)), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=CLASS_COLORS[c], lw=2))
        ax.text(1.22 * math.cos(angle + turn), 1.22 * math.sin(angle + turn), f"$W_{c}$",
                ha="center", va="center", color=CLASS_COLORS[c])
    for c, angle in enumerate((regions.boundary0, regions.boundary1)):
        if math.isfinite(angle):
            ax.plot([0, 1.08 * math.cos(angle + turn)], [0, 1.08 * math.sin(angle + turn)], "--",
                    color=CLASS_COLORS[c], lw=1.2)
    ax.set_aspect("equal")
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.axis("off")
    ax.set_title(title if title is not None else loss_label(loss), fontsize=10)
    return ax


def _runs(values: np.ndarray):
    """``(start, stop)`` index pairs of the maximal runs of equal values."""
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(values)]])
    return zip(starts, stops)


__all__ = ["RESOLUTION", "TwoClassRegions", "two_class_regions", "plot_decision_regions",
           "plot_features_on_circle"]
