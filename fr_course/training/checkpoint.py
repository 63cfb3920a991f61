"""Training checkpoints: what they hold, how they are written and read.

A checkpoint (``<out_dir>/checkpoint.pt``) is written at the end of every epoch, atomically (see
:mod:`fr_course.training.atomic`): a crash, a full disk or a non-finite loss in the next epoch
leaves the last good one in place. It is a dict of tensors and plain containers only, so that
:func:`load` can use ``torch.load(..., weights_only=True)``, which cannot execute code:

=============  ===========================================================================
``format``     :data:`FORMAT`
``config``     the run's :class:`~fr_course.training.config.TrainConfig` as a dict
``epoch``      number of completed epochs; ``global_step``: optimiser steps done
``model``      backbone ``state_dict()`` (BatchNorm running statistics included)
``head``       loss-head ``state_dict()``: prototypes and buffers such as SphereFace's counter
``optimizer``  SGD state (momentum buffers); ``scheduler``: ``LambdaLR`` state
``rng``        :func:`fr_course.training.rng.capture` (torch, CUDA, NumPy, random, flip generator)
``sampler``    ``{"seed", "epoch", "position"}``: the next epoch to run, from its first batch
``history``    the metrics records written to ``metrics.jsonl`` so far
``timing``     accumulated seconds (training, evaluation), for ``results.json``
``data``       a summary of the training set (classes, images) used to check a resume
=============  ===========================================================================
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_torch_save

FORMAT = "fr_course.checkpoint.v1"
CHECKPOINT_NAME = "checkpoint.pt"
REQUIRED = ("config", "epoch", "global_step", "model", "head", "optimizer", "scheduler", "rng",
            "sampler", "history")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not an fr_course training checkpoint."""


def checkpoint_path(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file (or ends in ``.pt``), else ``path/checkpoint.pt``."""
    path = Path(path)
    if path.is_dir() or (not path.exists() and path.suffix != ".pt"):
        return path / CHECKPOINT_NAME
    return path


def save(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (which must hold the keys of :data:`REQUIRED`) atomically to ``path``."""
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {', '.join(missing)}")
    atomic_torch_save({"format": FORMAT, **state}, path)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); :class:`CheckpointError` if it is not one."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an fr_course training checkpoint (format {FORMAT})")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    return state
