"""Multi-process training through ``torchrun`` and DistributedDataParallel — nothing home-made.

Launch ``torchrun --nproc_per_node=K -m fr_course train ...`` (add ``--nnodes``/``--rdzv-*`` for
several machines). torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` reads
them and joins the process group (NCCL on CUDA, gloo on CPU). Without them the run is a single
process and nothing here does anything.

How the trainer uses it:

* backbone **and** loss head are wrapped together in one DDP module, so the gradients of the
  class prototypes are averaged like the backbone's and the head stays identical on every rank
  (the ``broadcast_buffers`` default also keeps buffers such as SphereFace's counter in step);
* each rank reads ``batch_size / K`` images of a shard of the same seeded permutation
  (:mod:`fr_course.training.sampling`);
* rank 0 alone writes files and shows progress; it alone evaluates, while the others wait at a
  barrier; the logged loss is the mean over ranks (one scalar all-reduce per step, which also
  makes every rank see a non-finite loss at the same step and stop together).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment (single process without it)."""
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                        int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as exc:
        raise RuntimeError(f"bad RANK/WORLD_SIZE/LOCAL_RANK in the environment: {exc}") from None


def setup(device: str = "auto") -> DistInfo:
    """Join the process group if torchrun started several processes (idempotent)."""
    info = env_info()
    if not info.enabled or dist.is_initialized():
        return info
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return info


def shutdown() -> None:
    """Leave the process group (at the end of the program)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def mean_over_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of a tensor over all ranks (the tensor itself in a single process)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def sync_buffers(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics, loss-head counters) to every rank.

    DDP broadcasts buffers at the start of each forward, and each rank then updates its BN
    statistics with its own shard; after the last step of an epoch they differ. Syncing them at
    the epoch's end makes every rank hold exactly the state that rank 0 evaluates and saves.
    """
    if info.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def wrap(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(module)`` under torchrun, ``module`` itself otherwise."""
    if not info.enabled:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
