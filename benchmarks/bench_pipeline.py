"""Input-pipeline throughput of the CASIA-WebFace path: decoded + augmented images per second.

The pipeline measured is the full profile's: ``CasiaWebFace`` (RecordIO read, JPEG decode to uint8
RGB) -> ``DataLoader`` (shuffled, batched, 0/1/2/... worker processes) -> the on-batch augmentation
of ``fr_course.data.transforms`` (random horizontal flip, then ``(x - 127.5) / 127.5``). Reference
rows: the RecordIO read alone, and read + decode in the main process with PIL
(``fr_course.data.pairs.decode_image``, at torch's thread count and at one thread) and with
``torchvision.io.decode_image``. When CUDA is present, a GPU decode path is timed as well: the
same batches' JPEG bytes decoded by ``torchvision.io.decode_jpeg`` on the
GPU in one batched call, flip and normalisation on the GPU.

The data are CASIA-shaped synthetic faces (112x112 JPEG, ``data_scripts/make_synthetic_casia.py``),
made once into the cache folder unless ``--data DIR`` points at a RecordIO folder (the real
CASIA-WebFace works too). Figures are medians over ``--repeats`` passes of ``--batches`` batches,
after ``--warmup`` batches that absorb the workers' start.

    python benchmarks/bench_pipeline.py                 # synthetic data at scale 0.01 (4,906 images)
    python benchmarks/bench_pipeline.py --data DIR --workers 0,1,2,4,8
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

from fr_course.data.casia import CasiaWebFace  # noqa: E402
from fr_course.data.device_decode import DeviceJpegDecoder, encoded_loader  # noqa: E402
from fr_course.data.pairs import decode_image  # noqa: E402
from fr_course.data.recordio import unpack  # noqa: E402
from fr_course.data.transforms import normalize, random_hflip  # noqa: E402
from fr_course.paths import cache_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def synthetic_data(scale: float) -> Path:
    root = cache_dir("bench_pipeline", f"synthetic_casia_scale{scale:g}")
    if not (root / "property").is_file():
        subprocess.run([sys.executable, str(REPO / "data_scripts" / "make_synthetic_casia.py"), "--out", str(root),
                        "--scale", str(scale), "--pairs-per-fold", "1", "--workers", str(os.cpu_count() or 1)],
                       check=True)
    return root


def loader_rate(dataset, workers: int, batch_size: int, warmup: int, batches: int, repeats: int) -> list[float]:
    """Images/s through DataLoader + on-batch flip and normalisation, one value per repeat."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0),
                        prefetch_factor=4 if workers > 0 else None)
    flips = torch.Generator().manual_seed(1)
    rates = []
    for _ in range(repeats):
        iterator = iter(loader)
        for _ in range(warmup):
            next(iterator)
        start = time.perf_counter()
        for _ in range(batches):
            images, labels = next(iterator)
            normalize(random_hflip(images, flips))
        rates.append(batches * batch_size / (time.perf_counter() - start))
        del iterator
    return rates


def local_rates(dataset, count: int, repeats: int) -> dict[str, list[float]]:
    """Reference rows in this process: RecordIO read + unpack alone; read + unpack + decode with
    ``fr_course.data.pairs.decode_image`` (PIL), at torch's thread count and at one thread; and
    read + unpack + ``torchvision.io.decode_image`` (libjpeg-turbo straight to CHW)."""
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_image as tv_decode

    keys = [int(k) for k in np.random.default_rng(0).choice(dataset.keys, size=count, replace=False)]
    threads = torch.get_num_threads()
    decoders = {
        f"read+decode_image, {threads} torch threads": (threads, decode_image),
        "read+decode_image, 1 torch thread": (1, decode_image),
        "read+torchvision decode_image, 1 torch thread":
            (1, lambda data: tv_decode(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)),
    }
    rates: dict[str, list[float]] = {"read": []}
    for _ in range(repeats):
        start = time.perf_counter()
        for k in keys:
            unpack(dataset.record.read_idx(k))
        rates["read"].append(count / (time.perf_counter() - start))
        for name, (n_threads, decode) in decoders.items():
            torch.set_num_threads(n_threads)
            start = time.perf_counter()
            for k in keys:
                decode(unpack(dataset.record.read_idx(k))[1])
            rates.setdefault(name, []).append(count / (time.perf_counter() - start))
        torch.set_num_threads(threads)
    return rates


