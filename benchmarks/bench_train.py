"""Trainer overhead: images/s of ``Trainer``'s training loop against a minimal hand-written loop.

Both contenders do the same work on the same batches: the same backbone and loss head (the minimal
loop starts from a copy of the trainer's initial weights), the same SGD parameter groups and
learning-rate schedule (``fr_course.training.optim``), the same seeded batch order and flips
(``fr_course.training.sampling``), the same flip + normalisation, autocast, channels_last and
gradient clipping as the profile asks. What the minimal loop leaves out is the trainer's
bookkeeping: the per-step host read of the loss and gradient norm (finite check and logging), the
progress bar, the ``log_every`` records. As a check that the work is the same, the mean loss of
every round must agree between the contenders (deterministic CPU: to float rounding).

A contender's round is one call of ``Trainer._train_epoch`` (the step loop of ``fit``, without the
per-epoch evaluation and checkpoint) with ``max_steps_per_epoch = --steps``, and the same steps of
the minimal loop. Two ways to alternate them (``--pairing``):

* ``step`` (default on the CPU): each contender runs beside its own minimal-loop partner, the two
  alternating one optimiser step at a time (:class:`PairedLoader` runs a partner step before each
  batch the contender's loader hands out, timed apart). A shared machine's slow phases last
  seconds, longer than a round, and whole-round alternation left per-round ratios between 0.7 and
  1.5; step pairing puts both loops in the same phase. An A/A control (a minimal loop in the
  trainer's place) shows the method's own bias and noise.
* ``round`` (default on a GPU): whole rounds round-robin (minimal, trainer, ...), synchronised at
  the ends only, because pairing steps would need a device sync at every switch and hide the very
  overlap of host and device that the trainer's per-step host read may cost.

Reported: images/s (median over rounds) of each loop and of the minimal loop beside it, and the
median over rounds of the per-round time ratio loop / minimal, with its range and the ratio of the
total times. Target (issue 5): trainer / minimal <= 1.03.

Contenders: ``minimal``; ``trainer`` (the profile as users run it: progress bar on, no step log);
``trainer, no progress bar``; ``trainer, log_every=1`` (a metrics.jsonl record every step, the
worst case of logging).

    python benchmarks/bench_train.py                              # quick profile, CPU (default)
    python benchmarks/bench_train.py --profile paper --data synthetic-casia   # 112 px, needs CUDA
    python benchmarks/bench_train.py --smoke                      # seconds, no result files

Writes ``benchmarks/results/train-cpu.{json,md}`` (``train-gpu.*`` on CUDA; other profiles add a
suffix). Set the thread count with OMP_NUM_THREADS (the recorded figures use 1: on a shared 2-core
machine a second torch thread mostly spins against other jobs).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_times, write_results  # noqa: E402

from fr_course.data import device_decode  # noqa: E402
from fr_course.data.transforms import normalize, random_hflip  # noqa: E402
from fr_course.paths import cache_dir  # noqa: E402
from fr_course.training import get_profile  # noqa: E402
from fr_course.training.optim import build_optimizer, build_scheduler  # noqa: E402
from fr_course.training.sampling import make_loader, make_sampler, seed_worker, start_epoch  # noqa: E402
from fr_course.training.sources import load_training_data  # noqa: E402
from fr_course.training.trainer import Trainer, determinism  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.03
CASIA_IMAGES = 490_623


def synthetic_casia(scale: float, image_size: int = 112) -> Path:
    """A CASIA-shaped synthetic RecordIO folder in the cache (made once; ``make_synthetic_casia.py``).

    At 112 px this is the same folder ``bench_pipeline.py`` uses."""
    name = f"synthetic_casia_scale{scale:g}" + ("" if image_size == 112 else f"_px{image_size}")
    root = cache_dir("bench_pipeline", name)
    if not (root / "property").is_file():
        subprocess.run([sys.executable, str(REPO / "data_scripts" / "make_synthetic_casia.py"), "--out", str(root),
                        "--scale", str(scale), "--image-size", str(image_size), "--pairs-per-fold", "1",
                        "--workers", str(min(8, os.cpu_count() or 1))], check=True)
    return root


class MinimalLoop:
    """The hand-written loop: what any training script must do per step, and nothing else.

    One host sync per round (the mean loss at the end), none per step. ``run_epoch`` is the loop as
    one would write it; ``begin`` / ``step`` / ``end`` run the same steps one at a time, for the
    partner of a :class:`PairedLoader`."""

    def __init__(self, backbone: torch.nn.Module, head: torch.nn.Module, config, dataset, steps: int,
                 device: torch.device, decode: str = "workers"):
        self.config, self.steps, self.device, self.decode = config, steps, device, decode
        self.backbone = copy.deepcopy(backbone)
        self.head = copy.deepcopy(head)
        self.forward = torch.compile(self.backbone) if config.compile else self.backbone
        self.optimizer = build_optimizer([self.backbone, self.head], config)
        self.scheduler = build_scheduler(self.optimizer, config, steps)
        sampler = make_sampler(dataset, config.seed, 0, 1)
        if decode == "device":  # the trainer's other input path: workers read bytes, the device decodes
            self.loader = device_decode.encoded_loader(dataset, sampler, config.batch_size, config.num_workers,
                                                       worker_init_fn=seed_worker, generator=torch.Generator())
            self.decoder = device_decode.DeviceJpegDecoder(dataset, device, config.input_size)
        else:
            self.loader = make_loader(dataset, sampler, config.batch_size, config.num_workers,
                                      pin_memory=device.type == "cuda")
            self.decoder = None
        self.flips = torch.Generator()
        self.total = torch.zeros((), device=device)
        self._batches: Iterator | None = None

    def _start(self, epoch: int) -> None:
        start_epoch(self.loader, self.flips, self.config.seed, epoch, 0)
        self.backbone.train()
        self.head.train()
        self.total = torch.zeros((), device=self.device)

    def _step(self, batch) -> None:
        config, device = self.config, self.device
        images, labels = batch if self.decoder is None else self.decoder(batch)
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        x = normalize(random_hflip(images, self.flips))
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.amp == "bf16"):
            loss = self.head(self.forward(x), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.backbone.parameters(), config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.total += loss.detach().float()

    def run_epoch(self, epoch: int) -> float:
        self._start(epoch)
        for _, batch in zip(range(self.steps), self.loader):
            self._step(batch)
        return self.end()

    def begin(self, epoch: int) -> None:
        self._start(epoch)
        self._batches = zip(range(self.steps), self.loader)

    def step(self) -> None:
        _, batch = next(self._batches)
        self._step(batch)

    def end(self) -> float:
        return self.total.item() / self.steps


class PairedLoader:
    """Stands in for a loop's DataLoader: before it hands out each batch, one step of the partner
    loop runs, timed apart (``partner_seconds``).

    So the two loops alternate step by step, ~0.1 s apart: a slow phase of a shared machine (which
    lasts seconds) hits both alike, and the loop's own time is its round's time minus the partner's.
    Everything else (``sampler``, ``generator``, ``len``) is the wrapped loader's."""

    def __init__(self, loader, partner: MinimalLoop):
        self.loader, self.partner = loader, partner
        self.epoch, self.partner_seconds = 0, 0.0

    def __getattr__(self, name: str):
        return getattr(self.__dict__["loader"], name)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        start = time.perf_counter()
        self.partner.begin(self.epoch)
        self.partner_seconds += time.perf_counter() - start
        for batch in self.loader:
            start = time.perf_counter()
            self.partner.step()
            self.partner_seconds += time.perf_counter() - start
            yield batch


