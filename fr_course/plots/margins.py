"""Pictures specific to the margin chapters (3 SphereFace, 4 CosFace, 5 ArcFace).

Everything is computed by the package's own code, as in :mod:`fr_course.plots.curves`:

* :func:`plot_psi` — SphereFace's ``cos(mθ)`` against its monotone extension
  ``ψ(θ) = (−1)^k cos(mθ) − 2k`` (:func:`fr_course.losses.sphereface_psi`).
* :func:`lambda_schedule` / :func:`plot_lambda_schedule` — SphereFace's λ annealing, read from a
  real :class:`~fr_course.losses.SphereFace` head whose iteration counter is advanced by
  training-mode loss evaluations, exactly as during training.
* :func:`target_logit_in_cos` / :func:`plot_target_logits_in_cos` — the target logit ``z_y/s``
  and its slope ``∂(z_y/s)/∂cos θ`` by autograd through the head's ``logits()``, drawn against
  ``cos θ`` (the CosFace picture: a margin of constant width in cosine space) or against θ (the
  ArcFace picture: exact and straight-through gradients).
* :data:`ALL_MARGINS` / :func:`plot_all_target_logits` — the one figure of chapter 5 with the
  target logit of every margin of the course.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from .. import losses
from .curves import parse_specs, plot_target_logits
from .style import loss_color
from .twoclass import as_angles, logits_of, scale_of, two_class_head

#: The margins compared on one figure in chapter 5 (the picture of the ArcFace paper, Fig. 4a,
#: with the course's defaults). SphereFace is drawn with a constant λ = 5, the final value of the
#: official annealing schedule; softmax with unit prototypes, no bias and ‖x‖ = s.
ALL_MARGINS: Dict[str, Any] = {
    "Softmax (‖W‖ = 1, b = 0, ‖x‖ = s)": "softmax",
    "NormFace": "normface",
    "SphereFace (m = 4, λ = 5)": ("sphereface", {"m": 4, "lambda_base": 0.0, "lambda_min": 5.0}),
    "CosFace (m = 0.35)": ("cosface", {"m": 0.35}),
    "ArcFace (m = 0.5)": ("arcface", {"m": 0.5}),
    "Combined (m1, m2, m3) = (1, 0.3, 0.2)": ("combined", {"m1": 1.0, "m2": 0.3, "m3": 0.2}),
}


# --------------------------------------------------------------------------- SphereFace

def plot_psi(ms: Sequence[int] = (2, 3, 4), ax=None, theta: Any = None):
    """``cos(mθ)`` (dotted) and ``ψ(θ)`` (solid) for each integer ``m``, with ``cos θ`` for reference.

    ``ψ`` is evaluated by :func:`fr_course.losses.sphereface_psi`. Angles in degrees on the axis.
    """
    import matplotlib.pyplot as plt

    angles = as_angles(np.linspace(0.0, math.pi, 721) if theta is None else theta)
    for m in ms:
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"ms must hold positive integers, got {m!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    degrees = np.degrees(angles)
    ax.plot(degrees, np.cos(angles), color="0.5", lw=1.2, label=r"$\cos\theta$ (no margin)")
    colours = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, len(ms)))
    with torch.no_grad():
        t = torch.tensor(angles, dtype=torch.float64)
        for colour, m in zip(colours, ms):
            psi = losses.sphereface_psi(t, m).numpy()
            ax.plot(degrees, np.cos(m * angles), ":", color=colour, lw=1.2, label=rf"$\cos({m}\theta)$")
            ax.plot(degrees, psi, "-", color=colour, lw=1.8, label=rf"$\psi(\theta)$, $m={m}$")
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
    ax.set_xlabel(r"angle to the class prototype $\theta$ (degrees)")
    ax.set_xticks(np.arange(0, 181, 30))
    ax.set_ylabel("target logit / $\\|x\\|$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return ax


def lambda_schedule(iterations: int, **hparams: Any) -> np.ndarray:
    """λ seen by each of the first ``iterations`` training steps of a SphereFace head.

    A two-class, 2-D :class:`~fr_course.losses.SphereFace` head is built with ``hparams`` and put
    in ``train()`` mode; step ``i`` reads ``current_lambda()`` and then evaluates the loss once on
    a dummy batch, which is what advances the head's ``iteration`` buffer during training. So the
    curve is the schedule the implementation really follows, not a re-typed formula.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    head = losses.build("sphereface", embedding_dim=2, num_classes=2, **hparams).train()
    x = torch.tensor([[1.0, 0.0]])
    y = torch.zeros(1, dtype=torch.long)
    values = np.empty(iterations)
    with torch.no_grad():
        for i in range(iterations):
            values[i] = float(head.current_lambda())
            head.per_sample(x, y)
    return values


