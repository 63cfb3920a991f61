"""The training set and the verification pair sets a config names.

* ``data="synthetic"``: :func:`fr_course.data.synthetic.make_faces` (``synthetic_preset``,
  ``synthetic_seed``, ``synthetic_overrides``) — its training identities and its LFW-style pairs
  of unseen identities (one set, named by the generator);
* ``data="casia"``: :class:`fr_course.data.casia.CasiaWebFace` reading ``data_root/train.rec`` and
  every known ``.bin`` verification set found in ``data_root`` (lfw, cfp_fp, agedb_30, ...);
* ``data="folder"``: :class:`fr_course.data.casia.CasiaImageFolder` (``data_root/<identity>/*.jpg``)
  and the ``.bin`` files in ``data_root``.

Every problem with the data (missing folder, wrong image size) becomes a
:class:`~fr_course.training.config.ConfigError` that names the path and how to prepare it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from ..data.pairs import PairSet
from .config import ConfigError, TrainConfig


@dataclass
class TrainingData:
    """A training set (items ``(uint8 CHW, label)``), named pair sets, and a JSON-able summary."""

    train: Dataset
    pair_sets: dict[str, PairSet]
    summary: dict[str, Any]


def load_training_data(config: TrainConfig) -> TrainingData:
    """The training set and pair sets of ``config`` (see the module docstring)."""
    try:
        if config.data == "synthetic":
            faces = _make_faces(config)
            train, pair_sets = faces.train, {_pair_name(faces.pairs, "synthetic"): faces.pairs}
            source = f"synthetic preset {config.synthetic_preset!r}, seed {config.synthetic_seed}"
        else:
            from ..data.casia import CasiaImageFolder, CasiaWebFace

            root = Path(config.data_root)
            dataset_cls = CasiaWebFace if config.data == "casia" else CasiaImageFolder
            train = dataset_cls(root, image_size=config.input_size)
            pair_sets = _bin_sets(root, config.input_size)
            if not pair_sets:
                warnings.warn(f"no verification set (lfw.bin, cfp_fp.bin, agedb_30.bin, ...) in {root}: "
                              f"training without evaluation", stacklevel=2)
            source = f"{config.data} {root}"
    except ConfigError:
        raise
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(str(exc).strip()) from None
    _check_image_size(train, config)
    summary = {
        "source": source,
        "num_classes": int(train.num_classes),
        "num_images": len(train),
        "pair_sets": {name: int(pairs.num_pairs) for name, pairs in pair_sets.items()},
    }
    return TrainingData(train, pair_sets, summary)


def load_pair_sets(config: TrainConfig) -> dict[str, PairSet]:
    """Only the verification pair sets of ``config`` (for evaluating a checkpoint)."""
    try:
        if config.data == "synthetic":
            faces = _make_faces(config)
            return {_pair_name(faces.pairs, "synthetic"): faces.pairs}
        return _bin_sets(Path(config.data_root), config.input_size)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(str(exc).strip()) from None


def _make_faces(config: TrainConfig):
    from ..data.synthetic import make_faces

    try:
        return make_faces(config.synthetic_preset, seed=config.synthetic_seed, **config.synthetic_overrides)
    except TypeError as exc:  # an unknown synthetic.<option>
        raise ConfigError(f"synthetic data: {exc}") from None


def _bin_sets(root: Path, image_size: int) -> dict[str, PairSet]:
    from ..data.verification import find_verification_sets

    return find_verification_sets(root, image_size=image_size)


def _pair_name(pairs: PairSet, default: str) -> str:
    name = getattr(pairs, "name", None)
    return name if isinstance(name, str) and name and name != "pairs" else default


def _check_image_size(train: Dataset, config: TrainConfig) -> None:
    if len(train) == 0:
        raise ConfigError(f"the training set ({config.data}) is empty")
    image = train[0][0]
    if tuple(image.shape[-2:]) != (config.input_size, config.input_size):
        hint = (f"set input_size={image.shape[-1]} or synthetic.image_size={config.input_size}"
                if config.data == "synthetic" else f"set input_size={image.shape[-1]}")
        raise ConfigError(f"the training images are {image.shape[-2]}x{image.shape[-1]} but "
                          f"input_size={config.input_size}: {hint}")
