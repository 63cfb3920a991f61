"""How much every chapter run moves with the seed and with the CPU's instruction set.

The quick profile is deterministic on one machine, but PyTorch (``ATEN_CPU_CAPABILITY``) and oneDNN
(``ONEDNN_MAX_CPU_ISA``) choose their kernels by the CPU, and a reader's laptop, Colab and CI do not
have ours. Both variables emulate another CPU's arithmetic on this one. This script trains every
face run the chapters show (the list :data:`RUNS`, with the chapters' own settings) for each seed
under each instruction-set setting (:data:`ISAS`), and records per run the accuracy's mean, standard
deviation, minimum and maximum over all of them, the AUC and EER, and whether any run collapsed.

    python benchmarks/bench_spread.py                         # seeds 0 1 2 x the 3 settings
    python benchmarks/bench_spread.py --seeds 0 1 2 3 4       # more seeds: only the missing runs train
    python benchmarks/bench_spread.py --report                # rewrite the files from the cache only

Each run is trained in a child process that has the setting in its environment (the variables
are read when torch loads), single-threaded and two at a time, through the experiments cache,
whose key includes the setting: a finished run is never trained again, so the script resumes
where it stopped. Writes ``benchmarks/results/spread-cpu.{json,md,png}`` and the summary the
chapters' check cells read, ``fr_course/notebooks/spread.json``
(:mod:`fr_course.notebooks.spread` explains the tolerances derived from it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, git_commit, machine, write_results  # noqa: E402

from fr_course import experiments  # noqa: E402
from fr_course.notebooks import Chapter  # noqa: E402
from fr_course.notebooks.spread import SPREAD_FILE, spec_id  # noqa: E402

#: The instruction-set settings: this CPU's own kernels; PyTorch's unvectorised kernels with this
#: CPU's oneDNN convolutions (CI's nbval setting, see .ci/run: only ~1.3x slower here); and an old
#: SSE4.1-only CPU for both (~2.4x slower). On the 2-core AMD EPYC (AVX2) this was measured on, one
#: training step of the quick model took 105 / 131 / 245 ms with native / ATen default / oneDNN SSE41.
ISAS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "default-sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}

_IMBALANCE = {"synthetic_overrides": {"imbalance": 2.0}}  # chapters 6 and 7 (their IMBALANCE)
_NOISE = {"synthetic_overrides": {"label_noise": 0.2}}    # chapter 9 and assignment 4

#: Every face run of the chapters, as the chapters ask for it (Chapter.runs' spec format), by a
#: label naming where it is shown. Chapter 11 and the benchmark add the remaining losses' clean runs.
RUNS: dict[str, dict] = {
    "softmax": dict(loss="softmax"),
    "normface": dict(loss="normface"),
    "normface, learnable s": dict(loss="normface", loss_kwargs={"learn_scale": True}),
    "sphereface": dict(loss="sphereface"),
    "cosface": dict(loss="cosface"),
    "arcface": dict(loss="arcface"),
    "arcface (ste)": dict(loss="arcface", loss_kwargs={"grad": "ste"}),
    "combined": dict(loss="combined"),
    "eqm": dict(loss="eqm"),
    "hsm": dict(loss="hsm"),
    "cosface, imbalance 2": dict(loss="cosface", **_IMBALANCE),
    "eqm, imbalance 2": dict(loss="eqm", **_IMBALANCE),
    "hsm, imbalance 2": dict(loss="hsm", **_IMBALANCE),
    "sv_softmax": dict(loss="sv_softmax"),
    "sv_softmax, t = 1": dict(loss="sv_softmax", loss_kwargs={"t": 1.0}),
    "sface": dict(loss="sface"),
    "sface, 20% noise": dict(loss="sface", **_NOISE),
    "arcface, 20% noise": dict(loss="arcface", **_NOISE),
    "hard_mining": dict(loss="hard_mining"),
    "hard_mining, arcface": dict(loss="hard_mining", loss_kwargs={"base": "arcface"}),
}

#: A run whose accuracy is below this (a fraction) has collapsed: chance is 0.5.
COLLAPSE = 0.6


def request(spec: dict, seed: int) -> dict:
    """experiments.run's arguments for ``spec`` at ``seed``, exactly as a chapter builds them."""
    return Chapter("quick", seed=seed).run_kwargs(**spec)


