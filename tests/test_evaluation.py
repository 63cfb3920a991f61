"""Tests of fr_course.evaluation: the LFW protocol, TAR@FAR, flip-fused embeddings, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from scipy.interpolate import BSpline  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from fr_course.data.pairs import PairSet  # noqa: E402
from fr_course.evaluation import (  # noqa: E402
    KFoldResult, VerificationResult, embed_images, embed_pairs, kfold_accuracy, plot_cosine_histograms,
    plot_roc, roc_curve, tar_at_far, verify,
)
from fr_course.evaluation.protocol import VAL_THRESHOLDS, threshold_at_far  # noqa: E402


# ----------------------------------------------------------------------------- references

def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(np.sum(x * x, axis=1, keepdims=True))


def _distances(a, b):
    diff = _unit(a) - _unit(b)
    return np.sum(diff * diff, axis=1)


def reference_kfold(a, b, same, n_folds=10):
    """Straightforward protocol: sklearn KFold, explicit loop over thresholds, strict '>' = first max."""
    dist = _distances(a, b)
    same = np.asarray(same, dtype=bool)
    thresholds = np.arange(0, 4, 0.01)
    accuracies, chosen = [], []
    for train, test in KFold(n_splits=n_folds, shuffle=False).split(np.arange(len(dist))):
        best_accuracy, best_threshold = -1.0, None
        for threshold in thresholds:
            accuracy = np.mean((dist[train] < threshold) == same[train])
            if accuracy > best_accuracy:
                best_accuracy, best_threshold = accuracy, threshold
        chosen.append(best_threshold)
        accuracies.append(np.mean((dist[test] < best_threshold) == same[test]))
    return np.array(accuracies), np.array(chosen)


def reference_threshold(negatives, target):
    """insightface's interp1d(far, thresholds, kind='slinear') as SciPy <= 1.8 evaluated it.

    Old interp1d built exactly this linear B-spline (knots = the FAR values, repeated ones
    included, with the end knots doubled); SciPy >= 1.9 refuses the repeated knots in
    make_interp_spline, so the spline is built directly here.
    """
    far = np.array([np.sum(negatives < t) / len(negatives) for t in VAL_THRESHOLDS])
    if far.max() < target:
        return 0.0
    return float(BSpline.construct_fast(np.r_[far[0], far, far[-1]], VAL_THRESHOLDS.copy(), 1)(target))


def lfw_layout(n_folds, per_fold):
    """Each fold: ``per_fold`` matched pairs then ``per_fold`` mismatched ones (pairs.txt order)."""
    return np.tile(np.r_[np.ones(per_fold, bool), np.zeros(per_fold, bool)], n_folds)


def noisy_pairs(rng, same, dim=16, noise=1.0):
    a = rng.normal(size=(len(same), dim))
    b = np.where(same[:, None], a + noise * rng.normal(size=a.shape), rng.normal(size=a.shape))
    return a, b


# ----------------------------------------------------------------------------- k-fold accuracy

@pytest.mark.parametrize("n_pairs, n_folds", [(200, 10), (205, 10), (90, 4)])
def test_kfold_matches_reference_on_random_data(n_pairs, n_folds):
    rng = np.random.default_rng(n_pairs)
    same = rng.random(n_pairs) < 0.5
    a, b = noisy_pairs(rng, same, noise=1.2)
    result = kfold_accuracy(a, b, same, n_folds=n_folds)
    accuracies, thresholds = reference_kfold(a, b, same, n_folds)
    np.testing.assert_array_equal(result.fold_accuracies, accuracies)
    np.testing.assert_array_equal(result.thresholds, thresholds)
    assert result.accuracy_mean == pytest.approx(np.mean(accuracies), abs=1e-15)
    assert result.accuracy_std == pytest.approx(np.std(accuracies), abs=1e-15)
    assert 0.5 < result.accuracy_mean < 1.0  # a real task: neither trivial nor random


def test_kfold_matches_reference_with_ties():
    """Few distinct distances: accuracy plateaus over many thresholds (first maximum decides),
    and distances that sit exactly on grid thresholds (0, 2 and 4; 'same' needs d < t)."""
    rng = np.random.default_rng(7)
    basis = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8], [0.0, -3.0]])
    n_pairs = 300
    a = basis[rng.integers(0, len(basis), n_pairs)]
    b = basis[rng.integers(0, len(basis), n_pairs)]
    same = rng.random(n_pairs) < 0.4
    dist = _distances(a, b)
    assert len(np.unique(np.round(dist, 12))) <= 8 and np.any(dist == 2.0) and np.any(dist == 0.0)
    result = kfold_accuracy(a, b, same)
    accuracies, thresholds = reference_kfold(a, b, same)
    np.testing.assert_array_equal(result.fold_accuracies, accuracies)
    np.testing.assert_array_equal(result.thresholds, thresholds)


def test_kfold_separable_case_and_one_corrupted_fold():
    same = lfw_layout(10, 10)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(len(same), 8))
    # matched pairs: the same embedding up to scale (d = 0); mismatched: orthogonal-ish (d >= 1)
    b = 3.0 * a
    b[~same] = _orthogonal_to(a[~same])
    result = kfold_accuracy(a, b, same)
    assert isinstance(result, KFoldResult)
    assert result.accuracy_mean == 1.0 and result.accuracy_std == 0.0
    np.testing.assert_array_equal(result.fold_accuracies, np.ones(10))
    # the first threshold accepting d = 0 is 0.01, and it is already perfect
    np.testing.assert_array_equal(result.thresholds, np.full(10, np.arange(0, 4, 0.01)[1]))
    assert str(result) == "100.00 ± 0.00"

    # fold 3 (pairs 60..79): two matched pairs labelled "different" -> only fold 3 loses 2/20
    corrupted = same.copy()
    corrupted[[60, 61]] = False
    result = kfold_accuracy(a, b, corrupted)
    expected = np.ones(10)
    expected[3] = 18 / 20
    np.testing.assert_array_equal(result.fold_accuracies, expected)
    assert result.accuracy_mean == pytest.approx(0.99)
    assert result.accuracy_std == pytest.approx(0.03)  # population std: sqrt((9·0.01² + 0.09²)/10)
    assert str(result) == "99.00 ± 3.00"


def _orthogonal_to(a):
    """A unit vector orthogonal to each row of a (Gram–Schmidt on a random vector): d = 2."""
    rng = np.random.default_rng(1)
    v = rng.normal(size=a.shape)
    u = _unit(a)
    v -= np.sum(v * u, axis=1, keepdims=True) * u
    return _unit(v)


def test_kfold_accepts_tensors_and_numpy_identically():
    rng = np.random.default_rng(3)
    same = rng.random(150) < 0.5
    a, b = noisy_pairs(rng, same)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    from_numpy = kfold_accuracy(a32, b32, same)
    from_torch = kfold_accuracy(torch.from_numpy(a32), torch.from_numpy(b32), torch.from_numpy(same))
    np.testing.assert_array_equal(from_numpy.fold_accuracies, from_torch.fold_accuracies)
    np.testing.assert_array_equal(from_numpy.thresholds, from_torch.thresholds)
    # NumPy has no bfloat16: such tensors are converted, not refused
    assert isinstance(kfold_accuracy(torch.from_numpy(a32).bfloat16(), torch.from_numpy(b32), same), KFoldResult)
    # 0/1 integer labels are booleans too
    from_ints = kfold_accuracy(a32, b32, same.astype(np.int64))
    np.testing.assert_array_equal(from_numpy.fold_accuracies, from_ints.fold_accuracies)


def test_kfold_result_is_frozen():
    rng = np.random.default_rng(4)
    same = lfw_layout(10, 3)
    result = kfold_accuracy(*noisy_pairs(rng, same), same)
    with pytest.raises(AttributeError):
        result.accuracy_mean = 1.0
    with pytest.raises(ValueError):
        result.fold_accuracies[0] = 1.0


@pytest.mark.parametrize("mutate, message", [
    (lambda a, b, s: (a, b[:-1], s[:-1]), "same shape"),
    (lambda a, b, s: (a, b[:, :-1], s), "same shape"),
    (lambda a, b, s: (a, b, s[:-1]), "is_same"),
    (lambda a, b, s: (a[0], b[0], s[:1]), "2-D"),
    (lambda a, b, s: (a[:5], b[:5], s[:5]), "too few pairs"),
    (lambda a, b, s: (np.where(np.arange(len(a))[:, None] == 4, np.nan, a), b, s), "NaN"),
    (lambda a, b, s: (a, np.where(np.arange(len(b))[:, None] == 2, 0.0, b), s), "all-zero"),
    (lambda a, b, s: (a, b, s * 2 + 1), "is_same"),
])
def test_kfold_rejects_bad_input(mutate, message):
    rng = np.random.default_rng(5)
    same = lfw_layout(10, 2)
    a, b = noisy_pairs(rng, same)
    with pytest.raises(ValueError, match=message):
        kfold_accuracy(*mutate(a, b, same.astype(int)))


def test_kfold_rejects_bad_fold_count():
    same = lfw_layout(10, 2)
    a, b = noisy_pairs(np.random.default_rng(6), same)
    with pytest.raises(ValueError, match="n_folds"):
        kfold_accuracy(a, b, same, n_folds=1)


# ----------------------------------------------------------------------------- TAR @ FAR

def test_threshold_at_far_known_values():
    negatives = np.array([1.0, 2.0, 3.0, 3.5])
    # FAR = 1/4 exactly for 1 < t <= 2: the largest such grid threshold
    assert threshold_at_far(negatives, 0.25) == 2.0
    # FAR jumps 1/4 -> 2/4 between t = 2.000 and 2.001: interpolate 0.05 / 0.25 of the way
    assert threshold_at_far(negatives, 0.30) == pytest.approx(2.0002, abs=1e-12)
    assert threshold_at_far(negatives, 0.10) == pytest.approx(1.0004, abs=1e-12)


def test_threshold_at_far_matches_old_scipy_slinear():
    rng = np.random.default_rng(11)
    for size in (300, 1001, 2700):
        negatives = rng.uniform(0.0, 4.0, size)
        for target in (1e-4, 1e-3, 1e-2, 0.25):
            assert threshold_at_far(negatives, target) == pytest.approx(reference_threshold(negatives, target),
                                                                        rel=1e-12, abs=1e-15)


def test_tar_at_far_matches_reference_per_fold():
    rng = np.random.default_rng(12)
    same = lfw_layout(10, 40)
    a, b = noisy_pairs(rng, same, noise=1.3)
    dist = _distances(a, b)
    results = tar_at_far(a, b, same, far=(1e-2, 1e-3))
    assert set(results) == {1e-2, 1e-3}
    for target, result in results.items():
        tars, fars = [], []
        for fold, (train, test) in enumerate(KFold(n_splits=10).split(dist)):
            threshold = reference_threshold(dist[train][~same[train]], target)
            assert result.thresholds[fold] == pytest.approx(threshold, rel=1e-12)
            accepted = dist[test] < threshold
            tars.append(np.sum(accepted & same[test]) / np.sum(same[test]))
            fars.append(np.sum(accepted & ~same[test]) / np.sum(~same[test]))
        np.testing.assert_allclose(result.fold_tars, tars)
        np.testing.assert_allclose(result.fold_fars, fars)
        assert result.tar_mean == pytest.approx(np.mean(tars))
        assert result.tar_std == pytest.approx(np.std(tars))
        assert result.far_mean == pytest.approx(np.mean(fars))


def test_tar_at_far_separable_and_non_separable():
    rng = np.random.default_rng(13)
    same = lfw_layout(10, 50)
    a = rng.normal(size=(len(same), 32))
    separable = np.where(same[:, None], a + 0.05 * rng.normal(size=a.shape), rng.normal(size=a.shape))
    result = tar_at_far(a, separable, same, far=1e-3)[1e-3]
    assert result.tar_mean == 1.0 and result.tar_std == 0.0
    # 450 training negatives: FAR jumps from 0 straight to 1/450 > 1e-3 in the grid cell that
    # holds the smallest training negative distance, so the threshold lies in that cell too
    dist = _distances(a, separable)
    for fold, (train, _) in enumerate(KFold(n_splits=10).split(dist)):
        smallest = dist[train][~same[train]].min()
        assert abs(result.thresholds[fold] - smallest) < 0.001

    # matched and mismatched pairs from the same distribution: TAR can be no better than FAR
    unrelated = rng.normal(size=a.shape)
    result = tar_at_far(a, unrelated, same, far=1e-2)[1e-2]
    assert result.tar_mean < 0.05
    assert "FAR 0.01" in str(result)


def test_tar_at_far_rejects_bad_targets_and_folds():
    rng = np.random.default_rng(14)
    same = lfw_layout(10, 5)
    a, b = noisy_pairs(rng, same)
    for bad in (0.0, 1.0, -1e-3, ()):
        with pytest.raises(ValueError, match="far"):
            tar_at_far(a, b, same, far=bad)
    only_matched = np.ones(len(same), bool)
    with pytest.raises(ValueError, match="mismatched"):
        tar_at_far(a, b, only_matched)


# ----------------------------------------------------------------------------- ROC

def test_roc_curve_auc_and_validation():
    rng = np.random.default_rng(15)
    same = lfw_layout(10, 20)
    a = rng.normal(size=(len(same), 16))
    b = np.where(same[:, None], a, -a)  # cos = +1 for matched, -1 for mismatched
    roc = roc_curve(a, b, same)
    assert roc.auc == 1.0
    fpr, tpr, thresholds, auc = roc  # unpacks like sklearn's tuple plus the AUC
    assert fpr[0] == 0.0 and tpr[-1] == 1.0 and auc == 1.0
    with pytest.raises(ValueError, match="both"):
        roc_curve(a, b, np.ones(len(same), bool))


# ----------------------------------------------------------------------------- embeddings

class FlipSensitive(nn.Module):
    """A linear map of the flattened image (not mirror-symmetric) behind a dropout (train != eval)."""

    def __init__(self, size=8, dim=5):
        super().__init__()
        torch.manual_seed(0)
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(3 * size * size, dim)

    def forward(self, x):
        return self.linear(self.dropout(x).flatten(1))


def _images(n, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)


@torch.no_grad()
def _manual_embedding(model, images, flip):
    x = (images.double() - 127.5) / 127.5
    weight, bias = model.linear.weight.double(), model.linear.bias.double()
    f = x.flatten(1) @ weight.T + bias
    if flip:
        f = f + x.flip(-1).flatten(1) @ weight.T + bias
    return (f / f.norm(dim=1, keepdim=True)).numpy()


@pytest.mark.parametrize("flip", [True, False])
def test_embed_images_flip_fusion_matches_manual_computation(flip):
    model = FlipSensitive()
    images = _images(10)
    model.train()
    embeddings = embed_images(model, images, batch_size=4, flip=flip)
    assert model.training  # mode restored
    assert embeddings.dtype == np.float32 and embeddings.shape == (10, 5)
    np.testing.assert_allclose(embeddings, _manual_embedding(model, images, flip), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)


def test_flip_changes_the_embedding_of_a_flip_sensitive_model():
    model = FlipSensitive()
    images = _images(6)
    with_flip = embed_images(model, images, flip=True)
    without = embed_images(model, images, flip=False)
    assert np.abs(with_flip - without).max() > 1e-2


class LabelledImages(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], index % 3


def test_embed_images_accepts_dataset_loader_and_tensor_alike():
    model = FlipSensitive()
    model.eval()
    images = _images(9)
    from_tensor = embed_images(model, images, batch_size=4)
    from_dataset = embed_images(model, LabelledImages(images), batch_size=2)
    from_loader = embed_images(model, DataLoader(LabelledImages(images), batch_size=5))
    np.testing.assert_allclose(from_dataset, from_tensor, atol=1e-6)
    np.testing.assert_allclose(from_loader, from_tensor, atol=1e-6)
    assert not model.training
    with pytest.raises(ValueError, match="in order"):
        embed_images(model, DataLoader(LabelledImages(images), batch_size=5, shuffle=True))
    with pytest.raises(ValueError, match="device"):
        embed_images(model, images, device="meta")
    with pytest.raises(TypeError, match="uint8"):
        embed_images(model, images.float())


def test_embed_pairs_splits_even_and_odd_items():
    model = FlipSensitive()
    images = _images(12)
    pairs = PairSet.from_tensor(images, np.array([True, False] * 3), name="toy")
    emb_a, emb_b = embed_pairs(model, pairs, batch_size=5)
    everything = embed_images(model, images, batch_size=5)
    np.testing.assert_allclose(emb_a, everything[0::2], atol=1e-6)
    np.testing.assert_allclose(emb_b, everything[1::2], atol=1e-6)
    assert emb_a.shape == (6, 5) and emb_a.flags.c_contiguous


def _pair_images(rng, same, size=8):
    """Matched pairs: one random image and a lightly perturbed copy; mismatched: two random images."""
    images = rng.integers(0, 256, (2 * len(same), 3, size, size)).astype(np.int16)
    noise = rng.integers(-12, 13, images[1::2].shape)
    images[1::2] = np.where(same[:, None, None, None], np.clip(images[0::2] + noise, 0, 255), images[1::2])
    return torch.from_numpy(images.astype(np.uint8))


def test_verify_bundles_the_protocol():
    rng = np.random.default_rng(16)
    same = lfw_layout(10, 6)
    pairs = PairSet.from_tensor(_pair_images(rng, same), same, name="synthetic")
    model = FlipSensitive(dim=64)
    result = verify(model, pairs, batch_size=32, far=(2e-1, 1e-1))
    assert isinstance(result, VerificationResult) and result.name == "synthetic"
    emb_a, emb_b = embed_pairs(model, pairs, batch_size=32)
    reference = kfold_accuracy(emb_a, emb_b, same)
    np.testing.assert_array_equal(result.accuracy.fold_accuracies, reference.fold_accuracies)
    assert result.accuracy.accuracy_mean > 0.9  # a random projection keeps near-copies close
    assert len(result.positive_cosines) == same.sum() and len(result.negative_cosines) == (~same).sum()
    np.testing.assert_allclose(result.positive_cosines, np.sum(emb_a * emb_b, axis=1)[same], atol=1e-6)
    # 54 mismatched pairs in every fold's training part: FAR 0.2 needs 50 (reported), 0.1 needs 100
    assert set(result.tar_at_far) == {0.2} and result.not_reported == (0.1,)
    assert result.cosine_threshold == pytest.approx(1 - np.mean(reference.thresholds) / 2)
    summary = result.summary()
    assert summary["accuracy"] == result.accuracy.accuracy_mean and "tar@far=0.2" in summary
    assert "tar@far=0.1" not in summary and "TAR@FAR=0.1 not reported" in summary["tar_not_reported"]
    assert summary["pairs"] == 120 and summary["eer"] == pytest.approx(result.roc.eer)
    assert str(result).startswith("synthetic: accuracy ")


def test_supported_fars_need_ten_negatives_per_far():
    from fr_course.evaluation.protocol import supported_fars

    assert supported_fars((1e-2, 1e-3, 1e-4), 2_700) == ((1e-2,), (1e-3, 1e-4))
    assert supported_fars((1e-3,), 10_000) == ((1e-3,), ())
    assert supported_fars((1e-3,), 9_999) == ((), (1e-3,))


def test_equal_error_rate():
    from fr_course.evaluation.protocol import equal_error_rate

    rng = np.random.default_rng(3)
    # two unit-variance Gaussians 2 apart: EER = Φ(−1) ≈ 0.1587 (large sample)
    pos, neg = rng.normal(2, 1, 200_000), rng.normal(0, 1, 200_000)
    from sklearn.metrics import roc_curve as sk_roc

    fpr, tpr, _ = sk_roc(np.r_[np.ones_like(pos), np.zeros_like(neg)], np.r_[pos, neg])
    assert equal_error_rate(fpr, tpr) == pytest.approx(0.1587, abs=3e-3)
    # perfectly separated: 0; a degenerate classifier (one step from (0,0) to (1,1)): 0.5
    assert equal_error_rate([0.0, 0.0, 1.0], [0.0, 1.0, 1.0]) == 0.0
    assert equal_error_rate([0.0, 1.0], [0.0, 1.0]) == pytest.approx(0.5)


def test_fold_subset_keeps_the_protocol_layout():
    rng = np.random.default_rng(5)
    same = lfw_layout(10, 6)   # 10 folds of 6 matched + 6 mismatched pairs
    images = torch.from_numpy(rng.integers(0, 255, size=(2 * len(same), 3, 8, 8), dtype=np.uint8))
    pairs = PairSet.from_tensor(images, same, name="p")
    sub = pairs.fold_subset(2)
    assert sub.num_pairs == 40 and sub.name == "p"
    np.testing.assert_array_equal(sub.is_same, np.tile([True, True, False, False], 10))
    # fold 1 starts at pair 12: its first two matched pairs are 12, 13, its first mismatched 18, 19
    for k, pair in zip(range(4, 8), (12, 13, 18, 19)):
        assert torch.equal(sub[2 * k], pairs[2 * pair]) and torch.equal(sub[2 * k + 1], pairs[2 * pair + 1])
    assert pairs.fold_subset(6) is pairs


# ----------------------------------------------------------------------------- plots

def test_plots_run_headless_and_return_axes():
    rng = np.random.default_rng(17)
    same = lfw_layout(10, 20)
    a, b = noisy_pairs(rng, same)
    result = VerificationResult.from_embeddings(a, b, same, name="toy")
    ax = plot_roc({"toy": result, "roc only": result.roc})
    assert isinstance(ax, matplotlib.axes.Axes) and len(ax.get_lines()) == 2
    assert ax.get_xscale() == "log"
    fig, given = plt.subplots()
    assert plot_roc(result, ax=given) is given
    ax = plot_cosine_histograms(result)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(result.cosine_threshold)
    plt.close("all")
