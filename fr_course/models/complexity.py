"""Measured cost of a backbone: multiply-accumulates of one forward pass and parameter count."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .common import as_hw


def complexity(model: nn.Module, input_size: int | Sequence[int] = 112) -> dict:
    """``dict(macs=..., params=...)`` for one image of ``input_size`` (int or (H, W)).

    MACs = FLOPs / 2 as counted by ``torch.utils.flop_counter.FlopCounterMode`` on a forward pass
    in eval mode (one multiply-accumulate = 2 FLOPs); it counts convolutions and matrix products,
    not batch norm, activations, pooling or additions. ``params`` counts every parameter,
    trainable or not. The model's train/eval mode is restored and its batch-norm statistics are
    left untouched.
    """
    height, width = as_hw(input_size)
    reference = next(model.parameters(), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, height, width, device=device, dtype=dtype))
    finally:
        model.train(was_training)
    return {"macs": counter.get_total_flops() // 2, "params": sum(p.numel() for p in model.parameters())}
