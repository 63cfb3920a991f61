"""The losses of the course, one module per idea, in chapter order.

Usage::

    from fr_course import losses
    head = losses.build("arcface", embedding_dim=512, num_classes=10572, s=64.0, m=0.5)
    loss = head(embeddings, labels)          # scalar
    head.per_sample(embeddings, labels)      # (N,) float32
    head.logits(embeddings, labels)          # (N, C) logits fed to cross-entropy

The contract (names, hyper-parameters, formulas) is ``spec/losses.md``; :func:`describe` lists
every loss with its paper and hyper-parameters, read from the class signatures.
EqM and HSM are *reconstructions*, not the published methods: HSM from its abstract, EqM from
its abstract and a secondary description of its Eq. 7.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Mapping, NamedTuple, Type

from .arcface import ArcFace, additive_angular_margin
from .base import LossHead, MarginLoss, PrototypeLoss
from .combined import CombinedMargin
from .cosface import CosFace
from .eqm import EqM
from .hard_mining import HardMining
from .hsm import HSM
from .normface import NormFace, normface_min_scale
from .sface import SFace
from .softmax import Softmax
from .sphereface import SphereFace, sphereface_psi
from .sv_softmax import SVSoftmax

#: Every loss of the course by name, in chapter order.
LOSSES: Dict[str, Type[LossHead]] = {
    "softmax": Softmax,
    "normface": NormFace,
    "sphereface": SphereFace,
    "cosface": CosFace,
    "arcface": ArcFace,
    "combined": CombinedMargin,
    "eqm": EqM,
    "hsm": HSM,
    "sv_softmax": SVSoftmax,
    "sface": SFace,
    "hard_mining": HardMining,
}

#: Stands for "no default" in :func:`hyperparameters` (e.g. HSM's ``class_counts``).
REQUIRED = inspect.Parameter.empty


def hyperparameters(cls: Type[LossHead]) -> Dict[str, Any]:
    """The hyper-parameters of a loss class and their defaults (:data:`REQUIRED` if none)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[3:]  # self, d, C
    return {p.name: p.default for p in params}


def build(name: str, embedding_dim: int, num_classes: int, **hparams: Any) -> LossHead:
    """The loss head ``name`` for ``embedding_dim``-D embeddings and ``num_classes`` classes.

    Unknown names raise ``ValueError`` and unknown or missing hyper-parameters ``TypeError``,
    both listing the valid ones.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSSES)}")
    cls = LOSSES[name]
    valid = hyperparameters(cls)
    unknown = sorted(set(hparams) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown hyper-parameter(s) {', '.join(unknown)} for loss {name!r}; "
            f"valid: {', '.join(valid) or '(none)'}"
        )
    missing = [key for key, default in valid.items() if default is REQUIRED and key not in hparams]
    if missing:
        raise TypeError(f"loss {name!r} requires the hyper-parameter(s) {', '.join(missing)}")
    return cls(embedding_dim, num_classes, **hparams)


class LossInfo(NamedTuple):
    """One row of :func:`describe`."""

    name: str
    summary: str
    paper: str
    hparams: Dict[str, Any]


class Catalogue(list):
    """A list of :class:`LossInfo` that prints as a readable table."""

    def __str__(self) -> str:
        width = max(len(info.name) for info in self)
        lines = []
        for info in self:
            pad = " " * (width + 2)
            settings = ", ".join(f"{k}={_show(v)}" for k, v in info.hparams.items()) or "(none)"
            lines += [
                f"{info.name:<{width}}  {info.summary}",
                f"{pad}paper: {info.paper}",
                f"{pad}hyper-parameters: {settings}",
            ]
        return "\n".join(lines)


def describe() -> Catalogue:
    """For each loss, in chapter order: name, one-line summary, paper, hyper-parameters with defaults."""
    return Catalogue(
        LossInfo(
            name=name,
            summary=inspect.getdoc(cls).splitlines()[0],
            paper=cls.paper,
            hparams=hyperparameters(cls),
        )
        for name, cls in LOSSES.items()
    )


def _show(value: Any) -> str:
    if value is REQUIRED:
        return "<required>"
    if isinstance(value, Mapping):
        return repr(dict(value))
    return repr(value)


__all__ = [
    "LOSSES", "REQUIRED", "build", "describe", "hyperparameters", "LossInfo", "Catalogue",
    "LossHead", "PrototypeLoss", "MarginLoss",
    "Softmax", "NormFace", "SphereFace", "CosFace", "ArcFace", "CombinedMargin", "EqM", "HSM",
    "SVSoftmax", "SFace", "HardMining",
    "normface_min_scale", "sphereface_psi", "additive_angular_margin",
]
