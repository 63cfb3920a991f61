"""What the face backbones share: argument checks, feature-map size arithmetic, weight init."""

from __future__ import annotations

import math
from typing import Sequence

import torch.nn as nn


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_dropout(value) -> float:
    """Dropout probability in [0, 1): p = 1 would zero every feature."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {value!r}")
    return float(value)


def as_hw(input_size: int | Sequence[int]) -> tuple[int, int]:
    """``112`` -> ``(112, 112)``; ``(112, 96)`` stays (H, W). Both must be positive integers."""
    if isinstance(input_size, (tuple, list)):
        if len(input_size) != 2:
            raise ValueError(f"input_size must be an int or an (H, W) pair, got {input_size!r}")
        return check_positive_int("input_size[0]", input_size[0]), check_positive_int("input_size[1]", input_size[1])
    size = check_positive_int("input_size", input_size)
    return size, size


def halved(size: tuple[int, int], times: int) -> tuple[int, int]:
    """Spatial size after ``times`` stride-2 stages.

    Every stride-2 operation in these networks (3×3 conv or max-pool with padding 1, 1×1 conv
    with padding 0) maps n to ``floor((n - 1) / 2) + 1 = ceil(n / 2)``, so odd sizes round up.
    """
    h, w = size
    for _ in range(times):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return h, w


def kaiming_init_(model: nn.Module, nonlinearity: str = "relu", negative_slope: float = 0.0) -> None:
    """He et al. 2015 ("Delving deep into rectifiers") initialisation, torchvision's convention.

    Convolutions: ``kaiming_normal_(mode="fan_out")`` (std = gain / sqrt(k·k·C_out)), where the
    gain is that of ReLU, or of a leaky ReLU / PReLU with slope ``negative_slope`` — the case the
    paper derived for PReLU networks. Batch-norm layers: weight 1, bias 0. Linear layers keep
    PyTorch's default init, as torchvision's ResNet does for its ``fc``.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=negative_slope, mode="fan_out", nonlinearity=nonlinearity)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