#: Trainer variants: name -> config overrides on top of the profile.
TRAINER_VARIANTS = {
    "trainer": {},
    "trainer, no progress bar": {"progress": False},
    "trainer, log_every=1": {"log_every": 1, "progress": False},
}
CONTROL = "minimal (A/A control)"


def build_loops(config, data, steps: int, workdir: Path) -> tuple[dict[str, Callable[[int], float]], MinimalLoop]:
    """name -> function(epoch) running one round and returning its mean loss, for the minimal loop
    and every trainer variant (all from the same initial weights); and the minimal loop's template."""
    loops: dict[str, Callable[[int], float]] = {}
    trainers = {}
    for name, overrides in TRAINER_VARIANTS.items():
        cfg = config.replace(**overrides, out_dir=str(workdir / name.replace(" ", "_").replace(",", "")))
        if trainers:  # the first trainer chose the input path (decode="auto" may probe): all follow it
            cfg = cfg.replace(decode=trainers["trainer"].decode["choice"])
        trainers[name] = Trainer(cfg, overwrite=True, data=data)
    first = trainers["trainer"]
    template = MinimalLoop(first.backbone, first.head, config, data.train, steps, first.device,
                           decode=first.decode["choice"])
    loops["minimal"] = template.run_epoch
    for name, trainer in trainers.items():
        loops[name] = (lambda epoch, t=trainer: t._train_epoch(epoch)[0])
    return loops, trainers, template


