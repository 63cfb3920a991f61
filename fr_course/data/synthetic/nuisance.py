"""Per-image nuisance of the synthetic faces: pose, expression, light, occluders, blur, noise.

Image ``index`` of ``identity`` owns the stream ``(seed, NUISANCE, identity, index)``: its first
:data:`UNIFORMS` draws fix the scalar nuisance, the next ones (only if the image is noisy) the
pixel noise at the requested size, so the scalars do not depend on the size.

Every amplitude is a base value times ``difficulty`` (occluder probabilities too, capped at 1/2),
so ``difficulty = 0`` renders every image of an identity identically (frontal, neutral, evenly
lit, plain grey background) and ``difficulty = 1`` is "moderately hard". At ``difficulty = 1``
(bell-shaped draws lie in [-1, 1] with std 1/3): in-plane rotation within +-14 degrees, scale
within +-9 %, translation within +-7 % of the image, a yaw-like squeeze within +-0.55, smile or
frown, an open mouth (45 % of images), half-closed eyes, gaze, raised brows, a light gradient up to
35 %, brightness +-0.12, contrast x(1 +- 0.28), colour cast +-0.05, random background and shirt,
sunglasses (7 %), a surgical mask (5 %), a random patch (10 %), Gaussian blur up to 2 % of the
image width, noise up to 0.035. Values that pass through ``cos``/``sin`` are snapped to the
2**-20 grid (see :mod:`.seeding`).
"""

from __future__ import annotations

import numpy as np

from . import seeding

UNIFORMS = 64  # fixed draw length: a field added later must not shift the others

NEUTRAL: dict[str, float] = {
    "cos_rot": 1.0, "sin_rot": 0.0, "scale": 1.0, "tx": 0.0, "ty": 0.0, "yaw": 0.0,
    "smile": 0.0, "mouth_open": 0.0, "eye_open": 1.0, "gaze": 0.0, "brow_raise": 0.0,
    "light_x": 0.0, "light_y": 0.0, "brightness": 0.0, "contrast": 1.0,
    "cast_r": 0.0, "cast_g": 0.0, "cast_b": 0.0,
    "bg_r": 0.56, "bg_g": 0.57, "bg_b": 0.6, "bg_grad": 0.0,
    "shirt_r": 0.25, "shirt_g": 0.32, "shirt_b": 0.48,
    "sunglasses": 0.0, "mask": 0.0, "mask_tone": 0.0,
    "patch": 0.0, "patch_x": 0.0, "patch_y": 0.0, "patch_w": 0.2, "patch_h": 0.2,
    "patch_r": 0.5, "patch_g": 0.5, "patch_b": 0.5,
    "blur": 0.0, "noise": 0.0,
}
NUISANCE_NAMES = tuple(NEUTRAL)


def neutral() -> dict[str, float]:
    """The nuisance of ``difficulty = 0``: a frontal, neutral, evenly lit face."""
    return dict(NEUTRAL)


