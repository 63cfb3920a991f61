"""The cartoon-face renderer: identity parameters + nuisance -> uint8 RGB images.

Geometry lives in a *face frame* (x right, y down, the face outline centred at the origin with a
half-height of about 0.65); the image spans [-1, 1]^2 (see :mod:`.stage` for the transform:
in-plane rotation, scale, translation and a horizontal squeeze, the yaw-like nuisance, which
also slides the inner features sideways, the nose most, as a turned head would).

Layers, back to front: background, shoulders, neck, long or curly hair, ears, face (shaded),
beard, nose, eyes (white, iris, pupil, glint, lid line), brows, mouth (lips, opening, teeth),
glasses, front hair, mole; then the nuisance occluders (sunglasses, mask, patch), a light
gradient, contrast/brightness/colour cast, blur and noise. Each layer is one function drawing
every image of the batch at once inside its window (:meth:`.stage.Stage.window`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import identity as identity_mod
from . import nuisance as nuisance_mod
from . import raster
from .stage import Stage, f32

ZOOM = 1.12  # face-frame units per half-image at scale 1: the outline fills ~60 % of the width

# Palettes, interpolated linearly along a parameter in [0, 1].
SKIN = np.array([(1.00, 0.87, 0.77), (0.96, 0.79, 0.64), (0.87, 0.66, 0.50),
                 (0.72, 0.50, 0.34), (0.53, 0.35, 0.23), (0.36, 0.23, 0.16)])
HAIR = np.array([(0.07, 0.06, 0.05), (0.22, 0.14, 0.09), (0.42, 0.27, 0.15), (0.58, 0.27, 0.12),
                 (0.83, 0.67, 0.40), (0.93, 0.84, 0.62), (0.62, 0.60, 0.58)])
IRIS = np.array([(0.24, 0.14, 0.07), (0.42, 0.26, 0.10), (0.45, 0.42, 0.18), (0.25, 0.47, 0.28),
                 (0.25, 0.45, 0.70), (0.48, 0.56, 0.62)])
FRAMES = np.array([(0.05, 0.05, 0.06), (0.35, 0.20, 0.10), (0.70, 0.58, 0.25), (0.55, 0.10, 0.12)])
MASKS = np.array([(0.93, 0.95, 0.97), (0.62, 0.80, 0.92), (0.12, 0.12, 0.14)])
LIP_RED = np.array([0.72, 0.22, 0.24])

BALD, SHORT, SIDE_PART, FRINGE, LONG, CURLY = range(6)  # values of ``hair_style``
FULL_BEARD, GOATEE, MOUSTACHE = range(3)                # values of ``beard_style``


def palette(table: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Colours (B, 3) at ``position`` (B,) in [0, 1] along a palette of anchor colours."""
    scaled = np.clip(position, 0.0, 1.0) * (len(table) - 1)
    low = np.minimum(np.floor(scaled).astype(int), len(table) - 2)
    frac = (scaled - low)[:, None]
    return table[low] * (1.0 - frac) + table[low + 1] * frac


def _col(values) -> np.ndarray:
    """(B,) -> (B, 1, 1) float32, to broadcast against pixel arrays."""
    return np.asarray(values, dtype=np.float32).reshape(-1, 1, 1)


def _rgb(r, g, b) -> np.ndarray:
    return np.stack([r, g, b], axis=1).astype(f32)


def _flat(count: int, colour) -> np.ndarray:
    return np.tile(np.asarray(colour, dtype=f32)[None], (count, 1))


