"""fr_course.plots: the curves and decision regions reproduce the losses' formulas.

The expected values are the closed forms of spec/losses.md, evaluated here in NumPy, independent
of the loss heads the plotting helpers call.
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fr_course import plots  # noqa: E402
from fr_course.plots.curves import parse_specs  # noqa: E402

# stay away from θ = 0 and π, where the heads clamp cos θ to ±(1 − 1e-6) on purpose
THETA = np.linspace(0.02, math.pi - 0.02, 157)


def test_normface_curve_is_cosine_over_scale():
    curve = plots.target_logit_curve("normface", THETA, s=30.0)
    assert curve.scale == 30.0
    np.testing.assert_allclose(curve.value, 30.0 * np.cos(THETA), atol=1e-9)
    unit = curve.normalized()
    np.testing.assert_allclose(unit.value, np.cos(THETA), atol=1e-12)
    np.testing.assert_allclose(unit.grad, -np.sin(THETA), atol=1e-9)


def test_cosface_curve_is_shifted_cosine():
    curve = plots.target_logit_curve("cosface", THETA, normalize=True, s=64.0, m=0.35)
    np.testing.assert_allclose(curve.value, np.cos(THETA) - 0.35, atol=1e-12)
    np.testing.assert_allclose(curve.grad, -np.sin(THETA), atol=1e-9)


@pytest.mark.parametrize("m", [0.3, 0.5])
def test_arcface_curve_exact_and_ste(m):
    inside = THETA + m <= math.pi
    expected = np.where(inside, np.cos(THETA + m), np.cos(THETA) - m * math.sin(m))
    exact = plots.target_logit_curve("arcface", THETA, normalize=True, m=m)
    np.testing.assert_allclose(exact.value, expected, atol=1e-9)
    np.testing.assert_allclose(exact.grad, np.where(inside, -np.sin(THETA + m), -np.sin(THETA)), atol=1e-7)
    ste = plots.target_logit_curve("arcface", THETA, normalize=True, m=m, grad="ste")
    np.testing.assert_allclose(ste.value, expected, atol=1e-9)  # same value ...
    np.testing.assert_allclose(ste.grad, -np.sin(THETA), atol=1e-9)  # ... slope of the plain cosine


def test_sphereface_curve_is_psi_times_norm():
    m, r = 4, 3.0
    k = np.floor(m * THETA / math.pi)
    psi = (-1.0) ** k * np.cos(m * THETA) - 2.0 * k
    curve = plots.target_logit_curve("sphereface", THETA, embedding_norm=r, m=m,
                                     lambda_base=0.0, lambda_min=0.0)
    assert curve.scale == r
    np.testing.assert_allclose(curve.value, r * psi, atol=1e-7)
    np.testing.assert_allclose(curve.normalized().value, psi, atol=1e-8)


def test_softmax_curve_scales_with_the_feature_norm():
    curve = plots.target_logit_curve("softmax", THETA, embedding_norm=2.5)
    np.testing.assert_allclose(curve.value, 2.5 * np.cos(THETA), atol=1e-12)
    np.testing.assert_allclose(curve.grad, -2.5 * np.sin(THETA), atol=1e-9)


def test_hard_mining_curve_uses_the_base_scale():
    curve = plots.target_logit_curve("hard_mining", THETA, base="cosface", base_kwargs={"s": 20.0, "m": 0.2})
    assert curve.scale == 20.0
    np.testing.assert_allclose(curve.normalized().value, np.cos(THETA) - 0.2, atol=1e-12)


def test_loss_curve_matches_two_class_normface():
    s, phi = 10.0, math.pi / 3
    curve = plots.loss_curve("normface", THETA, other_angle=phi, s=s)
    margin = s * (np.cos(phi - THETA) - np.cos(THETA))
    expected = np.logaddexp(0.0, margin)
    np.testing.assert_allclose(curve.value, expected, rtol=1e-9, atol=1e-12)
    slope = s * (np.sin(phi - THETA) + np.sin(THETA)) / (1.0 + np.exp(-margin))  # dL/dθ by hand
    np.testing.assert_allclose(curve.grad, slope, rtol=1e-7, atol=1e-9)


def test_loss_without_logits_points_to_loss_curve():
    with pytest.raises(ValueError, match="loss_curve"):
        plots.target_logit_curve("sface", THETA)
    assert np.all(np.isfinite(plots.loss_curve("sface", THETA).value))


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="theta"):
        plots.target_logit_curve("normface", [])
    with pytest.raises(ValueError, match="embedding_norm"):
        plots.target_logit_curve("softmax", THETA, embedding_norm=0.0)
    with pytest.raises(ValueError, match="separation"):
        plots.two_class_regions("cosface", separation=4.0)
    with pytest.raises(ValueError, match="unknown loss"):
        plots.plot_target_logits(["nosuchloss"])


@pytest.mark.parametrize("phi", [math.pi / 2, 1.0])
def test_decision_boundaries_match_closed_forms(phi):
    soft = plots.two_class_regions("softmax", phi)
    assert soft.boundary0 == pytest.approx(phi / 2, abs=1e-9)
    assert soft.boundary1 == pytest.approx(phi / 2, abs=1e-9)
    assert soft.wins0.mean() == pytest.approx(0.5, abs=2e-3)
    # CosFace: cos α − m = cos(φ − α)  =>  α = φ/2 − arcsin(m / (2 sin(φ/2)))
    cos = plots.two_class_regions("cosface", phi, m=0.35)
    alpha = phi / 2 - math.asin(0.35 / (2 * math.sin(phi / 2)))
    assert cos.boundary0 == pytest.approx(alpha, abs=1e-9)
    assert cos.boundary1 == pytest.approx(phi - alpha, abs=1e-9)
    assert cos.gap > 0 and not np.any(cos.wins0 & cos.wins1)
    # ArcFace: α + m = φ − α
    arc = plots.two_class_regions("arcface", phi, m=0.3)
    assert arc.boundary0 == pytest.approx((phi - 0.3) / 2, abs=1e-9)
    assert arc.gap == pytest.approx(0.3, abs=1e-9)


def test_parse_specs_forms():
    assert parse_specs("cosface") == [("CosFace", "cosface", {})]
    assert parse_specs(("arcface", {"m": 0.5})) == [("ArcFace (m=0.5)", "arcface", {"m": 0.5})]
    assert parse_specs({"mine": ("cosface", {"m": 0.2}), "base": "normface"}) == [
        ("mine", "cosface", {"m": 0.2}), ("base", "normface", {})]
    with pytest.raises(ValueError, match="spec"):
        parse_specs([3])


def test_plot_functions_draw_one_line_per_spec():
    specs = ["normface", ("cosface", {"m": 0.35}), ("arcface", {"m": 0.5}), ("arcface", {"m": 0.5, "grad": "ste"})]
    for draw in (plots.plot_target_logits, plots.plot_target_logit_gradients, plots.plot_loss_curves):
        ax = draw(specs, theta=THETA[::8])
        lines = [line for line in ax.get_lines() if line.get_label() and not line.get_label().startswith("_")]
        assert len(lines) == 4
        assert lines[2].get_linestyle() != lines[3].get_linestyle()  # same loss twice: told apart
        plt.close(ax.figure)
    ax = plots.plot_decision_regions("cosface", m=0.35)
    assert ax.get_title() == "CosFace"
    plt.close(ax.figure)
    rng = np.random.default_rng(0)
    ax = plots.plot_features_on_circle(rng.normal(size=(30, 2)), rng.integers(0, 3, 30), weight=rng.normal(size=(3, 2)))
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="shape"):
        plots.plot_features_on_circle(rng.normal(size=(30, 4)), rng.integers(0, 3, 30))


class _FakeRun:
    """The attributes of fr_course.experiments.Run that fr_course.plots.runs reads."""

    def __init__(self, loss):
        rng = np.random.default_rng(len(loss))
        self.loss = loss
        self.epoch_losses = [3.0, 2.0, 1.5]
        self.epoch_accuracies = [0.7, 0.8, 0.85]
        self.positive_cosines = rng.uniform(0.2, 1.0, 50)
        self.negative_cosines = rng.uniform(-0.5, 0.5, 50)


def test_run_plots():
    runs = {"a": _FakeRun("softmax"), "b": _FakeRun("normface"), "c": _FakeRun("normface")}
    ax = plots.plot_history(runs, "accuracy")
    lines = ax.get_lines()
    assert len(lines) == 3 and list(lines[0].get_ydata()) == pytest.approx([70.0, 80.0, 85.0])
    assert lines[1].get_color() == lines[2].get_color() == plots.loss_color("normface")
    assert lines[1].get_linestyle() != lines[2].get_linestyle()
    plt.close(ax.figure)
    ax = plots.plot_pair_cosines(_FakeRun("cosface"))
    assert ax.get_title() == "CosFace"
    plt.close(ax.figure)
    plt.close(plots.plot_pair_cosines(runs).figure)
    with pytest.raises(ValueError, match="metric"):
        plots.plot_history(runs, "auc")


# ------------------------------------------------------------- readable in the book's column

# The book's column is ~688 px; the notebooks' PNGs are drawn at 100 dpi.
COLUMN_INCHES = 7.0


def _extent(artist, fig):
    fig.canvas.draw()
    return artist.get_window_extent(fig.canvas.get_renderer())


def test_default_figures_fit_the_column_and_legends_sit_under_the_axes():
    runs = {"a": _FakeRun("softmax"), "b": _FakeRun("normface")}
    drawn = [
        plots.plot_target_logits({"NormFace": "normface", "CosFace": ("cosface", {"m": 0.35})}),
        plots.plot_loss_curves({"NormFace": "normface"}),
        plots.plot_history(runs, "loss"),
        plots.plot_pair_cosines(runs),
        plots.plot_decision_regions("cosface", m=0.35),
    ]
    for ax in drawn:
        fig = ax.figure
        assert fig.get_figwidth() <= COLUMN_INCHES, (ax.get_title(), fig.get_figwidth())
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                assert text.get_fontsize() >= 9
            # the legend lies under the axes and their x label: it covers no data
            assert _extent(legend, fig).y1 < _extent(ax.xaxis.label, fig).y0 + 1
        plt.close(fig)


def test_class_legends_are_outside_the_data():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(200, 2)), np.arange(200) % 10
    ax = plots.plot_features_on_circle(features, labels, weight=rng.normal(size=(10, 2)))
    fig = ax.figure
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(c) for c in range(10)]
    assert all(t.get_fontsize() >= 9 for t in legend.get_texts())
    assert _extent(legend, fig).y1 <= _extent(ax, fig).y0  # under the axes
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for panel in axes:
        plots.plot_features_on_circle(features, labels, ax=panel, legend=None)
        assert panel.get_legend() is None
    shared = plots.class_legend(fig, labels, title="digit")
    assert len(shared.get_texts()) == 10
    assert _extent(shared, fig).y1 <= min(_extent(panel, fig).y0 for panel in axes)
    plt.close(fig)
    with pytest.raises(ValueError, match="legend"):
        plots.plot_features_on_circle(features, labels, legend="inside")


def test_benchmark_plot_shows_differences_and_keeps_the_levels_off_the_dots():
    from fr_course.plots.bench import plot_benchmark, plot_table1_comparison

    rows = [{"loss": "softmax", "mean": 86.7, "std": 0.3, "runs": [86.7, 87.1, 86.4]},
            {"loss": "arcface", "mean": 86.9, "std": 0.7, "runs": [87.8, 86.0, 86.8]},
            {"loss": "sv_softmax", "mean": 83.8, "std": 1.4, "runs": [83.0, 82.5, 85.9]}]
    ax = plot_benchmark(rows)
    fig = ax.figure
    assert fig.get_figwidth() <= COLUMN_INCHES
    low, high = ax.get_xlim()
    assert low < 0 < high and low == pytest.approx(-high)  # centred on Softmax, in points
    assert "difference from Softmax's mean (86.7 %)" in ax.get_xlabel()
    assert not ax.patches  # a dot plot: no bar measured from an arbitrary origin
    labels = [t for t in ax.texts if "±" in t.get_text()]
    assert {t.get_text() for t in labels} >= {"86.7 ± 0.3", "86.9 ± 0.7", "83.8 ± 1.4"}
    axes_box = _extent(ax, fig)
    for text in labels:
        assert _extent(text, fig).x0 >= axes_box.x1  # right of the axes: on no seed dot
    plt.close(fig)
    # without the reference loss the differences are taken from the mean of the rows
    ax = plot_benchmark(rows[1:], reference="softmax")
    assert "mean of the losses shown" in ax.get_xlabel()
    plt.close(ax.figure)
    ax = plot_table1_comparison(None)
    assert ax.figure.get_figwidth() <= COLUMN_INCHES and not ax.patches
    plt.close(ax.figure)
