"""The metrics log ``metrics.jsonl``: one JSON object per line, appended as training goes.

Records (``kind``):

* ``"epoch"`` — after every epoch: ``epoch`` (1-based), ``step`` (optimiser steps so far),
  ``loss`` (mean over the epoch's steps, averaged over ranks), ``lr`` (of the epoch's last step),
  ``verification`` (per pair set: ``accuracy`` and ``accuracy_std`` as fractions, ``auc``,
  ``tar@far=...``; present on evaluated epochs) and ``timing``;
* ``"step"`` — every ``log_every`` steps when > 0: ``epoch``, ``step``, ``loss`` (mean over those
  steps), ``lr``, ``timing``.

Everything outside ``timing`` (seconds, images/s) is a deterministic function of the config, so
two runs — or a run and its resumed twin — can be compared line by line with :func:`strip_timing`.
The checkpoint holds the same records; on resume the file is rewritten from it, so it never
contains steps that the restored weights did not take.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from .atomic import atomic_write_lines

METRICS_NAME = "metrics.jsonl"


class MetricsLog:
    """Appends records to ``path`` (a no-op when ``enabled`` is False, e.g. on ranks > 0)."""

    def __init__(self, path: str | os.PathLike, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def append(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(_dumps(record) + "\n")
            handle.flush()

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the file by ``records`` (atomically)."""
        if self.enabled:
            atomic_write_lines(self.path, [_dumps(r) for r in records])


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (or of ``<dir>/metrics.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def strip_timing(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without their ``timing`` entries: the part that must be reproducible."""
    return [{k: v for k, v in record.items() if k != "timing"} for record in records]


def _dumps(record: dict[str, Any]) -> str:
    # allow_nan: a non-finite value is logged as NaN rather than crashing the logger.
    return json.dumps(record, ensure_ascii=False, allow_nan=True)
