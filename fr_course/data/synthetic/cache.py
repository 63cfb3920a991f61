"""Pre-rendered synthetic faces on disk: ``<cache>/synthetic/faces-<config key>.npz``.

The key hashes the whole configuration and the generator's source code, so a changed knob or
renderer never reads stale images. Files are written to a temporary name in the same folder and moved into
place with ``os.replace`` (atomic), so an interrupted run or two processes rendering at once never
leave a half-written file behind. A file that cannot be read is rendered again.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from ...paths import cache_dir
from .config import FaceConfig


def cache_path(config: FaceConfig) -> Path:
    return cache_dir("synthetic") / f"faces-{config.key()}.npz"


def _read(path: Path, key: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return {name: data[name] for name in data.files if name != "key"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        warnings.warn(f"ignoring unreadable synthetic-face cache {path}: {exc}", stacklevel=3)
        return None


def _write(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, key=np.array(key), **arrays)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def cached_arrays(config: FaceConfig, render: Callable[[], dict[str, np.ndarray]],
                  use_cache: bool = True) -> dict[str, np.ndarray]:
    """The arrays of ``config`` from the cache, or ``render()`` them (and store them if ``use_cache``)."""
    if not use_cache:
        return render()
    path, key = cache_path(config), config.key()
    if path.exists():
        arrays = _read(path, key)
        if arrays is not None:
            return arrays
    arrays = render()
    _write(path, key, arrays)
    return arrays
