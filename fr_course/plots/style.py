"""One colour and one display name per loss, so that every chapter draws a loss the same way."""

from __future__ import annotations

from typing import Dict

#: Matplotlib colour of each loss (keys are the names of ``fr_course.losses.LOSSES``).
LOSS_COLORS: Dict[str, str] = {
    "softmax": "tab:gray",
    "normface": "tab:blue",
    "sphereface": "tab:purple",
    "cosface": "tab:green",
    "arcface": "tab:red",
    "combined": "tab:orange",
    "eqm": "tab:brown",
    "hsm": "tab:pink",
    "sv_softmax": "tab:olive",
    "sface": "tab:cyan",
    "hard_mining": "black",
}

#: How a loss is named in legends and titles (the reconstructions say so).
LOSS_LABELS: Dict[str, str] = {
    "softmax": "Softmax",
    "normface": "NormFace",
    "sphereface": "SphereFace",
    "cosface": "CosFace",
    "arcface": "ArcFace",
    "combined": "Combined margin",
    "eqm": "EqM (reconstructed)",
    "hsm": "HSM (reconstructed)",
    "sv_softmax": "SV-Softmax",
    "sface": "SFace",
    "hard_mining": "Hard-Mining",
}

#: Colours of the two classes in the two-class pictures of :mod:`fr_course.plots.circle`.
CLASS_COLORS = ("tab:blue", "tab:orange")


def loss_color(name: str) -> str:
    """The colour of loss ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in LOSS_COLORS:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSS_COLORS)}")
    return LOSS_COLORS[name]


def loss_label(name: str) -> str:
    """The display name of loss ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in LOSS_LABELS:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSS_LABELS)}")
    return LOSS_LABELS[name]


#: Font size (points) of legends and annotations: at the book's 100 dpi and a figure at most
#: 7 inches wide (the ~688 px column), 9 pt is about 12 px on the page.
LEGEND_FONTSIZE = 9


def legend_below(ax, *, ncol: int | None = None, fontsize: float = LEGEND_FONTSIZE, title: str | None = None):
    """The axes' legend under the axes (below the x tick labels and label), where it hides no data.

    Returns the legend, or ``None`` if nothing on the axes has a label. ``ncol`` defaults to
    three columns for short labels, two for long ones. The figure grows downwards, never wider.
    """
    from matplotlib.transforms import ScaledTranslation

    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if ncol is None:
        ncol = min(len(labels), 3 if max(len(label) for label in labels) <= 18 else 2)
    # the axes' bottom edge moved down past the tick labels (and the x label, if any)
    drop = 40 if ax.get_xlabel() else 24
    below = ax.transAxes + ScaledTranslation(0, -drop / 72, ax.figure.dpi_scale_trans)
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
                     ncol=ncol, fontsize=fontsize, frameon=False, title=title, title_fontsize=fontsize,
                     borderaxespad=0.0, columnspacing=1.2, handlelength=2.0)
