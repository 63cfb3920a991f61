"""SGD with selective weight decay, and the learning-rate schedules of the profiles.

Weight decay (L2, ``weight_decay·θ`` added to the gradient) regularises the *directions* that
conv and linear weights encode. BatchNorm's affine parameters and biases are offsets and scales:
decaying them only pulls activations towards zero, so they get none (the ResNet "bag of tricks",
He et al. 2019; insightface's ``arcface_torch`` decays everything). The rule is by shape: tensors
with ≤ 1 dimension (BN weight/bias, biases, PReLU slopes, NormFace's learnable scale ``s``) are not
decayed; matrices and conv kernels are — and that includes the loss head's class prototypes
``weight`` (C, d), which insightface optimises and decays together with the backbone.

The schedule is a pure function of the optimiser step, :func:`lr_factor`, multiplied into the
base learning rate by ``torch.optim.lr_scheduler.LambdaLR`` once per step. Because the factor
depends only on the step index, a resumed run follows the same curve exactly.

* ``multistep``: ``γ^k`` where k = number of milestones ≤ the current (0-based) epoch, i.e. the lr
  is multiplied by γ *after* epoch ``milestone`` (paper recipe: epochs 8, 12, 16 of 20);
* ``cosine``: ``½(1 + cos(π·p))``, p = fraction of the post-warm-up steps done;
* ``poly``: ``(1 − p)^power`` (insightface's ``PolyScheduler``, power 2).

With ``warmup_epochs`` = w > 0 the first ``W = round(w·steps_per_epoch)`` steps ramp linearly,
``(step + 1)/W``, before any of the above.
"""

from __future__ import annotations

import bisect
import math
from typing import Iterable

import torch
from torch import nn

from .config import TrainConfig


def parameter_groups(modules: Iterable[nn.Module], weight_decay: float) -> list[dict]:
    """Two SGD groups: ``decay`` (≥ 2-D tensors) and ``no_decay`` (BN parameters, biases, scalars).

    Each parameter appears once, in module order, so the optimiser's state is laid out the same
    way on every run and every rank.
    """
    decay, no_decay, seen = [], [], set()
    for module in modules:
        for param in module.parameters():
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]


def build_optimizer(modules: Iterable[nn.Module], config: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum over the backbone and the loss head (see :func:`parameter_groups`)."""
    return torch.optim.SGD(
        parameter_groups(modules, config.weight_decay), lr=config.lr, momentum=config.momentum
    )


def warmup_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    return int(round(config.warmup_epochs * steps_per_epoch))


def lr_factor(step: int, config: TrainConfig, steps_per_epoch: int) -> float:
    """The multiplier of ``config.lr`` for optimiser step ``step`` (0-based); see the module docstring."""
    warm = warmup_steps(config, steps_per_epoch)
    if step < warm:
        return (step + 1) / warm
    if config.schedule == "multistep":
        epoch = step // steps_per_epoch
        return config.gamma ** bisect.bisect_right(list(config.milestones), epoch)
    total = config.epochs * steps_per_epoch
    progress = min(1.0, (step - warm) / max(1, total - warm))
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return (1.0 - progress) ** config.poly_power  # "poly"


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per optimiser step.

    The lambda is a plain function (not an object), so ``state_dict()`` holds only numbers and the
    checkpoint loads with ``weights_only=True``.
    """
    if steps_per_epoch < 1:
        raise ValueError("steps_per_epoch must be >= 1")

    def factor(step: int) -> float:
        return lr_factor(step, config, steps_per_epoch)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
