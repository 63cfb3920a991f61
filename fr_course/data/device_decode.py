"""Batched JPEG decoding on the training device (``torchvision.io.decode_jpeg``, nvJPEG on CUDA).

The CPU path decodes each image with PIL inside the DataLoader workers; at 112×112 a GPU trains
ResNet-18 faster than a handful of CPU cores can decode JPEGs. The device path moves that work:
the workers only read the encoded bytes of a batch (:class:`EncodedImages`), and the main process
decodes the whole batch in one ``decode_jpeg(list, device=...)`` call (:class:`DeviceJpegDecoder`).

Both paths give the same images up to JPEG decoder rounding (nvJPEG and libjpeg-turbo may differ by
a grey level in a few pixels), the same labels and the same bad-image policy: a batch that fails to
decode on the device (a corrupt record, or a PNG) is decoded again image by image through the
dataset itself, which skips or raises exactly as on the CPU path.

:func:`probe_decoders` times both paths on the same batches; the trainer's ``decode="auto"`` takes
the device path only on CUDA and only when the probe says it is faster (see
:func:`fr_course.training.trainer`).
"""

from __future__ import annotations

import time
from typing import Iterable

import torch
from torch.utils.data import DataLoader, Dataset


class EncodedImages(Dataset):
    """Item i of an identity dataset (``CasiaWebFace``/``CasiaImageFolder``) as its encoded bytes.

    Yields ``(bytes as a 1-D uint8 tensor, label, i)``; the index lets the decoder fall back to the
    dataset for an image it cannot decode.
    """

    def __init__(self, dataset: Dataset):
        if not hasattr(dataset, "_encoded"):
            raise TypeError(f"{type(dataset).__name__} holds no encoded images: device decoding needs a "
                            f"RecordIO or image-folder training set")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        data = self.dataset._encoded(int(index))
        return torch.frombuffer(bytearray(data), dtype=torch.uint8), int(self.dataset.labels[index]), int(index)


def collate_encoded(batch):
    """``[(bytes, label, index), ...]`` -> (list of byte tensors, labels (N,), indices (N,))."""
    encoded, labels, indices = zip(*batch)
    return list(encoded), torch.tensor(labels, dtype=torch.int64), torch.tensor(indices, dtype=torch.int64)


class DeviceJpegDecoder:
    """Decode a batch from :func:`collate_encoded` on ``device`` into uint8 (N, 3, S, S)."""

    def __init__(self, dataset: Dataset, device: torch.device | str, image_size: int):
        self.dataset = dataset
        self.device = torch.device(device)
        self.image_size = image_size
        self.fallback_batches = 0

    def __call__(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.io import ImageReadMode, decode_jpeg

        encoded, labels, indices = batch
        try:
            images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=self.device)
            if any(tuple(image.shape[1:]) != (self.image_size, self.image_size) for image in images):
                raise ValueError("an image of another size")
            stacked = torch.stack(images)
        except (RuntimeError, ValueError):
            # one bad record spoils the batched call: decode this batch image by image through the
            # dataset, which applies its on_bad_image policy (skip = substitute, or raise)
            self.fallback_batches += 1
            stacked = torch.stack([self.dataset[int(i)][0] for i in indices]).to(self.device)
        return stacked, labels.to(self.device, non_blocking=True)


def encoded_loader(dataset: Dataset, sampler, batch_size: int, num_workers: int, **kwargs) -> DataLoader:
    """A training loader over :class:`EncodedImages` (same sampler, so the same order as the CPU path)."""
    return DataLoader(EncodedImages(dataset), batch_size=batch_size, sampler=sampler, drop_last=True,
                      num_workers=num_workers, collate_fn=collate_encoded,
                      prefetch_factor=4 if num_workers > 0 else None, **kwargs)


def _images_per_s(batches: Iterable, consume, count: int) -> float:
    iterator = iter(batches)
    consume(next(iterator))  # the first batch pays for worker start-up and CUDA/nvJPEG init
    done, start = 0, time.perf_counter()
    for _, batch in zip(range(count), iterator):
        done += len(consume(batch)[1])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return done / max(time.perf_counter() - start, 1e-9)


def probe_decoders(dataset: Dataset, device: torch.device | str, image_size: int, batch_size: int,
                   num_workers: int, batches: int = 8) -> dict:
    """Decoded images/s of the worker (PIL) path and of the device path, on the same ``batches``.

    Returns ``{"workers": ..., "device": ..., "choice": "workers"|"device"}``; the device path is
    chosen only if it is at least 10 % faster (a tie keeps the simpler path).
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(dataset), generator=generator)[: batch_size * (batches + 1)].tolist()
    cpu_loader = DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=num_workers,
                            pin_memory=device.type == "cuda")
    workers = _images_per_s(cpu_loader, lambda b: (b[0].to(device, non_blocking=True), b[1]), batches)
    decoder = DeviceJpegDecoder(dataset, device, image_size)
    device_loader = DataLoader(EncodedImages(dataset), batch_size=batch_size, sampler=order,
                               num_workers=num_workers, collate_fn=collate_encoded)
    on_device = _images_per_s(device_loader, decoder, batches)
    choice = "device" if on_device > 1.1 * workers else "workers"
    return {"workers_images_per_s": round(workers, 1), "device_images_per_s": round(on_device, 1),
            "choice": choice, "probe_batches": batches}