def plot_lambda_schedule(iterations: int, ax=None, marks: Optional[Mapping[str, int]] = None,
                         **hparams: Any):
    """λ against the training step (log-scaled λ), from :func:`lambda_schedule`.

    ``marks`` maps a label to a step count (e.g. the length of a training run): a vertical line
    there, with the λ reached, in the legend.
    """
    import matplotlib.pyplot as plt

    values = lambda_schedule(iterations, **hparams)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(iterations), values, color=loss_color("sphereface"), lw=1.8, label=r"$\lambda$")
    for (label, step), style in zip((marks or {}).items(), ("--", ":", "-.")):
        step = int(step)
        if not 0 <= step < iterations:
            raise ValueError(f"mark {label!r} at step {step} lies outside 0..{iterations - 1}")
        ax.axvline(step, color="0.3", ls=style, lw=1.0, label=f"{label}: λ = {values[step]:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("training step (iteration)")
    ax.set_ylabel(r"$\lambda$ (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------- slope in cos θ

@dataclass(frozen=True)
class CosCurve:
    """Target logit of one loss against ``cos θ``: ``value = z_y/scale`` and
    ``slope = ∂(z_y/scale)/∂cos θ`` (autograd through the head), sampled at angles ``theta``."""

    loss: str
    hparams: Dict[str, Any] = field(repr=False)
    theta: np.ndarray = field(repr=False)
    cos: np.ndarray = field(repr=False)
    value: np.ndarray = field(repr=False)
    slope: np.ndarray = field(repr=False)


def target_logit_in_cos(loss: str, theta: Any = None, **hparams: Any) -> CosCurve:
    """``z_y/s`` and ``∂(z_y/s)/∂cos θ`` of ``loss`` at the angles ``theta`` (radians, in (0, π)).

    The embedding ``x = (c, √(1 − c²))`` with ``c = cos θ`` is a unit vector at angle θ from the
    class prototype ``(1, 0)`` of a two-class head (:func:`fr_course.plots.twoclass.two_class_head`);
    the head's ``logits()`` is differentiated with respect to ``c`` by autograd. Because ``∂x/∂c``
    is tangent to the circle, ``∂cos θ/∂c = 1`` exactly, so this is the slope with respect to the
    cosine the loss sees. Endpoints θ = 0 and π are refused: there ``√(1 − c²)`` has no derivative.
    """
    angles = as_angles(np.linspace(math.radians(0.5), math.radians(179.5), 359) if theta is None else theta)
    if np.any(angles <= 0.0) or np.any(angles >= math.pi):
        raise ValueError("theta must lie strictly between 0 and π radians")
    head = two_class_head(loss, **hparams)
    c = torch.tensor(np.cos(angles), dtype=torch.float64, requires_grad=True)
    x = torch.stack([c, torch.sqrt(1.0 - c * c)], dim=1)
    target = logits_of(head, x, 0, loss)[:, 0] / scale_of(head, 1.0)
    (slope,) = torch.autograd.grad(target.sum(), c)  # row i depends on c[i] only
    return CosCurve(loss, dict(hparams), angles, np.cos(angles), target.detach().numpy().copy(),
                    slope.numpy().copy())


def plot_target_logits_in_cos(specs, ax=None, theta: Any = None, *, x: str = "cos",
                              slope: bool = False):
    """Draw ``z_y/s`` (or, with ``slope=True``, ``∂(z_y/s)/∂cos θ``) of each loss of ``specs``.

    ``x="cos"``: against ``cos θ`` (reversed, so that θ grows to the right as in the other
    figures); ``x="theta"``: against θ in degrees. Specs as in :mod:`fr_course.plots.curves`.
    """
    import matplotlib.pyplot as plt

    if x not in ("cos", "theta"):
        raise ValueError(f"x must be 'cos' or 'theta', got {x!r}")
    parsed = parse_specs(specs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    seen: Dict[str, int] = {}
    for label, name, hparams in parsed:
        curve = target_logit_in_cos(name, theta, **hparams)
        style = ("-", "--", ":", "-.")[seen.get(name, 0) % 4]
        seen[name] = seen.get(name, 0) + 1
        abscissa = curve.cos if x == "cos" else np.degrees(curve.theta)
        ax.plot(abscissa, curve.slope if slope else curve.value, style, color=loss_color(name),
                label=label, lw=1.6)
    if x == "cos":
        ax.set_xlim(1.0, -1.0)
        ax.set_xlabel(r"$\cos\theta$ (target cosine; $\theta$ grows to the right)")
    else:
        ax.set_xlabel(r"angle to the class prototype $\theta$ (degrees)")
        ax.set_xticks(np.arange(0, 181, 30))
    ax.set_ylabel(r"$\partial (z_y/s)/\partial\cos\theta$" if slope else r"target logit $z_y/s$")
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------- chapter 5's figure

def plot_all_target_logits(ax=None, specs: Optional[Mapping[str, Any]] = None, ylim=(-2.2, 1.1)):
    """The target logit ``z_y/s`` of every margin of :data:`ALL_MARGINS` against θ, on one axes.

    Softmax is drawn with unit prototypes, zero bias and its curve divided by ‖x‖, so it equals
    NormFace's ``cos θ``: it is dashed to stay visible on top of it.
    """
    import matplotlib.pyplot as plt

    specs = dict(ALL_MARGINS if specs is None else specs)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    before = len(ax.get_lines())
    plot_target_logits(specs, ax=ax)
    for line, (_, name, _) in zip(ax.get_lines()[before:], parse_specs(specs)):
        if name == "softmax":
            line.set_linestyle((0, (4, 3)))
            line.set_linewidth(2.4)
            line.set_zorder(3)
    ax.set_ylim(*ylim)
    return ax


__all__ = ["ALL_MARGINS", "CosCurve", "lambda_schedule", "plot_all_target_logits",
           "plot_lambda_schedule", "plot_psi", "plot_target_logits_in_cos", "target_logit_in_cos"]
