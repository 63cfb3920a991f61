"""The threshold sweep of EqM (reconstructed): verification accuracy over a grid of (t1, t2).

Chapter 6's setting: the quick profile (synthetic faces, narrow ResNet-18 at 32 px, CPU) with the
chapter's long tail (``synthetic_overrides={"imbalance": IMBALANCE}``, the value read from
``notebooks/06_eqm.ipynb``), the quick profile's own EqM scale, and ``t1``/``t2`` from the grid.
Every run goes through :func:`fr_course.experiments.run_all`, so it is cached by configuration and
the runs the cache lacks train side by side, one per core, each single-threaded (the numbers are
those of a run trained alone). The script is resumable: it works seed by seed, rewrites the result
files after each seed, and a second start reads every finished run from the cache.

    python benchmarks/bench_eqm_sweep.py                       # t1 ∈ {0.5, 0.7, 0.9} × t2 ∈ {-0.1, 0.1, 0.3}, seeds 0 1
    python benchmarks/bench_eqm_sweep.py --seeds 0 1 2         # one more seed (reuses the cached ones)
    python benchmarks/bench_eqm_sweep.py --t1 0.7 --t2 0.1 --seeds 0 --epochs 1 --stem eqm-sweep-smoke

Writes ``benchmarks/results/<stem>.json`` (command, date, commit, machine, setting, and one record
per run: t1, t2, seed, accuracy, accuracy_std, auc, as fractions), ``<stem>.md`` (the table: mean
over seeds, population std over seeds, mean 10-fold std) and ``<stem>.png`` (the heat map of
:func:`fr_course.plots.eqm.plot_sweep`). ``--epochs`` changes the profile: such a file is not the
sweep, and the script refuses to write it under the default stem.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_results  # noqa: E402

from fr_course import experiments, losses  # noqa: E402

DEFAULT_STEM = "eqm-sweep"
KIND = "fr_course.eqm_sweep"
VERSION = 1
CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "06_eqm.ipynb"
DEFAULT_T1 = (0.5, 0.7, 0.9)
DEFAULT_T2 = (-0.1, 0.1, 0.3)
# Config fields that differ between the runs of the sweep (or do not change a result).
_PER_RUN_FIELDS = ("loss_kwargs", "seed", "out_dir", "num_workers", "progress", "verbose")


def chapter_imbalance(path: Path = CHAPTER) -> float:
    """The ``IMBALANCE = ...`` assignment of chapter 6's code cells."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        match = re.search(r"^IMBALANCE\s*=\s*([0-9.]+)", source, flags=re.M)
        if match:
            return float(match.group(1))
    raise SystemExit(f"no `IMBALANCE = <number>` line in the code cells of {path}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t1", nargs="+", type=float, default=list(DEFAULT_T1), metavar="T1",
                        help="lower limits of the target cosine (default: %(default)s)")
    parser.add_argument("--t2", nargs="+", type=float, default=list(DEFAULT_T2), metavar="T2",
                        help="upper limits of the other cosines (default: %(default)s); pairs with t2 >= t1 "
                             "are skipped")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], metavar="SEED",
                        help="training seeds (default: 0 1), run one after the other")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the quick profile's epochs (smoke runs only; needs --stem)")
    parser.add_argument("--processes", type=int, default=None,
                        help="runs trained at once (default: one per usable core)")
    parser.add_argument("--stem", default=DEFAULT_STEM,
                        help="result file name in benchmarks/results/ (default: %(default)s)")
    return parser


def grid_pairs(t1s, t2s) -> list[tuple[float, float]]:
    """Every (t1, t2) of the grid that the loss accepts (-1 ≤ t2 < t1 ≤ 1)."""
    return [(a, b) for a in t1s for b in t2s if -1.0 <= b < a <= 1.0]


def requests_for(pairs, seed: int, imbalance: float, epochs: int | None) -> dict:
    extra = {} if epochs is None else {"epochs": epochs}
    return {(t1, t2, seed): dict(loss="eqm", seed=seed, loss_kwargs={"t1": t1, "t2": t2},
                                 synthetic_overrides={"imbalance": imbalance}, **extra)
            for t1, t2 in pairs}


