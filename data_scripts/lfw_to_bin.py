#!/usr/bin/env python
"""Build an insightface-style lfw.bin from raw LFW and its pairs.txt.

    python data_scripts/lfw_to_bin.py LFW_ROOT PAIRS_TXT OUT.bin [--landmarks FILE] [--image-size 112]

LFW_ROOT/<name>/<name>_0001.jpg as distributed; PAIRS_TXT the official view-2 pairs.txt (10 folds
of 300 matched + 300 mismatched pairs). Two inputs are accepted:

* already aligned images (LFW_ROOT holds IMAGE_SIZE x IMAGE_SIZE crops): stored byte for byte;
* raw images with --landmarks FILE: one line per image, ``<name>/<name>_0001.jpg x1 y1 ... x5 y5``
  (left eye, right eye, nose tip, left and right mouth corners, in pixels; '#' starts a comment).
  Each image is aligned to the ArcFace template (fr_course.data.align) and stored as JPEG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fr_course.data.align import align_face
from fr_course.data.casia import encode_image
from fr_course.data.pairs import decode_image
from fr_course.data.verification import read_pairs, write_bin


def read_landmarks(path: Path) -> dict[str, np.ndarray]:
    table = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        try:
            if len(fields) != 11:
                raise ValueError
            table[Path(fields[0]).as_posix()] = np.asarray(fields[1:], dtype=np.float64).reshape(5, 2)
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: expected '<name>/<name>_0001.jpg x1 y1 x2 y2 x3 y3 x4 y4 x5 y5', "
                             f"got {line!r}") from None
    return table


def prepare(path: Path, root: Path, size: int, landmarks: dict | None, quality: int) -> bytes:
    data = path.read_bytes()
    if landmarks is None:
        shape = tuple(decode_image(data).shape[1:])
        if shape != (size, size):
            raise ValueError(f"{path} is {shape[0]}x{shape[1]}, not an aligned {size}x{size} crop: give "
                             f"--landmarks to align raw LFW images")
        return data
    key = path.relative_to(root).as_posix()
    if key not in landmarks:
        raise ValueError(f"no landmarks for {key} in the --landmarks file")
    image = decode_image(data).permute(1, 2, 0).numpy()
    return encode_image(align_face(image, landmarks[key], size), "JPEG", quality)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("lfw_root", type=Path)
    parser.add_argument("pairs_txt", type=Path)
    parser.add_argument("out", type=Path, help="output .bin (e.g. DATA/lfw.bin)")
    parser.add_argument("--landmarks", type=Path, help="five landmarks per image, to align raw images")
    parser.add_argument("--image-size", type=int, default=112, help="side of the aligned crops (default %(default)s)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of aligned crops (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        paths_a, paths_b, is_same = read_pairs(args.pairs_txt, args.lfw_root)
        landmarks = read_landmarks(args.landmarks) if args.landmarks else None
        order = [p for pair in zip(paths_a, paths_b) for p in pair]  # pair k = images 2k, 2k+1
        cache: dict[str, bytes] = {}
        for p in tqdm(order, desc="images", unit="img"):
            if p not in cache:
                try:
                    cache[p] = prepare(Path(p), args.lfw_root, args.image_size, landmarks, args.quality)
                except (OSError, ValueError) as exc:
                    raise ValueError(exc if p in str(exc) else f"{p}: {exc}") from exc
        write_bin(args.out, [cache[p] for p in order], is_same)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"\n{args.pairs_txt} -> {args.out}")
    print(f"  pairs          {len(is_same):,} ({int(is_same.sum()):,} matched, {int((~is_same).sum()):,} mismatched)")
    print(f"  unique images  {len(cache):,} ({'aligned with landmarks' if landmarks else 'stored as given'})")
    print(f"  file size      {args.out.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
