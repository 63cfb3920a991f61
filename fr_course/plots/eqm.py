"""The pictures of chapter 6, EqM (reconstructed): where its gradient vanishes, and its threshold sweep.

* :func:`eqm_gradient_map` / :func:`plot_zero_gradient_region` — for one sample with one
  competing class, the size of the gradient of the EqM (reconstructed) loss with respect to the two
  cosines, on the plane (``cos θ_y``, ``max_{j≠y} cos θ_j``); it is exactly zero in the corner
  where both limits are met. Computed by the loss head itself (``EqM.scaled_logits``).
* :func:`load_sweep`, :func:`sweep_grid`, :func:`plot_sweep` — the threshold sweep recorded by
  ``benchmarks/bench_eqm_sweep.py`` in ``benchmarks/results/eqm-sweep.json``.

Nothing here calls ``plt.show()``: each function draws on an axes (a new one if none is given) and
returns it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

#: Where the sweep is recorded, relative to the repository root.
SWEEP_FILE = "benchmarks/results/eqm-sweep.json"
#: The command that records it.
SWEEP_COMMAND = "python benchmarks/bench_eqm_sweep.py"


# --------------------------------------------------------------------------- the zero-gradient region

@dataclass(frozen=True)
class GradientMap:
    """The loss and its gradient with respect to (cos θ_y, cos θ_j) on a grid of the plane."""

    cos_y: np.ndarray      # (n,) grid of the target cosine
    cos_j: np.ndarray      # (n,) grid of the competing cosine
    loss: np.ndarray       # (n, n) indexed [j, y]
    grad_y: np.ndarray     # (n, n) ∂L/∂cos θ_y
    grad_j: np.ndarray     # (n, n) ∂L/∂cos θ_j
    t1: float
    t2: float
    s: float

    @property
    def grad_norm(self) -> np.ndarray:
        return np.hypot(self.grad_y, self.grad_j)


def eqm_gradient_map(t1: float | None = None, t2: float | None = None, s: float = 32.0,
                     points: int = 241) -> GradientMap:
    """Loss and gradient of EqM (reconstructed) for one sample and one other class, on a grid.

    The head's own ``scaled_logits`` turns the cosine pair into logits, then cross-entropy;
    autograd gives the two partial derivatives. ``t1``/``t2`` default to the loss's defaults.
    """
    from ..losses import LOSSES, build, hyperparameters
    from ..losses.base import cross_entropy

    defaults = hyperparameters(LOSSES["eqm"])
    t1 = defaults["t1"] if t1 is None else t1
    t2 = defaults["t2"] if t2 is None else t2
    head = build("eqm", embedding_dim=2, num_classes=2, s=s, t1=t1, t2=t2).double()
    grid = torch.linspace(-1.0, 1.0, points, dtype=torch.float64)
    cy, cj = torch.meshgrid(grid, grid, indexing="xy")  # [j, y]: rows vary cos θ_j
    cos = torch.stack([cy.reshape(-1), cj.reshape(-1)], dim=1).requires_grad_()
    labels = torch.zeros(cos.shape[0], dtype=torch.long)
    loss = cross_entropy(head.scaled_logits(cos, labels), labels)
    (grad,) = torch.autograd.grad(loss.sum(), cos)
    shape = (points, points)
    return GradientMap(grid.numpy(), grid.numpy(), loss.detach().numpy().reshape(shape),
                       grad[:, 0].numpy().reshape(shape), grad[:, 1].numpy().reshape(shape),
                       float(t1), float(t2), float(s))


def plot_zero_gradient_region(gmap: GradientMap, ax=None):
    """The gradient size on the (cos θ_y, max cos θ_j) plane, the exact-zero corner hatched,
    the two thresholds drawn and the four cases named."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.8))
    norm = gmap.grad_norm
    zero = norm == 0.0
    shown = np.where(zero, np.nan, np.log10(np.maximum(norm, 1e-12)))
    mesh = ax.pcolormesh(gmap.cos_y, gmap.cos_j, shown, cmap="viridis", shading="auto",
                         vmin=-4, vmax=np.log10(max(gmap.s, 1.0) * 1.5))
    plt.colorbar(mesh, ax=ax, label=r"$\log_{10}\,\|\nabla_{(\cos\theta_y,\,\cos\theta_j)} L\|$")
    ax.contourf(gmap.cos_y, gmap.cos_j, zero.astype(float), levels=[0.5, 1.5], colors="none",
                hatches=["////"])
    t1, t2 = gmap.t1, gmap.t2
    ax.axvline(t1, color="white", lw=1.5)
    ax.axhline(t2, color="white", lw=1.5)
    ax.text(t1, -0.97, f"$t_1 = {t1:g}$", color="white", ha="right", va="bottom", fontsize=9)
    ax.text(-0.97, t2, f"$t_2 = {t2:g}$", color="white", ha="left", va="bottom", fontsize=9)
    box = dict(boxstyle="round,pad=0.25", fc="white", ec="0.5", alpha=0.85)
    mid_y_low, mid_y_high = (-1.0 + t1) / 2, (t1 + 1.0) / 2
    mid_j_low, mid_j_high = (-1.0 + t2) / 2, (t2 + 1.0) / 2
    for x, y, text in ((mid_y_high, mid_j_low, "both met:\nzero gradient"),
                       (mid_y_low, mid_j_low, "hard sample:\npull to $W_y$ only"),
                       (mid_y_high, mid_j_high, "close class:\npush from $W_j$ only"),
                       (mid_y_low, mid_j_high, "both violated:\npull and push")):
        ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox=box)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel(r"$\cos\theta_y$ (own class)")
    ax.set_ylabel(r"$\max_{j\neq y}\cos\theta_j$ (closest other class)")
    ax.set_title(f"EqM (reconstructed), s = {gmap.s:g}: one sample, one other class", fontsize=10)
    return ax


