"""Non-target logits ``z_k`` as functions of ``cos θ_k`` at a fixed target: chapter 8 (SV-Softmax).

Most margin losses touch only the target logit; SV-Softmax re-weights the *non-target* logits of
the support vectors, the classes k with ``cos θ_k > f(cos θ_y)``. To draw ``z_k(cos θ_k)`` from
the loss's own code, one sample and ``1 + G`` prototypes are placed in 3-D so that every cosine
is exactly what we ask for: the embedding is ``e₁``, the target prototype (class 0) is
``(a, √(1−a²), 0)`` (so ``cos θ_y = a``) and prototype ``k`` is ``(b_k, 0, √(1−b_k²))`` (so
``cos θ_k = b_k``). The head's ``logits()`` then gives ``z_k`` for all G values ``b_k`` at once,
in float64 and ``eval()`` mode. Each non-target logit must depend only on its own cosine and
the target (true of NormFace, CosFace, ArcFace, SV-Softmax; not of HSM, whose pseudo margin
depends on the whole row).

Typical use::

    from fr_course.plots.nontarget import plot_nontarget_logits
    specs = {f"t = {t}": ("sv_softmax", {"t": t}) for t in (1.0, 1.2, 1.4)}
    plot_nontarget_logits(specs, cos_target=0.6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from .. import losses
from .curves import parse_specs
from .style import legend_below, loss_color
from .twoclass import logits_of, scale_of

#: Default grid of ``cos θ_k``: −1 to 1 in steps of 0.005.
DEFAULT_COS = np.linspace(-1.0, 1.0, 401)

_LINESTYLES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class NonTargetCurve:
    """``value[k]`` = the non-target logit ``z_k`` divided by the loss's scale, for a sample whose
    target cosine is ``cos_target`` and whose cosine to class k is ``cos_other[k]``;
    ``target`` = ``z_y`` over the scale (``f(cos θ_y)`` for a margin loss), the same for all k."""

    loss: str
    hparams: Dict[str, Any] = field(repr=False)
    cos_target: float
    cos_other: np.ndarray = field(repr=False)
    value: np.ndarray = field(repr=False)
    target: float
    scale: float


def nontarget_logit_curve(loss: str, cos_target: float, cos_other: Any = None, **hparams: Any) -> NonTargetCurve:
    """Non-target logits of ``loss`` against ``cos θ_k`` (default :data:`DEFAULT_COS`) at a fixed
    target cosine ``cos_target``, computed by the head itself (see the module docstring)."""
    a = float(cos_target)
    if not -1.0 <= a <= 1.0:
        raise ValueError(f"cos_target must lie in [-1, 1], got {cos_target!r}")
    b = np.atleast_1d(np.asarray(DEFAULT_COS if cos_other is None else cos_other, dtype=np.float64))
    if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(np.abs(b) > 1.0):
        raise ValueError("cos_other must be a non-empty 1-D array of cosines in [-1, 1]")
    head = losses.build(loss, embedding_dim=3, num_classes=1 + b.size, **hparams).double().eval()
    prototypes = np.zeros((1 + b.size, 3))
    prototypes[0] = (a, math.sqrt(max(0.0, 1.0 - a * a)), 0.0)
    prototypes[1:, 0] = b
    prototypes[1:, 2] = np.sqrt(np.clip(1.0 - b * b, 0.0, None))
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(prototypes))
        x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        row = logits_of(head, x, 0, loss)[0].numpy()
    scale = scale_of(head, 1.0)
    return NonTargetCurve(loss, dict(hparams), a, b, row[1:] / scale, float(row[0] / scale), scale)


def plot_nontarget_logits(specs, cos_target: float = 0.5, ax=None, *, cos_other: Any = None,
                          colors: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """Draw ``z_k/s`` against ``cos θ_k`` for each loss of ``specs`` (the forms of
    :func:`fr_course.plots.curves.parse_specs`) at target cosine ``cos_target``.

    Colours: ``colors`` (one per spec) or each loss's colour, repeated losses in other line
    styles. The identity ``z_k/s = cos θ_k`` (no re-weighting) is drawn thin and grey, and a dotted
    vertical line marks each distinct target logit ``f`` (the support-vector threshold of
    SV-Softmax). Returns the axes (a new 6×4 figure if ``ax`` is None).
    """
    import matplotlib.pyplot as plt

    parsed = parse_specs(specs)
    if colors is not None and len(colors) != len(parsed):
        raise ValueError(f"colors has {len(colors)} entries for {len(parsed)} curves")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    grid = DEFAULT_COS if cos_other is None else np.asarray(cos_other, dtype=np.float64)
    ax.plot(grid, grid, color="0.6", lw=0.8, label=r"$\cos\theta_k$ (unchanged)")
    seen: Dict[str, int] = {}
    thresholds = set()
    for i, (label, name, hparams) in enumerate(parsed):
        curve = nontarget_logit_curve(name, cos_target, grid, **hparams)
        style = _LINESTYLES[seen.get(name, 0) % len(_LINESTYLES)] if colors is None else "-"
        seen[name] = seen.get(name, 0) + 1
        colour = colors[i] if colors is not None else loss_color(name)
        ax.plot(curve.cos_other, curve.value, style, color=colour, lw=1.6, label=label)
        thresholds.add(round(curve.target, 12))
    for f in sorted(thresholds):
        ax.axvline(f, color="0.3", ls=":", lw=1.0)
    ax.set_xlabel(r"cosine to a non-target class $\cos\theta_k$")
    ax.set_ylabel(r"non-target logit $z_k/s$")
    ax.grid(True, alpha=0.3)
    legend_below(ax)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


__all__ = ["DEFAULT_COS", "NonTargetCurve", "nontarget_logit_curve", "plot_nontarget_logits"]
