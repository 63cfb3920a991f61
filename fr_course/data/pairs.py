"""Verification pairs in the insightface ``.bin`` order: pair k is made of items 2k and 2k+1."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset


def decode_image(data: bytes, image_size: int | None = None) -> torch.Tensor:
    """Encoded JPEG/PNG bytes -> uint8 RGB (3, H, W), resized (bilinear) to ``image_size`` if given."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        if image_size is not None and img.size != (image_size, image_size):
            img = img.resize((image_size, image_size), Image.BILINEAR)
        # the HWC -> CHW copy is done by NumPy: torch's permute().contiguous() on a small image
        # stalls in the intra-op thread pool (10x slower with 2 threads than with 1)
        array = np.ascontiguousarray(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
    return torch.from_numpy(array)


class PairSet(Dataset):
    """2P images and P same/different flags; ``__getitem__(i)`` gives image i as uint8 (3, H, W)."""

    def __init__(self, name: str, is_same: np.ndarray, *, images: torch.Tensor | None = None,
                 encoded: Sequence[bytes] | None = None, image_size: int | None = None):
        is_same = np.asarray(is_same, dtype=bool)
        if is_same.ndim != 1:
            raise ValueError(f"{name}: is_same must be 1-D, got shape {is_same.shape}")
        if (images is None) == (encoded is None):
            raise ValueError(f"{name}: give exactly one of images= or encoded=")
        count = len(images) if images is not None else len(encoded)
        if count != 2 * len(is_same):
            raise ValueError(f"{name}: {count} images for {len(is_same)} pairs (expected {2 * len(is_same)})")
        if images is not None and (images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3):
            raise ValueError(f"{name}: images must be uint8 (2P, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        self.name = name
        self.is_same = is_same
        self._images = images
        self._encoded = encoded
        self.image_size = image_size

    @classmethod
    def from_tensor(cls, images: torch.Tensor, is_same, name: str = "pairs") -> "PairSet":
        return cls(name, is_same, images=images)

    @classmethod
    def from_encoded(cls, encoded: Sequence[bytes], is_same, name: str = "pairs",
                     image_size: int | None = None) -> "PairSet":
        return cls(name, is_same, encoded=encoded, image_size=image_size)

    @property
    def num_pairs(self) -> int:
        return len(self.is_same)

    def __len__(self) -> int:
        return 2 * len(self.is_same)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._images is not None:
            return self._images[index]
        try:
            return decode_image(self._encoded[index], self.image_size)
        except Exception as exc:  # a corrupt image in a verification set is a data error, not a skip
            raise ValueError(f"{self.name}: image {index} (pair {index // 2}) cannot be decoded: {exc}") from exc

    def __repr__(self) -> str:
        return f"PairSet(name={self.name!r}, pairs={self.num_pairs}, same={int(self.is_same.sum())})"

    def fold_subset(self, per_fold: int, n_folds: int = 10) -> "PairSet":
        """The first ``per_fold`` matched and ``per_fold`` mismatched pairs of each of the ``n_folds``
        contiguous folds, in fold order: the same protocol on fewer pairs (for cheap learning curves).

        The set itself if it is no larger, or if its images are rendered on demand.
        """
        from ..evaluation.protocol import fold_bounds

        if self._images is None and self._encoded is None:
            return self
        keep = []
        for start, stop in fold_bounds(self.num_pairs, n_folds):
            fold = np.arange(start, stop)
            same = fold[self.is_same[start:stop]][:per_fold]
            other = fold[~self.is_same[start:stop]][:per_fold]
            keep.extend(np.concatenate([same, other]).tolist())
        if len(keep) >= self.num_pairs:
            return self
        keep = np.asarray(keep, dtype=np.int64)
        items = np.stack([2 * keep, 2 * keep + 1], axis=1).reshape(-1)
        if self._images is not None:
            return PairSet(self.name, self.is_same[keep], images=self._images[torch.from_numpy(items)])
        return PairSet(self.name, self.is_same[keep], encoded=[self._encoded[i] for i in items],
                       image_size=self.image_size)