def device_decode_rate(dataset, device: str, workers: int, batch_size: int, warmup: int, batches: int,
                       repeats: int) -> list[float]:
    """Images/s of the trainer's device path: workers read bytes (EncodedImages), the main process
    decodes each batch with one decode_jpeg call on ``device``, then flip + normalise there."""
    sampler = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    loader = encoded_loader(dataset, sampler, batch_size, workers, persistent_workers=workers > 0)
    decoder = DeviceJpegDecoder(dataset, device, dataset.image_size or 112)
    flips = torch.Generator(device=device).manual_seed(1) if device != "cpu" else torch.Generator().manual_seed(1)
    rates = []
    for _ in range(repeats):
        iterator = iter(loader)
        for _ in range(warmup):
            decoder(next(iterator))
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(batches):
            images, _ = decoder(next(iterator))
            normalize(random_hflip(images, flips))
        if device != "cpu":
            torch.cuda.synchronize()
        rates.append(batches * batch_size / (time.perf_counter() - start))
        del iterator
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="RecordIO folder (default: synthetic CASIA in the cache)")
    parser.add_argument("--scale", type=float, default=0.01, help="scale of the synthetic data (default %(default)s)")
    parser.add_argument("--workers", default=None,
                        help="comma-separated worker counts (default 0,1,2,... up to the cores)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    workers = ([int(w) for w in args.workers.split(",")] if args.workers else
               sorted({0, 1, 2} | {w for w in (4, 8, 16) if w <= cores}))
    root = args.data or synthetic_data(args.scale)
    dataset = CasiaWebFace(root)
    needed = (args.warmup + args.batches) * args.batch_size
    if needed > len(dataset):
        raise SystemExit(f"{root} has {len(dataset)} images, one pass needs {needed}: lower --batches/--batch-size")

    load_before = os.getloadavg()
    rows = []
    for name, rates in local_rates(dataset, min(2000, len(dataset)), args.repeats).items():
        rows.append({"path": f"{name}, main process (reference)", "workers": 0,
                     "images_per_s": statistics.median(rates), "all_runs": rates})
    for w in workers:
        rates = loader_rate(dataset, w, args.batch_size, args.warmup, args.batches, args.repeats)
        rows.append({"path": "CasiaWebFace + DataLoader + flip/normalise (CPU)", "workers": w,
                     "images_per_s": statistics.median(rates), "all_runs": rates})
        print(f"workers={w}: {statistics.median(rates):,.0f} images/s", file=sys.stderr)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for w in workers:
        rates = device_decode_rate(dataset, device, w, args.batch_size, args.warmup, args.batches, args.repeats)
        rows.append({"path": f"EncodedImages + DataLoader, batched decode_jpeg + flip/normalise on {device} "
                             f"(trainer decode='device')", "workers": w,
                     "images_per_s": statistics.median(rates), "all_runs": rates})
        print(f"device path, workers={w}: {statistics.median(rates):,.0f} images/s", file=sys.stderr)

    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    table = ["| path | workers | images/s |", "|---|---:|---:|"]
    table += [f"| {r['path']} | {r['workers']} | {r['images_per_s']:,.0f} |" for r in rows]
    table_md = ("\n".join(table) + f"\n\nData: {dataset!r}, 112x112 JPEG; batch {args.batch_size}, "
                f"median of {args.repeats} passes of {args.batches} batches after {args.warmup} warm-up batches. "
                f"Load average (1/5/15 min) {load['before']} before, {load['after']} after: other jobs shared "
                f"the machine when it was above the core count.\n")
    command = "python benchmarks/bench_pipeline.py " + " ".join(sys.argv[1:])
    stem = "pipeline-gpu" if torch.cuda.is_available() else "pipeline-cpu"
    path = write_results(stem, {"data": repr(dataset), "batch_size": args.batch_size, "load_average": load,
                                "rows": rows},
                         table_md, command.strip())
    print(table_md)
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
