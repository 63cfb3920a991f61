"""The machinery every loss head shares, written once.

A face-recognition loss head owns the class prototypes ``weight`` (C, d) and turns a batch of
embeddings and labels into per-sample losses. Almost all of them follow one recipe:

1. the cosine matrix ``cos[i, j] = Ŵ_j · x̂_i`` of L2-normalised embeddings and prototypes;
2. a margin function applied to the *target column* only, ``cos[i, y_i] -> f(cos θ_y)``;
3. a scale, then cross-entropy.

This module holds steps 1 and 3 and the small numerical tools step 2 needs, so that each loss
module only says how its logits are formed. The numerical policy, in one place:

* **Precision.** The head's maths runs with autocast disabled, in float32 (float64 if the
  embeddings or the weights are float64, so that ``gradcheck`` works): a bf16/fp16 backbone output
  is up-cast before the cosine matrix, margins and cross-entropy.
* **Clamping.** ``arccos`` and ``sqrt(1 - cos²)`` have infinite derivatives at ``cos = ±1``. Their
  input is clamped to ``[-1 + 1e-6, 1 - 1e-6]`` and ``1 - cos²`` to ``≥ 1e-6``. Only the inputs of
  ``arccos``/``sqrt`` are clamped; wherever a formula uses ``cos θ`` itself (e.g. the ``cos θ cos m``
  term of ArcFace or the non-target logits) the raw cosine is used, so its gradient never vanishes.
* **Efficiency.** The only (N, C) tensors are the cosine matrix and the logits; margins are
  computed on the (N,) target column and written back with :func:`replace_target`.
"""

from __future__ import annotations

import inspect
import math
from numbers import Real
from typing import Any, Iterable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Clamp used before ``arccos`` and ``sqrt`` (see the module docstring).
EPS = 1e-6


# --------------------------------------------------------------------------- validation

