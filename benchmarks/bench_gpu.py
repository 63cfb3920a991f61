"""GPU throughput of the face-recognition training step: ResNet-18 and iResNet-18 at 112×112, batch 512.

Per backbone, four precision/layout modes — ``fp32``; ``bf16`` (``torch.autocast``; the loss heads
compute in float32 themselves); ``bf16+cl`` (+ channels_last); ``bf16+cl+compile`` (+
``torch.compile`` of the backbone) — each fed from:

* ``resident``: uint8 batches already on the GPU (a pool of 4, cycled): the model's cost alone;
* ``pipeline``: the trainer's input path — ``CasiaWebFace`` (RecordIO read + JPEG decode on the
  CPU) -> ``DataLoader`` (``--workers`` processes, pinned memory) -> GPU, on CASIA-shaped synthetic
  RecordIO data (``data_scripts/make_synthetic_casia.py``, made once in the cache);
* ``loader only``: that DataLoader with no model — the input path's own capacity;
* ``pipeline, decode on device``: the trainer's other input path (``decode="device"``,
  :mod:`fr_course.data.device_decode`): the workers only read RecordIO bytes, each batch is decoded
  on the GPU by nvJPEG in one ``torchvision.io.decode_jpeg`` call — the fix when ``pipeline`` is
  slower than ``resident`` (run in the fastest resident mode of the first backbone);
* ``loader only`` and ``loader only, decode on device``: the two input paths with no model — their
  own capacity.

A step is the trainer's: flip + normalise on the GPU, backbone + ArcFace head (C = 10,572, CASIA's
classes), backward, gradient clipping at 5, SGD with momentum. ``resident`` modes are timed
round-robin (``--steps`` per call, ``--rounds`` rounds); the ``pipeline`` rows run each mode for a
sustained stretch after draining the loader's prefetch queue, because a queue filled while another
contender ran would flatter the next one. Reported: images/s, the ratio to fp32 on the same data,
training FLOPs per image (``torch.utils.flop_counter.FlopCounterMode`` on one fp32 step: forward +
backward of backbone and head), the fraction of the GPU's dense bf16 peak (datasheet, by
``torch.cuda.get_device_name``) and of a bf16 8192³ matmul measured in the same run, and the
projected time of 20 CASIA-WebFace epochs (490,623 images each, without evaluation).

    python benchmarks/bench_gpu.py                      # needs CUDA: writes results/gpu-<gpu>.{json,md}
    python benchmarks/bench_gpu.py --device cpu --smoke # seconds on a CPU: the code path, no files
    python benchmarks/bench_gpu.py --index              # only refresh results/gpu.md (the book's GPU section)

Without a CUDA GPU (and without ``--device cpu --smoke``) it prints why and exits with status 0.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader, RandomSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, interleaved_times, write_results  # noqa: E402

from fr_course import losses, models  # noqa: E402
from fr_course.data.transforms import normalize, random_hflip  # noqa: E402
from fr_course.training.optim import parameter_groups  # noqa: E402

CASIA_IMAGES, CASIA_CLASSES = 490_623, 10_572
#: Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from NVIDIA's datasheets; first match wins.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0))


@dataclass(frozen=True)
class Mode:
    bf16: bool
    channels_last: bool
    compile: bool


MODES = {"fp32": Mode(False, False, False), "bf16": Mode(True, False, False),
         "bf16+cl": Mode(True, True, False), "bf16+cl+compile": Mode(True, True, True)}


def peak_bf16_tflops(name: str) -> float | None:
    """Datasheet dense bf16 peak of a GPU from its ``torch.cuda.get_device_name``, None if unknown."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in name.lower():
            return tflops
    return None


class Trainee:
    """One backbone + ArcFace head + SGD in one mode, and the trainer's step on a uint8 batch."""

    def __init__(self, model: str, mode: Mode, device: torch.device, *, width: int, input_size: int,
                 embedding_dim: int, num_classes: int):
        torch.manual_seed(0)
        self.device, self.mode = device, mode
        self.backbone = models.build(model, embedding_dim=embedding_dim, input_size=input_size, width=width).to(device)
        if mode.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.head = losses.build("arcface", embedding_dim=embedding_dim, num_classes=num_classes).to(device)
        self.optimizer = torch.optim.SGD(parameter_groups([self.backbone, self.head], 5e-4), lr=0.01, momentum=0.9)
        self.forward = torch.compile(self.backbone) if mode.compile else self.backbone
        self.flips = torch.Generator().manual_seed(0)

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        x = normalize(random_hflip(images, self.flips))
        if self.mode.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.mode.bf16):
            loss = self.head(self.forward(x), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.backbone.parameters(), 5.0)
        self.optimizer.step()

    def run(self, batches: Iterator, steps: int) -> None:
        for _ in range(steps):
            self.step(*next(batches))


