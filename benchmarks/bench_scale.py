"""How the loss head's step time and memory grow with the number of classes C, and where a
sampled / partial-FC softmax would pay off.

For C in 1k ... 100k, at N = 512 embeddings of d = 512 (float32, CPU), one forward + backward of:
``bare`` (normalised linear + CE, ``CE(s · x̂ Ŵᵀ, y)``, the least a cosine head does) and the heads
arcface, cosface, sface, hard_mining (default base: softmax) and eqm (reconstructed). The heads of
one C are timed round-robin in one process (fewer rounds at large C, where one step takes seconds),
together with a fixed reference step (the bare head at C = 10,000) in every round. A shared
machine's slow phases outlast a round, so each time is kept as a ratio to the reference of its own
round and reported as that ratio times the reference's median over the whole run: the curve over C
is not bent by which C happened to run during a slow phase. The fitted slope (least squares over C,
on relative residuals) gives milliseconds and megabytes per 1,000 classes.

Peak memory is the peak of the bytes that torch's CPU allocator holds during one step, above what it
held when the step began (inputs and weights): every allocation and free of the step is recorded by
``torch.profiler`` (``profile_memory=True``) with its size and time, and we take the maximum of the
running sum. It includes the gradient buffers the step leaves behind (``x.grad``, ``weight.grad``)
and excludes the weight itself and SGD's momentum buffer, which are reported analytically as the
persistent state ``2·C·d·4`` bytes. As a cross-check, the resident-set growth of a fresh process
during one step (sampled every millisecond, as ``bench_losses.py`` does) is recorded at one C.

The baseline for "where the head dominates" is a ResNet-18 training step (``fr_course.models``'s
``resnet18``, width 64, 112×112, 512-d; forward + backward + SGD) timed and memory-profiled here on
the same CPU at a small batch and scaled linearly to N; its FLOPs come from
``torch.utils.flop_counter`` (training step ≈ 3 × forward).

    python benchmarks/bench_scale.py            # ~4-5 min on 2 cores; writes results/scale-cpu.*
    python benchmarks/bench_scale.py --smoke    # seconds, tiny sizes, writes nothing
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_losses import head_kwargs, make_inputs  # noqa: E402
from common import RESULTS, interleaved_times, write_results  # noqa: E402

from fr_course import losses, models  # noqa: E402

HEADS = ("bare", "arcface", "cosface", "sface", "hard_mining", "eqm")
REFERENCE_C = 10_000  # C of the reference step (the bare head) timed in every round
CLASSES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
MB = 2**20


def rounds_for(c: int) -> int:
    """Fewer rounds where one step takes seconds: keeps the whole run near 4 minutes on 2 cores."""
    return 5 if c <= 10_000 else 3 if c <= 20_000 else 2


def head_step(name: str, x: torch.Tensor, y: torch.Tensor, c: int) -> tuple[Callable[[], None], list]:
    """(forward + backward of head ``name``, the tensors whose gradients it fills)."""
    d = x.shape[1]
    if name == "bare":
        weight = torch.nn.Parameter(torch.empty(c, d))
        torch.nn.init.xavier_uniform_(weight)
        params = [x, weight]

        def step() -> None:
            x.grad = weight.grad = None
            F.cross_entropy(F.linear(F.normalize(x), F.normalize(weight)) * 64.0, y).backward()

        return step, params
    head = losses.build(name, embedding_dim=d, num_classes=c, **head_kwargs(name, c)).train()
    params = [x, *head.parameters()]

    def step() -> None:
        for p in params:
            p.grad = None
        head(x, y).backward()

    return step, params


@contextlib.contextmanager
def _quiet_stderr():
    """The profiler's C++ side prints start/stop lines on fd 2 each time; hide them."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def profiled_peak_bytes(step: Callable[[], None], params: list) -> int:
    """Peak of the bytes held by torch's CPU allocator during ``step``, above the level at its start.

    Gradients are cleared before the profiler starts, so that frees of blocks allocated before it
    (whose sizes it does not know) cannot hide in the running sum."""
    from torch.profiler import ProfilerActivity, profile

    for p in params:
        p.grad = None
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        raise RuntimeError("this torch version's profiler exposes no kineto_results: cannot read memory events")
    events = sorted((e.start_ns(), e.nbytes()) for e in results.events() if e.name() == "[memory]")
    if not events:
        raise RuntimeError("the profiler recorded no memory event (profile_memory=True had no effect)")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def rss_growth_mb(name: str, n: int, d: int, c: int) -> float:
    """Resident-set growth (MiB) of a fresh process during one step of ``name`` (cross-check)."""
    code = ("import sys, json; sys.path.insert(0, %r)\n"
            "import bench_losses, bench_scale as b\n"
            "x, y = b.make_inputs(%d, %d, %d)\n"
            "step, _ = b.head_step(%r, x, y, %d)\n"
            "print(json.dumps(bench_losses.measure_peak(step, repeats=1)))\n") % (str(Path(__file__).resolve().parent),
                                                                        n, d, c, name, c)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def model_step(batch: int, width: int, input_size: int, embedding_dim: int):
    """A ResNet-18 training step (forward, a stand-in scalar loss, backward, SGD with momentum)."""
    torch.manual_seed(0)
    model = models.build("resnet18", embedding_dim=embedding_dim, input_size=input_size, width=width).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, input_size, input_size)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(images).square().mean().backward()
        optimizer.step()

    return step, model, list(model.parameters())


