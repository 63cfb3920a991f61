"""Anti-aliased 2-D shapes as signed distances, on batches of images, in pure NumPy.

Every shape is a (possibly approximate) signed distance ``d`` to its outline, negative inside,
evaluated on arrays of shape (B, H, W) with per-image parameters of shape (B, 1, 1). Coverage of a
pixel of width ``px`` is ``clip(1/2 - d/px, 0, 1)``: the fraction of a pixel-wide box filter that
lies inside a locally straight edge, i.e. analytic anti-aliasing with no supersampling.
Intersections are ``max`` of distances, unions ``min``.

Only ``+ - * /``, ``sqrt``, ``abs``, ``min``/``max`` are used, so that results are bit-identical on
every IEEE-754 machine (see :mod:`.seeding`).
"""

from __future__ import annotations

import numpy as np

_EPS = np.float32(1e-6)


def coverage(distance: np.ndarray, px) -> np.ndarray:
    """Pixel coverage in [0, 1] of the region ``distance < 0`` for pixels of width ``px``."""
    return np.clip(0.5 - distance / px, 0.0, 1.0)


def ellipse(x, y, cx, cy, rx, ry) -> np.ndarray:
    """Axis-aligned ellipse; first-order distance ``f / |grad f|`` with ``f = (x/rx)^2 + (y/ry)^2 - 1``."""
    dx = (x - cx) / rx
    dy = (y - cy) / ry
    grad = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
    return (dx * dx + dy * dy - 1.0) / (2.0 * grad + _EPS)


def capsule(x, y, ax, ay, bx, by, radius) -> np.ndarray:
    """Exact distance to the segment a-b, minus ``radius`` (a stroke with round caps)."""
    px, py = x - ax, y - ay
    ux, uy = bx - ax, by - ay
    h = np.clip((px * ux + py * uy) / (ux * ux + uy * uy + _EPS), 0.0, 1.0)
    ex, ey = px - ux * h, py - uy * h
    return np.sqrt(ex * ex + ey * ey) - radius


def box(x, y, cx, cy, hx, hy, radius) -> np.ndarray:
    """Exact distance to a rectangle of half-sizes (hx, hy) whose corners are rounded by ``radius``."""
    qx = np.abs(x - cx) - hx + radius
    qy = np.abs(y - cy) - hy + radius
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - radius


def ring(distance: np.ndarray, half_width) -> np.ndarray:
    """The outline of a shape as a band of ``2 * half_width`` around ``distance = 0``."""
    return np.abs(distance) - half_width


def paint(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """In place ``canvas = canvas + alpha (colour - canvas)``; canvas (B, 3, H, W), alpha (B, H, W).

    ``colour`` is (B, 3) for a flat colour or (B, 3, H, W) for a shaded one.
    """
    if colour.ndim == 2:
        colour = colour[:, :, None, None]
    step = colour - canvas
    step *= alpha[:, None]
    canvas += step


def blur(images: np.ndarray, sigma_px: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur of (B, C, H, W) with a per-image standard deviation in pixels.

    Image i uses the taps ``|k| <= ceil(3 sigma_i)`` (weights normalised, then snapped to the
    2**-20 grid); the taps are summed one shifted copy at a time in increasing offset, with edge
    replication, so an image is blurred identically whatever else is in its batch.
    """
    sigma_px = np.asarray(sigma_px, dtype=np.float64).reshape(-1)
    active = sigma_px > 0.05  # below that the image stays untouched
    if not active.any():
        return images
    reach = np.where(active, np.ceil(3.0 * sigma_px), 0.0)
    radius = int(reach.max())
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    safe = np.where(active, sigma_px, 1.0)[:, None]
    weights = np.exp(-0.5 * (offsets[None, :] / safe) ** 2) * (np.abs(offsets)[None, :] <= reach[:, None])
    weights = np.round(weights / weights.sum(axis=1, keepdims=True) * 2 ** 20) / 2 ** 20
    weights = weights.astype(np.float32)
    out = images
    for axis in (2, 3):
        size = out.shape[axis]
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        for k in range(2 * radius + 1):
            tap = padded[:, :, k:k + size] if axis == 2 else padded[:, :, :, k:k + size]
            acc += weights[:, k, None, None, None] * tap
        out = acc
    return out
