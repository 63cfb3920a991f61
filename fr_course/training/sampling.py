"""Seeded, rank-sharded batch order and per-epoch random streams.

Exact resume and exact DDP both follow from one rule: **everything random in epoch e is a pure
function of (seed, e, rank)**. The order of the training images is ``torch.randperm`` seeded with
``seed + e`` (``torch.utils.data.DistributedSampler``, which also shards it across ranks), and the
other random streams of an epoch (the batch-flip generator, dropout's global torch RNG, the
DataLoader's worker seeds) are re-seeded at the start of each epoch from :func:`stream_seed`.
So epoch e draws the same numbers whether it follows epoch e−1 in the same process or starts a
resumed one, and nothing depends on the number of threads or on worker timing.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

#: Named random streams of an epoch (the values are part of the seed derivation: keep them).
STREAMS = {"torch": 0, "flip": 1, "loader": 2}


def stream_seed(seed: int, epoch: int, rank: int, stream: str) -> int:
    """A 63-bit seed for ``stream`` in epoch ``epoch`` on rank ``rank``, well mixed by SeedSequence."""
    state = np.random.SeedSequence([seed, epoch, rank, STREAMS[stream]]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: NumPy and ``random`` follow the worker's torch seed.

    PyTorch seeds each worker's torch RNG from the loader's generator; NumPy and ``random`` are not
    re-seeded by default and would repeat across workers (and epochs, with forked workers).
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_sampler(dataset: Dataset, seed: int, rank: int, world_size: int) -> DistributedSampler:
    """Shuffled order = f(seed, epoch), rank r takes items r, r+K, r+2K, ... (K = world size).

    ``drop_last=True`` trims the permutation to a multiple of K so no rank sees a duplicated image.
    No process group is needed: rank and world size are given.
    """
    return DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                              seed=seed, drop_last=world_size > 1)


def make_loader(dataset: Dataset, sampler: DistributedSampler, batch_size: int, num_workers: int,
                pin_memory: bool) -> DataLoader:
    """Training DataLoader: full batches only (BatchNorm), seeded workers, sampler-driven order."""
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
        num_workers=num_workers, pin_memory=pin_memory, worker_init_fn=seed_worker,
        generator=torch.Generator(), prefetch_factor=4 if num_workers > 0 else None,
        # Workers are re-created each epoch so their seeds come from this epoch's loader seed.
        persistent_workers=False,
    )


def start_epoch(loader: DataLoader, flip_generator: torch.Generator, seed: int, epoch: int,
                rank: int) -> None:
    """Re-seed every random stream of epoch ``epoch`` (see the module docstring)."""
    loader.sampler.set_epoch(epoch)
    loader.generator.manual_seed(stream_seed(seed, epoch, rank, "loader"))
    flip_generator.manual_seed(stream_seed(seed, epoch, rank, "flip"))
    torch.manual_seed(stream_seed(seed, epoch, rank, "torch"))
