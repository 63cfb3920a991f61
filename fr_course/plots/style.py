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
