"""``make_faces``: the synthetic face data set of a preset, ready for training and verification."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..pairs import PairSet
from .cache import cached_arrays
from .config import LAZY_PRESETS, FaceConfig, make_config
from .datasets import PAIR_NAME, FacePairSet, FaceTrainSet, RenderedFaceTrainSet


@dataclass
class FaceData:
    """A training set (``train``), verification pairs (``pairs``, PairSet "synthetic-lfw"), the recipe."""

    train: FaceTrainSet | RenderedFaceTrainSet
    pairs: PairSet
    config: FaceConfig

    def __repr__(self) -> str:
        return f"FaceData(train={self.train!r}, pairs={self.pairs!r})"


def make_faces(preset: str = "small", seed: int = 0, *, lazy: bool | None = None, cache: bool = True,
               **overrides) -> FaceData:
    """The synthetic faces of ``preset`` ("tiny", "small", "casia") with any FaceConfig field overridden.

    ``lazy=True`` renders each image in ``__getitem__`` (the default for "casia");
    otherwise all images are rendered at once and, if ``cache``, stored under
    ``fr_course.paths.cache_dir("synthetic")`` and read back on the next call.
    """
    config = make_config(preset, seed, **overrides)
    return faces_from_config(config, lazy=preset in LAZY_PRESETS if lazy is None else lazy, cache=cache)


def faces_from_config(config: FaceConfig, *, lazy: bool = False, cache: bool = True) -> FaceData:
    """:func:`make_faces` for an explicit :class:`FaceConfig`."""
    lazy_train = FaceTrainSet(config)
    lazy_pairs = FacePairSet(config, bank=lazy_train.bank)
    if lazy:
        return FaceData(lazy_train, lazy_pairs, config)

    def render():
        return {"train": lazy_train.render_images(), "pairs": lazy_pairs.render_images()}

    arrays = cached_arrays(config, render, use_cache=cache)
    train = RenderedFaceTrainSet(config, torch.from_numpy(arrays["train"]), lazy_train.layout)
    pairs = PairSet.from_tensor(torch.from_numpy(arrays["pairs"]), lazy_pairs.is_same, name=PAIR_NAME)
    return FaceData(train, pairs, config)
