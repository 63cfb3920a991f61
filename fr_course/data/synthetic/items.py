"""From (configuration, identity, image index) to pixels: the one place images are made.

Identity numbers are global: ``0 .. num_train_ids - 1`` are the training identities and
``num_train_ids .. num_train_ids + num_test_ids - 1`` the test identities (disjoint by
construction, which makes the verification open-set). :class:`IdentityBank` holds the unit
vectors and look-alike parents of those drawn so far; :func:`render_items` renders any list of
``(identity, index)`` in vectorised chunks. Because every image depends only on its own draws
(see :mod:`.stage`), the chunking never changes a pixel.
"""

from __future__ import annotations

import numpy as np

from . import identity as identity_mod
from . import nuisance as nuisance_mod
from .config import FaceConfig
from .render import render_faces

CHUNK = 128  # images per vectorised render call (keeps the working set in cache)


class IdentityBank:
    """Unit vectors and look-alike parents of the identities of a config, computed on first use.

    Only the identities actually rendered are ever drawn, so a lazy CASIA-sized set starts at
    once; ``units`` / ``parents`` (all identities) draw everything.
    """

    def __init__(self, config: FaceConfig):
        self.config = config
        total = config.num_train_ids + config.num_test_ids
        self._units = np.zeros((total, identity_mod.DIM))
        self._parents = np.zeros(total, dtype=np.int64)
        self._known = np.zeros(total, dtype=bool)

    def __len__(self) -> int:
        return len(self._known)

    def _ensure(self, identities: np.ndarray) -> np.ndarray:
        identities = np.asarray(identities, dtype=np.int64).reshape(-1)
        if len(identities) and (identities.min() < 0 or identities.max() >= len(self)):
            raise IndexError(f"identity out of range [0, {len(self)})")
        config = self.config
        for identity in np.unique(identities[~self._known[identities]]):
            self._units[identity], self._parents[identity] = identity_mod.identity_unit(
                config.seed, int(identity), num_train_ids=config.num_train_ids, num_folds=config.num_folds,
                lookalike_fraction=config.lookalike_fraction, spread=config.lookalike_spread)
            self._known[identity] = True
        return identities

    def units_of(self, identities) -> np.ndarray:
        """Unit vectors (N, D) of ``identities``."""
        return self._units[self._ensure(identities)]

    def parents_of(self, identities) -> np.ndarray:
        """Look-alike parents (N,) of ``identities`` (-1: not a look-alike)."""
        return self._parents[self._ensure(identities)]

    @property
    def units(self) -> np.ndarray:
        return self.units_of(np.arange(len(self)))

    @property
    def parents(self) -> np.ndarray:
        return self.parents_of(np.arange(len(self)))

    def params(self, identity: int) -> dict[str, float]:
        """The physical parameters of one identity (for :func:`.render.render_face`)."""
        return {key: float(value[0]) for key, value in identity_mod.to_params(self.units_of([identity])).items()}


def render_items(bank: IdentityBank, identities, indices, size: int | None = None) -> np.ndarray:
    """uint8 (N, 3, size, size): image ``indices[i]`` of identity ``identities[i]``."""
    config = bank.config
    size = config.image_size if size is None else size
    identities = np.asarray(identities, dtype=np.int64).reshape(-1)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if identities.shape != indices.shape:
        raise ValueError("identities and indices must have the same length")
    if len(indices) and indices.min() < 0:
        raise IndexError("image indices must be >= 0")
    out = np.empty((len(identities), 3, size, size), dtype=np.uint8)
    noisy = config.difficulty > 0
    for start in range(0, len(identities), CHUNK):
        chunk = slice(start, start + CHUNK)
        draws = [nuisance_mod.image_draws(config.seed, int(k), int(j), size, config.difficulty)
                 for k, j in zip(identities[chunk], indices[chunk])]
        uniforms = np.stack([u for u, _ in draws])
        noise = np.stack([n for _, n in draws]) if noisy else None
        out[chunk] = render_faces(identity_mod.to_params(bank.units_of(identities[chunk])),
                                  nuisance_mod.from_uniforms(uniforms, config.difficulty), size, noise)
    return out
