"""Five-point face alignment to the ArcFace 112×112 template, for users who bring their own images.

The recipes of the course train on faces aligned the insightface way: the five landmarks
(left eye, right eye, nose tip, left and right mouth corners, in image x/y pixels) are mapped by
the least-squares *similarity* (rotation, uniform scale, translation: Umeyama, 1991, "Least-squares
estimation of transformation parameters between two point patterns", PAMI 13(4)) onto the
template below, and the image is warped by that transform (bilinear, black outside). The fit is
scikit-image's ``SimilarityTransform``, a maintained implementation of Umeyama's estimator.

Pixel coordinates follow OpenCV/scikit-image: (x, y) = (column, row) with pixel centres on
integers, the convention in which the template was published.
"""

from __future__ import annotations

import numpy as np

# insightface's ``arcface_dst`` for a 112×112 crop (Deng et al., ArcFace, CVPR 2019).
ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963],  # left eye
    [73.5318, 51.5014],  # right eye
    [56.0252, 71.7366],  # nose tip
    [41.5493, 92.3655],  # left mouth corner
    [70.7299, 92.2041],  # right mouth corner
], dtype=np.float64)


def arcface_template(size: int = 112) -> np.ndarray:
    """The five template points for a ``size``×``size`` crop (the 112 template scaled by size/112)."""
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    return ARCFACE_TEMPLATE * (size / 112.0)


def estimate_alignment(landmarks5, size: int = 112) -> np.ndarray:
    """The 3×3 similarity matrix M mapping image points to template points, ``[x', y', 1]ᵀ = M [x, y, 1]ᵀ``,
    that minimises Σ_k ‖M(p_k) − t_k‖² over the five landmarks p_k and template points t_k."""
    from skimage.transform import SimilarityTransform

    points = np.asarray(landmarks5, dtype=np.float64)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise ValueError(f"landmarks5 must be five finite (x, y) points, shape (5, 2); got shape {points.shape}")
    if np.ptp(points, axis=0).max() < 1e-6:
        raise ValueError("landmarks5 are all the same point: no similarity can be fitted")
    template = arcface_template(size)
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        transform = SimilarityTransform.from_estimate(points, template)
        ok = bool(transform)
    else:
        transform = SimilarityTransform()
        ok = transform.estimate(points, template)
    if not ok:
        raise ValueError(f"the similarity fit of landmarks5 {points.tolist()} to the template failed")
    return np.asarray(transform.params, dtype=np.float64)


def align_face(image, landmarks5, size: int = 112):
    """Warp ``image`` so that its ``landmarks5`` land on the ArcFace template of a ``size``×``size`` crop.

    ``image``: an (H, W, 3) or (H, W) uint8 array, a PIL image, or a uint8 (3, H, W) tensor.
    Returns an (size, size, 3) uint8 array, or a uint8 (3, size, size) tensor for a tensor input.
    """
    from skimage.transform import AffineTransform, warp

    as_tensor = False
    if hasattr(image, "permute") and hasattr(image, "numpy"):  # a torch tensor, without importing torch
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"a tensor image must be (3, H, W), got {tuple(image.shape)}")
        array, as_tensor = image.permute(1, 2, 0).cpu().numpy(), True
    else:
        array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {array.dtype}")
    matrix = estimate_alignment(landmarks5, size)
    # warp() wants the map from output to input pixels: the inverse of image -> template.
    warped = warp(array, AffineTransform(matrix=matrix).inverse, output_shape=(size, size), order=1,
                  mode="constant", cval=0.0, preserve_range=True)
    out = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    if as_tensor:
        import torch

        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
    return out
