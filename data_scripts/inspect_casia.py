#!/usr/bin/env python
"""Inspect a CASIA-WebFace copy: counts, the long tail of images per identity, undecodable images.

    python data_scripts/inspect_casia.py ROOT [--out DIR] [--no-scan] [--workers N]

ROOT is either an insightface/im2rec RecordIO folder (train.rec, train.idx[, property]) or an
identity-folder tree (ROOT/<identity>/<image>). Writes DIR/long_tail.png (histogram of images per
identity and the sorted counts) and DIR/summary.json, and prints a summary. The scan decodes every
image and lists those that fail (exit status 1 when there are any).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fr_course.data.casia import CasiaImageFolder, CasiaWebFace, identity_statistics


def open_dataset(root: Path):
    """The RecordIO reader when ROOT has a train.rec, else the identity-folder reader."""
    if (root / "train.rec").exists() or not root.is_dir():
        return CasiaWebFace(root, on_bad_image="raise")
    return CasiaImageFolder(root, on_bad_image="raise")


def scan_chunk(args) -> list[tuple[int, str]]:
    dataset, indices = args
    bad = []
    for i in indices:
        try:
            dataset[i]
        except ValueError as exc:  # undecodable image, or a damaged record (RecordIOError)
            bad.append((int(i), str(exc)))
    return bad


def scan(dataset, workers: int, chunk: int = 2048) -> list[tuple[int, str]]:
    chunks = [(dataset, range(s, min(s + chunk, len(dataset)))) for s in range(0, len(dataset), chunk)]
    bad: list[tuple[int, str]] = []
    with tqdm(total=len(dataset), desc="decoding", unit="img") as bar:
        if workers > 0:
            with ProcessPoolExecutor(workers) as pool:
                for (_, indices), result in zip(chunks, pool.map(scan_chunk, chunks)):
                    bad += result
                    bar.update(len(indices))
        else:
            for job in chunks:
                bad += scan_chunk(job)
                bar.update(len(job[1]))
    return bad


def plot_long_tail(counts: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = counts[counts > 0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.unique(np.round(np.logspace(0, np.log10(present.max() + 1), 40)))
    left.hist(present, bins=bins, color="#4c72b0")
    left.set_xscale("log")
    left.set_xlabel("images per identity")
    left.set_ylabel("identities")
    left.set_title("distribution")
    right.plot(np.arange(1, counts.size + 1), np.sort(counts)[::-1], color="#c44e52")
    right.set_yscale("log")
    right.set_xlabel("identity rank")
    right.set_ylabel("images")
    right.set_title("long tail (sorted)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("root", type=Path, help="RecordIO folder or identity-folder tree")
    parser.add_argument("--out", type=Path, default=Path("inspect_casia"), help="output folder (default %(default)s)")
    parser.add_argument("--no-scan", action="store_true", help="skip decoding every image")
    parser.add_argument("--workers", type=int, default=0, help="processes for the scan (default 0: this one)")
    parser.add_argument("--show-bad", type=int, default=20, help="undecodable images listed (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        dataset = open_dataset(args.root)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = dataset.class_counts
    stats = identity_statistics(counts)
    stats["identities_without_images"] = int((counts == 0).sum())
    stats["reader"] = repr(dataset)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_long_tail(counts, args.out / "long_tail.png", f"{args.root.name}: {stats['images']:,} images, "
                                                       f"{stats['identities']:,} identities")
    bad = [] if args.no_scan else scan(dataset, args.workers)
    stats["scanned"] = not args.no_scan
    stats["undecodable"] = len(bad)
    stats["undecodable_examples"] = [message for _, message in bad[: args.show_bad]]
    (args.out / "summary.json").write_text(json.dumps(stats, indent=2) + "\n")

    print(f"\n{stats['reader']}")
    print(f"  identities        {stats['identities']:>10,}  ({stats['identities_without_images']} without images)")
    print(f"  images            {stats['images']:>10,}")
    print(f"  images/identity   min {stats['min']}, median {stats['median']:g}, mean {stats['mean']:.2f}, "
          f"max {stats['max']}")
    print(f"  Gini              {stats['gini']:>10.3f}")
    if args.no_scan:
        print("  undecodable       not scanned (--no-scan)")
    else:
        print(f"  undecodable       {len(bad):>10,}")
        for message in stats["undecodable_examples"]:
            print(f"    {message}")
    print(f"  wrote {args.out / 'long_tail.png'} and {args.out / 'summary.json'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
