"""Pictures of the performance benchmarks (``benchmarks/bench_scale.py``).

* :func:`plot_scale` — the loss head's forward + backward time and its memory against the number
  of classes C, one line per head, with the ResNet-18 training step of the same run as a horizontal
  reference: where a line crosses it, the head costs as much as the backbone.
* :func:`save_scale_figure` — both panels side by side, written to a PNG.

Input is the payload of ``benchmarks/results/scale-cpu.json`` (``setting``, ``records``,
``model_reference``). Functions draw on axes and return them; they never call ``plt.show()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .style import LOSS_COLORS, loss_label

_MB = 2**20


def _check_payload(payload: Mapping[str, Any]) -> None:
    missing = [k for k in ("setting", "records", "model_reference") if k not in payload]
    if missing:
        raise ValueError(f"not a bench_scale result: lacks {', '.join(missing)} "
                         f"(expected the JSON written by benchmarks/bench_scale.py)")
    if not payload["records"]:
        raise ValueError("the bench_scale result has no records")


def _label(head: str) -> str:
    return "bare normalised linear + CE" if head == "bare" else loss_label(head)


def _color(head: str) -> str:
    return "tab:gray" if head == "bare" else LOSS_COLORS.get(head, "tab:gray")


def plot_scale(payload: Mapping[str, Any], what: str = "time", ax=None):
    """Head cost against C on log-log axes: ``what="time"`` (ms per step) or ``"memory"`` (MB:
    step peak + persistent weight and momentum). The dashed line is the ResNet-18 step at the same N."""
    if what not in ("time", "memory"):
        raise ValueError(f"what must be 'time' or 'memory', got {what!r}")
    _check_payload(payload)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5.5, 4))
    heads = list(payload["setting"]["heads"])
    for head in heads:
        rows = sorted((r for r in payload["records"] if r["head"] == head), key=lambda r: r["C"])
        values = [r["ms"] if what == "time" else r["step_peak_mb"] + r["persistent_mb"] for r in rows]
        ax.plot([r["C"] for r in rows], values, marker="o", ms=3, color=_color(head), label=_label(head),
                ls="--" if head == "bare" else "-")
    model = payload["model_reference"]
    n = payload["setting"]["N"]
    level = 1e3 * model["step_s_at_N"] if what == "time" else model["step_bytes_at_N"] / _MB
    ax.axhline(level, color="black", ls=":", lw=1)
    ax.annotate(f"ResNet-18 step, N={n}", (0.02, level), xycoords=("axes fraction", "data"),
                va="bottom", fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of classes C")
    ax.set_ylabel("forward + backward (ms)" if what == "time" else "memory (MB)")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def save_scale_figure(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Both panels of :func:`plot_scale` in one PNG at ``path``; returns the path.

    Sized for the book's ~688 px column (7 in at 100 dpi, text at 9 pt or more), with one legend
    for both panels under them, where it hides no line.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    plot_scale(payload, "time", axes[0])
    plot_scale(payload, "memory", axes[1])
    s = payload["setting"]
    axes[0].set_title(f"Head step time\nN={s['N']}, d={s['d']}, fp32 CPU", fontsize=10)
    axes[1].set_title("Head memory\n(step peak + weight + momentum)", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=9,
               frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