def train_flops(model: str, device: torch.device, batch: int, **kwargs) -> int:
    """FLOPs of one fp32 training step (forward + backward of backbone and head) at ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    trainee = Trainee(model, MODES["fp32"], device, **kwargs)
    images = torch.randint(0, 256, (batch, 3, kwargs["input_size"], kwargs["input_size"]), dtype=torch.uint8,
                           device=device)
    labels = torch.randint(0, kwargs["num_classes"], (batch,), device=device)
    with FlopCounterMode(display=False) as counter:
        trainee.step(images, labels)
    return int(counter.get_total_flops())


def matmul_tflops(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """Measured bf16 matmul rate (TFLOP/s) of an n×n×n product: the GPU's practical ceiling."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def endless_loader(dataset, batch: int, workers: int, pin: bool) -> Iterator:
    """A DataLoader like the trainer's (workers, pinned memory, prefetch 4) over an endless random
    stream of the dataset's items, so a sustained run never stops at an epoch boundary."""
    loader = DataLoader(dataset, batch_size=batch, sampler=_endless_sampler(dataset), num_workers=workers,
                        pin_memory=pin, drop_last=True, prefetch_factor=4 if workers > 0 else None)
    return iter(loader)


def device_decoded(dataset, batch: int, workers: int, device: torch.device, input_size: int) -> Iterator:
    """The trainer's device-decode path (``fr_course.data.device_decode``) on the same endless stream:
    workers read the JPEG bytes, each batch is decoded on ``device`` in one ``decode_jpeg`` call."""
    from fr_course.data import device_decode

    loader = device_decode.encoded_loader(dataset, _endless_sampler(dataset), batch, workers)
    decoder = device_decode.DeviceJpegDecoder(dataset, device, input_size)
    return (decoder(b) for b in loader)


def _endless_sampler(dataset) -> RandomSampler:
    return RandomSampler(dataset, replacement=True, num_samples=10**9, generator=torch.Generator().manual_seed(0))


