"""A batch of canvases with the face-frame coordinates of every pixel, cropped and subset on demand.

The renderer paints each facial feature only where it can appear: :meth:`Stage.window` returns
a view of the pixels whose face-frame coordinates may fall in a given face-frame rectangle (the
union over the batch), and every coverage computed through that view is intersected with the
rectangle itself. Outside the rectangle (plus half a pixel) coverage is therefore exactly 0 and
painting it would leave the canvas bit-for-bit unchanged: cropping saves time without making an
image depend on which other images share its batch. :meth:`Stage.only` restricts a layer to the
images that have it (glasses, beards, occluders) and :meth:`Stage.merge` writes the result back.

Transform (per image): a face-frame point (x, y) lands at image coordinates
``t + zoom * R(rot) @ (squeeze * x, y)``, the image spanning [-1, 1]^2.
"""

from __future__ import annotations

import math

import numpy as np

from . import raster

f32 = np.float32


class Stage:
    """Canvas (B, 3, h, w), face-frame ``x``/``y`` (B, h, w), image ``xi`` (1, 1, w)/``yi`` (1, h, 1)."""

    def __init__(self, canvas, x, y, xi, yi, px, g, size, rows=slice(None), cols=slice(None),
                 window_d=None, index=None, extra=None):
        self.canvas, self.x, self.y, self.xi, self.yi = canvas, x, y, xi, yi
        self.px = px          # (B, 1, 1) pixel width in face units (along x, the finer axis)
        self.g = g            # per-image parameters: name -> (B, 1, 1) or (B, 3)
        self.size = size
        self.rows, self.cols = rows, cols
        self.window_d = window_d
        self.index = index    # positions in the parent stage when this is a subset
        self.extra = extra or {}  # more per-pixel arrays (B, h, w) that follow crops and subsets

    @classmethod
    def full(cls, size: int, g: dict, cos_r, sin_r, tx, ty, zoom, squeeze) -> "Stage":
        """The whole images of a batch; transform parameters are (B, 1, 1) float32 arrays."""
        grid = (np.arange(size, dtype=f32) + f32(0.5)) * f32(2.0 / size) - f32(1.0)
        xi, yi = grid[None, None, :], grid[None, :, None]
        u, v = xi - tx, yi - ty
        x = (cos_r * u + sin_r * v) / (zoom * squeeze)
        y = (cos_r * v - sin_r * u) / zoom
        count = x.shape[0]
        g = dict(g, _cos=cos_r, _sin=sin_r, _tx=tx, _ty=ty, _zoom=zoom, _squeeze=squeeze)
        px = f32(2.0 / size) / (zoom * squeeze)
        canvas = np.empty((count, 3, size, size), dtype=f32)
        return cls(canvas, x, y, xi, yi, px, g, size)

    def __len__(self) -> int:
        return self.x.shape[0]

    # -- coverage -------------------------------------------------------------------------
    def cov(self, distance) -> np.ndarray:
        """Coverage of ``distance < 0``, intersected with this view's window if it has one."""
        if self.window_d is not None:
            distance = np.maximum(distance, self.window_d)
        return raster.coverage(distance, self.px)

    def paint(self, alpha, colour) -> None:
        raster.paint(self.canvas, alpha, colour)

    # -- crops and subsets -----------------------------------------------------------------
    def window(self, x0, x1, y0, y1) -> "Stage | None":
        """The pixels that may lie in the face-frame box [x0, x1] x [y0, y1] (a view), or None."""
        if self.window_d is not None or self.index is not None:
            raise RuntimeError("window() is taken from the full stage")
        g = self.g
        shape = (len(self), 1, 1)
        x0, x1, y0, y1 = (np.broadcast_to(np.asarray(v, dtype=f32), shape) for v in (x0, x1, y0, y1))
        margin = self.px  # half a pixel of anti-aliasing, doubled for safety
        cols, rows = [], []
        for cx in (x0 - margin, x1 + margin):
            for cy in (y0 - margin, y1 + margin):
                a, b = cx * g["_zoom"] * g["_squeeze"], cy * g["_zoom"]
                cols.append(g["_cos"] * a - g["_sin"] * b + g["_tx"])
                rows.append(g["_sin"] * a + g["_cos"] * b + g["_ty"])
        to_pixel = self.size / 2.0
        c0 = math.floor((float(np.min(cols)) + 1.0) * to_pixel - 0.5) - 1
        c1 = math.ceil((float(np.max(cols)) + 1.0) * to_pixel - 0.5) + 2
        r0 = math.floor((float(np.min(rows)) + 1.0) * to_pixel - 0.5) - 1
        r1 = math.ceil((float(np.max(rows)) + 1.0) * to_pixel - 0.5) + 2
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, self.size), min(r1, self.size)
        if c0 >= c1 or r0 >= r1:
            return None
        rows, cols = slice(r0, r1), slice(c0, c1)
        x, y = self.x[:, rows, cols], self.y[:, rows, cols]
        window_d = np.maximum(np.maximum(x0 - x, x - x1), np.maximum(y0 - y, y - y1))
        return Stage(self.canvas[:, :, rows, cols], x, y, self.xi[:, :, cols], self.yi[:, rows, :],
                     self.px, g, self.size, rows, cols, window_d, None,
                     {k: v[:, rows, cols] for k, v in self.extra.items()})

    def only(self, flag) -> "Stage | None":
        """The images whose ``flag`` (B,) or (B, 1, 1) is non-zero (copies), or None if there are none."""
        keep = np.asarray(flag).reshape(-1) != 0
        if keep.all():
            return self
        index = np.flatnonzero(keep)
        if index.size == 0:
            return None
        take = lambda v: v[index] if v.shape[0] == len(self) else v  # noqa: E731
        return Stage(self.canvas[index], self.x[index], self.y[index], self.xi, self.yi,
                     self.px[index], {k: take(v) for k, v in self.g.items()}, self.size, self.rows,
                     self.cols, None if self.window_d is None else self.window_d[index], index,
                     {k: v[index] for k, v in self.extra.items()})

    def merge(self, sub: "Stage | None") -> None:
        """Write back the canvas of a subset made by :meth:`only` (no-op for views and None)."""
        if sub is not None and sub is not self and sub.index is not None:
            self.canvas[sub.index] = sub.canvas
