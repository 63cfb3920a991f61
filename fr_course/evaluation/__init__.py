"""Face verification: the insightface/LFW protocol, embeddings with flip test, ROC, TAR@FAR, plots.

* :func:`kfold_accuracy`, :func:`tar_at_far`, :func:`roc_curve` — the protocol on embeddings
  (:mod:`fr_course.evaluation.protocol`);
* :func:`embed_images`, :func:`embed_pairs` — model + uint8 images -> normalised, flip-fused
  embeddings (:mod:`fr_course.evaluation.embed`);
* :func:`verify` -> :class:`VerificationResult` — both together
  (:mod:`fr_course.evaluation.verification`);
* :func:`plot_roc`, :func:`plot_cosine_histograms` (:mod:`fr_course.evaluation.plots`; matplotlib
  is imported only when a plot is drawn without an axes).
"""

from __future__ import annotations

from .embed import embed_images, embed_pairs
from .plots import plot_cosine_histograms, plot_roc
from .protocol import KFoldResult, RocCurve, TarAtFar, kfold_accuracy, roc_curve, tar_at_far
from .verification import VerificationResult, verify

__all__ = ["kfold_accuracy", "tar_at_far", "roc_curve", "embed_images", "embed_pairs", "verify",
           "KFoldResult", "TarAtFar", "RocCurve", "VerificationResult", "plot_roc", "plot_cosine_histograms"]