def sustained_rate(run: Callable[[int], None], steps: int, warmup: int, batch: int, device) -> float:
    """Images/s over ``steps`` steps after ``warmup`` steps (which drain any prefetched batches)."""
    run(warmup)
    _sync(device)
    start = time.perf_counter()
    run(steps)
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def write_gpu_index(results: Path | None = None) -> Path:
    """``results/gpu.md``: every GPU result table recorded so far, or a "not yet measured" note.

    The book's Performance page includes this file, so it shows GPU numbers exactly when a result
    file records them. Sources: ``gpu-*.md`` (this script), ``train-gpu*.md`` (``bench_train.py``
    on CUDA), ``pipeline-gpu.md`` (``bench_pipeline.py`` on CUDA)."""
    results = Path(results or RESULTS)
    files = sorted(results.glob("gpu-*.md")) + sorted(results.glob("train-gpu*.md")) + \
        sorted(results.glob("pipeline-gpu.md"))
    text = ["<!-- Written by benchmarks/bench_gpu.py (write_gpu_index) from the GPU result files; "
            "do not edit. -->", ""]
    if not files:
        text += ["**GPU: not yet measured.** No CUDA GPU was available when the results in this folder were "
                 "recorded, so this section has no numbers. On a machine with a GPU, run "
                 "`python benchmarks/bench_gpu.py` (throughput, fraction of peak, projected CASIA time), "
                 "`python benchmarks/bench_train.py --profile paper --data synthetic-casia` (trainer overhead "
                 "at 112 px), which both refresh this file, and `python benchmarks/bench_pipeline.py` (input "
                 "pipeline with GPU decode) followed by `python benchmarks/bench_gpu.py --index`."]
    for path in files:
        lines = path.read_text().splitlines()
        if lines and lines[0].startswith("# "):
            lines = [f"### {lines[0][2:]}"] + lines[1:]
        text += lines + [""]
    out = results / "gpu.md"
    out.write_text("\n".join(text).rstrip() + "\n")
    return out


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--models", nargs="+", default=["resnet18", "iresnet18"], choices=sorted(models.MODELS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed call (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds, resident data (default %(default)s)")
    parser.add_argument("--pipeline-steps", type=int, default=40,
                        help="timed steps of each sustained pipeline run (default %(default)s)")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1),
                        help="DataLoader workers of the pipeline rows (default: cores, at most 16)")
    parser.add_argument("--scale", type=float, default=0.05,
                        help="scale of the synthetic CASIA data (default %(default)s: ~24.5k images)")
    parser.add_argument("--no-pipeline", action="store_true", help="resident data only")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="dense bf16 peak of this GPU (TFLOP/s) when its name is not in the table")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model/batch/data, 1 round: checks the code path (with --device cpu), no files")
    parser.add_argument("--index", action="store_true", help="only rewrite results/gpu.md and exit")
    args = parser.parse_args(argv)
    if args.index:
        print(f"wrote {write_gpu_index()}")
        return None
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU is available; skipped. Run it on a machine with a GPU "
              "(`python benchmarks/bench_gpu.py`), or `--device cpu --smoke` to check the code path.",
              file=sys.stderr)
        return None
    if args.device == "cpu" and not args.smoke:
        parser.error("the CPU is only for --smoke (a batch of 512 at 112 px would take hours per mode)")
    device = torch.device(args.device)
    width, input_size, embedding_dim, num_classes = 64, 112, 512, CASIA_CLASSES
    if args.smoke:
        width, input_size, embedding_dim, num_classes = 8, 32, 32, 50
        args.batch_size, args.steps, args.rounds, args.pipeline_steps = 8, 2, 1, 2
        args.workers, args.scale = min(args.workers, 1), 0.001
    if device.type == "cpu":  # torch.compile on a CPU needs a C++ toolchain and minutes: not in a smoke test
        args.modes = [m for m in args.modes if not MODES[m].compile]
    arch = dict(width=width, input_size=input_size, embedding_dim=embedding_dim, num_classes=num_classes)
    gpu_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke)"
    peak = args.peak_tflops or peak_bf16_tflops(gpu_name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: as the trainer does on a GPU
    load_before = os.getloadavg()

    matmul_n = 256 if args.smoke else 8192
    measured_tflops = matmul_tflops(device, n=matmul_n, repeats=2 if args.smoke else 20)
    print(f"{gpu_name}: bf16 matmul {measured_tflops:.0f} TFLOP/s measured; datasheet peak "
          f"{peak if peak else 'unknown (pass --peak-tflops)'}", file=sys.stderr)

    dataset = None
    if not args.no_pipeline:
        from bench_train import synthetic_casia

        from fr_course.data.casia import CasiaWebFace

        dataset = CasiaWebFace(synthetic_casia(args.scale, input_size))
        if len(dataset) < args.batch_size:
            raise SystemExit(f"{dataset!r} has fewer images than one batch of {args.batch_size}: raise --scale")
    pin = device.type == "cuda"
    # the DataLoader queues up to workers x prefetch_factor (4) batches: drain them before timing
    warmup_steps = 1 if args.smoke else 4 * args.workers + 4

    rows = []
    for model in args.models:
        flops = train_flops(model, device, args.batch_size, **arch)
        trainees, compile_s = {}, {}
        for mode in args.modes:
            trainees[mode] = Trainee(model, MODES[mode], device, **arch)
        pool = [(torch.randint(0, 256, (args.batch_size, 3, input_size, input_size), dtype=torch.uint8,
                               device=device),
                 torch.randint(0, num_classes, (args.batch_size,), device=device)) for _ in range(4)]
        resident = itertools.cycle(pool)
        for mode, trainee in trainees.items():  # first calls: cuDNN autotuning, compilation
            start = time.perf_counter()
            trainee.run(resident, 2)
            _sync(device)
            compile_s[mode] = time.perf_counter() - start
            print(f"{model} {mode}: first 2 steps {compile_s[mode]:.1f} s", file=sys.stderr)
        times = interleaved_times({mode: (lambda t=trainee, r=resident: t.run(r, args.steps))
                                   for mode, trainee in trainees.items()},
                                  rounds=args.rounds, warmup=1, sync=lambda: _sync(device))
        fp32 = times.get("fp32")
        for mode, seconds in times.items():
            rows.append(_row(model, mode, "resident", args.batch_size * args.steps / statistics.median(seconds),
                             statistics.median(a / b for a, b in zip(fp32, seconds)) if fp32 else None,
                             flops, args.batch_size, peak, measured_tflops, first_steps_s=compile_s[mode]))
        if dataset is not None:
            base = None
            for mode, trainee in trainees.items():
                try:
                    batches = endless_loader(dataset, args.batch_size, args.workers, pin)
                    rate = sustained_rate(lambda n, t=trainee, b=batches: t.run(b, n), args.pipeline_steps,
                                          warmup_steps, args.batch_size, device)
                    del batches
                except Exception as exc:  # e.g. too little shared memory for the workers: keep the rest
                    rows.append({"model": model, "mode": mode, "data": "pipeline", "images_per_s": None,
                                 "error": f"{type(exc).__name__}: {exc}"})
                    continue
                base = base or (rate if mode == "fp32" else None)
                rows.append(_row(model, mode, "pipeline", rate, rate / base if base else None, flops,
                                 args.batch_size, peak, measured_tflops))
                print(f"{model} {mode} pipeline: {rate:,.0f} images/s", file=sys.stderr)
            if model == args.models[0]:
                rows.append(device_decode_row(rows, model, trainees, dataset, args, input_size, warmup_steps, flops,
                                              peak, measured_tflops, device))
        del trainees, pool, resident
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if dataset is not None:
        try:
            batches = endless_loader(dataset, args.batch_size, args.workers, pin)

            def drain(n: int, b=batches) -> None:
                for _ in range(n):
                    images, _ = next(b)
                    images.to(device, non_blocking=True)

            rows.append(_row("—", "—", "loader only", sustained_rate(drain, args.pipeline_steps, warmup_steps,
                                                                       args.batch_size, device),
                             None, None, args.batch_size, None, None))
            del batches
        except Exception as exc:  # e.g. too little shared memory for the workers: keep the rest
            rows.append({"model": "—", "mode": "—", "data": "loader only", "images_per_s": None,
                         "error": f"{type(exc).__name__}: {exc}"})
        try:
            decoded = device_decoded(dataset, args.batch_size, args.workers, device, input_size)
            def pull(n: int, b=decoded) -> None:
                for _ in range(n):
                    next(b)

            rate = sustained_rate(pull, args.pipeline_steps, warmup_steps, args.batch_size, device)
            rows.append(_row("—", "—", "loader only, decode on device", rate, None, None, args.batch_size,
                             None, None))
        except Exception as exc:  # nvJPEG missing from this torchvision build, etc.: say so, keep the rest
            rows.append({"model": "—", "mode": "—", "data": "loader only, decode on device", "images_per_s": None,
                         "error": f"{type(exc).__name__}: {exc}"})

    load = {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]}
    payload = {"setting": {"device": gpu_name, "batch_size": args.batch_size, "input_size": input_size,
                           "width": width, "embedding_dim": embedding_dim, "num_classes": num_classes,
                           "head": "arcface", "steps_per_call": args.steps, "rounds": args.rounds,
                           "pipeline_steps": args.pipeline_steps, "pipeline_warmup_steps": warmup_steps,
                           "workers": args.workers, "cpu_count": os.cpu_count(),
                           "data": repr(dataset) if dataset is not None else None},
               "peak_bf16_tflops_datasheet": peak, "matmul_bf16_tflops_measured": measured_tflops, "matmul_n": matmul_n,
               "load_average": load, "rows": rows}
    table = render_markdown(payload)
    print(table)
    if not args.smoke:
        stem = "gpu-" + re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-")
        command = " ".join(["python", "benchmarks/bench_gpu.py", *(argv if argv is not None else sys.argv[1:])])
        path = write_results(stem, payload, table, command)
        write_gpu_index()
        print(f"wrote {path}, {path.with_suffix('.md')} and {RESULTS / 'gpu.md'}", file=sys.stderr)
    return payload


