"""Shared pictures of the course: the geometry of the losses, computed by the losses themselves.

* :mod:`fr_course.plots.curves` — target logit ``z_y(θ)``, its slope ``∂z_y/∂θ`` and the
  per-sample loss against θ for several losses on one axes (:func:`target_logit_curve`,
  :func:`loss_curve`, :func:`plot_target_logits`, :func:`plot_target_logit_gradients`,
  :func:`plot_loss_curves`).
* :mod:`fr_course.plots.circle` — features and prototypes on the unit circle/sphere
  (:func:`plot_features_on_circle`, with :func:`class_legend` for a shared legend) and two-class decision regions with margins
  (:func:`two_class_regions`, :func:`plot_decision_regions`).
* :mod:`fr_course.plots.runs` — learning curves and pair-cosine histograms of training runs
  (:func:`plot_history`, :func:`plot_pair_cosines`) for ``fr_course.experiments.Run`` objects.
* :mod:`fr_course.plots.style` — one colour and one display name per loss
  (:func:`loss_color`, :func:`loss_label`), the same in every chapter.
* :mod:`fr_course.plots.twoclass` — the two-class 2-D setup in which both are evaluated.

Nothing here calls ``plt.show()``: the functions draw on an axes (a new one if none is given) and
return it.
"""

from __future__ import annotations

from .circle import (TwoClassRegions, class_legend, plot_decision_regions, plot_features_on_circle,
                     two_class_regions)
from .curves import (
    DEFAULT_THETA,
    Curve,
    loss_curve,
    plot_loss_curves,
    plot_target_logit_gradients,
    plot_target_logits,
    target_logit_curve,
)
from .runs import plot_history, plot_pair_cosines
from .style import CLASS_COLORS, LOSS_COLORS, LOSS_LABELS, loss_color, loss_label

__all__ = [
    "target_logit_curve", "loss_curve", "Curve", "DEFAULT_THETA",
    "plot_target_logits", "plot_target_logit_gradients", "plot_loss_curves",
    "two_class_regions", "TwoClassRegions", "plot_decision_regions", "plot_features_on_circle",
    "class_legend",
    "plot_history", "plot_pair_cosines",
    "LOSS_COLORS", "LOSS_LABELS", "CLASS_COLORS", "loss_color", "loss_label",
]