# --------------------------------------------------------------------------- the sweep

class SweepFileMissing(FileNotFoundError):
    """The sweep has not been recorded (or not in this copy of the repository)."""


def load_sweep(path: str | Path | None = None) -> dict[str, Any]:
    """The recorded sweep (``benchmarks/results/eqm-sweep.json`` by default).

    Raises :class:`SweepFileMissing`, naming the command that records it, if the file is absent
    (e.g. when ``fr_course`` is installed without the repository's ``benchmarks/`` folder).
    """
    from ..results import resolve_results_path

    path = resolve_results_path(SWEEP_FILE if path is None else path)
    if not path.is_file():
        raise SweepFileMissing(
            f"no EqM threshold sweep at {path}: record it with `{SWEEP_COMMAND}` from the repository "
            "root (about 1 to 1.5 minutes per run on one core, two runs at a time)")
    payload = json.loads(path.read_text(encoding="utf-8"))
    if not payload.get("records"):
        raise SweepFileMissing(f"{path} holds no records yet: run `{SWEEP_COMMAND}` to finish the sweep")
    return payload


@dataclass(frozen=True)
class SweepGrid:
    """The sweep as a (t1, t2) table: per cell the mean over seeds of each measurement."""

    t1: tuple[float, ...]
    t2: tuple[float, ...]
    accuracy: np.ndarray        # (len(t1), len(t2)) mean over seeds, percent; NaN where not run
    seed_std: np.ndarray        # population std over seeds, percent (0 for one seed)
    fold_std: np.ndarray        # mean over seeds of the 10-fold std, percent
    auc: np.ndarray             # mean over seeds
    seeds: np.ndarray           # number of seeds per cell

    def best(self) -> tuple[float, float]:
        """(t1, t2) of the highest mean accuracy."""
        i, j = np.unravel_index(np.nanargmax(self.accuracy), self.accuracy.shape)
        return self.t1[i], self.t2[j]

    def rows(self) -> list[dict[str, float]]:
        """One dict per cell that was run, highest mean accuracy first."""
        out = []
        for i, a in enumerate(self.t1):
            for j, b in enumerate(self.t2):
                if self.seeds[i, j]:
                    out.append(dict(t1=a, t2=b, accuracy=self.accuracy[i, j], seed_std=self.seed_std[i, j],
                                    fold_std=self.fold_std[i, j], auc=self.auc[i, j], seeds=int(self.seeds[i, j])))
        return sorted(out, key=lambda r: -r["accuracy"])


