"""A picture of the synthetic faces: identities down the rows, nuisance across the columns."""

from __future__ import annotations

import numpy as np

from .config import make_config
from .items import IdentityBank, render_items


def face_grid(num_ids: int = 8, per_id: int = 6, preset: str = "small", size: int | None = None,
              seed: int = 0, pad: int = 2, first_id: int = 0, **overrides) -> np.ndarray:
    """uint8 (H, W, 3) mosaic: row r shows images 0..per_id-1 of training identity first_id + r.

    ``size`` defaults to the preset's image size; ``overrides`` are FaceConfig fields
    (e.g. ``difficulty=0`` to see the identities without nuisance).
    """
    if num_ids < 1 or per_id < 1 or pad < 0:
        raise ValueError(f"num_ids and per_id must be >= 1 and pad >= 0, got {num_ids}, {per_id}, {pad}")
    if size is not None:
        overrides["image_size"] = size
    config = make_config(preset, seed, **overrides)
    if first_id < 0 or first_id + num_ids > config.num_train_ids:
        raise ValueError(f"identities {first_id}..{first_id + num_ids - 1} are not all training identities "
                         f"of preset {preset!r} (it has {config.num_train_ids})")
    identities = np.repeat(np.arange(first_id, first_id + num_ids), per_id)
    indices = np.tile(np.arange(per_id), num_ids)
    images = render_items(IdentityBank(config), identities, indices)
    side = config.image_size
    step = side + pad
    grid = np.full((num_ids * step + pad, per_id * step + pad, 3), 255, dtype=np.uint8)
    for item, image in enumerate(images):
        top, left = pad + (item // per_id) * step, pad + (item % per_id) * step
        grid[top:top + side, left:left + side] = image.transpose(1, 2, 0)
    return grid


def plot_face_grid(ax=None, num_ids: int = 8, per_id: int = 6, preset: str = "small", **kwargs):
    """Draw :func:`face_grid` on a matplotlib axis (a new figure if ``ax`` is None); returns the axis."""
    import matplotlib.pyplot as plt

    grid = face_grid(num_ids=num_ids, per_id=per_id, preset=preset, **kwargs)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * per_id, 1.1 * num_ids))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"synthetic faces ({preset}): one identity per row", fontsize=9)
    return ax