def configs(names, seeds) -> list:
    return [experiments.config_for(**request(RUNS[name], seed)) for name in names for seed in seeds]


def train_under(isa: str, names, seeds, processes: int) -> None:
    """Train the missing runs under one setting, in a child process that has it in its environment."""
    env = {**os.environ, **ISAS[isa], "TQDM_DISABLE": "1"}
    for var in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"):
        if var not in ISAS[isa]:
            env.pop(var, None)
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bench_spread as b; "
            "b.experiments.train_missing(b.configs(json.loads(sys.argv[2]), json.loads(sys.argv[3])), "
            "processes=int(sys.argv[4]))")
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parent), json.dumps(list(names)),
                    json.dumps(list(seeds)), str(processes)], env=env, check=True)


def _with_isa(isa: str):
    """Compute cache keys as a process under ``isa`` would (the key includes the setting)."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        saved = {var: os.environ.get(var) for var in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
        for var in saved:
            os.environ.pop(var, None)
        os.environ.update(ISAS[isa])
        try:
            yield
        finally:
            for var, value in saved.items():
                os.environ.pop(var, None)
                if value is not None:
                    os.environ[var] = value
    return scope()


def recorded() -> dict[str, dict]:
    """The records of the committed result file, by cache key: a record whose key equals the key
    of the same (run, seed, setting) now was made by the same configuration and code, so it stands
    for the run and need not be trained again (the study resumes across machines and sessions)."""
    path = RESULTS / "spread-cpu.json"
    if not path.is_file():
        return {}
    return {r["key"]: r for r in json.loads(path.read_text()).get("records", []) if r.get("key")}


def missing_under(isa: str, names, seeds) -> list[str]:
    """The runs neither cached nor recorded for the current code under ``isa``."""
    from fr_course.paths import cache_dir

    known = recorded()
    out = []
    with _with_isa(isa):
        for name in names:
            for seed in seeds:
                key = experiments.cache_key(experiments.config_for(**request(RUNS[name], seed)))
                if key not in known and not (cache_dir("runs") / key / "done").is_file():
                    out.append(name)
    return list(dict.fromkeys(out))


def collect(names, seeds, isas) -> list[dict]:
    """The finished runs, one record each: from the cache, else from the committed result file."""
    from fr_course.paths import cache_dir

    known = recorded()
    records = []
    for isa in isas:
        with _with_isa(isa):
            for name in names:
                for seed in seeds:
                    config = experiments.config_for(**request(RUNS[name], seed))
                    key = experiments.cache_key(config)
                    path = cache_dir("runs") / key
                    if not (path / "done").is_file():
                        if key in known:
                            records.append({**known[key], "run": name})
                        continue
                    run = experiments._load(key, path)
                    v = run.verification
                    records.append({"run": name, "spec": spec_id(config), "key": key, "seed": seed, "isa": isa,
                                    "accuracy": v["accuracy"], "accuracy_std": v["accuracy_std"],
                                    "auc": v["auc"], "eer": v.get("eer"), "pairs": v.get("pairs"),
                                    "final_loss": run.results["final_loss"],
                                    "train_s": run.results["timings"].get("train_s"),
                                    "collapsed": v["accuracy"] < COLLAPSE})
    return records


def summarise(records: list[dict]) -> dict[str, dict]:
    import numpy as np

    out = {}
    for name in dict.fromkeys(r["run"] for r in records):
        rows = [r for r in records if r["run"] == name]
        acc = np.array([r["accuracy"] for r in rows])
        out[name] = {"label": name, "spec": rows[0]["spec"], "n": len(rows),
                     "seeds": sorted({r["seed"] for r in rows}), "isas": sorted({r["isa"] for r in rows}),
                     "mean": float(acc.mean()), "std": float(acc.std()), "min": float(acc.min()),
                     "max": float(acc.max()),
                     "isa_range_seed0": _isa_range([r for r in rows if r["seed"] == 0]),
                     "auc_min": float(min(r["auc"] for r in rows)),
                     "collapsed": sum(r["collapsed"] for r in rows),
                     "values": {f"{r['seed']}/{r['isa']}": r["accuracy"] for r in rows}}
    return out


def _isa_range(rows):
    if not rows:
        return None
    acc = [r["accuracy"] for r in rows]
    return float(max(acc) - min(acc))


def markdown(summary: dict, header: dict) -> str:
    lines = ["Quick profile (synthetic faces, `small` preset, 6,000 test pairs in 10 folds, LFW protocol). "
             "Settings: " + "; ".join(f"`{k}` = {v or 'no override'}" for k, v in ISAS.items()) + ".", "",
             "Accuracy in %: mean, population std, min and max over every (seed, setting); the range over "
             "the settings at seed 0; the smallest AUC; runs below 60 % (collapsed).", "",
             "| run | runs | mean | std | min | max | ISA range, seed 0 | min AUC | collapsed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary.values():
        isa0 = "–" if s["isa_range_seed0"] is None else f"{100 * s['isa_range_seed0']:.2f}"
        lines.append(f"| {s['label']} | {s['n']} | {100 * s['mean']:.2f} | {100 * s['std']:.2f} | "
                     f"{100 * s['min']:.2f} | {100 * s['max']:.2f} | {isa0} | {s['auc_min']:.4f} | {s['collapsed']} |")
    return "\n".join(lines) + "\n"


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["run"] for r in records))
    markers = dict(zip(ISAS, "osD"))
    fig, ax = plt.subplots(figsize=(7.0, 0.32 * len(names) + 1.2))
    for i, name in enumerate(names):
        for isa in ISAS:
            xs = [100 * r["accuracy"] for r in records if r["run"] == name and r["isa"] == isa]
            ax.scatter(xs, [i] * len(xs), marker=markers[isa], s=18, alpha=0.7,
                       label=isa if i == 0 else None, facecolors="none" if isa != "native" else None,
                       edgecolors=f"C{list(ISAS).index(isa)}", color=f"C{list(ISAS).index(isa)}")
    ax.set_yticks(range(len(names)), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("verification accuracy (%), one point per seed and setting", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--isas", nargs="+", default=list(ISAS), choices=list(ISAS))
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), metavar="RUN")
    parser.add_argument("--processes", type=int, default=experiments.default_processes())
    parser.add_argument("--report", action="store_true", help="only rewrite the result files from the cache")
    parser.add_argument("--no-package-file", action="store_true",
                        help=f"do not rewrite {SPREAD_FILE.name} (the check cells' record)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if not args.report:
        # seed by seed, every setting for each seed, so an interrupted run leaves a balanced record
        for seed in args.seeds:
            for isa in args.isas:
                todo = missing_under(isa, args.runs, [seed])
                print(f"[spread] seed {seed}, {isa}: {len(todo)} run(s) to train", flush=True)
                if todo:
                    train_under(isa, todo, [seed], args.processes)
    records = collect(args.runs, args.seeds, args.isas)
    if not records:
        print("bench_spread: no finished run in the cache", file=sys.stderr)
        return 1
    summary = summarise(records)
    command = " ".join(["python benchmarks/bench_spread.py", *(sys.argv[1:] if argv is None else argv)])
    header = {"kind": "fr_course.spread", "command": command,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": git_commit(),
              "machine": machine(), "isas": ISAS, "tolerances": "see fr_course/notebooks/spread.py",
              "wall_s_this_invocation": round(time.perf_counter() - start, 1)}
    write_results("spread-cpu", {"kind": header["kind"], "isas": ISAS, "summary": summary, "records": records,
                                 "wall_s_this_invocation": header["wall_s_this_invocation"]},
                  markdown(summary, header), command)
    plot(records, RESULTS / "spread-cpu.png")
    if not args.no_package_file:
        SPREAD_FILE.write_text(json.dumps({"kind": "fr_course.spread", "date": header["date"],
                                           "commit": header["commit"], "isas": ISAS,
                                           "runs": {s["spec"]: {k: v for k, v in s.items() if k != "spec"}
                                                    for s in summary.values()}}, indent=1, sort_keys=True) + "\n")
    collapsed = [r for r in records if r["collapsed"]]
    for r in collapsed:
        print(f"[spread] COLLAPSED: {r['run']} seed {r['seed']} {r['isa']}: {100 * r['accuracy']:.2f} %")
    print(markdown(summary, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
