"""Immediate feedback on the course's assignments: run *your* function against the package's
reference implementation and say what is wrong, not just "failed".

In a notebook::

    from fr_course.checks import check_arcface_logits
    check_arcface_logits(arcface_logits)     # prints one ✓/✗ line per check and returns a CheckReport

=====================================  ================================================  ==========
check                                  your function                                     assignment
=====================================  ================================================  ==========
:func:`check_cosface_logits`           ``cosface_logits(cos, labels, s, m) -> (N, C)``   1
:func:`check_arcface_logits`           ``arcface_logits(cos, labels, s, m) -> (N, C)``   1
:func:`check_sface_loss`               ``sface_loss(cos, labels, s, k, a, b) -> (N,)``   2
:func:`check_kfold_accuracy`           ``kfold_accuracy(a, b, same, n_folds)``           3
                                       ``-> (mean, std, thresholds)``
:func:`check_experiment_summary`       ``SUMMARY = {loss: {setting: accuracy}}``         4
=====================================  ================================================  ==========

Every check runs the function in float64 on random inputs and on edge cases (angles near 0 and π,
both sides of ArcFace's branch point π − m, cosines exactly ±1, pair counts that do not divide into
the folds), compares values *and* autograd gradients with ``fr_course.losses`` /
``fr_course.evaluation``, and names the likely mistake: wrong output shape or dtype, non-target
columns changed, margin with the wrong sign, a missing or misplaced fallback branch, a missing
``detach``, NaN at cos = ±1, folds or thresholds chosen the wrong way, an input changed in place,
hard-coded hyper-parameters, or calling the reference instead of writing the code.

The instructor's grader (``python -m fr_course.assignments grade``) uses the same checks with
other random inputs and hyper-parameters, through :data:`PROBES`: ``probe`` runs the student's
code (in the submission's kernel) and returns JSON data, ``judge`` turns that into
:class:`CheckItem` s in the grader's own process.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from . import experiment, margins, sface, verification
from .core import CheckItem, CheckReport
from .experiment import check_experiment_summary
from .margins import check_arcface_logits, check_cosface_logits
from .sface import check_sface_loss
from .verification import check_kfold_accuracy


class Probe(NamedTuple):
    """One kind of check split for the grader: ``probe(obj, seed, hidden) -> dict`` runs where the
    student's object lives; ``judge(dict, name) -> list[CheckItem]`` runs anywhere."""

    probe: Callable[..., dict]
    judge: Callable[..., list[CheckItem]]
    callable: bool  # the graded name is a function (else a value, e.g. a results table)


PROBES: dict[str, Probe] = {
    "cosface_logits": Probe(lambda fn, seed=0, hidden=False: margins.probe("cosface", fn, seed, hidden),
                            lambda p, name="cosface_logits": margins.judge("cosface", p, name), True),
    "arcface_logits": Probe(lambda fn, seed=0, hidden=False: margins.probe("arcface", fn, seed, hidden),
                            lambda p, name="arcface_logits": margins.judge("arcface", p, name), True),
    "sface_loss": Probe(sface.probe, sface.judge, True),
    "kfold_accuracy": Probe(verification.probe, verification.judge, True),
    "experiment_summary": Probe(lambda value, seed=0, hidden=False: experiment.probe(value), experiment.judge, False),
}

__all__ = [
    "CheckItem",
    "CheckReport",
    "PROBES",
    "Probe",
    "check_arcface_logits",
    "check_cosface_logits",
    "check_experiment_summary",
    "check_kfold_accuracy",
    "check_sface_loss",
]