def device_decode_row(rows, model, trainees, dataset, args, input_size, warmup_steps, flops, peak, measured,
                      device) -> dict:
    """The pipeline with the JPEGs decoded on the device (nvJPEG on a GPU), in the fastest resident
    mode of ``model``."""
    best = max((r for r in rows if r["data"] == "resident" and r["model"] == model), key=lambda r: r["images_per_s"])
    try:
        decoded = device_decoded(dataset, args.batch_size, args.workers, device, input_size)
        trainee = trainees[best["mode"]]
        rate = sustained_rate(lambda n: trainee.run(decoded, n), args.pipeline_steps, warmup_steps,
                              args.batch_size, device)
    except Exception as exc:  # nvJPEG missing from this torchvision build, etc.: say so, keep the rest
        return {"model": model, "mode": best["mode"], "data": "pipeline, decode on device", "images_per_s": None,
                "error": f"{type(exc).__name__}: {exc}"}
    print(f"{model} {best['mode']} pipeline, decode on device: {rate:,.0f} images/s", file=sys.stderr)
    return _row(model, best["mode"], "pipeline, decode on device", rate, None, flops, args.batch_size, peak, measured)


def _row(model, mode, data, rate, ratio, flops, batch, peak, measured, first_steps_s=None) -> dict:
    row = {"model": model, "mode": mode, "data": data, "images_per_s": rate, "ratio_vs_fp32": ratio}
    if first_steps_s is not None:  # cuDNN autotuning, and compilation for the compile mode
        row["first_two_steps_s"] = first_steps_s
    if flops is not None:
        achieved = flops / batch * rate / 1e12
        row.update(train_gflops_per_image=flops / batch / 1e9, achieved_tflops=achieved,
                   fraction_of_peak=achieved / peak if peak else None,
                   fraction_of_measured_matmul=achieved / measured if measured else None)
    row["casia_20_epochs_h"] = 20 * CASIA_IMAGES / rate / 3600 if rate else None
    return row


