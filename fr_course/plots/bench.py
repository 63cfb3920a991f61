"""Pictures of the benchmarks: accuracies of every loss over seeds, and the Hard-Mining paper's
Table 1 beside our full-profile numbers.

* :func:`plot_benchmark` — one row per loss: every seed's accuracy as a dot, the mean as a bar end
  and the population standard deviation (ddof = 0) as an error bar. Input rows are those of
  :func:`fr_course.experiments.summarize` or the ``summary`` of ``benchmarks/results/quick-benchmark.json``
  (``loss``, ``mean``, ``std``, ``runs``; accuracies in percent).
* :func:`plot_table1_comparison` — grouped bars: the paper's LFW and YTF accuracies (its Table 1, the
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


def plot_benchmark(rows: Sequence[Mapping[str, Any]], ax=None, sort: bool = True, title: str | None = None,
                   xlabel: str = "verification accuracy (%)"):
    """Accuracy (%) per loss: seeds as dots, mean ± population std as a bar with an error bar.

    ``sort=True`` orders the losses by mean accuracy (best at the top); otherwise the rows' order
    is kept, first at the top. Colours and names come from :mod:`fr_course.plots.style`, so the
    reconstructions (EqM, HSM) are labelled as such. ``xlabel`` names the accuracy; the number of
    seeds is appended to it.
    """
    rows = _check_rows(rows)
    if sort:
        rows = sorted(rows, key=lambda row: row["mean"])
    else:
        rows = rows[::-1]
    ax = _axes(ax, (6.5, 0.42 * len(rows) + 1.2))
    all_runs = np.concatenate([np.asarray(row["runs"], dtype=float) for row in rows])
    low = float(min(all_runs.min(), min(row["mean"] - row["std"] for row in rows)))
    left = max(0.0, np.floor(low - 2.0))
    for y, row in enumerate(rows):
        colour = loss_color(row["loss"])
        ax.barh(y, row["mean"] - left, left=left, height=0.6, color=colour, alpha=0.25)
        ax.errorbar(row["mean"], y, xerr=row["std"], fmt="|", color=colour, capsize=4, markersize=14, lw=1.5)
        runs = np.asarray(row["runs"], dtype=float)
        offsets = np.linspace(-0.15, 0.15, len(runs)) if len(runs) > 1 else np.zeros(1)
        ax.scatter(runs, y + offsets, s=18, color=colour, edgecolors="white", linewidths=0.5, zorder=3)
        ax.annotate(f"{row['mean']:.1f} ± {row['std']:.1f}", (row["mean"] + row["std"], y),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [loss_label(row["loss"]) for row in rows])
    right = float(max(all_runs.max(), max(row["mean"] + row["std"] for row in rows)))
    ax.set_xlim(left, min(100.0, right + 0.12 * (right - left) + 1.5))
    ax.set_ylim(-0.6, len(rows) - 0.4)
    seeds = sorted({len(row["runs"]) for row in rows})
    ax.set_xlabel(f"{xlabel}, {'/'.join(map(str, seeds))} seed(s): mean ± std")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_table1_comparison(ours=None, ax=None):
    """The Hard-Mining paper's Table 1 (ResNet18, CASIA-WebFace → LFW/YTF) beside our LFW numbers.

    ``ours`` is a :class:`fr_course.results.FullProfileResults` (see
    :func:`fr_course.results.load_full_profile_results`) or ``None`` when no full-profile run has
    been recorded: our bars are then replaced by the words "not yet run". One group per method,
    three bars per group: the paper's LFW and YTF (light: the paper's published numbers) and our
    LFW (dark, with the population std over the 10 folds). Hard-Mining variants are hatched.
    """
    from ..results import BENCHMARKS, NOT_YET_RUN, TABLE1_METHODS, paper_table1

    paper = paper_table1()
    methods = list(TABLE1_METHODS)
    ax = _axes(ax, (7.5, 4.0))
    x = np.arange(len(methods))
    width = 0.26
    series = [(key, "paper", colour) for key, colour in zip(paper.benchmarks, ("0.55", "0.8"))]
    series.append(("lfw", "ours", "tab:red"))
    heights = []
    for offset, (key, source, colour) in zip((-width, 0.0, width), series):
        label = f"{BENCHMARKS[key]} ({'paper, Table 1' if source == 'paper' else 'ours, full profile'})"
        labelled = False
        for i, method in enumerate(methods):
            hatch = "//" if TABLE1_METHODS[method]["loss"] == "hard_mining" else None
            value = paper.rows[method][key] if source == "paper" else (
                None if ours is None else ours.rows.get(method, {}).get(key))
            if value is None:
                ax.text(x[i] + offset, 0.5, NOT_YET_RUN if ours is None else "not run", transform=ax.get_xaxis_transform(), rotation=90,
                        ha="center", va="center", fontsize=7, color=colour)
                continue
            ax.bar(x[i] + offset, value.mean, width, color=colour, hatch=hatch, edgecolor="white",
                   yerr=value.std, capsize=2, label=None if labelled else label)
            labelled = True
            heights.append(value.mean)
        if not labelled:  # keep the series in the legend even when nothing of it was drawn
            ax.bar(np.nan, np.nan, width, color=colour, label=f"{label}: {NOT_YET_RUN}")
    ax.set_ylim(max(0.0, float(np.floor(min(heights) - 3.0))), 100.0)
    ax.set_xticks(x, methods, rotation=20)
    ax.set_ylabel("verification accuracy (%)")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return ax
