"""Forward+backward cost of every loss head at CASIA-WebFace scale, against two baselines.

(a) ``bare``: a bare normalised-linear + CE step, ``CE(s · x̂ Ŵᵀ, y)`` — the least any cosine head
    must do; (b) pytorch-metric-learning's ArcFaceLoss / CosFaceLoss / SphereFaceLoss on identical
    inputs. Times are medians of per-round ratios, measured round-robin in one process. Peak memory is
    the growth of the resident set of a fresh process during three steps, over its size before them
    (inputs and weights already allocated), sampled every millisecond.

    python benchmarks/bench_losses.py            # N=512, d=512, C=10572, float32, CPU
    python benchmarks/bench_losses.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_times, median_ratio, write_results  # noqa: E402

from fr_course import losses, results  # noqa: E402

PML_TWINS = results.PML_TWINS  # ours -> the pytorch-metric-learning class (one list, in fr_course.results)


def head_kwargs(name: str, num_classes: int) -> dict:
    if name == "hsm":  # a CASIA-like long tail: counts from 2 to a few hundred
        rng = np.random.default_rng(0)
        return {"class_counts": np.maximum(2, rng.lognormal(3.3, 0.9, num_classes).astype(np.int64)).tolist()}
    if name == "sphereface":
        # PML's SphereFaceLoss has no λ annealing: compare the margin itself (and it costs the same)
        return {"lambda_base": 0.0, "lambda_min": 0.0}
    return {}


def make_inputs(n: int, d: int, c: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g)
    return x, y


def contenders(n: int, d: int, c: int, x: torch.Tensor, y: torch.Tensor) -> dict:
    """name -> (step function, module) for every head, the bare baseline and the PML twins."""
    steps = {}
    w_bare = torch.nn.Parameter(torch.empty(c, d))
    torch.nn.init.xavier_uniform_(w_bare)

    def bare():
        x.grad = w_bare.grad = None
        logits = F.linear(F.normalize(x), F.normalize(w_bare)) * 64.0
        F.cross_entropy(logits, y).backward()

    steps["bare"] = bare
    for name in losses.LOSSES:
        head = losses.build(name, embedding_dim=d, num_classes=c, **head_kwargs(name, c)).train()
        steps[name] = _step(head, x, y)
    from pytorch_metric_learning import losses as pml

    for ours, theirs in PML_TWINS.items():
        kwargs = {"margin": math.degrees(0.5)} if ours == "arcface" else {}
        loss = getattr(pml, theirs)(num_classes=c, embedding_size=d, **kwargs)
        steps[f"pml_{theirs}"] = _step(loss, x, y, params=[loss.W])
    return steps


def _step(module, x, y, params=None):
    params = list(params or module.parameters())

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        module(x, y).backward()

    return step


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb(name: str, n: int, d: int, c: int) -> float:
    """Peak growth (MiB) of the resident set during steps of ``name`` over the RSS before them.

    A thread samples ``/proc/self/statm`` every millisecond (ru_maxrss is useless here: importing
    a CUDA build of torch peaks higher than any loss step). Run in a fresh process so that the
    allocator holds nothing from other heads.
    """
    code = (
        "import sys, json; sys.path.insert(0, %r)\n"
        "import bench_losses as b\n"
        "x, y = b.make_inputs(%d, %d, %d)\n"
        "step = b.contenders_for(%r, %d, %d, %d, x, y)\n"
        "print(json.dumps(b.measure_peak(step)))\n"
    ) % (str(Path(__file__).resolve().parent), n, d, c, name, n, d, c)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_peak(step, repeats: int = 3) -> float:
    import threading
    import time

    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    for _ in range(repeats):
        step()
    done.set()
    thread.join()
    return peak[0] - base


def contenders_for(name, n, d, c, x, y):
    """The step function of one contender (the others' weights are built too, before the baseline RSS)."""
    return contenders(n, d, c, x, y)[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--c", type=int, default=10572)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="N=128, C=2000, 5 rounds, no result files")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-head peak-memory subprocesses")
    args = parser.parse_args()
    if args.quick:
        args.n, args.c, args.rounds = 128, 2000, 5
    torch.manual_seed(0)
    x, y = make_inputs(args.n, args.d, args.c)
    steps = contenders(args.n, args.d, args.c, x, y)
    print(f"N={args.n} d={args.d} C={args.c} float32 CPU, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds", file=sys.stderr)
    times = interleaved_times(steps, rounds=args.rounds)

    records = []
    for name in steps:
        ms = 1e3 * float(np.median(times[name]))
        rec = {"name": name, "ms": round(ms, 2), "ratio_vs_bare": round(median_ratio(times, name, "bare"), 3)}
        if name in PML_TWINS:
            rec["ratio_vs_pml"] = round(median_ratio(times, name, f"pml_{PML_TWINS[name]}"), 3)
        if not args.no_memory:
            rec["peak_mb"] = round(peak_mb(name, args.n, args.d, args.c), 1)
        records.append(rec)

    # the same table the Performance page renders from the JSON ("–" where no comparison exists)
    targets = {"ratio_vs_bare": 1.15, "ratio_vs_pml": 1.0}
    header, rows = results.loss_heads_table({"records": records, "targets": targets})
    table = results.render_table(header, rows, align=["l", "r", "r", "r", "r", "l"])
    print(table)
    if not args.quick:
        command = " ".join(["python", "benchmarks/bench_losses.py", *sys.argv[1:]])
        if os.environ.get("OMP_NUM_THREADS"):
            command = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " + command
        payload = {"setting": {"N": args.n, "d": args.d, "C": args.c, "dtype": "float32", "device": "cpu",
                               "rounds": args.rounds},
                   "targets": targets, "records": records}
        path = write_results("losses-cpu", payload, table, command)
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
