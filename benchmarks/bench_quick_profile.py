"""The quick-profile benchmark: every loss of the course, several seeds, on the synthetic faces.

Each (loss, seed) pair is one training run of the ``quick`` profile (synthetic faces, narrow
ResNet-18 at 32 px, CPU), evaluated with the LFW 10-fold protocol on the synthetic test pairs.
Runs go through :func:`fr_course.experiments.run_many`, so a run the chapters already trained is
read from the cache instead of training again (and a run trained here is reused by the chapters).
The table reports, per loss, the mean ± population standard deviation (ddof = 0) over seeds of the
final 10-fold accuracy, and every run's accuracy. Chapter 11 reads the result file.

    python benchmarks/bench_quick_profile.py                        # 11 losses x seeds 0 1 2
    python benchmarks/bench_quick_profile.py --seeds 0 --losses softmax cosface --epochs 1 \\
        --stem quick-benchmark-smoke                                # a smoke run, not the benchmark

Writes ``benchmarks/results/<stem>.json`` and ``.md`` (default stem ``quick-benchmark``): the
quick profile's configuration, per-run accuracies, mean ± std, hardware, torch version, commit,
date and the command. ``--epochs`` (or ``--set``) changes the profile: such a file is not the
quick-profile benchmark, and the script refuses to write it under the default stem.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

from fr_course import experiments, losses  # noqa: E402
from fr_course.plots.style import loss_label  # noqa: E402  (display names: "EqM (reconstructed)", ...)

DEFAULT_STEM = "quick-benchmark"
KIND = "fr_course.quick_benchmark"
VERSION = 1
# Config fields that differ between the runs of one benchmark (or do not change a result).
_PER_RUN_FIELDS = ("loss", "loss_kwargs", "seed", "out_dir", "num_workers", "progress", "verbose")
def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` TrainConfig overrides, coerced by the training config's own parser."""
    from fr_course.training import parse_overrides as parse

    return parse(pairs) if pairs else {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--losses", nargs="+", default=list(losses.LOSSES), metavar="LOSS",
                        help="losses to run (default: all %(default)s)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED",
                        help="training seeds (default: 0 1 2); the synthetic data set is the same for all")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the quick profile's epochs (smoke runs only; needs --stem)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="any other TrainConfig override (smoke runs only; needs --stem)")
    parser.add_argument("--stem", default=DEFAULT_STEM,
                        help="result file name in benchmarks/results/ (default: %(default)s)")
    parser.add_argument("--retrain", action="store_true", help="ignore cached runs and train again")
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """Validate the command line; return the TrainConfig overrides it asks for."""
    unknown = [name for name in args.losses if name not in losses.LOSSES]
    if unknown:
        parser.error(f"--losses: unknown loss(es) {', '.join(unknown)}; valid: {', '.join(losses.LOSSES)}")
    if len(set(args.losses)) != len(args.losses) or len(set(args.seeds)) != len(args.seeds):
        parser.error("--losses and --seeds must not repeat a value")
    if any(seed < 0 for seed in args.seeds):
        parser.error("--seeds must be >= 0")
    try:
        overrides = parse_overrides(args.overrides)
    except ValueError as error:
        parser.error(f"--set: {error}")
    if args.epochs is not None:
        if args.epochs < 1:
            parser.error("--epochs must be >= 1")
        overrides["epochs"] = args.epochs
    for key in ("loss", "seed", "profile", "loss_kwargs"):
        if key in overrides:
            parser.error(f"--set {key}=...: use --losses/--seeds; the benchmark runs every loss with its "
                         "quick-profile hyper-parameters")
    if overrides and args.stem == DEFAULT_STEM:
        parser.error(f"--epochs/--set change the quick profile: write such a run under another --stem, "
                     f"not {DEFAULT_STEM!r}")
    return overrides


def profile_config(overrides: dict) -> dict:
    """The settings shared by every run of the benchmark (the quick profile plus ``overrides``)."""
    config = experiments.config_for(next(iter(losses.LOSSES)), **overrides).to_dict()
    return {key: value for key, value in config.items() if key not in _PER_RUN_FIELDS}