def sweep_grid(records: Sequence[Mapping[str, Any]]) -> SweepGrid:
    """Aggregate the sweep's per-run records (fractions) into a :class:`SweepGrid` (percent)."""
    t1s = tuple(sorted({float(r["t1"]) for r in records}))
    t2s = tuple(sorted({float(r["t2"]) for r in records}))
    shape = (len(t1s), len(t2s))
    acc, seed_std, fold_std, auc = (np.full(shape, np.nan) for _ in range(4))
    seeds = np.zeros(shape, dtype=int)
    for i, a in enumerate(t1s):
        for j, b in enumerate(t2s):
            cell = [r for r in records if float(r["t1"]) == a and float(r["t2"]) == b]
            if not cell:
                continue
            values = np.array([r["accuracy"] for r in cell]) * 100
            acc[i, j], seed_std[i, j] = values.mean(), values.std()
            fold_std[i, j] = np.mean([r["accuracy_std"] for r in cell]) * 100
            auc[i, j] = np.mean([r["auc"] for r in cell])
            seeds[i, j] = len(cell)
    return SweepGrid(t1s, t2s, acc, seed_std, fold_std, auc, seeds)


def plot_sweep(grid: SweepGrid, chosen: tuple[float, float] | None = None, ax=None):
    """Heat map of the mean accuracy over (t1, t2), each cell annotated with mean and spread.

    The annotation is "mean" over "± std over seeds" when more than one seed ran, else
    "± fold std" (the 10-fold spread of the single run). ``chosen`` is outlined.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    image = ax.imshow(grid.accuracy, origin="lower", cmap="viridis", aspect="auto")
    plt.colorbar(image, ax=ax, label="verification accuracy (%), mean over seeds")
    many = grid.seeds.max() > 1
    finite = grid.accuracy[np.isfinite(grid.accuracy)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(grid.t1)):
        for j in range(len(grid.t2)):
            if not grid.seeds[i, j]:
                ax.text(j, i, "t2 ≥ t1" if grid.t2[j] >= grid.t1[i] else "not run", ha="center",
                        va="center", fontsize=8, color="0.4")
                continue
            spread = grid.seed_std[i, j] if many else grid.fold_std[i, j]
            colour = "black" if grid.accuracy[i, j] > middle else "white"
            ax.text(j, i, f"{grid.accuracy[i, j]:.2f}\n± {spread:.2f}", ha="center", va="center",
                    fontsize=8, color=colour)
    if chosen is not None and chosen[0] in grid.t1 and chosen[1] in grid.t2:
        i, j = grid.t1.index(chosen[0]), grid.t2.index(chosen[1])
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.set_xticks(range(len(grid.t2)), [f"{v:g}" for v in grid.t2])
    ax.set_yticks(range(len(grid.t1)), [f"{v:g}" for v in grid.t1])
    ax.set_xlabel(r"$t_2$ (upper limit of $\cos\theta_j$)")
    ax.set_ylabel(r"$t_1$ (lower limit of $\cos\theta_y$)")
    what = "± std over seeds" if many else "± std over the 10 folds"
    ax.set_title(f"EqM (reconstructed) thresholds: accuracy (%) {what}", fontsize=10)
    return ax


__all__ = ["GradientMap", "eqm_gradient_map", "plot_zero_gradient_region", "SweepFileMissing",
           "load_sweep", "SweepGrid", "sweep_grid", "plot_sweep", "SWEEP_FILE", "SWEEP_COMMAND"]