def check_real(name: str, value: Any) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (Real, Tensor)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is finite and > 0."""
    value = check_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def check_non_negative(name: str, value: Any) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless it is finite and ≥ 0."""
    value = check_real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_range(name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` unless ``low ≤ value ≤ high``."""
    value = check_real(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value``, or ``ValueError`` naming ``name`` and listing the valid ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


# --------------------------------------------------------------------------- numerics

def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """float32, or float64 if any input is float64: the head never computes below float32."""
    dtype = torch.float32
    for tensor in tensors:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype


def full_precision(device: torch.device):
    """Context manager that turns autocast off, so margins and CE are not run in bf16/fp16."""
    return torch.autocast(device_type=device.type, enabled=False)


def clamp_cos(cos: Tensor) -> Tensor:
    """Cosines clamped to ``[-1 + EPS, 1 - EPS]``, the domain where arccos has a finite slope."""
    return cos.clamp(-1.0 + EPS, 1.0 - EPS)


def theta_from_cos(cos: Tensor) -> Tensor:
    """``θ = arccos(clamp(cos))``."""
    return torch.acos(clamp_cos(cos))


def sin_from_cos(cos: Tensor) -> Tensor:
    """``sin θ = sqrt(max(1 - clamp(cos)², EPS))`` for θ in [0, π] (so sin θ ≥ 0).

    ``1 - c²`` is formed as ``(1 - c)(1 + c)``: near ``c = ±1`` that avoids the cancellation that
    costs ``1 - c*c`` several digits in float32.
    """
    cos = clamp_cos(cos)
    return torch.sqrt(((1.0 - cos) * (1.0 + cos)).clamp_min(EPS))


def target_column(matrix: Tensor, labels: Tensor) -> Tensor:
    """``matrix[i, labels[i]]`` as an (N,) tensor."""
    return matrix.gather(1, labels[:, None]).squeeze(1)


def replace_target(logits: Tensor, labels: Tensor, target: Tensor) -> Tensor:
    """Write ``target[i]`` into ``logits[i, labels[i]]`` and return ``logits``.

    In place, to avoid another (N, C) tensor: ``logits`` must be a tensor the caller has just made
    (e.g. ``cos * s``), not one autograd saved for backward. Autograd routes the gradient of the
    overwritten entries to ``target`` and none to the old values.
    """
    return logits.scatter_(1, labels[:, None], target[:, None].to(logits.dtype))


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample ``-log softmax(z)[y]`` in at least float32 (stable log-sum-exp)."""
    logits = logits.to(compute_dtype(logits))
    return F.cross_entropy(logits, labels, reduction="none")


# --------------------------------------------------------------------------- base classes

class LossHead(nn.Module):
    """The public interface of every loss: ``forward``, ``per_sample``, ``logits``.

    Subclasses implement ``_logits`` (softmax family) or ``_per_sample`` (losses that are not CE
    on logits), and may add a batch-level term with :meth:`batch_term`. The public methods check
    the batch, turn autocast off and then call them.
    """

    #: The paper (authors, venue, year, arXiv id), shown by ``fr_course.losses.describe()``.
    paper: str = ""

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes

    # -- public API
    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss: the mean of :meth:`per_sample` plus :meth:`batch_term` if any."""
        loss = self.per_sample(embeddings, labels).mean()
        extra = self.batch_term(labels)
        return loss if extra is None else loss + extra

    def per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """(N,) per-sample losses, float32 (float64 for float64 inputs)."""
        labels = self.check_batch(embeddings, labels)
        with full_precision(embeddings.device):
            return self._per_sample(embeddings, labels)

    def logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """(N, C) logits the loss feeds to cross-entropy (margins included)."""
        labels = self.check_batch(embeddings, labels)
        with full_precision(embeddings.device):
            return self._logits(embeddings, labels)

    def batch_term(self, labels: Tensor) -> Optional[Tensor]:
        """A loss term computed once per batch and added to the mean (None: there is none)."""
        return None

    # -- for subclasses
    def _per_sample(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return cross_entropy(self._logits(embeddings, labels), labels)

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} is not a softmax loss: it has no logits to feed to cross-entropy"
        )

    # -- input checks
    def check_labels(self, labels: Tensor) -> Tensor:
        """``labels`` as int64, or ``ValueError`` naming ``labels``."""
        if not isinstance(labels, Tensor) or labels.ndim != 1:
            raise ValueError(f"labels must be a 1-D tensor of class indices, got {_describe(labels)}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
        if labels.numel():
            low, high = (int(v) for v in torch.aminmax(labels))
            if low < 0 or high >= self.num_classes:
                raise ValueError(
                    f"labels must lie in 0..{self.num_classes - 1} (num_classes={self.num_classes}), "
                    f"got values in {low}..{high}"
                )
        return labels.long()

    def check_batch(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Check shapes, dtypes and label range; return the labels as int64."""
        if (
            not isinstance(embeddings, Tensor)
            or embeddings.ndim != 2
            or embeddings.shape[1] != self.embedding_dim
        ):
            raise ValueError(
                f"embeddings must have shape (N, {self.embedding_dim}), got {_describe(embeddings)}"
            )
        if not embeddings.is_floating_point():
            raise ValueError(f"embeddings must be a floating-point tensor, got {embeddings.dtype}")
        if embeddings.shape[0] == 0:
            raise ValueError("embeddings is an empty batch (N = 0)")
        labels = self.check_labels(labels)
        if labels.shape[0] != embeddings.shape[0]:
            raise ValueError(
                f"labels has {labels.shape[0]} entries but embeddings has {embeddings.shape[0]} rows"
            )
        return labels

    def extra_repr(self) -> str:
        """``embedding_dim=…, num_classes=…`` and every hyper-parameter of the signature."""
        parts = [f"embedding_dim={self.embedding_dim}", f"num_classes={self.num_classes}"]
        for name in list(inspect.signature(type(self).__init__).parameters)[3:]:
            value = getattr(self, name, None)
            if isinstance(value, Tensor) and value.numel() != 1:
                parts.append(f"{name}=<{value.numel()} values>")
            elif isinstance(value, Tensor):
                parts.append(f"{name}={value.item()!r}")
            elif value is not None and not isinstance(value, nn.Module):
                parts.append(f"{name}={value!r}")
        return ", ".join(parts)


class PrototypeLoss(LossHead):
    """A loss head that owns the prototypes ``weight`` (C, d).

    Initialisation: ``weight ~ Normal(0, 0.01)`` (the choice of insightface's ``arcface_torch``).
    For the normalised losses only the directions matter; for plain softmax the small scale keeps
    the first logits near zero.
    """

    def __init__(self, embedding_dim: int, num_classes: int):
        super().__init__(embedding_dim, num_classes)
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, mean=0.0, std=0.01)

    def cosine(self, embeddings: Tensor) -> Tensor:
        """(N, C) cosine matrix ``Ŵ_j·x̂_i`` in at least float32, autocast off.

        A zero embedding gives a zero row (``F.normalize`` divides by ``max(‖x‖, 1e-12)``).
        """
        dtype = compute_dtype(embeddings, self.weight)
        with full_precision(embeddings.device):
            x = F.normalize(embeddings.to(dtype), dim=1)
            w = F.normalize(self.weight.to(dtype), dim=1)
            return F.linear(x, w)


class MarginLoss(PrototypeLoss):
    """Normalised softmax with a margin on the target cosine: ``z_y = s·f(cos θ_y)``, ``z_j = s·cos θ_j``.

    Subclasses define :meth:`target`, the margin function ``f`` on the (N,) target cosines.
    """

    def __init__(self, embedding_dim: int, num_classes: int, s: float):
        super().__init__(embedding_dim, num_classes)
        self.s = check_positive("s", s)

    def target(self, cos_y: Tensor, labels: Tensor) -> Tensor:
        """The margin function ``f(cos θ_y)`` (no scale); the identity here."""
        return cos_y

    def scaled_logits(self, cos: Tensor, labels: Tensor) -> Tensor:
        """``s·cos`` with the target column replaced by ``s·f(cos θ_y)``."""
        target = self.target(target_column(cos, labels), labels)
        return replace_target(cos * self.s, labels, target * self.s)

    def _logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return self.scaled_logits(self.cosine(embeddings), labels)


def _describe(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return f"a tensor of shape {tuple(obj.shape)} and dtype {obj.dtype}"
    return f"{type(obj).__name__}"
