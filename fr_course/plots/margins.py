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
* :func:`plot_cosine_plane` — two-class decision boundaries in the plane of the two cosines
  (the CosFace paper's picture of a margin in cosine space).
* :func:`plot_arcface_branches` — ArcFace's ``cos(θ + m)``, the fallback past π − m and the easy
  margin.
* :func:`digits_toy` / :func:`angular_spread` — a digits toy run that keeps its trained head, and
  how compact its classes are (degrees).
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
from .style import legend_below, loss_color
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
    legend_below(ax)
    return ax


def lambda_schedule(iterations: int, **hparams: Any) -> np.ndarray:
    """λ seen by each of the first ``iterations`` training steps of a SphereFace head.

    A two-class, 2-D :class:`~fr_course.losses.SphereFace` head is built with ``hparams`` and put
    in ``train()`` mode; step ``i`` evaluates the loss once on a dummy batch — which advances the
    head's ``iteration`` buffer *before* λ is computed, as the official layer does — and then reads
    ``current_lambda()``, the λ that call used (the first step: λ = 1000/1.12 ≈ 892.9). So the
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
            head.per_sample(x, y)
            values[i] = float(head.current_lambda())
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
    legend_below(ax)
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
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------- cosine plane

def plot_cosine_plane(specs, ax=None, theta: Any = None):
    """Two-class decision boundaries in the plane of the two cosines ``(cos θ_0, cos θ_1)``.

    For a loss with target function ``f`` (``z_y/s = f(cos θ_y)``, from
    :func:`target_logit_in_cos`), a sample of class 0 is classified correctly during training where
    ``f(cos θ_0) > cos θ_1``: its boundary is the curve ``(c, f(c))``; class 1's is the mirror image
    ``(f(c), c)``. Without a margin both are the diagonal; CosFace gives two parallel lines ``m``
    apart (a margin of constant width in cosine space), ArcFace two curves whose distance varies.
    """
    import matplotlib.pyplot as plt

    parsed = parse_specs(specs)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    seen: Dict[str, int] = {}
    for label, name, hparams in parsed:
        curve = target_logit_in_cos(name, theta, **hparams)
        style = ("-", "--", ":", "-.")[seen.get(name, 0) % 4]
        seen[name] = seen.get(name, 0) + 1
        colour = loss_color(name)
        ax.plot(curve.cos, curve.value, style, color=colour, lw=1.6, label=label)
        ax.plot(curve.value, curve.cos, style, color=colour, lw=1.6)
    ax.set_xlim(-1.0, 1.0)
    ax.set_ylim(-1.0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\cos\theta_0$ (cosine to prototype 0)")
    ax.set_ylabel(r"$\cos\theta_1$ (cosine to prototype 1)")
    ax.text(0.6, -0.65, "class 0\nwins", ha="center", fontsize=9)
    ax.text(-0.6, 0.55, "class 1\nwins", ha="center", fontsize=9)
    ax.grid(True, alpha=0.3)
    legend_below(ax, ncol=2)
    return ax


# --------------------------------------------------------------------------- ArcFace branches

def plot_arcface_branches(m: float = 0.5, ax=None, theta: Any = None, s: float = 64.0):
    """ArcFace's target logit ``z_y/s`` near θ = π − m: the raw ``cos(θ + m)``, which turns up
    again past π − m, against the head's value with the fallback ``cos θ − m·sin m`` and with
    ``easy_margin=True`` (values from the heads, via :func:`fr_course.plots.curves.plot_target_logits`).
    """
    import matplotlib.pyplot as plt

    m = float(m)
    if not 0.0 < m < math.pi:
        raise ValueError(f"m must lie in (0, π) radians, got {m!r}")
    angles = as_angles(np.linspace(0.0, math.pi, 721) if theta is None else theta)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.degrees(angles), np.cos(angles + m), ":", color="0.3", lw=1.6,
            label=rf"$\cos(\theta + m)$ without fallback")
    plot_target_logits({f"ArcFace (m = {m:g}), fallback past π − m": ("arcface", {"m": m, "s": s}),
                        f"ArcFace (m = {m:g}), easy margin": ("arcface", {"m": m, "s": s, "easy_margin": True}),
                        "NormFace (no margin)": ("normface", {"s": s})}, ax=ax, theta=angles)
    ax.axvline(math.degrees(math.pi - m), color="0.5", ls="--", lw=1.0)
    ax.text(math.degrees(math.pi - m) - 2, 0.75, r"$\theta = \pi - m$", ha="right", fontsize=9)
    ax.axvline(90.0, color="0.5", ls=":", lw=1.0)
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------- digits toys

@dataclass(frozen=True)
class DigitsToy:
    """One digits toy run: the trained ``head``, the ``features``/``labels`` of ``split`` and the
    per-epoch ``history`` of :func:`fr_course.data.digits.train_digits`."""

    loss: str
    hparams: Dict[str, Any] = field(repr=False)
    head: Any = field(repr=False)
    features: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    history: Dict[str, list] = field(repr=False)

    @property
    def test_accuracy(self) -> float:
        return self.history["test_accuracy"][-1]

    @property
    def train_accuracy(self) -> float:
        return self.history["train_accuracy"][-1]


def digits_toy(loss: str, feature_dim: int = 2, seed: int = 0, epochs: int = 20, split: str = "train",
               **hparams: Any) -> DigitsToy:
    """:func:`fr_course.data.digits.train_digits` for the loss ``loss``, keeping the trained head.

    The network and the head are initialised exactly as ``train_digits(loss, loss_kwargs=hparams)``
    would (seed, then the network, then the head), so the run is the same; the head is returned
    as well, for its prototypes (and SphereFace's iteration counter).
    """
    from ..data.digits import DigitsNet, train_digits

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsNet(feature_dim)
        head = losses.build(loss, embedding_dim=feature_dim, num_classes=10, **hparams)
    features, labels, history = train_digits(head, feature_dim=feature_dim, epochs=epochs, seed=seed,
                                             net=net, return_split=split)
    return DigitsToy(loss, dict(hparams), head, features, labels, history)


def angular_spread(features, labels, weight) -> Dict[str, float]:
    """How compact the classes are and how far apart their prototypes, in degrees.

    ``intra``: the mean angle between a feature and its own class prototype; ``inter``: the mean,
    over classes, of the angle from a prototype to its nearest other prototype.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().cpu().double().numpy()
    weight = np.asarray(weight, dtype=np.float64)
    if features.ndim != 2 or weight.ndim != 2 or features.shape[1] != weight.shape[1]:
        raise ValueError(f"features (N, d) and weight (C, d) must agree in d, got {features.shape} and {weight.shape}")
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    w = weight / np.maximum(np.linalg.norm(weight, axis=1, keepdims=True), 1e-12)
    own = np.clip(np.sum(x * w[labels], axis=1), -1.0, 1.0)
    between = np.clip(w @ w.T, -1.0, 1.0)
    np.fill_diagonal(between, -1.0)
    return {"intra": float(np.degrees(np.arccos(own)).mean()),
            "inter": float(np.degrees(np.arccos(between.max(axis=1))).mean())}


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
    legend_below(ax)  # again, so that the legend shows the restyled lines
    ax.set_ylim(*ylim)
    return ax


__all__ = ["ALL_MARGINS", "CosCurve", "DigitsToy", "angular_spread", "digits_toy", "lambda_schedule",
           "plot_all_target_logits", "plot_arcface_branches", "plot_cosine_plane", "plot_lambda_schedule",
           "plot_psi", "plot_target_logits_in_cos", "target_logit_in_cos"]