def run_all(names: list[str], seeds: list[int], overrides: dict, retrain: bool) -> tuple[dict, list[dict]]:
    """Every (loss, seed) run, with progress on stderr; returns the runs and one record per run."""
    runs, records = {}, []
    total = len(names) * len(seeds)
    start = time.perf_counter()
    if not retrain:
        # The runs the cache lacks train side by side first (one process per core, each bit-identical
        # to the run trained alone); the loop below then reads them.
        experiments.run_many(names, seeds, **overrides)
    for loss in names:
        for seed in seeds:
            done = len(records)
            print(f"[{done + 1}/{total}] {loss} seed {seed} ...", end="", file=sys.stderr, flush=True)
            began = time.perf_counter()
            run = experiments.run_many([loss], seeds=[seed], retrain=retrain, **overrides)[(loss, seed)]
            seconds = time.perf_counter() - began
            runs[(loss, seed)] = run
            records.append({
                "loss": loss, "seed": seed,
                "accuracy": round(100 * run.accuracy, 4), "accuracy_std": round(100 * run.accuracy_std, 4),
                "loss_kwargs": run.results["config"]["loss_kwargs"],
                "final_loss": run.results.get("final_loss"),
                "train_seconds": run.results.get("timings", {}).get("train_s"),
                "wall_seconds_here": round(seconds, 1), "cache_key": run.key,
            })
            print(f" {run.accuracy_pct} % ({seconds:.0f} s; total {time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
    return runs, records


def markdown(summary: list[dict], records: list[dict], config: dict, seeds: list[int]) -> str:
    seed_cols = [f"seed {seed}" for seed in seeds]
    lines = [
        f"Quick profile: synthetic faces (preset `{config['synthetic_preset']}`), ResNet-18 of width "
        f"{config['width']} at {config['input_size']} px, {config['embedding_dim']}-d embeddings, "
        f"{config['epochs']} epochs, batch {config['batch_size']}, lr {config['lr']} ({config['schedule']}), "
        f"device {config['device']} (each run trained on one CPU thread, as the chapters train them). "
        "Accuracy: LFW 10-fold protocol on the synthetic test pairs, in %. "
        "Mean ± population std (ddof = 0) over seeds; EqM and HSM are reconstructions from the abstracts.",
        "",
        "| loss | name | seeds | accuracy (mean ± std) | " + " | ".join(seed_cols) + " |",
        "|---|---|---:|---:|" + "---:|" * len(seeds),
    ]
    by_run = {(r["loss"], r["seed"]): r for r in records}
    for row in summary:
        cells = [f"{by_run[(row['loss'], seed)]['accuracy']:.2f}" for seed in seeds]
        lines.append(f"| {row['loss']} | {loss_label(row['loss'])} | {row['seeds']} | {row['mean']:.2f} ± {row['std']:.2f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = check_arguments(parser, args)
    command = "python benchmarks/bench_quick_profile.py " + " ".join(sys.argv[1:] if argv is None else argv)
    config = profile_config(overrides)
    began = time.perf_counter()
    runs, records = run_all(args.losses, args.seeds, overrides, args.retrain)
    summary = [{**row, "label": loss_label(row["loss"]), "mean": round(row["mean"], 4),
                "std": round(row["std"], 4), "runs": [round(a, 4) for a in row["runs"]]}
               for row in experiments.summarize(runs)]
    payload = {
        "kind": KIND, "version": VERSION,
        "profile": "quick" if not overrides else "quick (modified: see overrides)",
        "overrides": overrides,
        "seeds": args.seeds, "losses": args.losses,
        "units": "accuracy in percent",
        "protocol": next(iter(runs.values())).verification.get("protocol"),
        "config": config,
        "summary": summary,
        "runs": records,
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    path = write_results(args.stem, payload, markdown(summary, records, config, args.seeds), command.strip())
    print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return path


if __name__ == "__main__":
    main()