def model_cost(batches: tuple[int, int], rounds: int, width: int, input_size: int, embedding_dim: int,
               reference: Callable[[], None]) -> dict:
    """Per-image time and activation memory of a ResNet-18 step, from two small batches.

    Memory: the profiled step peak at two batch sizes; the difference over the batch difference is
    the per-image part (activations), the rest is fixed (gradients). Time: per image at the larger
    batch, as a ratio to the ``reference`` step timed beside it (see :func:`main`)."""
    small, large = batches
    out = {"batches": list(batches), "input_size": input_size, "width": width}
    peaks = {}
    for b in batches:
        step, model, params = model_step(b, width, input_size, embedding_dim)
        step()  # warm-up (and the momentum buffers exist from here on)
        peaks[b] = profiled_peak_bytes(step, params)
        if b == large:
            times = interleaved_times({"ref": reference, "model": step}, rounds=rounds, warmup=0, progress=False)
            out["step_s_at_large_batch_raw"] = statistics.median(times["model"])
            out["ratio_to_reference"] = statistics.median(a / r for a, r in zip(times["model"], times["ref"]))
            out["reference_s"] = times["ref"]
            out["macs_per_image"] = models.complexity(model, input_size)["macs"]
            out["params"] = sum(p.numel() for p in model.parameters())
    out["activation_bytes_per_image"] = (peaks[large] - peaks[small]) / (large - small)
    out["fixed_step_bytes"] = peaks[small] - small * out["activation_bytes_per_image"]
    out["peak_bytes"] = {str(b): peaks[b] for b in batches}
    return out


