"""From a model and uint8 face images to L2-normalised, flip-fused embeddings (data.md §4, 1–2).

Preprocessing is the training one, :func:`fr_course.data.transforms.normalize`
((x − 127.5) / 127.5, RGB), with the model in ``eval()`` mode under ``torch.inference_mode``.
The flip test embeds each image and its horizontal mirror and **sums the raw embeddings**
before L2-normalising (insightface): e = (f(x) + f(mirror x)) / ‖f(x) + f(mirror x)‖.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from fr_course.data.transforms import normalize


def _check_device(model: nn.Module, device: torch.device) -> None:
    parameter = next(model.parameters(), None)
    if parameter is None:
        return
    here = parameter.device
    if here.type != device.type or (here.index is not None and device.index is not None and here.index != device.index):
        raise ValueError(f"the model's parameters are on {here} but device={str(device)!r}: "
                         f"move the model with model.to(device) or pass the device it is on")


def _image_batches(source, batch_size: int, num_workers: int, pin_memory: bool):
    """Yield uint8 (B, 3, H, W) batches, in order, from a tensor, a DataLoader or a Dataset."""
    if isinstance(source, torch.Tensor):
        if source.ndim != 4:
            raise ValueError(f"an image tensor must be (N, 3, H, W), got shape {tuple(source.shape)}")
        yield from source.split(batch_size)
        return
    if isinstance(source, DataLoader):
        if not isinstance(source.sampler, SequentialSampler):
            raise ValueError("the DataLoader must visit items in order (shuffle=False, no custom sampler): "
                             "embeddings are matched to pairs by position")
        loader = source
    elif isinstance(source, Dataset) or (hasattr(source, "__getitem__") and hasattr(source, "__len__")):
        loader = DataLoader(source, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            pin_memory=pin_memory)
    else:
        raise TypeError(f"dataset_or_loader must be a Dataset, a DataLoader or a uint8 image tensor, "
                        f"got {type(source).__name__}")
    for batch in loader:
        # training sets yield (image, label): the image comes first
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def embed_images(model: nn.Module, dataset_or_loader, batch_size: int = 256, device="cpu",
                 flip: bool = True, num_workers: int = 0) -> np.ndarray:
    """Embeddings (N, d) float32, L2-normalised, of every image of ``dataset_or_loader``, in order.

    ``dataset_or_loader``: a Dataset whose items are uint8 (3, H, W) images (or (image, label)
    tuples), a non-shuffling DataLoader of such batches, or a uint8 (N, 3, H, W) tensor.
    ``flip=True`` sums the raw embeddings of each image and its mirror before normalising;
    ``flip=False`` uses the single view. The model must already be on ``device``; its
    train/eval mode is restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = torch.device(device)
    _check_device(model, device)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for images in _image_batches(dataset_or_loader, batch_size, num_workers, device.type == "cuda"):
                x = normalize(images.to(device, non_blocking=True))
                if flip:
                    # one forward over both views: in eval mode every sample is independent
                    out = model(torch.cat([x, x.flip(-1)])).float()
                    out = out[: len(x)] + out[len(x):]
                else:
                    out = model(x).float()
                chunks.append(F.normalize(out, dim=1).cpu())
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("dataset_or_loader is empty: nothing to embed")
    return torch.cat(chunks).numpy()


def embed_pairs(model: nn.Module, pairs, batch_size: int = 256, device="cpu", flip: bool = True,
                num_workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(emb_a, emb_b)``, each (P, d), for a :class:`~fr_course.data.pairs.PairSet`.

    Pair k is made of items 2k and 2k + 1 (the insightface ``.bin`` order); the embeddings are
    those of :func:`embed_images` (L2-normalised, flip-fused unless ``flip=False``).
    """
    embeddings = embed_images(model, pairs, batch_size=batch_size, device=device, flip=flip,
                              num_workers=num_workers)
    expected = 2 * len(pairs.is_same) if hasattr(pairs, "is_same") else None
    if len(embeddings) % 2 or (expected is not None and len(embeddings) != expected):
        raise ValueError(f"{getattr(pairs, 'name', 'pairs')}: {len(embeddings)} images embedded, "
                         f"expected an even number (2 per pair){'' if expected is None else f', {expected}'}")
    return np.ascontiguousarray(embeddings[0::2]), np.ascontiguousarray(embeddings[1::2])
