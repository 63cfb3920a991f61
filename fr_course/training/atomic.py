"""Crash-safe file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file in the *same* directory (``os.replace`` is atomic only within
one file system), is flushed and ``fsync``-ed, then renamed over the target; the directory is
synced too where the OS allows it, so the rename itself survives a power cut. A failure at any
point removes the temporary file and leaves the previous version untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import torch


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(path) as f: ...`` writes ``path`` atomically when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike, write: Callable[[IO], Any], mode: str = "wb") -> None:
    """Call ``write(handle)`` on a temporary file, then move it over ``path``."""
    with atomic_open(path, mode) as handle:
        write(handle)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, atomically."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Pretty-printed JSON (UTF-8, trailing newline), atomically."""
    atomic_write(path, lambda h: h.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n"), "w")


def atomic_write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    """A text file of ``lines`` (each gets a newline), atomically."""
    atomic_write(path, lambda h: h.writelines(line + "\n" for line in lines), "w")


def _umask() -> int:
    """The process umask, read without changing it (Linux), else the common 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