def fit_line(xs, ys) -> tuple[float, float]:
    """Slope and intercept minimising the *relative* residuals (least squares weighted by 1/y), so
    that the small-C points, whose times are as precise in relative terms, count as much as the
    large ones."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    slope, intercept = np.polyfit(xs, ys, 1, w=1.0 / ys)
    return float(slope), float(intercept)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--classes", type=int, nargs="+", default=list(CLASSES), metavar="C")
    parser.add_argument("--heads", nargs="+", default=list(HEADS), choices=list(HEADS))
    parser.add_argument("--model-batches", type=int, nargs=2, default=(4, 8), metavar=("B1", "B2"),
                        help="two batch sizes of the ResNet-18 reference step (default 4 8)")
    parser.add_argument("--crosscheck-c", type=int, default=50_000,
                        help="C of the resident-set cross-check of the profiled peak (0: skip)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round: checks the code path, no files")
    args = parser.parse_args(argv)
    width, input_size = 64, 112
    if args.smoke:
        args.n, args.d, args.classes, args.model_batches = 32, 16, [100, 300], (2, 4)
        args.crosscheck_c = 300
        width, input_size = 8, 32
    b1, b2 = args.model_batches
    if any(c < 2 for c in args.classes) or min(args.n, args.d) < 1 or not 2 <= b1 < b2:
        parser.error("need C >= 2, N, d >= 1 and 2 <= B1 < B2 (batch norm needs two images)")
    classes = sorted(set(args.classes))
    load_before = os.getloadavg()
    print(f"N={args.n} d={args.d} C={classes} float32 CPU, {torch.get_num_threads()} torch thread(s)", file=sys.stderr)

    # A fixed workload timed in every round beside the heads: a shared machine's slow phases last
    # longer than a round, so each time is kept as a ratio to it, then scaled by its median over
    # the whole run (below) -- the absolute times of different C stay comparable.
    ref_c = min(REFERENCE_C, max(classes))
    x_ref, y_ref = make_inputs(args.n, args.d, ref_c, seed=1)
    reference, _ = head_step("bare", x_ref, y_ref, ref_c)
    reference()
    print("ResNet-18 reference step ...", file=sys.stderr)
    model = model_cost(tuple(args.model_batches), 1 if args.smoke else 3, width, input_size, args.d, reference)
    ref_times = list(model.pop("reference_s"))

    from tqdm import tqdm

    records = []
    for c in tqdm(classes, desc="classes", unit="C", file=sys.stderr):
        x, y = make_inputs(args.n, args.d, c)
        steps, peaks = {}, {}
        for name in args.heads:
            step, params = head_step(name, x, y, c)
            peaks[name] = profiled_peak_bytes(step, params)  # also the warm-up step
            steps[name] = step
        times = interleaved_times({"ref": reference, **steps}, rounds=1 if args.smoke else rounds_for(c), warmup=0,
                                  progress=False)
        ref_times += times["ref"]
        for name in args.heads:
            records.append({"head": name, "C": c,
                            "ratio_to_reference": statistics.median(a / r for a, r in zip(times[name], times["ref"])),
                            "ms_raw": 1e3 * statistics.median(times[name]),
                            "ms_all": [1e3 * t for t in times[name]],
                            "ratio_vs_bare": (statistics.median(a / b for a, b in zip(times[name], times["bare"]))
                                              if "bare" in times else None),
                            "step_peak_mb": peaks[name] / MB,
                            "persistent_mb": 2 * c * args.d * 4 / MB})
        del steps, x, y

    crosscheck = []
    if args.crosscheck_c:
        for name in [h for h in (("bare",) if args.smoke else ("bare", "arcface")) if h in args.heads]:
            x, y = make_inputs(args.n, args.d, args.crosscheck_c)
            step, params = head_step(name, x, y, args.crosscheck_c)
            crosscheck.append({"head": name, "C": args.crosscheck_c,
                               "profiled_peak_mb": profiled_peak_bytes(step, params) / MB,
                               "rss_growth_mb": rss_growth_mb(name, args.n, args.d, args.crosscheck_c)})

    ref_s = statistics.median(ref_times)
    for r in records:
        r["ms"] = 1e3 * ref_s * r["ratio_to_reference"]
    model["step_s_at_large_batch"] = ref_s * model["ratio_to_reference"]
    model["s_per_image"] = model["step_s_at_large_batch"] / model["batches"][1]
    model_step_s = model["s_per_image"] * args.n
    model_bytes = model["fixed_step_bytes"] + model["activation_bytes_per_image"] * args.n

    fits = {}
    for name in args.heads:
        rows = [r for r in records if r["head"] == name]
        cs = [r["C"] for r in rows]
        t_slope, t_icpt = fit_line(cs, [r["ms"] for r in rows])
        m_slope, m_icpt = fit_line(cs, [r["step_peak_mb"] + r["persistent_mb"] for r in rows])
        # where the head alone costs as much as the ResNet-18 step (time), or holds as much memory
        c_time = (1e3 * model_step_s - t_icpt) / t_slope if t_slope > 0 else None
        c_mem = (model_bytes / MB - m_icpt) / m_slope if m_slope > 0 else None
        fits[name] = {"ms_per_1k_classes": 1e3 * t_slope, "ms_intercept": t_icpt,
                      "mb_per_1k_classes": 1e3 * m_slope, "mb_intercept": m_icpt,
                      "crossover_C_time": c_time, "crossover_C_memory": c_mem}
    # FLOPs: the head's three (N, d) x (d, C) products vs the model's 3 x forward
    model_flops = 3 * 2 * model["macs_per_image"] * args.n
    flop_crossover_c = model_flops / (3 * 2 * args.n * args.d)
    load = {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]}

    payload = {
        "setting": {"N": args.n, "d": args.d, "classes": classes, "heads": list(args.heads), "dtype": "float32",
                    "device": "cpu", "rounds": {str(c): 1 if args.smoke else rounds_for(c) for c in classes}},
        "memory_method": ("step peak: maximum running sum of torch.profiler memory events (CPU allocator) over "
                          "one forward+backward, above the level at its start; persistent: weight + SGD "
                          "momentum, 2*C*d*4 bytes"),
        "reference": {"what": f"bare head step at C={ref_c}, N={args.n}, d={args.d}", "median_s": ref_s,
                      "all_s": ref_times},
        "model_reference": {**model, "N": args.n, "step_s_at_N": model_step_s, "step_bytes_at_N": model_bytes,
                            "train_flops_at_N": model_flops},
        "flop_crossover_C": flop_crossover_c, "records": records, "fits": fits, "crosscheck": crosscheck,
        "load_average": load,
    }
    table = render_markdown(payload)
    print(table)
    if not args.smoke:
        command = " ".join(["python", "benchmarks/bench_scale.py", *(argv if argv is not None else sys.argv[1:])])
        if os.environ.get("OMP_NUM_THREADS"):
            command = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " + command
        path = write_results("scale-cpu", payload, table, command)
        try:
            from fr_course.plots.performance import save_scale_figure

            save_scale_figure(payload, RESULTS / "scale-cpu.png")
        except ImportError as exc:  # matplotlib is optional for the numbers
            print(f"no plot: {exc}", file=sys.stderr)
        print(f"wrote {path}, {path.with_suffix('.md')} and scale-cpu.png", file=sys.stderr)
    return payload


def _num(value: float) -> str:
    """Three significant digits at most, thousands separated (1,234 / 56.7 / 0.12)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render_markdown(payload: dict) -> str:
    """The tables of the Markdown result file (everything from ``payload``)."""
    s = payload["setting"]
    heads, classes = s["heads"], s["classes"]
    by = {(r["head"], r["C"]): r for r in payload["records"]}
    label = {h: ("EqM (reconstructed)" if h == "eqm" else h) for h in heads}
    ref = payload["reference"]
    out = [f"Forward + backward time (ms: median over rounds of the ratio to the reference step of the same round "
           f"— {ref['what']} — times its median over the run, {1e3 * ref['median_s']:,.0f} ms; "
           f"× bare in brackets):",
           "",
           "| C | " + " | ".join(label[h] for h in heads) + " |", "|---:|" + "---:|" * len(heads)]
    for c in classes:
        cells = []
        for h in heads:
            r = by[(h, c)]
            cells.append(_num(r["ms"]) + (f" ({r['ratio_vs_bare']:.2f})" if h != "bare" and r["ratio_vs_bare"] else ""))
        out.append(f"| {c:,} | " + " | ".join(cells) + " |")
    out += ["", "Step peak memory (MB above inputs and weights; profiler) — add the persistent weight + "
            "momentum, 2·C·d·4 bytes, shown last:", "",
            "| C | " + " | ".join(label[h] for h in heads) + " | persistent |", "|---:|" + "---:|" * (len(heads) + 1)]
    for c in classes:
        out.append(f"| {c:,} | " + " | ".join(_num(by[(h, c)]["step_peak_mb"]) for h in heads)
                   + f" | {_num(by[(heads[0], c)]['persistent_mb'])} |")
    m = payload["model_reference"]
    out += ["", f"Linear fits over C, and the C at which the head alone costs as much as a ResNet-18 training step "
            f"at N={s['N']} (time: {m['step_s_at_N']:.1f} s; memory: {m['step_bytes_at_N'] / MB:,.0f} MB):", "",
            "| head | ms per 1k classes | MB per 1k classes | C where head time = model step | "
            "C where head memory = model step |", "|---|---:|---:|---:|---:|"]
    for h in heads:
        f = payload["fits"][h]
        fmt = (lambda v: f"{v:,.0f}" if v is not None else "—")
        out.append(f"| {label[h]} | {f['ms_per_1k_classes']:.1f} | {f['mb_per_1k_classes']:.1f} | "
                   f"{fmt(f['crossover_C_time'])} | {fmt(f['crossover_C_memory'])} |")
    out += ["", f"ResNet-18 reference (width {m['width']}, {m['input_size']}×{m['input_size']} px, {s['d']}-d): "
            f"{m['macs_per_image'] / 1e9:.2f} GMACs per image; step time {1e3 * m['s_per_image']:.0f} ms per image "
            f"(measured at batch {m['batches'][1]}, scaled to N={s['N']}: {m['step_s_at_N']:.1f} s); step memory "
            f"{m['activation_bytes_per_image'] / MB:.1f} MB per image + {m['fixed_step_bytes'] / MB:.0f} MB "
            f"(profiled at batches {m['batches'][0]} and {m['batches'][1]}). By FLOPs alone (matrix products: head "
            f"3·2·N·d·C, model 3·2·MACs·N) the head would equal the model at "
            f"C ≈ {payload['flop_crossover_C']:,.0f}."]
    for cc in payload["crosscheck"]:
        out.append(f"Cross-check at C={cc['C']:,} ({cc['head']}): profiled step peak {cc['profiled_peak_mb']:,.0f} MB, "
                   f"resident-set growth of a fresh process {cc['rss_growth_mb']:,.0f} MB.")
    load = payload["load_average"]
    out.append(f"\nN={s['N']}, d={s['d']}, float32, CPU; rounds per C {s['rounds']}. Load average (1/5/15 min) "
               f"{load['before']} before, {load['after']} after.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
