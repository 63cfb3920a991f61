"""The synthetic training set (lazy or pre-rendered) and the LFW-style verification pairs.

Training items are ordered identity by identity: item ``i`` is image ``image_index[i]`` of
identity ``identities[i]``, labelled ``labels[i]`` (the identity itself unless label noise
replaced it; ``noisy_mask`` says which). ``class_counts`` counts the labels as the trainer sees
them, so with label noise it differs slightly from the true images per identity
(``true_counts``).

Pairs follow LFW's ``pairs.txt`` layout: the test identities are dealt to ``num_folds`` folds
(identity ``k`` of the test split to fold ``k % num_folds``, so folds share no identity); each fold
lists ``P`` matched pairs (two different images of one identity) and then ``P`` mismatched pairs
(two identities of the fold; with probability ``lookalike_fraction`` a look-alike and its parent,
the hard negatives). Pair ``k`` is items ``2k`` and ``2k + 1``, as in insightface's ``.bin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch.utils.data import Dataset

from ..pairs import PairSet
from . import seeding
from .config import FaceConfig
from .items import IdentityBank, render_items
from .longtail import corrupt_labels, long_tail_counts

PAIR_NAME = "synthetic-lfw"
TEST_IMAGES_PER_ID = 40  # pair images are drawn from image indices 0 .. 39 of a test identity


@dataclass(frozen=True)
class TrainLayout:
    """Which image every training item is, and its (possibly corrupted) label."""

    true_counts: np.ndarray   # int64 (C,): images rendered per identity
    identities: np.ndarray    # int64 (N,): true identity of each item
    image_index: np.ndarray   # int64 (N,): image index within its identity
    labels: np.ndarray        # int64 (N,): the label given to the trainer
    noisy_mask: np.ndarray    # bool (N,): labels[i] != identities[i]

    @classmethod
    def from_config(cls, config: FaceConfig) -> "TrainLayout":
        counts = long_tail_counts(config.num_train_ids, config.num_train_images, config.imbalance,
                                  config.seed, min_count=config.min_images_per_id)
        identities = np.repeat(np.arange(config.num_train_ids, dtype=np.int64), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        image_index = np.arange(len(identities), dtype=np.int64) - starts
        labels, noisy = corrupt_labels(identities, image_index, config.num_train_ids, config.label_noise,
                                       config.seed)
        return cls(counts, identities, image_index, labels, noisy)


class _FaceTrainBase(Dataset):
    """Shared metadata of the lazy and the pre-rendered training sets."""

    def __init__(self, config: FaceConfig, layout: TrainLayout | None = None):
        self.config = config
        self.layout = TrainLayout.from_config(config) if layout is None else layout
        self.num_classes = config.num_train_ids
        self.labels = self.layout.labels
        self.noisy_mask = self.layout.noisy_mask
        self.identities = self.layout.identities
        self.image_index = self.layout.image_index
        self.true_counts = self.layout.true_counts
        self.class_counts = np.bincount(self.labels, minlength=self.num_classes).astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def _check(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"item {index} out of range for {len(self)} training images")
        return index % len(self)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(images={len(self)}, classes={self.num_classes}, "
                f"size={self.image_size}, noisy={int(self.noisy_mask.sum())})")


class FaceTrainSet(_FaceTrainBase):
    """Training faces rendered on demand in ``__getitem__`` (any scale, any ``image_size``).

    ``__getitems__`` renders a whole batch in one vectorised call (the DataLoader uses it).
    """

    def __init__(self, config: FaceConfig, image_size: int | None = None):
        super().__init__(config)
        self.image_size = config.image_size if image_size is None else int(image_size)

    @cached_property
    def bank(self) -> IdentityBank:  # drawn lazily: a worker process only draws what it renders
        return IdentityBank(self.config)

    def __getitem__(self, index: int):
        return self.__getitems__([index])[0]

    def __getitems__(self, indices) -> list[tuple[torch.Tensor, int]]:
        items = [self._check(int(i)) for i in indices]
        images = render_items(self.bank, self.identities[items], self.image_index[items], self.image_size)
        tensors = torch.from_numpy(images)
        return [(tensors[k], int(self.labels[i])) for k, i in enumerate(items)]

    def render_images(self) -> np.ndarray:
        """Every training image now: uint8 (N, 3, H, W)."""
        return render_items(self.bank, self.identities, self.image_index, self.image_size)

    def render(self) -> "RenderedFaceTrainSet":
        """The pre-rendered twin of this set (no cache; :func:`.faces.make_faces` adds the cache)."""
        return RenderedFaceTrainSet(self.config, torch.from_numpy(self.render_images()), self.layout)


class RenderedFaceTrainSet(_FaceTrainBase):
    """Training faces held in memory as one uint8 tensor (N, 3, H, W)."""

    def __init__(self, config: FaceConfig, images: torch.Tensor, layout: TrainLayout | None = None):
        super().__init__(config, layout)
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[0] != len(self.labels) \
                or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 ({len(self.labels)}, 3, H, W), "
                             f"got {images.dtype} {tuple(images.shape)}")
        self.images = images
        self.image_size = int(images.shape[-1])

    def __getitem__(self, index: int):
        index = self._check(int(index))
        return self.images[index], int(self.labels[index])


def pair_layout(config: FaceConfig, parents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(identities (2P,), image indices (2P,), is_same (P,))`` in LFW fold order.

    ``parents(identities) -> look-alike parents`` (e.g. :meth:`IdentityBank.parents_of`).
    """
    identities, indices, is_same = [], [], []
    first_test = config.num_train_ids
    for fold in range(config.num_folds):
        members = np.arange(first_test + fold, first_test + config.num_test_ids, config.num_folds)
        lookalikes = members[parents(members) >= 0]
        rng = seeding.stream(config.seed, seeding.PAIRS, fold)
        for _ in range(config.pairs_per_fold):
            person = members[rng.integers(len(members))]
            a, b = rng.choice(TEST_IMAGES_PER_ID, size=2, replace=False)
            identities += [person, person]
            indices += [a, b]
        for _ in range(config.pairs_per_fold):
            if len(lookalikes) and rng.random() < config.lookalike_fraction:
                child = lookalikes[rng.integers(len(lookalikes))]
                pair = [child, int(parents([child])[0])]
            else:
                pair = list(rng.choice(members, size=2, replace=False))
            if rng.random() < 0.5:
                pair.reverse()
            identities += pair
            indices += list(rng.integers(TEST_IMAGES_PER_ID, size=2))
        is_same += [True] * config.pairs_per_fold + [False] * config.pairs_per_fold
    return (np.array(identities, dtype=np.int64), np.array(indices, dtype=np.int64),
            np.array(is_same, dtype=bool))


class FacePairSet(PairSet):
    """The verification pairs rendered on demand (a :class:`PairSet` without stored images)."""

    def __init__(self, config: FaceConfig, image_size: int | None = None, bank: IdentityBank | None = None):
        self.config = config
        self.bank = IdentityBank(config) if bank is None else bank
        self.identities, self.image_index, is_same = pair_layout(config, self.bank.parents_of)
        # PairSet's own fields, without images: __getitem__ renders instead of decoding.
        self.name = PAIR_NAME
        self.is_same = is_same
        self._images = None
        self._encoded = None
        self.image_size = config.image_size if image_size is None else int(image_size)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"image {index} out of range for {len(self)} pair images")
        index = int(index) % len(self)
        image = render_items(self.bank, self.identities[[index]], self.image_index[[index]], self.image_size)
        return torch.from_numpy(image[0])

    def render_images(self) -> np.ndarray:
        """Every pair image now: uint8 (2P, 3, H, W)."""
        return render_items(self.bank, self.identities, self.image_index, self.image_size)

    def render(self) -> PairSet:
        """All pair images now, as a tensor-backed :class:`PairSet`."""
        return PairSet.from_tensor(torch.from_numpy(self.render_images()), self.is_same, name=PAIR_NAME)
