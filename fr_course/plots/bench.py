"""Pictures of the benchmarks: accuracies of every loss over seeds, and the Hard-Mining paper's
Table 1 beside our full-profile numbers.

* :func:`plot_benchmark` — one row per loss: every seed's accuracy as a dot and the mean with the
  population standard deviation over seeds (ddof = 0) as an error bar, drawn as differences from a
  reference loss (the levels are written beside the axes). Input rows are those of
  :func:`fr_course.experiments.summarize` or the ``summary`` of ``benchmarks/results/quick-benchmark.json``
  (``loss``, ``mean``, ``std``, ``runs``; accuracies in percent).
* :func:`plot_table1_comparison` — a dot chart: the paper's LFW and YTF accuracies (its Table 1, the
  paper's numbers, not ours) and our full-profile LFW accuracy per method, or "not yet run".

Both draw on an axes and return it; they never call ``plt.show()``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .style import loss_color, loss_label

_REQUIRED_ROW_KEYS = ("loss", "mean", "std", "runs")


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rows = list(rows)
    if not rows:
        raise ValueError("plot_benchmark needs at least one row")
    for i, row in enumerate(rows):
        missing = [key for key in _REQUIRED_ROW_KEYS if key not in row]
        if missing:
            raise ValueError(f"row {i} ({row.get('loss', '?')!r}) lacks {', '.join(missing)}; "
                             f"each row needs {', '.join(_REQUIRED_ROW_KEYS)}")
        values = np.asarray(row["runs"], dtype=float)
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"row {i} ({row['loss']!r}): 'runs' must be a non-empty list of finite accuracies")
        if np.any(values < 0) or np.any(values > 100) or not 0 <= row["mean"] <= 100:
            raise ValueError(f"row {i} ({row['loss']!r}): accuracies must be percentages in [0, 100]")
    return rows


def _reference(rows: Sequence[Mapping[str, Any]], reference: str | None) -> tuple[float, str]:
    """The accuracy the differences are measured from, and how the axis label names it."""
    for row in rows:
        if reference is not None and row["loss"] == reference:
            return float(row["mean"]), f"{loss_label(reference)}'s mean"
    return float(np.mean([row["mean"] for row in rows])), "the mean of the losses shown"


def plot_benchmark(rows: Sequence[Mapping[str, Any]], ax=None, sort: bool = True, title: str | None = None,
                   xlabel: str = "verification accuracy", reference: str | None = "softmax"):
    """Accuracy per loss as a dot plot of *differences*: how far each loss is from a reference.

    One row per loss: every seed's accuracy as a small dot, the mean as a larger marker with the
    population standard deviation over the seeds (ddof = 0) as an error bar, all in points of
    accuracy minus the reference — the mean of loss ``reference`` (default Softmax, the baseline)
    or, when it is not among the rows, the mean of all the losses shown. The axis is centred on 0
    and at least ±1 point wide, so a spread of a few points is drawn as what it is, and no bar
    suggests a length measured from an arbitrary origin. The levels are written in a column to
    the right of the axes ("mean ± std over seeds", in %), where they overlap no dot.

    ``sort=True`` orders the losses by mean accuracy (best at the top); otherwise the rows' order
    is kept, first at the top. Colours and names come from :mod:`fr_course.plots.style`, so the
    reconstructions (EqM, HSM) are labelled as such. ``xlabel`` names the accuracy.
    """
    rows = _check_rows(rows)
    rows = sorted(rows, key=lambda row: row["mean"]) if sort else rows[::-1]
    ax = _axes(ax, (6.0, 0.38 * len(rows) + 1.4))
    ref_value, ref_name = _reference(rows, reference)
    seeds = sorted({len(row["runs"]) for row in rows})
    reach = 0.0
    for y, row in enumerate(rows):
        colour = loss_color(row["loss"])
        runs = np.asarray(row["runs"], dtype=float) - ref_value
        mean, std = float(row["mean"]) - ref_value, float(row["std"])
        reach = max(reach, float(np.abs(runs).max()), abs(mean) + std)
        offsets = np.linspace(-0.18, 0.18, len(runs)) if len(runs) > 1 else np.zeros(1)
        ax.scatter(runs, y + offsets, s=16, color=colour, alpha=0.7, linewidths=0, zorder=3)
        ax.errorbar(mean, y, xerr=std, fmt="D", color=colour, markersize=6, capsize=4, lw=1.5, zorder=4)
        # the level, outside the axes on the right: never on top of a dot
        ax.annotate(f"{row['mean']:.1f} ± {row['std']:.1f}", xy=(1.0, y), xycoords=("axes fraction", "data"),
                    xytext=(8, 0), textcoords="offset points", ha="left", va="center", fontsize=9)
    spread = "over seeds" if max(seeds) > 1 else "(one seed: no spread)"
    ax.annotate(f"mean ± std\n{spread}, %", xy=(1.0, 1.0), xycoords="axes fraction", xytext=(8, 4),
                textcoords="offset points", ha="left", va="bottom", fontsize=9)
    half = max(1.0, 1.15 * reach)
    ax.set_xlim(-half, half)
    ax.axvline(0.0, color="0.5", lw=1, zorder=1)
    ax.set_yticks(range(len(rows)), [loss_label(row["loss"]) for row in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(f"{xlabel}: difference from {ref_name} ({ref_value:.1f} %), points\n"
                  f"{'/'.join(map(str, seeds))} seed(s) per loss: dots, mean ± std over seeds", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_table1_comparison(ours=None, ax=None):
    """The Hard-Mining paper's Table 1 (ResNet18, CASIA-WebFace → LFW/YTF) beside our LFW numbers.

    ``ours`` is a :class:`fr_course.results.FullProfileResults` (see
    :func:`fr_course.results.load_full_profile_results`) or ``None`` when no full-profile run has
    been recorded: our points are then replaced by the words "not yet run". One column per method,
    three markers per column: the paper's LFW and YTF accuracies (grey: the paper's published
    numbers) and our LFW accuracy (red, with the population std over the 10 folds as an error
    bar). A dot chart rather than bars: the axis does not start at 0, and no bar length suggests a
    ratio that does not exist. Hard-Mining variants have hollow markers.
    """
    from ..results import BENCHMARKS, NOT_YET_RUN, TABLE1_METHODS, paper_table1

    paper = paper_table1()
    methods = list(TABLE1_METHODS)
    ax = _axes(ax, (7.0, 4.0))
    x = np.arange(len(methods))
    series = [(key, "paper", colour, marker)
              for key, colour, marker in zip(paper.benchmarks, ("0.35", "0.6"), ("o", "s"))]
    series.append(("lfw", "ours", "tab:red", "D"))
    heights = []
    for offset, (key, source, colour, marker) in zip((-0.2, 0.0, 0.2), series):
        label = f"{BENCHMARKS[key]} ({'paper, Table 1' if source == 'paper' else 'ours, full profile'})"
        labelled = False
        for i, method in enumerate(methods):
            hollow = TABLE1_METHODS[method]["loss"] == "hard_mining"
            value = paper.rows[method][key] if source == "paper" else (
                None if ours is None else ours.rows.get(method, {}).get(key))
            if value is None:
                ax.text(x[i] + offset, 0.5, NOT_YET_RUN if ours is None else "not run",
                        transform=ax.get_xaxis_transform(), rotation=90, ha="center", va="center",
                        fontsize=9, color=colour)
                continue
            ax.errorbar(x[i] + offset, value.mean, yerr=value.std, fmt=marker, color=colour,
                        markersize=7, capsize=3, markerfacecolor="white" if hollow else colour,
                        markeredgewidth=1.5, label=None if labelled else label)
            labelled = True
            heights.append(value.mean + (value.std or 0.0))
            heights.append(value.mean - (value.std or 0.0))
        if not labelled:  # keep the series in the legend even when nothing of it was drawn
            ax.errorbar([np.nan], [np.nan], fmt=marker, color=colour, label=f"{label}: {NOT_YET_RUN}")
    low = float(np.floor(min(heights) - 1.0))
    ax.set_ylim(max(0.0, low), min(100.0, max(float(np.ceil(max(heights) + 1.0)), low + 6.0)))
    ax.set_xticks(x, methods, rotation=20)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel("verification accuracy (%)")
    # under the axes, where it covers no point; hollow markers: Hard-Mining variants
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return ax
