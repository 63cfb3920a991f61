"""fr_course.plots.imbalance and fr_course.plots.nontarget (chapters 6–8).

Expected values are computed here independently (loops, closed forms from spec/losses.md in
NumPy), not by the helpers under test.
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fr_course import losses  # noqa: E402
from fr_course.plots.imbalance import (  # noqa: E402
    SaturationProbe,
    binned_statistic,
    nearest_prototype_cosines,
    per_class_indices,
    per_class_mean,
    plot_against_class_size,
    plot_nearest_prototype_cosines,
    plot_saturation,
)
from fr_course.plots.nontarget import nontarget_logit_curve, plot_nontarget_logits  # noqa: E402


def test_nearest_prototype_cosines_brute_force():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((7, 5)) * rng.uniform(0.5, 3.0, size=(7, 1))  # rows of any length
    expected = []
    for c in range(7):
        best = -2.0
        for d in range(7):
            if d != c:
                best = max(best, w[c] @ w[d] / (np.linalg.norm(w[c]) * np.linalg.norm(w[d])))
        expected.append(best)
    np.testing.assert_allclose(nearest_prototype_cosines(w), expected, atol=1e-12)
    np.testing.assert_allclose(nearest_prototype_cosines(torch.tensor(w, dtype=torch.float32)), expected, atol=1e-6)


def test_nearest_prototype_cosines_on_the_circle():
    angles = np.radians([0.0, 10.0, 90.0, 200.0])
    w = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    # nearest neighbours: 0<->10 deg, 10 -> 0, 90 -> 10 (80 deg), 200 -> 90 (110 deg)
    np.testing.assert_allclose(nearest_prototype_cosines(w), np.cos(np.radians([10, 10, 80, 110])), atol=1e-12)


@pytest.mark.parametrize("bad", [np.ones((1, 3)), np.ones(3), np.array([[1.0, 0.0], [0.0, 0.0]])])
def test_nearest_prototype_cosines_rejects_bad_weight(bad):
    with pytest.raises(ValueError, match="weight"):
        nearest_prototype_cosines(bad)


def test_per_class_indices_keeps_the_first_items_of_every_class():
    labels = np.array([2, 0, 2, 1, 2, 0, 1, 2])
    assert per_class_indices(labels, 2).tolist() == [0, 1, 2, 3, 5, 6]
    assert per_class_indices(labels, 1).tolist() == [0, 1, 3]
    assert per_class_indices(labels, 10).tolist() == list(range(8))
    with pytest.raises(ValueError, match="max_per_class"):
        per_class_indices(labels, 0)


def test_per_class_mean_with_an_empty_class():
    means = per_class_mean([1.0, 2.0, 4.0, 10.0], [0, 0, 0, 2], 3)
    assert means[0] == pytest.approx(7.0 / 3.0) and math.isnan(means[1]) and means[2] == 10.0
    with pytest.raises(ValueError, match="labels"):
        per_class_mean([1.0], [3], 3)


def test_binned_statistic_in_log_bins():
    counts = np.array([1, 1, 2, 10, 100, 100, 100])
    values = np.array([1.0, 3.0, 5.0, 7.0, 20.0, 40.0, np.nan])   # NaN: a class without data
    positions, medians = binned_statistic(counts, values, bins=2)   # edges 1, 10, 100 (log-spaced)
    np.testing.assert_allclose(positions, [1.0, 100.0])              # median counts {1, 1, 2}, {10, 100, 100}
    np.testing.assert_allclose(medians, [3.0, 20.0])                 # {1, 3, 5} and {7, 20, 40}
    _, means = binned_statistic(counts, values, bins=2, statistic="mean")
    np.testing.assert_allclose(means, [3.0, 67.0 / 3.0])
    with pytest.raises(ValueError, match="same length"):
        binned_statistic(counts, values[:-1])
    with pytest.raises(ValueError, match="statistic"):
        binned_statistic(counts, values, statistic="mode")


def _numpy_probabilities(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[np.arange(len(labels)), labels]


def test_saturation_probe_measures_without_changing_the_loss():
    torch.manual_seed(0)
    counts = np.array([3, 5, 40, 7])
    head = losses.build("hsm", embedding_dim=6, num_classes=4, class_counts=counts, s=16.0)
    probe = SaturationProbe(head, tau=0.6)
    x = torch.randn(32, 6)
    y = torch.randint(0, 4, (32,))
    # put half of the samples near their prototypes so that some saturate
    x[:16] = head.weight.detach()[y[:16]] * 50 + 0.1 * x[:16]
    assert probe(x, y).item() == head(x, y).item()
    trace = probe.trace
    assert len(trace.saturated) == 1

    w = head.weight.detach().double().numpy()
    xn = x.double().numpy()
    cos = (xn / np.linalg.norm(xn, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T
    yy = y.numpy()
    margins = 0.5 * (counts.min() / counts) ** 0.25
    plain = 16.0 * cos
    plain[np.arange(32), yy] = 16.0 * (cos[np.arange(32), yy] - margins[yy])
    p0 = _numpy_probabilities(plain, yy)
    used = plain + 16.0 * 0.1 * (p0 > 0.6)[:, None]
    used[np.arange(32), yy] = plain[np.arange(32), yy]
    p_used = _numpy_probabilities(used, yy)
    angle = np.degrees(np.arccos(np.clip(cos[np.arange(32), yy], -1, 1)))
    sat = p0 > 0.6
    assert 0 < sat.sum() < 32
    assert trace.saturated[0] == pytest.approx(sat.mean())
    assert trace.grad_weight[0] == pytest.approx((1 - p_used).mean(), rel=1e-5)
    assert trace.saturated_angle[0] == pytest.approx(angle[sat].mean(), rel=1e-4)
    assert trace.angle[0] == pytest.approx(angle.mean(), rel=1e-4)

    probe.eval()
    probe(x, y)
    assert len(probe.trace.saturated) == 1          # nothing recorded outside training


def test_saturation_probe_rejects_heads_without_margin_logits():
    with pytest.raises(ValueError, match="MarginLoss"):
        SaturationProbe(losses.build("softmax", embedding_dim=4, num_classes=3))
    with pytest.raises(ValueError, match="tau"):
        SaturationProbe(losses.build("cosface", embedding_dim=4, num_classes=3), tau=1.0)
    with pytest.raises(ValueError, match="recorded nothing"):
        SaturationProbe(losses.build("cosface", embedding_dim=4, num_classes=3)).trace


def test_smoothed_trace_skips_missing_values():
    probe = SaturationProbe(losses.build("normface", embedding_dim=2, num_classes=2))
    probe._records = [(0.0, 1.0, float("nan"), 80.0), (0.5, 0.5, 30.0, 40.0), (1.0, 0.0, 10.0, 10.0)]
    np.testing.assert_allclose(probe.trace.smoothed("saturated", 2), [0.25, 0.75])
    np.testing.assert_allclose(probe.trace.smoothed("saturated_angle", 2), [30.0, 20.0])


@pytest.mark.parametrize("form", ["adaptive", "fixed"])
def test_nontarget_logits_follow_the_sv_softmax_formula(form):
    cos_k = np.linspace(-0.99, 0.99, 41)
    a, m, t = 0.6, 0.35, 1.3
    curve = nontarget_logit_curve("sv_softmax", a, cos_k, s=10.0, m=m, t=t, form=form)
    f = a - m
    boosted = t * cos_k + t - 1 if form == "adaptive" else cos_k + t - 1
    np.testing.assert_allclose(curve.value, np.where(cos_k > f, boosted, cos_k), atol=1e-12)
    assert curve.target == pytest.approx(f) and curve.scale == 10.0


def test_nontarget_logits_of_cosface_are_the_cosines():
    cos_k = np.array([-0.5, 0.0, 0.7])
    curve = nontarget_logit_curve("cosface", 0.2, cos_k, s=30.0, m=0.4)
    np.testing.assert_allclose(curve.value, cos_k, atol=1e-12)
    assert curve.target == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="cos_target"):
        nontarget_logit_curve("cosface", 1.5)


def test_plots_draw_one_line_per_series():
    counts = np.array([2, 3, 5, 8, 40, 200])
    ax = plot_against_class_size({"A": ("cosface", np.arange(6.0)), "B": ("eqm", -np.arange(6.0))}, counts)
    assert len(ax.get_lines()) == 2 and ax.get_xscale() == "log"
    plt.close("all")
    rng = np.random.default_rng(0)
    ax = plot_nearest_prototype_cosines({"A": ("cosface", rng.standard_normal((5, 3)))}, ceiling=0.3)
    assert len(ax.get_lines()) == 2
    plt.close("all")
    ax = plot_nontarget_logits({"t=1.2": ("sv_softmax", {"t": 1.2})}, cos_target=0.5)
    assert len(ax.get_lines()) == 3                     # identity, the curve, the threshold
    plt.close("all")
    probe = SaturationProbe(losses.build("normface", embedding_dim=2, num_classes=2))
    probe._records = [(0.1, 0.9, 50.0, 60.0)] * 5
    ax = plot_saturation({"NormFace": ("normface", probe.trace)}, "saturated", window=2, steps_per_epoch=5)
    assert len(ax.get_lines()) == 1 and ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="quantity"):
        plot_saturation({"NormFace": ("normface", probe.trace)}, "loss")
    plt.close("all")
