"""Random streams and machine-independent scalars for the synthetic faces.

Every random quantity of the generator comes from its own ``numpy`` generator seeded by a
:class:`numpy.random.SeedSequence` built from integer keys, e.g. ``(seed, NUISANCE, identity,
index)``: an image is a pure function of the dataset seed, the identity and the image index, and
never of the order in which images are rendered, of the process or of the thread count.

Only uniform draws (``Generator.random``) are used; bell-shaped draws are built from them with
arithmetic. Values that go through a transcendental function (``cos``, ``exp``...) are rounded
to a grid of 2**-20 (:func:`snap`), so that one-ulp differences between the maths libraries of
two machines vanish before they reach the pixels. The pixel arithmetic itself uses only ``+ - * /``,
``sqrt``, ``abs``, ``min``/``max``: IEEE-754 rounds those identically everywhere.
"""

from __future__ import annotations

import numpy as np

# Stream tags: the second key of every SeedSequence, so that two purposes never share a stream.
IDENTITY = 101
LOOKALIKE = 102
NUISANCE = 103
COUNTS = 105
LABEL_NOISE = 106
PAIRS = 107

_GRID = float(2 ** 20)


def stream(*keys: int) -> np.random.Generator:
    """A generator determined by the integer ``keys`` only (all must be >= 0)."""
    for key in keys:
        if int(key) != key or key < 0:
            raise ValueError(f"random-stream keys must be non-negative integers, got {keys!r}")
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))


def snap(value):
    """Round a float or an array to the nearest multiple of 2**-20 (see the module docstring)."""
    return np.round(np.asarray(value, dtype=np.float64) * _GRID) / _GRID


def bell(u: np.ndarray) -> np.ndarray:
    """Map uniforms of shape (..., 3) to a bell-shaped value in [-1, 1] (Irwin-Hall, std 1/3)."""
    return (u[..., 0] + u[..., 1] + u[..., 2] - 1.5) / 1.5
