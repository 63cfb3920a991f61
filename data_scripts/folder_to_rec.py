#!/usr/bin/env python
"""Pack an aligned identity-folder tree into insightface-layout RecordIO (train.rec/.idx, property).

    python data_scripts/folder_to_rec.py SRC OUT [--no-check] [--quality Q]

SRC/<identity>/<image> (already aligned, e.g. 112x112) -> OUT/train.rec, OUT/train.idx,
OUT/property (``classes,height,width``) and OUT/classes.txt (class id -> folder name). Classes are
the folders in sorted order. JPEG and PNG files are stored byte for byte; other formats are
re-encoded as JPEG. By default every image is decoded first: undecodable ones, and images whose
size differs from the first image's, are left out and listed. An empty identity folder is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fr_course.data.casia import CasiaImageFolder, encode_image, write_casia_rec
from fr_course.data.pairs import decode_image

STORED_AS_IS = (b"\xff\xd8\xff", b"\x89PNG")  # JPEG and PNG signatures


def stored_bytes(path: Path, quality: int) -> bytes:
    data = path.read_bytes()
    if data.startswith(STORED_AS_IS):
        return data
    return encode_image(decode_image(data), "JPEG", quality)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("src", type=Path, help="identity-folder tree SRC/<identity>/<image>")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--no-check", action="store_true", help="do not decode the images first")
    parser.add_argument("--quality", type=int, default=95,
                        help="JPEG quality for re-encoded images (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        folder = CasiaImageFolder(args.src, on_bad_image="raise")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if folder.expected_hw is None:
        print(f"error: no image in {args.src} can be decoded", file=sys.stderr)
        return 2
    keep = np.ones(len(folder), dtype=bool)
    problems = []
    if not args.no_check:
        for i in tqdm(range(len(folder)), desc="checking", unit="img"):
            try:
                folder[i]
            except ValueError as exc:
                keep[i] = False
                problems.append(str(exc))
    labels = folder.labels[keep]
    counts = np.bincount(labels, minlength=folder.num_classes)
    if (counts == 0).any():
        lost = [folder.classes[c] for c in np.flatnonzero(counts == 0)]
        print(f"error: no decodable image left in identity folder(s) {lost[:5]}; fix or remove them",
              file=sys.stderr)
        return 2
    indices = np.flatnonzero(keep)
    samples = ((int(folder.labels[i]), stored_bytes(folder.files[i], args.quality)) for i in indices)
    write_casia_rec(args.out, samples, counts, folder.expected_hw,
                    progress=lambda it: tqdm(it, total=len(indices), desc="packing", unit="img"))
    (args.out / "classes.txt").write_text("".join(f"{c}\t{name}\n" for c, name in enumerate(folder.classes)))

    print(f"\n{args.src} -> {args.out}")
    print(f"  identities  {folder.num_classes:,}")
    print(f"  images      {int(keep.sum()):,} written, {len(problems)} left out")
    for message in problems[:20]:
        print(f"    {message}")
    print(f"  image size  {folder.expected_hw[0]}x{folder.expected_hw[1]}")
    print(f"  train.rec   {(args.out / 'train.rec').stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
