"""Identities of the synthetic faces: a point in a unit cube of shape parameters.

An identity is a vector ``u`` in ``[0, 1]^D`` (one coordinate per entry of :data:`FIELDS`),
drawn uniformly from the stream ``(seed, IDENTITY, identity)``. :func:`to_params` maps it to
the physical quantities the renderer draws (face half-width, eye spacing, colours...):
continuous fields linearly, categorical fields by ``floor(u * k)`` and flags by ``u < p``.

Look-alikes make verification non-trivial: with probability ``lookalike_fraction`` an identity
is not drawn afresh but copied from an earlier *parent* identity of the same split (training
identities from training identities; test identities from the same verification fold) and moved
by at most ``spread`` along every continuous coordinate (``0.3 spread`` along categorical
and flag coordinates). Categorical fields then change only when the parent
sits near a boundary, as close relatives share most traits. The parent's *fresh* draw is used, so
the definition is not recursive and every identity costs two draws at most.
"""

from __future__ import annotations

import numpy as np

from . import seeding

# name, kind, arguments. kind "lin": (low, high); "cat": number of categories; "flag": probability.
FIELDS: tuple[tuple[str, str, tuple], ...] = (
    ("face_w", "lin", (0.44, 0.58)),        # half-width of the face outline
    ("face_h", "lin", (0.58, 0.70)),        # half-height of the face outline
    ("jaw", "lin", (0.0, 0.38)),            # narrowing of the outline towards the chin
    ("skin_tone", "lin", (0.0, 1.0)),       # position on the light-to-dark skin palette
    ("skin_warm", "lin", (-1.0, 1.0)),      # small red/yellow shift of the skin
    ("hair_tone", "lin", (0.0, 1.0)),       # position on the hair palette
    ("hair_style", "cat", (6,)),            # bald, short, side part, fringe, long, curly
    ("hairline", "lin", (0.0, 1.0)),        # 0 = low forehead, 1 = high / receding
    ("hair_volume", "lin", (0.0, 1.0)),
    ("hair_part", "lin", (-1.0, 1.0)),      # asymmetry of the hairline
    ("eye_y", "lin", (-0.15, -0.03)),       # height of the eye line
    ("eye_dx", "lin", (0.16, 0.235)),       # half the distance between the eyes
    ("eye_w", "lin", (0.068, 0.10)),        # half-width of an eye
    ("eye_ratio", "lin", (0.42, 0.72)),     # eye height / eye width
    ("iris_tone", "lin", (0.0, 1.0)),       # position on the iris palette
    ("iris_size", "lin", (0.75, 1.0)),
    ("brow_gap", "lin", (0.07, 0.125)),     # eye-to-brow distance
    ("brow_thick", "lin", (0.012, 0.036)),
    ("brow_tilt", "lin", (-0.35, 0.35)),    # inner end higher (<0) or lower (>0), radians-ish
    ("brow_arch", "lin", (0.0, 1.0)),
    ("brow_len", "lin", (1.0, 1.45)),       # brow length / eye width
    ("nose_len", "lin", (0.15, 0.27)),      # nose tip below the eye line
    ("nose_w", "lin", (0.045, 0.085)),
    ("mouth_gap", "lin", (0.10, 0.17)),     # mouth below the nose tip
    ("mouth_w", "lin", (0.10, 0.18)),       # half-width of the mouth
    ("lip_thick", "lin", (0.02, 0.048)),
    ("lip_red", "lin", (0.0, 1.0)),
    ("ear_size", "lin", (0.75, 1.25)),
    ("ear_y", "lin", (-0.04, 0.08)),
    ("glasses", "flag", (0.22,)),
    ("glasses_shape", "cat", (2,)),         # round or rectangular frames
    ("glasses_tone", "lin", (0.0, 1.0)),
    ("glasses_thick", "lin", (0.010, 0.022)),
    ("beard", "flag", (0.24,)),
    ("beard_style", "cat", (3,)),           # full beard, goatee, moustache only
    ("beard_density", "lin", (0.55, 0.95)),
    ("mole", "flag", (0.15,)),
    ("mole_x", "lin", (-1.0, 1.0)),
    ("mole_y", "lin", (-1.0, 1.0)),
)
DIM = len(FIELDS)
# Look-alikes move categorical and flag coordinates 3x less: close relatives rarely differ in
# hair style, glasses or beard.
_STEP_SCALE = np.array([1.0 if kind == "lin" else 0.3 for _, kind, _ in FIELDS])
FIELD_NAMES = tuple(name for name, _, _ in FIELDS)


def fresh_unit(seed: int, identity: int) -> np.ndarray:
    """The identity's own uniform draw in ``[0, 1]^D`` (before any look-alike copying)."""
    return seeding.snap(seeding.stream(seed, seeding.IDENTITY, identity).random(DIM))


def split_parent_candidates(identity: int, num_train_ids: int, num_folds: int) -> range | list[int]:
    """Identities a look-alike of ``identity`` may copy: earlier ones of the same split and fold."""
    if identity < num_train_ids:
        return range(identity)
    offset = identity - num_train_ids  # test identity k belongs to fold k % num_folds
    return range(num_train_ids + offset % num_folds, identity, num_folds)


def identity_unit(seed: int, identity: int, *, num_train_ids: int, num_folds: int,
                  lookalike_fraction: float, spread: float) -> tuple[np.ndarray, int]:
    """The unit vector of ``identity`` and its parent (``-1`` if it is not a look-alike)."""
    rng = seeding.stream(seed, seeding.LOOKALIKE, identity)
    draw = rng.random(2 + DIM)
    candidates = split_parent_candidates(identity, num_train_ids, num_folds)
    if len(candidates) == 0 or draw[0] >= lookalike_fraction:
        return fresh_unit(seed, identity), -1
    parent = candidates[min(int(draw[1] * len(candidates)), len(candidates) - 1)]
    moved = fresh_unit(seed, parent) + spread * _STEP_SCALE * (2.0 * draw[2:] - 1.0)
    return seeding.snap(np.clip(moved, 0.0, 1.0)), parent


def to_params(unit: np.ndarray) -> dict[str, np.ndarray]:
    """Unit vectors (..., D) -> physical parameters, a dict of arrays of shape (...)."""
    unit = np.asarray(unit, dtype=np.float64)
    if unit.shape[-1] != DIM:
        raise ValueError(f"identity unit vectors must have {DIM} coordinates, got shape {unit.shape}")
    params = {}
    for column, (name, kind, args) in enumerate(FIELDS):
        u = unit[..., column]
        if kind == "lin":
            params[name] = args[0] + u * (args[1] - args[0])
        elif kind == "cat":
            params[name] = np.minimum(np.floor(u * args[0]), args[0] - 1)
        else:
            params[name] = (u < args[0]).astype(np.float64)
    return params