def record(t1: float, t2: float, seed: int, run) -> dict:
    entry = run.verification
    return {"t1": t1, "t2": t2, "seed": seed, "accuracy": entry["accuracy"],
            "accuracy_std": entry["accuracy_std"], "auc": entry.get("auc"),
            "final_loss": run.epoch_losses[-1] if run.history else None, "cache_key": run.key}


def setting(imbalance: float, epochs: int | None) -> dict:
    config = experiments.config_for("eqm", synthetic_overrides={"imbalance": imbalance},
                                    **({} if epochs is None else {"epochs": epochs}))
    shared = {k: v for k, v in config.to_dict().items() if k not in _PER_RUN_FIELDS}
    return {"profile": config.profile, "loss": "eqm", "imbalance": imbalance,
            "loss_kwargs_besides_t1_t2": dict(config.loss_kwargs), "config": shared}


def table_markdown(payload: dict) -> str:
    from fr_course.plots.eqm import sweep_grid

    grid = sweep_grid(payload["records"])
    seeds = sorted({r["seed"] for r in payload["records"]})
    lines = [
        f"EqM (reconstructed), chapter 6's setting: quick profile, synthetic faces with imbalance = "
        f"{payload['setting']['imbalance']:g}, loss settings {payload['setting']['loss_kwargs_besides_t1_t2']} "
        f"plus t1, t2. Accuracy in % (the LFW 10-fold protocol on the synthetic test pairs): mean over "
        f"the seeds run ({', '.join(map(str, seeds))}), population std (ddof = 0) over those seeds, "
        "and the mean over seeds of the std over the 10 folds. Sorted by mean accuracy.",
        "",
        "| t1 | t2 | seeds | accuracy (%) | ± std over seeds | ± std over the 10 folds | AUC |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in grid.rows():
        lines.append(f"| {row['t1']:g} | {row['t2']:g} | {row['seeds']} | {row['accuracy']:.2f} | "
                     f"{row['seed_std']:.2f} | {row['fold_std']:.2f} | {row['auc']:.4f} |")
    defaults = losses.hyperparameters(losses.LOSSES["eqm"])
    lines += ["", f"Highest mean: t1 = {grid.best()[0]:g}, t2 = {grid.best()[1]:g}. "
                  f"The loss's defaults at this commit: t1 = {defaults['t1']:g}, t2 = {defaults['t2']:g}."]
    return "\n".join(lines)


def write_figure(payload: dict, stem: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fr_course.plots.eqm import plot_sweep, sweep_grid

    defaults = losses.hyperparameters(losses.LOSSES["eqm"])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    plot_sweep(sweep_grid(payload["records"]), chosen=(defaults["t1"], defaults["t2"]), ax=ax)
    path = RESULTS / f"{stem}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.epochs is not None and args.stem == DEFAULT_STEM:
        parser.error("--epochs changes the quick profile: write such a run under another --stem")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be >= 1")
    if any(seed < 0 for seed in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds must be distinct and >= 0")
    pairs = grid_pairs(args.t1, args.t2)
    if not pairs:
        parser.error("no (t1, t2) pair of the grid has -1 <= t2 < t1 <= 1")
    imbalance = chapter_imbalance()
    command = "python benchmarks/bench_eqm_sweep.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                        " " + " ".join(sys.argv[1:] if argv is None else argv))
    payload = {"kind": KIND, "version": VERSION, "setting": setting(imbalance, args.epochs),
               "grid": {"t1": sorted(set(args.t1)), "t2": sorted(set(args.t2))}, "seeds": [], "records": []}
    start = time.perf_counter()
    for seed in args.seeds:
        runs = experiments.run_all(requests_for(pairs, seed, imbalance, args.epochs), processes=args.processes)
        payload["records"] += [record(t1, t2, s, run) for (t1, t2, s), run in runs.items()]
        payload["seeds"].append(seed)
        payload["wall_seconds"] = round(time.perf_counter() - start, 1)
        write_results(args.stem, payload, table_markdown(payload), command)
        write_figure(payload, args.stem)
        print(f"[eqm-sweep] seed {seed} recorded ({len(payload['records'])} runs, "
              f"{payload['wall_seconds']:.0f} s so far)", flush=True)
    print((RESULTS / f"{args.stem}.md").read_text())
    return payload


if __name__ == "__main__":
    main()
