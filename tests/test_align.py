"""Five-point alignment: a known similarity is undone exactly, and the warped image follows it."""

import numpy as np
import pytest
import torch
from PIL import Image

from fr_course.data.align import ARCFACE_TEMPLATE, align_face, arcface_template, estimate_alignment


def similarity(scale, angle, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty], [0.0, 0.0, 1.0]])


def apply(matrix, points):
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def pattern(x, y):
    """A smooth RGB test pattern defined in template (aligned-crop) coordinates."""
    return np.stack([127.5 + 100 * np.sin(x / 7.0) * np.cos(y / 9.0),
                     127.5 + 90 * np.cos((x + y) / 11.0),
                     127.5 + 80 * np.sin((x - 0.5 * y) / 13.0)], axis=-1)


# template -> photo: scaled up 1.7x, rotated 20 degrees, shifted
PHOTO_FROM_TEMPLATE = similarity(1.7, np.radians(20.0), 80.0, 35.0)


def test_template_is_the_arcface_one():
    np.testing.assert_array_equal(arcface_template(), ARCFACE_TEMPLATE)
    assert ARCFACE_TEMPLATE.tolist()[0] == [38.2946, 51.6963] and ARCFACE_TEMPLATE.tolist()[4] == [70.7299, 92.2041]
    np.testing.assert_allclose(arcface_template(224), 2 * ARCFACE_TEMPLATE)


def test_known_similarity_is_recovered():
    landmarks = apply(PHOTO_FROM_TEMPLATE, ARCFACE_TEMPLATE)
    matrix = estimate_alignment(landmarks)
    assert np.abs(apply(matrix, landmarks) - ARCFACE_TEMPLATE).max() < 1e-3
    np.testing.assert_allclose(matrix, np.linalg.inv(PHOTO_FROM_TEMPLATE), atol=1e-9)


def test_noisy_landmarks_give_the_least_squares_similarity():
    rng = np.random.default_rng(0)
    landmarks = apply(PHOTO_FROM_TEMPLATE, ARCFACE_TEMPLATE) + rng.normal(0, 1.5, (5, 2))
    matrix = estimate_alignment(landmarks)
    residual = ((apply(matrix, landmarks) - ARCFACE_TEMPLATE) ** 2).sum()
    # any nearby similarity fits worse (the estimate is the least-squares optimum)
    for _ in range(20):
        a, b = matrix[0, 0] + rng.normal(0, 1e-3), matrix[1, 0] + rng.normal(0, 1e-3)
        other = np.array([[a, -b, matrix[0, 2] + rng.normal(0, 0.05)], [b, a, matrix[1, 2] + rng.normal(0, 0.05)],
                          [0, 0, 1]])
        assert ((apply(other, landmarks) - ARCFACE_TEMPLATE) ** 2).sum() > residual


def test_warped_image_follows_the_transform():
    h, w = 300, 300  # holds the whole crop: its corners map inside
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    template_xy = apply(np.linalg.inv(PHOTO_FROM_TEMPLATE), np.stack([xs.ravel(), ys.ravel()], 1))
    photo = np.clip(np.rint(pattern(template_xy[:, 0], template_xy[:, 1])), 0, 255).astype(np.uint8).reshape(h, w, 3)
    landmarks = apply(PHOTO_FROM_TEMPLATE, ARCFACE_TEMPLATE)
    aligned = align_face(photo, landmarks)
    assert aligned.shape == (112, 112, 3) and aligned.dtype == np.uint8
    qy, qx = np.mgrid[0:112, 0:112].astype(np.float64)
    expected = pattern(qx, qy)
    assert np.abs(aligned.astype(np.float64) - expected).max() < 2.5  # bilinear + two roundings
    # the same through a PIL image and a CHW tensor
    np.testing.assert_array_equal(align_face(Image.fromarray(photo), landmarks), aligned)
    tensor = align_face(torch.from_numpy(photo).permute(2, 0, 1), landmarks)
    assert tensor.shape == (3, 112, 112) and torch.equal(tensor, torch.from_numpy(aligned).permute(2, 0, 1))


def test_outside_the_photo_is_black_and_grey_is_expanded():
    grey = np.full((30, 30), 200, np.uint8)  # covers template x, y < 100 only
    out = align_face(grey, apply(similarity(0.3, 0.0, 0.0, 0.0), ARCFACE_TEMPLATE))
    assert out.shape == (112, 112, 3) and out[5, 5].tolist() == [200, 200, 200] and out[-2, -2].tolist() == [0, 0, 0]


@pytest.mark.parametrize("landmarks, message", [
    (np.zeros((4, 2)), "shape \\(5, 2\\)"),
    (np.full((5, 2), np.nan), "five finite"),
    (np.ones((5, 2)), "all the same point"),
])
def test_bad_landmarks(landmarks, message):
    with pytest.raises(ValueError, match=message):
        align_face(np.zeros((20, 20, 3), np.uint8), landmarks)


def test_bad_images():
    landmarks = ARCFACE_TEMPLATE
    with pytest.raises(ValueError, match="must be uint8"):
        align_face(np.zeros((20, 20, 3), np.float32), landmarks)
    with pytest.raises(ValueError, match="RGB or \\(H, W\\) grey"):
        align_face(np.zeros((20, 20, 4), np.uint8), landmarks)
