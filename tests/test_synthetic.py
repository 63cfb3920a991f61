"""Tests of the synthetic faces (fr_course.data.synthetic): determinism, identity structure,
long tail, label noise, the LFW pair layout, the cache, and the rasteriser's geometry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from fr_course.data.pairs import PairSet
from fr_course.data.synthetic import (
    FacePairSet, FaceTrainSet, IdentityBank, RenderedFaceTrainSet, face_grid, long_tail_counts, make_config,
    make_faces, neutral, plot_face_grid, render_face, render_items, sample_nuisance,
)
from fr_course.data.synthetic import cache as cache_mod
from fr_course.data.synthetic import items as items_mod
from fr_course.data.synthetic import raster
from fr_course.data.synthetic.identity import FIELDS, fresh_unit
from fr_course.data.synthetic.nuisance import from_uniforms, image_draws


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FR_COURSE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_bank():
    return IdentityBank(make_config("tiny", difficulty=1.5))


def _digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


# ---- determinism ------------------------------------------------------------------------------

def test_same_image_twice_and_lazy_equals_batch(tiny_bank):
    ids, idx = np.array([0, 3, 3, 7, 25]), np.array([0, 0, 5, 11, 2])
    first = render_items(tiny_bank, ids, idx)
    again = render_items(tiny_bank, ids, idx)
    assert first.dtype == np.uint8 and first.shape == (5, 3, 32, 32)
    assert np.array_equal(first, again)
    # an image never depends on the rest of its batch (the renderer crops per batch)
    alone = np.stack([render_items(tiny_bank, ids[i:i + 1], idx[i:i + 1])[0] for i in range(5)])
    assert np.array_equal(first, alone)


def test_chunking_never_changes_pixels(tiny_bank, monkeypatch):
    rng = np.random.default_rng(3)
    ids, idx = rng.integers(0, 40, 50), rng.integers(0, 30, 50)
    reference = render_items(tiny_bank, ids, idx, 40)
    monkeypatch.setattr(items_mod, "CHUNK", 7)
    assert np.array_equal(render_items(tiny_bank, ids, idx, 40), reference)


_CHILD = """
import hashlib, json, numpy as np
from fr_course.data.synthetic import IdentityBank, make_config, render_items
bank = IdentityBank(make_config("tiny", difficulty=1.5))
images = render_items(bank, np.array([0, 3, 3, 7, 25]), np.array([0, 0, 5, 11, 2]), 48)
print(json.dumps(hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()))
"""


def test_rendering_is_identical_in_another_process(tiny_bank):
    here = _digest(render_items(tiny_bank, np.array([0, 3, 3, 7, 25]), np.array([0, 0, 5, 11, 2]), 48))
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    child = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, check=True)
    assert json.loads(child.stdout.strip().splitlines()[-1]) == here


def test_seed_changes_the_data():
    a = IdentityBank(make_config("tiny", seed=0))
    b = IdentityBank(make_config("tiny", seed=1))
    assert not np.array_equal(a.units, b.units)


# ---- identities and nuisance --------------------------------------------------------------------

def test_difficulty_zero_means_no_nuisance_and_identities_differ():
    bank = IdentityBank(make_config("tiny", difficulty=0.0, lookalike_fraction=0.0))
    assert sample_nuisance(0, 4, 9, 0.0) == neutral()
    images = render_items(bank, np.repeat(np.arange(6), 3), np.tile(np.arange(3), 6)).astype(np.int16)
    images = images.reshape(6, 3, *images.shape[1:])
    assert (images == images[:, :1]).all()          # every image of an identity is the same
    for a in range(6):
        for b in range(a + 1, 6):
            assert np.abs(images[a, 0] - images[b, 0]).mean() > 2.0  # different identities differ


def _correlations(images: np.ndarray) -> tuple[float, float]:
    """Mean Pearson correlation of pixel vectors within and across identities (ids x per x ...)."""
    ids, per = images.shape[:2]
    flat = images.reshape(ids * per, -1).astype(np.float64)
    corr = np.corrcoef(flat)
    owner = np.repeat(np.arange(ids), per)
    same = owner[:, None] == owner[None, :]
    off_diagonal = ~np.eye(len(owner), dtype=bool)
    return corr[same & off_diagonal].mean(), corr[~same].mean()


def test_same_identity_more_similar_than_different_identities():
    bank = IdentityBank(make_config("tiny", difficulty=0.6, lookalike_fraction=0.0))
    ids, per = 10, 4
    images = render_items(bank, np.repeat(np.arange(ids), per), np.tile(np.arange(per), ids))
    within, across = _correlations(images.reshape(ids, per, -1))
    assert within > across + 0.1


def test_difficulty_scales_the_nuisance():
    uniforms = np.stack([image_draws(0, 1, j, None, 1.0)[0] for j in range(400)])
    low, high = from_uniforms(uniforms, 0.5), from_uniforms(uniforms, 1.5)
    for key in ("sin_rot", "tx", "yaw", "blur", "contrast", "smile", "light_x"):
        assert np.std(high[key]) > 2.0 * np.std(low[key]), key
    occluded = [sum(from_uniforms(uniforms, d)[k].sum() for k in ("sunglasses", "mask", "patch")) for d in (0.5, 2.0)]
    assert occluded[1] > 2.0 * occluded[0] > 0
    assert sample_nuisance(0, 1, 7, 1.0) == {k: v[7] for k, v in from_uniforms(uniforms, 1.0).items()}


def test_lookalikes_stay_close_to_their_parent_and_tighten_with_difficulty():
    kinds = np.array([kind for _, kind, _ in FIELDS])
    for difficulty in (0.0, 1.0):
        config = make_config("small", difficulty=difficulty)
        bank = IdentityBank(config)
        train_parents = bank.parents[:config.num_train_ids]
        children = np.flatnonzero(train_parents >= 0)
        assert 0.15 < len(children) / config.num_train_ids < 0.35   # lookalike_fraction = 0.25
        assert (train_parents[children] < children).all()          # parents come earlier, same split
        for child in children[:20]:
            moved = np.abs(bank.units[child] - fresh_unit(config.seed, int(train_parents[child])))
            assert moved[kinds == "lin"].max() <= config.lookalike_spread + 1e-6
        unrelated = np.abs(bank.units[1:] - bank.units[:-1])[:, kinds == "lin"].mean()
        assert moved[kinds == "lin"].mean() < unrelated / 2
    assert make_config("small", difficulty=2.0).lookalike_spread < make_config("small", difficulty=1.0).lookalike_spread


def test_render_face_single_image():
    params = IdentityBank(make_config("tiny")).params(3)
    image = render_face(params, None, size=48)
    assert image.shape == (3, 48, 48) and image.dtype == np.uint8
    assert image.std() > 10  # not a blank canvas
    with pytest.raises(KeyError, match="missing"):
        render_face({"face_w": 0.5}, None, size=48)
    with pytest.raises(ValueError, match="size"):
        render_face(params, None, size=4)


# ---- the rasteriser's geometry (checked against independent formulas) ---------------------------

def _grid(size: int, extent: float = 1.0):
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 * extent - extent
    return centres[None, None, :], centres[None, :, None], np.float32(2 * extent / size)


def test_coverage_of_an_ellipse_and_a_box_is_their_area():
    x, y, px = _grid(200)
    area = raster.coverage(raster.ellipse(x, y, 0.1, -0.05, 0.6, 0.3), px).sum() * px * px
    assert area == pytest.approx(np.pi * 0.6 * 0.3, rel=2e-3)
    box = raster.coverage(raster.box(x, y, 0.0, 0.0, 0.5, 0.25, 0.1), px).sum() * px * px
    assert box == pytest.approx(4 * 0.5 * 0.25 - (4 - np.pi) * 0.1 ** 2, rel=2e-3)


def test_capsule_distance_is_exact():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, size=(500, 2))
    a, b = np.array([-0.3, 0.1]), np.array([0.4, -0.2])
    t = np.clip(((points - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    expected = np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1) - 0.05
    got = raster.capsule(points[:, 0], points[:, 1], a[0], a[1], b[0], b[1], 0.05)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_blur_matches_scipy_gaussian_and_leaves_sharp_images_alone():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1)
    images = rng.random((2, 3, 24, 24)).astype(np.float32)
    out = raster.blur(images, np.array([1.3, 0.0]))
    expected = gaussian_filter(images[0].astype(np.float64), sigma=(0, 1.3, 1.3), mode="nearest", truncate=3.0)
    np.testing.assert_allclose(out[0], expected, atol=2e-5)
    assert np.array_equal(out[1], images[1])


# ---- long tail, label noise ---------------------------------------------------------------------

def test_casia_preset_has_casias_long_tail():
    config = make_config("casia")
    train = FaceTrainSet(config)
    counts = train.class_counts
    assert config.num_train_ids == 10_572 and config.image_size == 112
    assert counts.dtype == np.int64 and counts.shape == (10_572,)
    assert counts.sum() == 490_623 == len(train)
    assert counts.min() == 2
    assert counts.mean() == pytest.approx(46.4, abs=0.05)
    assert 20 <= np.median(counts) <= 35
    assert 600 <= counts.max() <= 1000
    assert (counts < 10).mean() > 0.05 and (counts > 200).sum() > 50   # a real head and tail
    assert np.array_equal(np.bincount(train.labels, minlength=10_572), counts)


def test_imbalance_zero_is_balanced_and_counts_sum_exactly():
    balanced = long_tail_counts(37, 1001, 0.0, seed=4)
    assert balanced.sum() == 1001 and balanced.max() - balanced.min() <= 1
    skewed = long_tail_counts(37, 1001, 1.0, seed=4)
    assert skewed.sum() == 1001 and skewed.min() >= 2 and skewed.max() > 3 * np.median(skewed)
    with pytest.raises(ValueError, match="num_train_images"):
        long_tail_counts(10, 15, 1.0, seed=0)


def test_label_noise_fraction_is_honoured_and_recorded():
    train = FaceTrainSet(make_config("tiny", label_noise=0.2))
    assert train.noisy_mask.dtype == bool
    assert train.noisy_mask.sum() == round(0.2 * len(train))
    assert np.array_equal(train.noisy_mask, train.labels != train.identities)
    assert (train.class_counts > 0).all() and train.class_counts.sum() == len(train)
    clean = FaceTrainSet(make_config("tiny"))
    assert not clean.noisy_mask.any() and np.array_equal(clean.labels, clean.identities)


# ---- pairs ----------------------------------------------------------------------------------------

def test_pairs_follow_the_lfw_layout_and_are_open_set():
    config = make_config("tiny")
    pairs = FacePairSet(config)
    P, folds = config.pairs_per_fold, config.num_folds
    assert isinstance(pairs, PairSet) and pairs.name == "synthetic-lfw"
    assert pairs.num_pairs == folds * 2 * P and len(pairs) == 2 * pairs.num_pairs
    expected = np.tile(np.r_[np.ones(P, bool), np.zeros(P, bool)], folds)
    assert np.array_equal(pairs.is_same, expected)
    a, b = pairs.identities[0::2], pairs.identities[1::2]
    assert np.array_equal(a == b, pairs.is_same)
    same = pairs.is_same
    assert (pairs.image_index[0::2][same] != pairs.image_index[1::2][same]).all()
    assert pairs.identities.min() >= config.num_train_ids                       # open set
    fold_ids = [set(pairs.identities[k * 4 * P:(k + 1) * 4 * P]) for k in range(folds)]
    for i in range(folds):
        for j in range(i + 1, folds):
            assert not fold_ids[i] & fold_ids[j]                                # folds share nobody
    image = pairs[1]
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32)


def test_hard_negatives_are_lookalike_pairs():
    config = make_config("small", lookalike_fraction=0.5)
    pairs = FacePairSet(config)
    parents = pairs.bank.parents_of(np.arange(len(pairs.bank)))
    a, b = pairs.identities[0::2][~pairs.is_same], pairs.identities[1::2][~pairs.is_same]
    related = (parents[a] == b) | (parents[b] == a)
    assert 0.2 < related.mean() < 0.8


# ---- datasets, cache, make_faces ----------------------------------------------------------------

def test_make_faces_tiny_caches_and_matches_lazy_rendering(tmp_path, monkeypatch):
    data = make_faces("tiny")
    assert isinstance(data.train, RenderedFaceTrainSet)
    path = cache_mod.cache_path(data.config)
    assert path.exists() and str(path).startswith(str(tmp_path))
    assert not list(path.parent.glob("*.tmp"))
    lazy = FaceTrainSet(data.config)
    for i in (0, 17, len(lazy) - 1):
        image, label = data.train[i]
        lazy_image, lazy_label = lazy[i]
        assert torch.equal(image, lazy_image) and label == lazy_label
        assert image.dtype == torch.uint8 and image.shape == (3, 32, 32) and isinstance(label, int)
    assert torch.equal(data.pairs[5], FacePairSet(data.config)[5])

    def forbidden(*args, **kwargs):
        raise AssertionError("rendered although the cache holds the images")

    monkeypatch.setattr(items_mod, "render_faces", forbidden)
    again = make_faces("tiny")
    assert torch.equal(again.train.images, data.train.images)
    assert torch.equal(again.pairs[3], data.pairs[3])
    assert np.array_equal(again.train.class_counts, data.train.class_counts)


def test_corrupt_cache_file_is_rendered_again():
    data = make_faces("tiny", image_size=24)
    path = cache_mod.cache_path(data.config)
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable"):
        again = make_faces("tiny", image_size=24)
    assert torch.equal(again.train.images, data.train.images)


def test_lazy_set_batches_through_a_dataloader():
    train = make_faces("tiny", lazy=True).train
    assert isinstance(train, FaceTrainSet)
    loader = torch.utils.data.DataLoader(train, batch_size=8, shuffle=False)
    images, labels = next(iter(loader))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images[5], train[5][0]) and labels.tolist() == train.labels[:8].tolist()
    with pytest.raises(IndexError):
        train[len(train)]


def test_casia_preset_is_lazy_at_112_pixels():
    data = make_faces("casia")
    assert isinstance(data.train, FaceTrainSet) and isinstance(data.pairs, FacePairSet)
    image, label = data.train[123_456]
    assert image.shape == (3, 112, 112) and 0 <= label < 10_572
    assert data.pairs.num_pairs == 6000


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="preset"):
        make_faces("huge")
    with pytest.raises(TypeError, match="num_ids"):
        make_config("tiny", num_ids=3)
    with pytest.raises(ValueError, match="label_noise"):
        make_config("tiny", label_noise=1.5)
    with pytest.raises(ValueError, match="num_test_ids"):
        make_config("tiny", num_test_ids=5)
    assert make_config("tiny").key() != make_config("tiny", difficulty=0.5).key()


def test_face_grid_and_plot():
    grid = face_grid(num_ids=3, per_id=4, preset="tiny", size=24, pad=2)
    assert grid.shape == (3 * 26 + 2, 4 * 26 + 2, 3) and grid.dtype == np.uint8
    row0, row1 = grid[2:26, 2:26], grid[28:52, 2:26]
    assert not np.array_equal(row0, row1)
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_face_grid(num_ids=2, per_id=3, preset="tiny")
    assert ax.images and ax.images[0].get_array().shape[2] == 3
