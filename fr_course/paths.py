"""Where fr_course keeps files it can re-create (rendered datasets, cached training runs)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder (``$FR_COURSE_CACHE`` or ``~/.cache/fr_course``), created on demand."""
    root = Path(os.environ.get("FR_COURSE_CACHE") or Path.home() / ".cache" / "fr_course")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
