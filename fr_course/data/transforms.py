"""Batch-level image transforms, applied on the training device after collation.

Datasets hand out uint8 RGB images; the conversion to the network's input happens here, once per
batch, so that it runs on the GPU when there is one and so that the only random augmentation
(the horizontal flip) draws from one seeded generator whose state the trainer checkpoints.
"""

from __future__ import annotations

import torch


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) RGB -> float32 ``(x - 127.5) / 127.5`` in [-1, 1] (insightface's preprocessing)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"normalize expects uint8 images, got {images.dtype}")
    return images.float().sub_(127.5).div_(127.5)


def random_hflip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image of the batch with probability 1/2 (the only augmentation of the recipes)."""
    flip = torch.rand(images.shape[0], generator=generator, device="cpu") < 0.5
    if not flip.any():
        return images
    flip = flip.to(images.device)
    out = images.clone()
    out[flip] = images[flip].flip(-1)
    return out
