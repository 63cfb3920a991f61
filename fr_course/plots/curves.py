"""Target logit ``z_y(θ)``, its slope ``∂z_y/∂θ`` and the per-sample loss as functions of θ.

The curves come from the losses' own code (:mod:`fr_course.losses`): an embedding is placed at
angle θ from its class prototype in the two-class, 2-D setup of :mod:`fr_course.plots.twoclass`,
the head's ``logits()`` (or ``per_sample()``) is evaluated in float64, and the derivative with
respect to θ is taken by autograd through the head. So a curve shows what the implementation
does, including its clamps, fallbacks and detached terms (``sg``): for ArcFace with
``grad="ste"`` the *value* is ``s·cos(θ+m)`` but the *slope* is that of ``s·cos θ``.

Typical use (chapter 5)::

    from fr_course.plots import plot_target_logits, plot_target_logit_gradients
    specs = {"NormFace": "normface", "CosFace": ("cosface", {"m": 0.35}),
             "ArcFace": ("arcface", {"m": 0.5})}
    plot_target_logits(specs)                 # z_y / s against θ (degrees)
    plot_target_logit_gradients(specs)        # ∂(z_y / s)/∂θ

Specs: a loss name, a ``(name, hparams)`` pair, a list of those, or a mapping
``label -> name | (name, hparams)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .style import legend_below, loss_color, loss_label
from .twoclass import as_angles, embeddings_at, logits_of, scale_of, two_class_head

#: The default θ grid: 0 to π in steps of half a degree.
DEFAULT_THETA = np.linspace(0.0, math.pi, 361)

Spec = Union[str, Tuple[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Curve:
    """A quantity of one loss sampled at angles ``theta`` (radians), with its θ-derivative.

    ``value`` is the target logit (:func:`target_logit_curve`) or the per-sample loss
    (:func:`loss_curve`); ``grad`` is ``∂value/∂θ`` by autograd through the loss head; ``scale`` is
    the factor in front of the cosines (``s``, or ``‖x‖`` for softmax/SphereFace), so that
    ``value / scale`` is on the cosine scale.
    """

    loss: str
    hparams: Dict[str, Any] = field(repr=False)
    theta: np.ndarray = field(repr=False)
    value: np.ndarray = field(repr=False)
    grad: np.ndarray = field(repr=False)
    scale: float = 1.0

    def normalized(self) -> "Curve":
        """The same curve divided by ``scale`` (``value/scale``, ``grad/scale``; then ``scale = 1``)."""
        return replace(self, value=self.value / self.scale, grad=self.grad / self.scale, scale=1.0)


def target_logit_curve(loss: str, theta: Any = None, *, embedding_norm: float = 1.0,
                       normalize: bool = False, **hparams: Any) -> Curve:
    """Target logit ``z_y`` of ``loss`` for an embedding at angle θ from its prototype, and ``∂z_y/∂θ``.

    ``theta``: angles in radians (default :data:`DEFAULT_THETA`, 0..π). ``embedding_norm``: ‖x‖,
    which matters only for the losses that do not normalise features (softmax, SphereFace).
    ``normalize=True`` divides value and slope by the scale (``s`` or ‖x‖), e.g. NormFace gives
    ``cos θ`` and CosFace ``cos θ − m``. ``hparams`` go to ``losses.build``. Losses without logits
    (SFace) raise ``ValueError``: use :func:`loss_curve` for them.
    """
    angles = as_angles(DEFAULT_THETA if theta is None else theta)
    head = two_class_head(loss, **hparams)
    t = torch.tensor(angles, dtype=torch.float64, requires_grad=True)
    logits = logits_of(head, embeddings_at(t, embedding_norm), 0, loss)
    target = logits[:, 0]
    # each row depends only on its own angle, so the gradient of the sum is the per-angle slope
    (grad,) = torch.autograd.grad(target.sum(), t)
    curve = Curve(loss, dict(hparams), angles, target.detach().numpy().copy(), grad.numpy().copy(),
                  scale_of(head, embedding_norm))
    return curve.normalized() if normalize else curve


def loss_curve(loss: str, theta: Any = None, *, other_angle: float = math.pi / 2,
               embedding_norm: float = 1.0, **hparams: Any) -> Curve:
    """Per-sample loss ``L(θ)`` and ``∂L/∂θ`` for an embedding at angle θ from its prototype.

    Two classes: the sample's prototype at angle 0, the other prototype at ``other_angle``
    (radians, in (0, π]); the embedding sits at angle θ on the same circle, so its angle to the
    other prototype is ``|other_angle − θ|`` (for θ in [0, π]). Works for every loss, SFace
    included; for a wrapper such as Hard-Mining the gate is part of the curve. ``scale`` is 1.
    """
    angles = as_angles(DEFAULT_THETA if theta is None else theta)
    head = two_class_head(loss, other_angle, **hparams)
    t = torch.tensor(angles, dtype=torch.float64, requires_grad=True)
    labels = torch.zeros(len(angles), dtype=torch.long)
    values = head.per_sample(embeddings_at(t, embedding_norm), labels)
    (grad,) = torch.autograd.grad(values.sum(), t)
    return Curve(loss, dict(hparams), angles, values.detach().numpy().copy(), grad.numpy().copy(), 1.0)


# --------------------------------------------------------------------------- plotting

def parse_specs(specs: Union[Spec, Sequence[Spec], Mapping[str, Spec]]) -> List[Tuple[str, str, Dict[str, Any]]]:
    """``[(label, loss_name, hparams), ...]`` from the spec forms described in the module docstring."""
    if isinstance(specs, Mapping):
        items = [(label, spec) for label, spec in specs.items()]
    elif isinstance(specs, str) or _is_pair(specs):
        items = [(None, specs)]
    else:
        items = [(None, spec) for spec in specs]
    parsed = []
    for label, spec in items:
        if isinstance(spec, str):
            name, hparams = spec, {}
        elif _is_pair(spec):
            name, hparams = spec[0], dict(spec[1])
        else:
            raise ValueError(f"a curve spec must be a loss name or a (name, hparams) pair, got {spec!r}")
        parsed.append((label if label is not None else _default_label(name, hparams), name, hparams))
    if not parsed:
        raise ValueError("specs is empty: give at least one loss")
    return parsed


def plot_target_logits(specs, ax=None, theta: Any = None, *, normalize: bool = True,
                       embedding_norm: float = 1.0, degrees: bool = True):
    """Draw ``z_y(θ)`` (divided by the scale if ``normalize``) for each loss of ``specs`` on one axes.

    Returns the axes (a new 6×4 figure if ``ax`` is None). Colours follow
    :data:`fr_course.plots.style.LOSS_COLORS`; a loss drawn twice gets another line style.
    """
    ylabel = r"target logit $z_y/s$" if normalize else r"target logit $z_y$"
    return _plot(specs, ax, theta, "value", ylabel, degrees,
                 lambda name, hp, th: target_logit_curve(name, th, embedding_norm=embedding_norm,
                                                         normalize=normalize, **hp))


def plot_target_logit_gradients(specs, ax=None, theta: Any = None, *, normalize: bool = True,
                                embedding_norm: float = 1.0, degrees: bool = True):
    """Draw ``∂z_y/∂θ`` (divided by the scale if ``normalize``) for each loss of ``specs``.

    The slope is per radian of θ, whatever unit the axis shows.
    """
    ylabel = r"$\partial (z_y/s)/\partial\theta$" if normalize else r"$\partial z_y/\partial\theta$"
    return _plot(specs, ax, theta, "grad", ylabel, degrees,
                 lambda name, hp, th: target_logit_curve(name, th, embedding_norm=embedding_norm,
                                                         normalize=normalize, **hp))


def plot_loss_curves(specs, ax=None, theta: Any = None, *, other_angle: float = math.pi / 2,
                     embedding_norm: float = 1.0, degrees: bool = True, gradient: bool = False):
    """Draw the per-sample loss (or, with ``gradient=True``, ``∂L/∂θ``) of each loss of ``specs``
    in the two-class setup of :func:`loss_curve`."""
    ylabel = r"$\partial L/\partial\theta$" if gradient else r"per-sample loss $L$"
    return _plot(specs, ax, theta, "grad" if gradient else "value", ylabel, degrees,
                 lambda name, hp, th: loss_curve(name, th, other_angle=other_angle,
                                                 embedding_norm=embedding_norm, **hp))


_LINESTYLES = ("-", "--", ":", "-.")


def _plot(specs, ax, theta, attribute, ylabel, degrees, compute):
    import matplotlib.pyplot as plt

    parsed = parse_specs(specs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    seen: Dict[str, int] = {}
    for label, name, hparams in parsed:
        curve = compute(name, hparams, theta)
        style = _LINESTYLES[seen.get(name, 0) % len(_LINESTYLES)]
        seen[name] = seen.get(name, 0) + 1
        x = np.degrees(curve.theta) if degrees else curve.theta
        ax.plot(x, getattr(curve, attribute), style, color=loss_color(name), label=label, lw=1.6)
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
    if degrees:
        ax.set_xlabel(r"angle to the class prototype $\theta$ (degrees)")
        ax.set_xticks(np.arange(0, 181, 30))
    else:
        ax.set_xlabel(r"angle to the class prototype $\theta$ (radians)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    legend_below(ax)
    return ax


def _is_pair(spec) -> bool:
    return (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)
            and isinstance(spec[1], Mapping))


def _default_label(name: str, hparams: Mapping[str, Any]) -> str:
    label = loss_label(name)
    if hparams:
        label += " (" + ", ".join(f"{k}={_short(v)}" for k, v in hparams.items()) + ")"
    return label


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) > 4:
        return f"<{len(value)} values>"
    return str(value)


__all__ = ["DEFAULT_THETA", "Curve", "target_logit_curve", "loss_curve", "parse_specs",
           "plot_target_logits", "plot_target_logit_gradients", "plot_loss_curves"]