def bottleneck_notes(rows: list[dict]) -> list[str]:
    """One sentence per backbone: is the input pipeline what limits its fastest mode?"""
    rate = {(r["model"], r["mode"], r["data"]): r["images_per_s"] for r in rows if r.get("images_per_s")}
    loaders = {data: v for (_, _, data), v in rate.items() if data.startswith("loader only")}
    notes = []
    for model in dict.fromkeys(r["model"] for r in rows if r["data"] == "resident"):
        resident = {mode: v for (m, mode, data), v in rate.items() if m == model and data == "resident"}
        best = max(resident, key=resident.get)
        fed = rate.get((model, best, "pipeline"))
        if fed is None:
            continue
        share = fed / resident[best]
        verdict = ("the input pipeline is the bottleneck" if share < 0.9 else "the input pipeline keeps up")
        device_fed = rate.get((model, best, "pipeline, decode on device"))
        notes.append(f"{model}, {best}: {resident[best]:,.0f} images/s on resident data, {fed:,.0f} through the "
                     f"DataLoader pipeline ({100 * share:.0f} %): {verdict}"
                     + (f"; with decoding on the device {device_fed:,.0f} images/s "
                        f"({100 * device_fed / resident[best]:.0f} %)" if device_fed else "") + ".")
    if loaders:
        notes.append("Input capacity without a model: "
                     + ", ".join(f"{k} {v:,.0f} images/s" for k, v in loaders.items())
                     + ".")
    return [" ".join(notes)] if notes else []


def render_markdown(payload: dict) -> str:
    s = payload["setting"]
    pct = (lambda v: f"{100 * v:.1f} %" if v is not None else "—")
    lines = ["| model | mode | data | images/s | × fp32 | GFLOP/image | TFLOP/s | of bf16 peak | of measured matmul "
             "| 20 CASIA epochs |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in payload["rows"]:
        if r.get("images_per_s") is None:
            lines.append(f"| {r['model']} | {r['mode']} | {r['data']} | not run: {r.get('error', '?')} "
                         f"| | | | | | |")
            continue
        ratio = f"{r['ratio_vs_fp32']:.2f}" if r.get("ratio_vs_fp32") else "—"
        if "train_gflops_per_image" in r:
            cost = (f"{r['train_gflops_per_image']:.3g} | {r['achieved_tflops']:.3g} | "
                    f"{pct(r['fraction_of_peak'])} | {pct(r['fraction_of_measured_matmul'])}")
        else:
            cost = "— | — | — | —"
        lines.append(f"| {r['model']} | {r['mode']} | {r['data']} | {r['images_per_s']:,.0f} | {ratio} | {cost} | "
                     f"{r['casia_20_epochs_h']:.2f} h |")
    lines += ["", *bottleneck_notes(payload["rows"])]
    peak = payload["peak_bf16_tflops_datasheet"]
    load = payload["load_average"]
    lines += ["", f"{s['device']}: dense bf16 peak {f'{peak:.0f} TFLOP/s (datasheet)' if peak else 'unknown'}; "
              f"a bf16 {payload['matmul_n']}³ matmul measured {payload['matmul_bf16_tflops_measured']:.3g} TFLOP/s in "
              f"this run. "
              f"Batch {s['batch_size']} at {s['input_size']}×{s['input_size']} px, width {s['width']}, "
              f"{s['embedding_dim']}-d, ArcFace head with {s['num_classes']:,} classes; a step = flip + normalise, "
              f"forward, backward, clip at 5, SGD. resident: {s['rounds']} round-robin rounds of {s['steps_per_call']} "
              f"steps; pipeline: {s['pipeline_steps']} steps after {s['pipeline_warmup_steps']} (queue-draining) "
              f"steps, {s['workers']} DataLoader workers on {s['cpu_count']} CPUs; data {s['data']}. FLOPs: "
              f"FlopCounterMode on one fp32 training step; 20 CASIA epochs = 20 × 490,623 images at that rate, "
              f"no evaluation. Load average {load['before']} before, {load['after']} after."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