def run_paired(config, data, steps: int, rounds: int, warmup: int, workdir: Path) -> dict:
    """Step-by-step pairing: each contender (and a minimal loop, as an A/A control) beside its own
    minimal-loop partner. name -> lists of per-round seconds (own, partner) and mean losses."""
    loops, trainers, template = build_loops(config, data, steps, workdir)
    primaries: dict[str, tuple[Callable[[int], float], PairedLoader]] = {}
    control = copy_minimal(template, config, data, steps)  # the A/A primary, in the trainer's place
    control.loader = PairedLoader(control.loader, copy_minimal(template, config, data, steps))
    primaries[CONTROL] = (control.run_epoch, control.loader)
    for name, trainer in trainers.items():
        trainer.loader = PairedLoader(trainer.loader, copy_minimal(template, config, data, steps))
        primaries[name] = (loops[name], trainer.loader)
    out = {name: {"own": [], "partner": [], "loss": [], "partner_loss": []} for name in primaries}
    out_decode = trainers["trainer"].decode
    for r in range(warmup + rounds):
        for name, (run, wrapper) in primaries.items():
            wrapper.epoch, wrapper.partner_seconds = r, 0.0
            start = time.perf_counter()
            loss = run(r)
            total = time.perf_counter() - start
            start = time.perf_counter()
            partner_loss = wrapper.partner.end()
            partner = wrapper.partner_seconds + time.perf_counter() - start
            rec = out[name]
            rec["loss"].append(loss)
            rec["partner_loss"].append(partner_loss)
            if r >= warmup:
                rec["own"].append(total - wrapper.partner_seconds)
                rec["partner"].append(partner)
        print(f"\rround {r + 1}/{warmup + rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out, out_decode


def copy_minimal(template: MinimalLoop, config, data, steps: int) -> MinimalLoop:
    """A fresh minimal loop from the template's (untrained) weights."""
    return MinimalLoop(template.backbone, template.head, config, data.train, steps, template.device,
                       decode=template.decode)


def run_rounds(config, data, steps: int, rounds: int, warmup: int, workdir: Path, device) -> dict:
    """Round-robin whole rounds (minimal, trainer, ...), for the GPU, where pairing step by step
    would need a device sync at every switch and hide the very overlap the trainer may lose."""
    loops, trainers, _ = build_loops(config, data, steps, workdir)
    losses: dict[str, list[float]] = {name: [] for name in loops}
    fns = {name: (lambda n=name, run=run: losses[n].append(run(len(losses[n])))) for name, run in loops.items()}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = interleaved_times(fns, rounds=rounds, warmup=warmup, sync=sync)
    measured = {name: {"own": times[name], "partner": times["minimal"], "loss": losses[name],
                       "partner_loss": losses["minimal"]} for name in loops}
    return measured, trainers["trainer"].decode


def summarize(measured: dict, images: int, steps: int) -> tuple[str, list]:
    """Markdown table and records: images/s of each loop and of the minimal loop beside it, and the
    median over rounds of the per-round time ratio loop / minimal."""
    records = []
    for name, m in measured.items():
        ratios = [a / b for a, b in zip(m["own"], m["partner"])]
        diff = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(m["loss"], m["partner_loss"]))
        records.append({"name": name, "images_per_s": round(images / statistics.median(m["own"]), 1),
                        "minimal_images_per_s": round(images / statistics.median(m["partner"]), 1),
                        "ms_per_step": round(1e3 * statistics.median(m["own"]) / steps, 2),
                        "ratio_vs_minimal": round(statistics.median(ratios), 4),
                        "ratio_range": [round(min(ratios), 4), round(max(ratios), 4)],
                        "pooled_ratio": round(sum(m["own"]) / sum(m["partner"]), 4),
                        "max_rel_loss_difference": float(f"{diff:.3g}"),
                        "round_seconds": m["own"], "minimal_round_seconds": m["partner"]})
    lines = ["| loop | images/s | minimal beside it, images/s | × minimal (median) | per-round range | "
             "× minimal (total time) | target |", "|---|---:|---:|---:|---|---:|---|"]
    for r in records:
        target = ("control" if r["name"] == CONTROL else "baseline" if r["name"] == "minimal" else
                  "met" if r["ratio_vs_minimal"] <= TARGET else "MISSED")
        lines.append(f"| {r['name']} | {r['images_per_s']:,.0f} | {r['minimal_images_per_s']:,.0f} | "
                     f"{r['ratio_vs_minimal']:.3f} | {r['ratio_range'][0]:.3f}–{r['ratio_range'][1]:.3f} | "
                     f"{r['pooled_ratio']:.3f} | {target} |")
    return "\n".join(lines), records