def from_uniforms(u: np.ndarray, difficulty: float) -> dict[str, np.ndarray]:
    """Nuisance of a batch from its uniforms ``u`` (N, UNIFORMS) -> dict of (N,) float64 arrays."""
    if not difficulty >= 0:
        raise ValueError(f"difficulty must be >= 0, got {difficulty!r}")
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] != UNIFORMS:
        raise ValueError(f"expected uniforms of shape (N, {UNIFORMS}), got {u.shape}")
    d = float(difficulty)
    b = seeding.bell(u[:, :45].reshape(-1, 15, 3)).T  # 15 bell-shaped draws per image
    v = u[:, 45:].T                                   # 19 plain uniforms per image
    mix = min(d, 1.0)                                 # colours saturate at difficulty 1
    angle = seeding.snap(np.radians(14.0) * d * b[0])
    light_angle = 2.0 * np.pi * v[0]
    light = 0.35 * d * v[1]
    grey = 0.4 * b[14]                                # a shared brightness shift of the background
    n = {
        "cos_rot": np.cos(angle), "sin_rot": np.sin(angle),
        "scale": 1.0 + 0.09 * d * b[1], "tx": 0.07 * d * b[2], "ty": 0.07 * d * b[3],
        "yaw": np.clip(0.55 * d * b[4], -0.9, 0.9),
        "smile": np.clip(0.9 * d * b[5], -1.0, 1.0),
        "mouth_open": np.clip(d * (v[2] - 0.55), 0.0, 1.0),
        "eye_open": 1.0 - np.clip(d * (v[3] - 0.5), 0.0, 0.85),
        "gaze": 0.35 * d * b[6], "brow_raise": 0.025 * d * b[7],
        "light_x": light * np.cos(light_angle), "light_y": light * np.sin(light_angle),
        "brightness": 0.12 * d * b[8], "contrast": np.maximum(0.35, 1.0 + 0.28 * d * b[9]),
        "cast_r": 0.05 * d * b[10], "cast_g": 0.05 * d * b[11], "cast_b": 0.05 * d * b[12],
        "bg_r": NEUTRAL["bg_r"] + mix * (0.3 * v[4] - 0.15 + grey),
        "bg_g": NEUTRAL["bg_g"] + mix * (0.3 * v[5] - 0.15 + grey),
        "bg_b": NEUTRAL["bg_b"] + mix * (0.3 * v[6] - 0.15 + grey),
        "bg_grad": 0.5 * d * b[13],
        "shirt_r": NEUTRAL["shirt_r"] + mix * (0.9 * v[7] - 0.3),
        "shirt_g": NEUTRAL["shirt_g"] + mix * (0.9 * v[8] - 0.35),
        "shirt_b": NEUTRAL["shirt_b"] + mix * (0.9 * v[9] - 0.45),
        "sunglasses": (v[10] < min(0.07 * d, 0.5)).astype(np.float64),
        "mask": (v[11] < min(0.05 * d, 0.5)).astype(np.float64),
        "mask_tone": v[12],
        "patch": (v[13] < min(0.10 * d, 0.5)).astype(np.float64),
        "patch_x": 1.5 * v[14] - 0.75, "patch_y": 1.5 * v[15] - 0.75,
        "patch_w": 0.12 + 0.2 * v[16], "patch_h": 0.12 + 0.2 * v[17],
        "patch_r": u[:, 63], "patch_g": u[:, 62], "patch_b": u[:, 61],
        "blur": 0.02 * d * v[18] * v[18], "noise": 0.035 * d * u[:, 60],
    }
    if d == 0.0:  # no nuisance at all, not even in fields that only matter when an occluder is on
        return {key: np.full(len(u), value) for key, value in NEUTRAL.items()}
    return {key: seeding.snap(value) for key, value in n.items()}


def image_draws(seed: int, identity: int, index: int, size: int | None,
                difficulty: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The raw draws of one image: uniforms (UNIFORMS,) and pixel noise float32 (3, size, size).

    The noise is triangular in [-1, 1]; it is ``None`` when ``size`` is None or ``difficulty`` is 0
    (the renderer scales it by the image's ``noise`` amplitude, which is 0 then).
    """
    rng = seeding.stream(seed, seeding.NUISANCE, identity, index)
    uniforms = rng.random(UNIFORMS)
    if size is None or not difficulty > 0:
        return uniforms, None
    pair = rng.random((2, 3, size, size), dtype=np.float32)
    return uniforms, pair[0] - pair[1]


def sample_nuisance(seed: int, identity: int, index: int, difficulty: float) -> dict[str, float]:
    """The scalar nuisance of image ``index`` of ``identity`` at ``difficulty``."""
    uniforms, _ = image_draws(seed, identity, index, None, difficulty)
    return {key: float(value[0]) for key, value in from_uniforms(uniforms[None], difficulty).items()}
