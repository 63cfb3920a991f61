"""The recipe of a synthetic face data set (:class:`FaceConfig`) and its named presets.

A configuration determines every pixel: two equal configurations render the same images on any
machine, and :meth:`FaceConfig.key` (configuration + a hash of the generator's code) names the
on-disk cache. Presets:

* ``tiny`` — unit tests: 20 training identities, 300 images, 20 test identities, 32 px.
* ``small`` — the course's quick profile on a CPU: 300 identities, 6,000 images (long-tailed,
  mean 20, min 2), 600 test identities, 10 folds x (300 + 300) pairs = 6,000 pairs, LFW's size
  (one run's binomial standard error is then about 0.4 points instead of 1.1 with 1,000), 32 px
  (48 px also works: ``image_size=48``). Rendered once and cached.
* ``casia`` — CASIA-WebFace's shape (10,572 identities, exactly 490,623 images, long tail,
  112 px) for measuring training throughput at the real scale; rendered lazily, never cached.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class FaceConfig:
    """Every knob of the synthetic faces.

    ``difficulty`` scales all per-image nuisance (0 = identical images of an identity) and
    tightens look-alikes (their parameters stay within ``lookalike_spread`` of the parent's).
    ``imbalance`` shapes the images-per-identity law (0 = balanced, 1 = CASIA-like).
    ``label_noise`` is the fraction of training images given a wrong identity.
    """

    num_train_ids: int
    num_train_images: int
    num_test_ids: int
    image_size: int = 32
    difficulty: float = 1.0
    imbalance: float = 1.0
    label_noise: float = 0.0
    lookalike_fraction: float = 0.25
    pairs_per_fold: int = 50
    num_folds: int = 10
    min_images_per_id: int = 2
    seed: int = 0

    def __post_init__(self):
        def need(condition: bool, field: str, rule: str):
            if not condition:
                raise ValueError(f"FaceConfig.{field} must be {rule}, got {getattr(self, field)!r}")

        for field in ("num_train_ids", "num_train_images", "num_test_ids", "image_size", "pairs_per_fold",
                      "num_folds", "min_images_per_id", "seed"):
            value = getattr(self, field)
            need(isinstance(value, int) and not isinstance(value, bool), field, "an integer")
        for field in ("difficulty", "imbalance", "label_noise", "lookalike_fraction"):
            value = getattr(self, field)
            need(isinstance(value, (int, float)) and not isinstance(value, bool), field, "a number")
            object.__setattr__(self, field, float(value))
        need(self.num_train_ids >= 2, "num_train_ids", ">= 2")
        need(self.min_images_per_id >= 1, "min_images_per_id", ">= 1")
        need(self.num_train_images >= self.min_images_per_id * self.num_train_ids, "num_train_images",
             f">= min_images_per_id * num_train_ids = {self.min_images_per_id * self.num_train_ids}")
        need(self.num_folds >= 2, "num_folds", ">= 2")
        need(self.num_test_ids >= 2 * self.num_folds, "num_test_ids",
             f">= 2 * num_folds = {2 * self.num_folds} (each fold needs two identities)")
        need(16 <= self.image_size <= 512, "image_size", "in [16, 512]")
        need(0.0 <= self.difficulty <= 4.0, "difficulty", "in [0, 4]")
        need(0.0 <= self.imbalance <= 3.0, "imbalance", "in [0, 3]")
        need(0.0 <= self.label_noise < 1.0, "label_noise", "in [0, 1)")
        need(0.0 <= self.lookalike_fraction <= 1.0, "lookalike_fraction", "in [0, 1]")
        need(self.pairs_per_fold >= 1, "pairs_per_fold", ">= 1")
        need(self.seed >= 0, "seed", ">= 0")

    @property
    def mean_images_per_id(self) -> float:
        return self.num_train_images / self.num_train_ids

    @property
    def num_pairs(self) -> int:
        return 2 * self.pairs_per_fold * self.num_folds

    @property
    def lookalike_spread(self) -> float:
        """Largest change of a look-alike's unit-cube coordinates: 0.25 / (1 + 1.5 difficulty)."""
        return 0.25 / (1.0 + 1.5 * self.difficulty)

    def replace(self, **changes) -> "FaceConfig":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A short hash of the configuration and of the generator's code (names the cache file)."""
        text = json.dumps({"code": code_fingerprint(), **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of this package's source files: any edit of the generator invalidates cached images
    (safer than a version number someone must remember to bump)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()[:16]


PRESETS: dict[str, dict] = {
    "tiny": dict(num_train_ids=20, num_train_images=300, num_test_ids=20, image_size=32, pairs_per_fold=5),
    "small": dict(num_train_ids=300, num_train_images=6_000, num_test_ids=600, image_size=32,
                  pairs_per_fold=300),
    "casia": dict(num_train_ids=10_572, num_train_images=490_623, num_test_ids=2_000, image_size=112,
                  pairs_per_fold=300),
}
LAZY_PRESETS = frozenset({"casia"})  # too large to pre-render: rendered in __getitem__


def make_config(preset: str = "small", seed: int = 0, **overrides) -> FaceConfig:
    """The configuration of ``preset`` with ``seed`` and any field overridden by keyword."""
    if preset not in PRESETS:
        raise ValueError(f"unknown synthetic-face preset {preset!r}; choose one of {sorted(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(FaceConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown FaceConfig field(s) {unknown}; valid fields: {sorted(fields)}")
    return FaceConfig(**{**PRESETS[preset], "seed": seed, **overrides})