def build_config(args):
    """The benchmark's TrainConfig (profile + overrides) and the device."""
    overrides = dict(loss=args.loss, seed=0, verbose=False, eval_every=0, max_steps_per_epoch=args.steps,
                     epochs=args.warmup + args.rounds)
    if args.device != "auto":
        overrides["device"] = args.device
    if args.data == "synthetic-casia":
        size = 32 if args.smoke else 112
        batch = 16 if args.smoke else get_profile(args.profile).batch_size
        # enough images for one round of full batches (the scale grows with --steps and the batch)
        scale = max(args.scale, float(f"{1.1 * args.steps * batch / CASIA_IMAGES:.2g}"))
        overrides.update(data="casia", data_root=str(synthetic_casia(min(scale, 1.0), size)), input_size=size)
    if args.workers is not None:
        overrides["num_workers"] = args.workers
    if args.decode is not None:
        overrides["decode"] = args.decode
    if args.smoke:  # a few seconds: a tiny model on tiny data, same code path
        overrides.update(width=8, embedding_dim=32, batch_size=16)
        if args.data != "synthetic-casia":
            overrides.update(synthetic_preset="tiny", input_size=32)
        overrides.setdefault("num_workers", 0)
    config = get_profile(args.profile, **overrides)
    if config.device in ("auto", "cuda") and not torch.cuda.is_available():
        if config.device == "cuda" or args.profile in ("paper", "modern"):
            raise SystemExit(f"bench_train: the {args.profile} profile is a GPU benchmark and no CUDA GPU is "
                             f"available; skipped (add --device cpu to run it on the CPU anyway, with "
                             f"--smoke for a seconds-long check of the code path)")
    return config


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=["quick", "paper", "modern", "smoke"])
    parser.add_argument("--data", default="profile", choices=["profile", "synthetic-casia"],
                        help="the profile's data, or CASIA-shaped synthetic RecordIO (made once in the cache)")
    parser.add_argument("--scale", type=float, default=0.01, help="scale of the synthetic CASIA (default %(default)s)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--loss", default="arcface")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps per round (default: 12 on the CPU, 300 on a GPU, where a round must "
                             "outlast the DataLoader workers' start)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default: 12 on the CPU, 5 on a GPU)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the profile's)")
    parser.add_argument("--decode", choices=["auto", "workers", "device"], default=None,
                        help="where training JPEGs are decoded (default: the config's, auto)")
    parser.add_argument("--pairing", choices=["step", "round"], default=None,
                        help="alternate the loops step by step (default on the CPU) or by whole rounds "
                             "(default on a GPU)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model and data, 3 steps x 2 rounds: checks the code path, writes no file")
    args = parser.parse_args(argv)
    # a GPU round must outlast the DataLoader workers' start (the trainer re-creates them each epoch)
    on_gpu = torch.cuda.is_available() and args.device != "cpu" and args.profile != "quick"
    if args.steps is None:
        args.steps = 300 if on_gpu else 12
    if args.rounds is None:
        args.rounds = 5 if on_gpu else 12
    if args.smoke:
        args.steps, args.rounds, args.warmup = 3, 2, 1
        args.scale = min(args.scale, 0.001)
    if min(args.steps, args.rounds) < 1 or args.warmup < 0:
        parser.error("--steps and --rounds must be >= 1, --warmup >= 0")

    config = build_config(args)
    data = load_training_data(config)
    if len(data.train) // config.batch_size < args.steps:
        raise SystemExit(f"bench_train: {data.summary['source']} has {len(data.train):,} images, fewer than "
                         f"--steps {args.steps} batches of {config.batch_size}: lower --steps or raise --scale")
    load_before = os.getloadavg()
    device = torch.device("cuda" if config.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    pairing = args.pairing or ("round" if device.type == "cuda" else "step")
    print(f"{config.profile} profile, {config.model} width {config.width} at {config.input_size} px, batch "
          f"{config.batch_size}, {config.loss}, device {device}, {torch.get_num_threads()} torch thread(s): "
          f"{args.steps} steps x {args.rounds} rounds after {args.warmup}, paired by {pairing}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp, determinism(config.deterministic, device):
        if pairing == "step":
            measured, decode = run_paired(config, data, args.steps, args.rounds, args.warmup, Path(tmp))
        else:
            measured, decode = run_rounds(config, data, args.steps, args.rounds, args.warmup, Path(tmp), device)
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    table_md, records = summarize(measured, args.steps * config.batch_size, args.steps)
    same_work = all(r["max_rel_loss_difference"] < 1e-4 for r in records)
    setting = {"profile": config.profile, "model": config.model, "width": config.width,
               "input_size": config.input_size, "embedding_dim": config.embedding_dim, "loss": config.loss,
               "batch_size": config.batch_size, "amp": config.amp, "channels_last": config.channels_last,
               "compile": config.compile, "num_workers": config.num_workers, "deterministic": config.deterministic,
               "device": str(device), "data": data.summary["source"], "num_classes": data.summary["num_classes"],
               "num_images": data.summary["num_images"], "steps_per_round": args.steps, "rounds": args.rounds,
               "warmup_rounds": args.warmup, "pairing": pairing, "decode": decode,
               "TQDM_DISABLE": os.environ.get("TQDM_DISABLE")}
    how = ("step by step: each loop runs beside its own minimal-loop partner, the two alternating one "
           "optimiser step at a time; the A/A control is a minimal loop in the trainer's place and shows the "
           "method's own bias and noise" if pairing == "step" else
           "whole rounds, round-robin (minimal, trainer, ...)")
    table = table_md + (
        f"\n\n{config.profile} profile: {config.model} (width {config.width}) at {config.input_size}×"
        f"{config.input_size} px, {config.embedding_dim}-d, {config.loss}, batch {config.batch_size}, "
        f"amp={config.amp}, channels_last={config.channels_last}, {config.num_workers} DataLoader workers, "
        f"JPEG decode: {decode['choice']}, device {device}, {torch.get_num_threads()} torch thread(s); "
        f"data: {data.summary['source']} "
        f"({data.summary['num_images']:,} images, {data.summary['num_classes']:,} classes). Paired {how}. "
        f"{args.rounds} timed rounds of {args.steps} steps after {args.warmup} warm-up round(s); a ratio is "
        f"the median over rounds of the per-round time ratio to the minimal loop (range: smallest and largest "
        f"per-round ratio; total time: sum over rounds). Same work checked: the largest relative difference "
        f"of a round's mean loss between a loop and its minimal partner is "
        f"{max(r['max_rel_loss_difference'] for r in records):.2g}. Load average (1/5/15 min) "
        f"{load['before']} before, {load['after']} after.\n")
    print(table)
    if not same_work:
        print("warning: the contenders' losses differ: they did not do the same work", file=sys.stderr)
    payload = {"setting": setting, "target": {"ratio_vs_minimal": TARGET}, "load_average": load,
               "same_work": same_work, "records": records}
    if not args.smoke:
        stem = "train-gpu" if device.type == "cuda" else "train-cpu"
        default_profile = "paper" if device.type == "cuda" else "quick"
        default_data = "synthetic-casia" if device.type == "cuda" else "profile"
        if config.profile != default_profile or args.data != default_data:
            stem += f"-{config.profile}-{args.data}"
        command = " ".join(["python", "benchmarks/bench_train.py", *(argv if argv is not None else sys.argv[1:])])
        if os.environ.get("OMP_NUM_THREADS"):
            command = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " + command
        path = write_results(stem, payload, table, command)
        print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
        if device.type == "cuda":
            import bench_gpu

            bench_gpu.write_gpu_index()
    return payload


if __name__ == "__main__":
    main()