def _geometry(p: dict[str, np.ndarray], n: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-image quantities every layer reads: (B, 1, 1) float32 scalars and (B, 3) colours."""
    g = {name: _col(value) for name, value in p.items()}
    g.update({name: _col(value) for name, value in n.items()})
    yaw = g["yaw"]
    g["feature_x"] = yaw * f32(0.10)   # eyes, brows and mouth slide with the yaw
    g["nose_x"] = yaw * f32(0.16)      # the nose, nearer the camera, slides more
    g["nose_tip"] = g["eye_y"] + g["nose_len"]
    g["mouth_y"] = g["nose_tip"] + g["mouth_gap"]
    g["brow_y"] = g["eye_y"] - g["brow_gap"] - g["brow_raise"]
    g["eye_h"] = g["eye_w"] * g["eye_ratio"]
    for side, name in ((-1.0, "l"), (1.0, "r")):
        g["ex_" + name] = g["feature_x"] + f32(side) * g["eye_dx"]
        g["ew_" + name] = g["eye_w"] * np.clip(f32(1.0) - f32(0.3) * yaw * f32(side), 0.5, 1.2)
    skin = palette(SKIN, p["skin_tone"]) + np.outer(p["skin_warm"], (0.025, 0.0, -0.025))
    hair = palette(HAIR, p["hair_tone"])
    g["skin"], g["hair"] = skin.astype(f32), hair.astype(f32)
    g["skin_dark"], g["skin_shadow"] = (skin * 0.82).astype(f32), (skin * 0.4).astype(f32)
    g["iris_col"] = palette(IRIS, p["iris_tone"]).astype(f32)
    red = p["lip_red"][:, None] * 0.6
    g["lip_col"] = ((skin * (1.0 - red) + LIP_RED * red) * 0.85).astype(f32)
    g["frame_col"] = palette(FRAMES, p["glasses_tone"]).astype(f32)
    g["mask_col"] = palette(MASKS, n["mask_tone"]).astype(f32)
    g["bg"] = _rgb(n["bg_r"], n["bg_g"], n["bg_b"])
    g["shirt"] = _rgb(n["shirt_r"], n["shirt_g"], n["shirt_b"])
    g["patch_col"] = _rgb(n["patch_r"], n["patch_g"], n["patch_b"])
    g["cast"] = _rgb(n["cast_r"], n["cast_g"], n["cast_b"])
    return g


# ---- layers ----------------------------------------------------------------------------------

def _background_and_body(st: Stage) -> None:
    g = st.g
    st.canvas[:] = g["bg"][:, :, None, None] * (f32(1.0) + f32(0.25) * g["bg_grad"][:, None] * st.yi[None])
    body = st.window(-1.0, 1.0, g["face_h"] + 0.16, g["face_h"] + 1.4)
    if body is not None:
        body.paint(body.cov(raster.ellipse(body.x, body.y, 0.0, g["face_h"] + 0.78, 1.0, 0.62)), g["shirt"])
    neck_w, neck_y = g["face_w"] * 0.42, g["face_h"] * 0.9
    neck = st.window(-neck_w, neck_w, neck_y - 0.32, neck_y + 0.32)
    if neck is not None:
        neck.paint(neck.cov(raster.box(neck.x, neck.y, 0.0, neck_y, neck_w, 0.32, 0.06)),
                   (g["skin"] * 0.8).astype(f32))


def _hair_back(st: Stage) -> None:
    """Long hair falls to the shoulders behind the head; curly hair is a large round mass."""
    g = st.g
    style, volume, fw, fh = g["hair_style"], g["hair_volume"], g["face_w"], g["face_h"]
    is_long = style == LONG
    half_w = np.where(is_long, fw + 0.11 + 0.08 * volume, fw + 0.2 + 0.12 * volume)
    top = np.where(is_long, -0.32 - fh, -0.2 - fh * 0.85 - 0.12 * volume)
    bottom = np.where(is_long, 0.78 - 0.05 * volume, -0.2 + fh * 0.85 + 0.12 * volume)
    view = st.window(-half_w, half_w, top, bottom)
    sub = None if view is None else view.only((style == LONG) | (style == CURLY))
    if sub is None:
        return
    g = sub.g
    volume, fw, fh = g["hair_volume"], g["face_w"], g["face_h"]
    long_d = np.maximum(raster.ellipse(sub.x, sub.y, 0.0, -0.02, fw + 0.11 + 0.08 * volume, fh + 0.3),
                        sub.y - (0.78 - 0.05 * volume))  # an oval mass, cut straight at the ends
    curly_d = raster.ellipse(sub.x, sub.y, 0.0, -0.2, fw + 0.2 + 0.12 * volume, fh * 0.85 + 0.12 * volume)
    sub.paint(sub.cov(np.where(g["hair_style"] == LONG, long_d, curly_d)), (g["hair"] * 0.8).astype(f32))
    view.merge(sub)


def _ears(st: Stage) -> None:
    """Ears on both sides; the one on the far side of a turned head shrinks."""
    g = st.g
    ear, fw = g["ear_size"], g["face_w"]
    reach = fw * 0.96 + 0.1 * ear
    view = st.window(-reach, reach, g["ear_y"] - 0.12 * ear, g["ear_y"] + 0.12 * ear)
    if view is None:
        return
    for side in (-1.0, 1.0):
        turn = np.clip(f32(1.0) - f32(1.4) * g["yaw"] * f32(side), 0.25, 1.3)
        cx = f32(side) * (fw * 0.96 - 0.01)
        outer = raster.ellipse(view.x, view.y, cx, g["ear_y"], 0.065 * ear * turn, 0.115 * ear)
        view.paint(view.cov(outer), (g["skin"] * 0.9).astype(f32))
        inner = raster.ellipse(view.x, view.y, cx + f32(side) * 0.012, g["ear_y"], 0.03 * ear * turn, 0.07 * ear)
        view.paint(f32(0.6) * view.cov(inner), (g["skin"] * 0.72).astype(f32))


def _face(st: Stage) -> None:
    """An ellipse whose half-width narrows towards the chin, darker towards the rim.

    Keeps the face's signed distance in ``st.extra["face_d"]`` for the beard and the mask.
    """
    g = st.g
    fw, fh = g["face_w"], g["face_h"]
    taper = np.clip(st.y / fh, 0.0, 1.0)
    half_w = fw * (f32(1.0) - g["jaw"] * taper * taper)
    qx, qy = st.x / half_w, st.y / fh
    level = qx * qx + qy * qy
    face_d = (level - f32(1.0)) / (f32(2.0) * np.sqrt((qx / half_w) ** 2 + (qy / fh) ** 2) + f32(1e-6))
    shade = f32(1.0) - f32(0.16) * np.minimum(level, 1.0) ** 2
    st.paint(st.cov(face_d), g["skin"][:, :, None, None] * shade[:, None])
    st.extra["face_d"] = face_d


def _beard(st: Stage) -> None:
    """Full beard (the jaw below the mouth line), goatee (the chin) or moustache only."""
    g = st.g
    view = st.window(-g["face_w"], g["face_w"], g["mouth_y"] - 0.1, g["face_h"] + 0.02)
    sub = None if view is None else view.only(g["beard"])
    if sub is None:
        return
    g, x, y = sub.g, sub.x, sub.y
    fx, my, mw, face_d = g["feature_x"], g["mouth_y"], g["mouth_w"], sub.extra["face_d"]
    full = np.maximum(face_d + f32(0.004), (my - 0.07) - y)
    full_alpha = sub.cov(full) * np.clip((y - my + 0.07) / 0.06, 0.0, 1.0)
    goatee = np.maximum(raster.ellipse(x, y, fx, my + 0.1, mw * 0.75, 0.14), face_d)
    moustache = raster.capsule(x, y, fx - mw * 0.85, my - 0.035, fx + mw * 0.85, my - 0.035, 0.022)
    for side in (-1.0, 1.0):
        tip = raster.capsule(x, y, fx + f32(side) * mw * 0.85, my - 0.03, fx + f32(side) * mw, my + 0.04, 0.016)
        moustache = np.minimum(moustache, tip)
    style = g["beard_style"]
    alpha = np.maximum(full_alpha * (style == FULL_BEARD), sub.cov(goatee) * (style == GOATEE))
    sub.paint(g["beard_density"] * np.maximum(alpha, sub.cov(moustache)), (g["hair"] * 0.85).astype(f32))
    view.merge(sub)


def _nose(st: Stage) -> None:
    """A shadow along one side of the bridge, the tip and its highlight, the nostrils."""
    g = st.g
    nx, tip, nw = g["nose_x"], g["nose_tip"], g["nose_w"]
    view = st.window(nx - nw - 0.05, nx + nw + 0.05, g["eye_y"] + 0.03, tip + 0.05)
    if view is None:
        return
    x, y = view.x, view.y
    bridge = raster.capsule(x, y, nx + 0.025, g["eye_y"] + 0.05, nx + 0.035, tip - 0.035, 0.011)
    view.paint(f32(0.35) * view.cov(bridge), (g["skin"] * 0.7).astype(f32))
    view.paint(f32(0.4) * view.cov(raster.ellipse(x, y, nx, tip - 0.005, nw, 0.042)), g["skin_dark"])
    view.paint(f32(0.35) * view.cov(raster.ellipse(x, y, nx, tip - 0.012, nw * 0.5, 0.03)),
               np.minimum(g["skin"] * 1.12, 1.0).astype(f32))
    for side in (-1.0, 1.0):
        nostril = raster.ellipse(x, y, nx + f32(side) * nw * 0.45, tip + 0.012, 0.02, 0.012)
        view.paint(f32(0.85) * view.cov(nostril), g["skin_shadow"])


def _eyes_window(st: Stage, width: float, height: float) -> Stage | None:
    g = st.g
    left = g["ex_l"] - width * g["ew_l"]
    right = g["ex_r"] + width * g["ew_r"]
    return st.window(left, right, g["eye_y"] - height * g["eye_w"], g["eye_y"] + height * g["eye_w"])


def _eyes(st: Stage) -> None:
    """White, iris, pupil, glint and the upper lid line; eyes close and gaze with the nuisance."""
    view = _eyes_window(st, 1.2, 1.0)
    if view is None:
        return
    g, x, y, count = view.g, view.x, view.y, len(view)
    eye_y, eye_h = g["eye_y"], g["eye_h"]
    iris_r = eye_h * g["iris_size"] * 0.95
    white_col, black, glint_col = _flat(count, (0.96,) * 3), _flat(count, (0.03,) * 3), _flat(count, (1.0,) * 3)
    lid_col = (g["hair"] * 0.3 + 0.04).astype(f32)
    for name in ("l", "r"):
        ex, ew = g["ex_" + name], g["ew_" + name]
        white = raster.ellipse(x, y, ex, eye_y, ew, eye_h * g["eye_open"] + 0.004)
        white_cov = view.cov(white)
        view.paint(white_cov, white_col)
        ix = ex + g["gaze"] * ew * 0.45
        view.paint(np.minimum(view.cov(raster.ellipse(x, y, ix, eye_y, iris_r, iris_r)), white_cov), g["iris_col"])
        pupil = raster.ellipse(x, y, ix, eye_y, iris_r * 0.45, iris_r * 0.45)
        view.paint(np.minimum(view.cov(pupil), white_cov), black)
        glint = raster.ellipse(x, y, ix - iris_r * 0.35, eye_y - iris_r * 0.35, iris_r * 0.22, iris_r * 0.22)
        view.paint(f32(0.9) * np.minimum(view.cov(glint), white_cov), glint_col)
        upper = np.clip((eye_y + 0.3 * eye_h - y) / (0.5 * eye_h), 0.0, 1.0)
        view.paint(f32(0.9) * view.cov(raster.ring(white, 0.008)) * upper, lid_col)


def _brows(st: Stage) -> None:
    """Thick strokes, tilted and arched, raised by the expression."""
    g = st.g
    reach = 1.3 * g["brow_len"] + 0.2
    view = st.window(g["ex_l"] - reach * g["ew_l"], g["ex_r"] + reach * g["ew_r"],
                     g["brow_y"] - 0.09, g["brow_y"] + 0.07)
    if view is None:
        return
    g, x, y = view.g, view.x, view.y
    arch = g["brow_arch"] * f32(2.2)
    colour = (g["hair"] * 0.75).astype(f32)
    for name, side in (("l", -1.0), ("r", 1.0)):
        ex, ew = g["ex_" + name], g["ew_" + name]
        inner_x = ex - f32(side) * ew * 0.9
        outer_x = ex + f32(side) * ew * (g["brow_len"] * 1.3 - 0.9)
        bent_y = y + arch * (x - (inner_x + outer_x) * 0.5) ** 2  # bending space arches the stroke
        stroke = raster.capsule(x, bent_y, inner_x, g["brow_y"] + g["brow_tilt"] * ew * 0.5, outer_x,
                                g["brow_y"] - g["brow_tilt"] * ew * 0.3, g["brow_thick"])
        view.paint(view.cov(stroke), colour)


def _mouth(st: Stage) -> None:
    """Lips between two curves that bend with the smile; an opening with teeth when open."""
    g = st.g
    fx, mw, my = g["feature_x"], g["mouth_w"], g["mouth_y"]
    view = st.window(fx - mw - 0.01, fx + mw + 0.01, my - 0.16, my + 0.16)
    if view is None:
        return
    g, x, y, count = view.g, view.x, view.y, len(view)
    t = (x - fx) / mw
    across = np.clip(f32(1.0) - t * t, 0.0, 1.0)
    centre = my + g["smile"] * f32(0.045) * (across - f32(0.5))
    gap = g["mouth_open"] * f32(0.055) * across
    lip = g["lip_thick"] * np.sqrt(across)
    offset = y - centre
    outside_x = np.abs(t) * mw - mw
    lips = np.maximum(np.where(offset < 0, -offset - gap - lip, offset - gap - lip * 1.25), outside_x)
    view.paint(view.cov(lips), g["lip_col"])
    opening = np.maximum(np.abs(offset) - gap - f32(0.006), outside_x * f32(0.97))
    view.paint(view.cov(opening), _flat(count, (0.28, 0.07, 0.08)))
    teeth = np.maximum(np.maximum(-offset - gap, offset + gap * f32(0.3)), outside_x * f32(1.15))
    view.paint(view.cov(teeth), _flat(count, (0.93,) * 3))


def _bridge(x, y, g, width) -> np.ndarray:
    return raster.capsule(x, y, g["ex_l"] + g["ew_l"] * 1.5, g["eye_y"] - 0.01,
                          g["ex_r"] - g["ew_r"] * 1.5, g["eye_y"] - 0.01, width)


def _glasses(st: Stage) -> None:
    """Round or rectangular frames, the bridge and the temples towards the ears."""
    g = st.g
    reach = g["face_w"] * 1.05
    view = st.window(-reach, reach, g["eye_y"] - 1.8 * g["eye_w"], g["eye_y"] + 1.8 * g["eye_w"])
    sub = None if view is None else view.only(g["glasses"])
    if sub is None:
        return
    g, x, y = sub.g, sub.x, sub.y
    thick, square = g["glasses_thick"], g["glasses_shape"]
    frame = _bridge(x, y, g, thick * 0.8)
    for name, side in (("l", -1.0), ("r", 1.0)):
        ex, ew = g["ex_" + name], g["ew_" + name]
        rim_round = raster.ellipse(x, y, ex, g["eye_y"] + 0.01, ew * 1.55, ew * 1.35)
        rim_square = raster.box(x, y, ex, g["eye_y"] + 0.01, ew * 1.6, ew * 1.1, 0.03)
        rim = raster.ring(np.where(square == 1, rim_square, rim_round), thick)
        temple = raster.capsule(x, y, ex + f32(side) * ew * 1.55, g["eye_y"] - 0.01,
                                f32(side) * g["face_w"] * 1.02, g["eye_y"] - 0.03, thick * 0.8)
        frame = np.minimum(frame, np.minimum(rim, temple))
    sub.paint(sub.cov(frame), g["frame_col"])
    view.merge(sub)


def _hair_front(st: Stage) -> None:
    """A cap hugging the scalp above a hairline that drops at the temples.

    The drop reaches the eye line for short styles and the mouth for long hair; a fringe is a low,
    nearly straight hairline; a bald head keeps hair only around the ears (a quartic hairline that
    starts above the head).
    """
    g = st.g
    style, volume, fw, fh, eye_y = g["hair_style"], g["hair_volume"], g["face_w"], g["face_h"], g["eye_y"]
    hairline = eye_y - f32(0.13) - f32(0.25) * g["hairline"]
    hairline = np.where(style == FRINGE, eye_y - g["brow_gap"] - f32(0.045), hairline)
    hairline = np.where(style == BALD, -fh - f32(0.1), hairline)
    temple_y = np.where(style == LONG, g["mouth_y"], eye_y - f32(0.02))
    temple_y = np.where(style == FRINGE, eye_y - f32(0.03), temple_y)
    puff = np.where((style == SHORT) | (style == BALD), f32(0.03), f32(0.07))
    puff = np.where(style == CURLY, f32(0.14), puff)
    rx, ry = fw + 0.012 + puff * volume, fh + 0.015 + 1.3 * puff * volume
    view = st.window(-rx, rx, -ry, np.minimum(temple_y + 0.05, ry))
    if view is None:
        return
    x, y = view.x, view.y
    part = g["hair_part"] * np.where(style == SIDE_PART, f32(0.22), f32(0.05))
    across = np.minimum((x / fw) ** 2, 1.2)
    across = np.where(style == BALD, across * across, across)
    above = y - (hairline + (temple_y - hairline) * across + part * x / fw)
    cap = np.maximum(raster.ellipse(x, y, 0.0, 0.0, rx, ry), above)
    alpha = view.cov(cap) * (f32(1.0) - f32(0.2) * (style == BALD))
    view.paint(alpha, g["hair"][:, :, None, None] * (f32(1.0) + f32(0.18) * (y + 0.3)[:, None]))


def _mole(st: Stage) -> None:
    g = st.g
    mx, my = g["feature_x"] + g["mole_x"] * g["face_w"] * 0.6, g["nose_tip"] + g["mole_y"] * 0.08
    view = st.window(mx - 0.03, mx + 0.03, my - 0.03, my + 0.03)
    sub = None if view is None else view.only(g["mole"])
    if sub is None:
        return
    g = sub.g
    mx, my = g["feature_x"] + g["mole_x"] * g["face_w"] * 0.6, g["nose_tip"] + g["mole_y"] * 0.08
    sub.paint(f32(0.8) * sub.cov(raster.ellipse(sub.x, sub.y, mx, my, 0.018, 0.018)), g["skin_shadow"])
    view.merge(sub)


def _occluders(st: Stage) -> None:
    """Nuisance occluders: sunglasses, a surgical mask, a random patch (in image coordinates)."""
    view = _eyes_window(st, 1.7, 1.5)
    sub = None if view is None else view.only(st.g["sunglasses"])
    if sub is not None:
        g, x, y = sub.g, sub.x, sub.y
        lenses = _bridge(x, y, g, 0.012)
        for name in ("l", "r"):
            ex, ew = g["ex_" + name], g["ew_" + name]
            lenses = np.minimum(lenses, raster.ellipse(x, y, ex, g["eye_y"] + 0.01, ew * 1.55, ew * 1.15))
        sub.paint(f32(0.95) * sub.cov(lenses), _flat(len(sub), (0.05, 0.05, 0.07)))
        view.merge(sub)

    g = st.g
    reach = g["face_w"] * 1.1
    view = st.window(-reach, reach, g["eye_y"] - 0.02, g["face_h"] + 0.05)
    sub = None if view is None else view.only(g["mask"])
    if sub is not None:
        g, x, y = sub.g, sub.x, sub.y
        fw, tip = g["face_w"], g["nose_tip"]
        cloth = np.maximum(sub.extra["face_d"] - f32(0.02), (tip - 0.06) - y)
        straps = np.minimum(raster.capsule(x, y, -fw, tip, -fw * 1.05, g["eye_y"], 0.012),
                            raster.capsule(x, y, fw, tip, fw * 1.05, g["eye_y"], 0.012))
        sub.paint(sub.cov(np.minimum(cloth, straps)), g["mask_col"])
        view.merge(sub)

    sub = st.only(st.g["patch"])
    if sub is not None:
        g = sub.g
        patch = raster.box(sub.xi, sub.yi, g["patch_x"], g["patch_y"], g["patch_w"], g["patch_h"], 0.04)
        sub.paint(raster.coverage(patch, f32(2.0 / st.size)), g["patch_col"])
        st.merge(sub)


_LAYERS = (_background_and_body, _hair_back, _ears, _face, _beard, _nose, _eyes, _brows, _mouth,
           _glasses, _hair_front, _mole, _occluders)


def _check_batch(params: Mapping, names, what: str) -> dict[str, np.ndarray]:
    missing = [name for name in names if name not in params]
    if missing:
        raise KeyError(f"{what} parameters are missing {missing}")
    return {name: np.atleast_1d(np.asarray(params[name], dtype=np.float64)) for name in names}


def render_faces(params: Mapping[str, np.ndarray], nuisance: Mapping[str, np.ndarray], size: int,
                 noise: np.ndarray | None = None) -> np.ndarray:
    """Render a batch: ``params``/``nuisance`` map names to (B,) arrays -> uint8 (B, 3, size, size).

    ``noise``: optional float32 (B, 3, size, size) in [-1, 1], scaled per image by ``nuisance["noise"]``.
    An image depends only on its own parameters, never on the rest of the batch.
    """
    if isinstance(size, bool) or int(size) != size or not 8 <= size <= 1024:
        raise ValueError(f"size must be an integer in [8, 1024], got {size!r}")
    size = int(size)
    p = _check_batch(params, identity_mod.FIELD_NAMES, "identity")
    n = _check_batch(nuisance, nuisance_mod.NUISANCE_NAMES, "nuisance")
    count = len(p["face_w"])
    if any(len(v) != count for v in (*p.values(), *n.values())):
        raise ValueError("all identity and nuisance arrays must have the same length")
    g = _geometry(p, n)
    yaw = g["yaw"]
    st = Stage.full(size, g, g["cos_rot"], g["sin_rot"], g["tx"], g["ty"], f32(ZOOM) * g["scale"],
                    f32(1.0) - f32(0.22) * np.abs(yaw))
    for layer in _LAYERS:
        layer(st)

    # Light gradient across the image, contrast, brightness and colour cast, blur, noise.
    canvas = st.canvas
    canvas *= (f32(1.0) + g["light_x"] * st.xi + g["light_y"] * st.yi)[:, None]
    canvas = (canvas - f32(0.5)) * g["contrast"][:, None] + f32(0.5) + g["brightness"][:, None] \
        + g["cast"][:, :, None, None]
    canvas = raster.blur(canvas, n["blur"] * size)
    if noise is not None:
        if noise.shape != canvas.shape:
            raise ValueError(f"noise must have shape {canvas.shape}, got {noise.shape}")
        canvas += g["noise"][:, None] * noise
    return (np.clip(canvas, 0.0, 1.0) * f32(255.0) + f32(0.5)).astype(np.uint8)


def render_face(params: Mapping[str, float], nuisance: Mapping[str, float] | None = None,
                size: int = 48, noise: np.ndarray | None = None) -> np.ndarray:
    """Render one face -> uint8 (3, size, size). ``nuisance=None`` is the neutral pose and light."""
    nuisance = nuisance_mod.neutral() if nuisance is None else nuisance
    batch_noise = None if noise is None else np.asarray(noise, dtype=np.float32)[None]
    as_batch = lambda values: {key: np.array([float(value)]) for key, value in values.items()}  # noqa: E731
    return render_faces(as_batch(params), as_batch(nuisance), size, batch_noise)[0]
