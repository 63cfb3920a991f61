#!/usr/bin/env python
"""Write a CASIA-shaped synthetic data set: train.rec/.idx/property + lfw/cfp_fp/agedb_30 .bin files.

    python data_scripts/make_synthetic_casia.py --out DIR [--scale S] [--workers N] [--seed K]

The layout and the sizes are those of insightface's faces_webface_112x112: at --scale 1, 10,572
identities and 490,623 JPEG images at 112x112 with CASIA's long tail, in insightface's RecordIO
layout; --scale S multiplies both counts (the mean of ~46 images per identity stays). The faces are
the course's procedural cartoon faces (fr_course.data.synthetic, preset "casia"), so the whole
full-profile path — reading, decoding, training, evaluating every epoch — can be exercised and
timed without the real data. Every image is a pure function of (seed, identity, image index):
the output is byte-identical for any --workers.

Pair files stand in for the real verification sets, 10 folds of P matched + P mismatched pairs of
identities never seen in training: lfw.bin at the training difficulty, cfp_fp.bin and agedb_30.bin
harder (more pose/lighting/occlusion nuisance), each from its own seed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fr_course.data.casia import encode_image, write_casia_rec
from fr_course.data.verification import write_bin

CASIA_IDENTITIES = 10_572
CASIA_IMAGES = 490_623
CASIA_TEST_IDENTITIES = 2_000
LFW_PAIRS_PER_FOLD = 300
# name -> (seed offset, difficulty): stand-ins for LFW and the two harder sets
PAIR_SETS = {"lfw": (0, 1.0), "cfp_fp": (1, 1.5), "agedb_30": (2, 1.3)}
CHUNK = 64

_dataset = None  # the dataset a worker renders from (set once per process)
_quality = 90


def _init_worker(dataset, quality) -> None:
    global _dataset, _quality
    _dataset, _quality = dataset, quality


def _render_chunk(indices) -> list[tuple[int, bytes]]:
    """Render and JPEG-encode the items ``indices`` of the current dataset."""
    batch = getattr(_dataset, "__getitems__", None)  # one vectorised render call when available
    items = batch([int(i) for i in indices]) if batch else [_dataset[int(i)] for i in indices]
    out = []
    for item in items:
        image, label = item if isinstance(item, tuple) else (item, -1)  # pair sets give images only
        out.append((int(label), encode_image(image, "JPEG", _quality)))
    return out


def rendered(dataset, order: np.ndarray, workers: int, quality: int, desc: str):
    """Yield ``(label, jpeg)`` for the items ``order`` of ``dataset``, in that order."""
    chunks = [order[s:s + CHUNK] for s in range(0, len(order), CHUNK)]
    bar = tqdm(total=len(order), desc=desc, unit="img")
    if workers > 0:
        with multiprocessing.get_context().Pool(workers, _init_worker, (dataset, quality)) as pool:
            for result in pool.imap(_render_chunk, chunks):  # imap keeps the order
                bar.update(len(result))
                yield from result
    else:
        _init_worker(dataset, quality)
        for chunk in chunks:
            result = _render_chunk(chunk)
            bar.update(len(result))
            yield from result
    bar.close()


def sizes(scale: float, pairs_per_fold: int | None) -> dict:
    identities = max(2, round(CASIA_IDENTITIES * scale))
    return dict(num_train_ids=identities,
                num_train_images=max(2 * identities, round(CASIA_IMAGES * scale)),
                num_test_ids=max(20, round(CASIA_TEST_IDENTITIES * scale)),
                pairs_per_fold=pairs_per_fold or max(10, round(LFW_PAIRS_PER_FOLD * scale)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of CASIA's 10,572 identities / 490,623 images (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="data-set seed (default %(default)s)")
    parser.add_argument("--image-size", type=int, default=112, help="image side in pixels (default %(default)s)")
    parser.add_argument("--pairs-per-fold", type=int, default=None,
                        help="matched (= mismatched) pairs per fold of each .bin (default: 300 x scale, at least 10)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="rendering processes (default 0: this one)")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1], got {args.scale}")
    try:
        from fr_course.data.synthetic import make_faces
    except ImportError as exc:
        print(f"error: the synthetic-face generator fr_course.data.synthetic is not available ({exc})",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    counts = sizes(args.scale, args.pairs_per_fold)
    try:
        faces = make_faces(preset="casia", seed=args.seed, image_size=args.image_size, **counts)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train = faces.train
    labels = np.asarray(train.labels, dtype=np.int64)
    class_counts = np.bincount(labels, minlength=train.num_classes)
    order = np.argsort(labels, kind="stable")  # insightface groups the images by identity
    write_casia_rec(args.out, rendered(train, order, args.workers, args.quality, "train.rec"), class_counts,
                    (args.image_size, args.image_size))

    written = {}
    for name, (offset, difficulty) in PAIR_SETS.items():
        pair_faces = faces if (offset, difficulty) == (0, 1.0) else make_faces(
            preset="casia", seed=args.seed + offset, image_size=args.image_size, difficulty=difficulty, **counts)
        pairs = pair_faces.pairs
        encoded = [jpeg for _, jpeg in rendered(pairs, np.arange(len(pairs)), args.workers, args.quality, name)]
        written[name] = (write_bin(args.out / f"{name}.bin", encoded, pairs.is_same), len(pairs.is_same))

    seconds = time.perf_counter() - start
    rec_mib = (args.out / "train.rec").stat().st_size / 2**20
    print(f"\nsynthetic CASIA-WebFace (scale {args.scale:g}, seed {args.seed}) -> {args.out}")
    print(f"  identities   {len(class_counts):,}  (images per identity: min {class_counts.min()}, "
          f"median {np.median(class_counts):g}, mean {class_counts.mean():.1f}, max {class_counts.max()})")
    print(f"  images       {len(labels):,} at {args.image_size}x{args.image_size}, JPEG q{args.quality}, "
          f"train.rec {rec_mib:.1f} MiB")
    for path, num_pairs in written.values():
        print(f"  {path.name:<13}{num_pairs:,} pairs ({path.stat().st_size / 2**20:.1f} MiB)")
    print(f"  took         {seconds:.1f} s with {args.workers} worker process(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
