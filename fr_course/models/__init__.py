"""Face-recognition backbones: ResNet-18 variants with the ArcFace embedding head.

``build(name, embedding_dim=512, input_size=112, **kwargs)`` is the one entry point the trainer
and the notebooks use. Names:

* ``"resnet18"`` — torchvision's ResNet-18 with a 3×3 stride-1 stem, the max-pool kept and the
  BN-Dropout-FC-BN head (:class:`~fr_course.models.resnet.FaceResNet18`);
* ``"iresnet18"`` — insightface's IR-block ResNet-18 (:class:`~fr_course.models.iresnet.IResNet18`).

Keyword options (both models): ``width`` (base channels, default 64; stages use width, 2w, 4w,
8w) and ``dropout`` (the head's dropout probability, default 0.0). Models take float32
normalised images (N, 3, H, W) and return raw (un-normalised) embeddings (N, embedding_dim).
"""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from .complexity import complexity
from .embedding_head import EmbeddingHead
from .iresnet import IResNet18
from .resnet import FaceResNet18

MODELS = {"resnet18": FaceResNet18, "iresnet18": IResNet18}
OPTIONS = ("width", "dropout")


def build(name: str, embedding_dim: int = 512, input_size: int | Sequence[int] = 112, **kwargs) -> nn.Module:
    """Build backbone ``name`` producing ``embedding_dim``-d embeddings for ``input_size`` images.

    ``input_size`` is an int (square) or an (H, W) pair. Unknown names or options raise a
    ValueError that lists the valid ones.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}")
    unknown = sorted(set(kwargs) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for model {name!r}; "
                         f"valid options: {', '.join(OPTIONS)}")
    return MODELS[name](embedding_dim=embedding_dim, input_size=input_size, **kwargs)


__all__ = ["build", "complexity", "MODELS", "OPTIONS", "EmbeddingHead", "FaceResNet18", "IResNet18"]
