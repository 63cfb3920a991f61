"""fr_course.plots.margins: the chapter 3-5 helpers reproduce the closed forms of spec/losses.md.

Expected values are computed here in NumPy from the formulas, independently of the loss heads.
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fr_course.plots import margins  # noqa: E402

THETA = np.linspace(0.05, math.pi - 0.05, 91)


def test_lambda_schedule_follows_the_annealing_formula():
    values = margins.lambda_schedule(40, lambda_base=1000.0, lambda_gamma=2.0, lambda_power=1.0,
                                     lambda_min=30.0)
    it = np.arange(1, 41)  # step i (0-based) is training call i + 1, counted before λ is computed
    np.testing.assert_allclose(values, np.maximum(30.0, 1000.0 / (1.0 + 2.0 * it)), rtol=1e-12)
    assert values[0] == 1000.0 / 3.0 and values[-1] == 30.0


def test_lambda_schedule_rejects_bad_iterations():
    with pytest.raises(ValueError, match="iterations"):
        margins.lambda_schedule(0)


def test_cosface_in_cos_is_a_parallel_line():
    curve = margins.target_logit_in_cos("cosface", THETA, s=64.0, m=0.35)
    np.testing.assert_allclose(curve.cos, np.cos(THETA))
    np.testing.assert_allclose(curve.value, np.cos(THETA) - 0.35, atol=1e-10)
    np.testing.assert_allclose(curve.slope, 1.0, atol=1e-8)


@pytest.mark.parametrize("m", [0.3, 0.5])
def test_arcface_slopes_exact_and_ste(m):
    inside = THETA + m <= math.pi
    exact = margins.target_logit_in_cos("arcface", THETA, m=m)
    ste = margins.target_logit_in_cos("arcface", THETA, m=m, grad="ste")
    expected_value = np.where(inside, np.cos(THETA + m), np.cos(THETA) - m * math.sin(m))
    np.testing.assert_allclose(exact.value, expected_value, atol=1e-9)
    np.testing.assert_allclose(ste.value, expected_value, atol=1e-9)
    np.testing.assert_allclose(exact.slope, np.where(inside, np.sin(THETA + m) / np.sin(THETA), 1.0),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ste.slope, 1.0, atol=1e-9)


def test_sphereface_in_cos_uses_psi():
    m = 3
    k = np.floor(m * THETA / math.pi)
    psi = (-1.0) ** k * np.cos(m * THETA) - 2.0 * k
    curve = margins.target_logit_in_cos("sphereface", THETA, m=m, lambda_base=0.0, lambda_min=0.0)
    np.testing.assert_allclose(curve.value, psi, atol=1e-8)


def test_target_logit_in_cos_refuses_the_endpoints():
    with pytest.raises(ValueError, match="theta"):
        margins.target_logit_in_cos("normface", [0.0, 1.0])


def test_plots_draw_their_curves():
    fig, axes = plt.subplots(2, 2)
    margins.plot_psi((2, 4), ax=axes[0, 0])
    assert len(axes[0, 0].get_lines()) == 1 + 2 * 2 + 1  # cos θ, (cos mθ, ψ) per m, zero line
    margins.plot_lambda_schedule(20, ax=axes[0, 1], marks={"end": 10})
    margins.plot_target_logits_in_cos({"a": "normface", "b": ("cosface", {"m": 0.2})}, ax=axes[1, 0],
                                      x="theta", slope=True)
    margins.plot_all_target_logits(ax=axes[1, 1])
    labels = [line.get_label() for line in axes[1, 1].get_lines()]
    assert all(label in labels for label in margins.ALL_MARGINS)
    softmax = axes[1, 1].get_lines()[0]
    assert softmax.get_label().startswith("Softmax") and softmax.get_linestyle() != "-"
    with pytest.raises(ValueError, match="mark"):
        margins.plot_lambda_schedule(5, ax=axes[0, 1], marks={"late": 9})
    with pytest.raises(ValueError, match="ms"):
        margins.plot_psi((0,), ax=axes[0, 0])
    plt.close(fig)


def test_digits_toy_is_the_same_run_as_train_digits():
    from fr_course.data.digits import train_digits

    toy = margins.digits_toy("cosface", feature_dim=2, seed=3, epochs=2, s=10.0, m=0.1)
    features, labels, history = train_digits("cosface", feature_dim=2, epochs=2, seed=3,
                                              loss_kwargs={"s": 10.0, "m": 0.1})
    np.testing.assert_array_equal(toy.features, features)
    np.testing.assert_array_equal(toy.labels, labels)
    assert toy.history == history
    assert tuple(toy.head.weight.shape) == (10, 2)
    assert toy.test_accuracy == history["test_accuracy"][-1]


def test_angular_spread_on_a_known_configuration():
    weight = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])  # prototypes 90° apart (norms ignored)
    features = np.array([[2.0, 2.0 * math.tan(math.radians(10))], [0.0, 5.0], [-1.0, 0.0]])
    spread = margins.angular_spread(features, np.array([0, 1, 2]), weight)
    assert spread["intra"] == pytest.approx(10.0 / 3)
    assert spread["inter"] == pytest.approx(90.0)
    with pytest.raises(ValueError, match="agree"):
        margins.angular_spread(features, np.array([0, 1, 2]), np.ones((3, 3)))


def test_cosine_plane_and_branches_draw():
    fig, axes = plt.subplots(1, 2)
    margins.plot_cosine_plane({"n": "normface", "c": ("cosface", {"m": 0.35})}, ax=axes[0])
    lines = axes[0].get_lines()
    assert len(lines) == 4  # each loss: class-0 boundary and its mirror image
    x, y = lines[2].get_data()
    np.testing.assert_allclose(y, x - 0.35, atol=1e-10)  # CosFace: cos θ1 = cos θ0 − m
    margins.plot_arcface_branches(0.5, ax=axes[1])
    raw = axes[1].get_lines()[0]
    np.testing.assert_allclose(raw.get_ydata(), np.cos(np.radians(raw.get_xdata()) + 0.5), atol=1e-12)
    with pytest.raises(ValueError, match="m must"):
        margins.plot_arcface_branches(0.0, ax=axes[1])
    plt.close(fig)


def test_all_target_logits_legend_shows_softmax_dashed():
    fig, ax = plt.subplots()
    margins.plot_all_target_logits(ax=ax)
    handles = {h.get_label(): h for h in ax.get_legend().legend_handles}
    softmax = next(h for label, h in handles.items() if label.startswith("Softmax"))
    assert softmax.get_linestyle() != "-"
    plt.close(fig)
