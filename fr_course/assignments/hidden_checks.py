"""The hidden checks the grader runs after a submission's own cells.

They are the notebook checks of :mod:`fr_course.checks` with *other* random inputs and
hyper-parameters (``hidden=True`` and a seed drawn by the grader), so a function tuned to the
visible checks' inputs does not pass by accident. Each check is split in two
(:data:`fr_course.checks.PROBES`):

* in the submission's kernel, :func:`probe_to_file` looks the graded name up in the notebook's
  namespace, runs the student's function on the inputs and writes plain JSON to a file;
* in the grader's process, :func:`judge_file` reads that file and compares it with the reference —
  so the verdict is computed where the student's code cannot reach it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ..checks import PROBES, CheckItem
from ..checks.core import to_json
from .registry import Graded


def probe_to_file(check: str, name: str, namespace: dict, path: str, seed: int) -> None:
    """Kernel side: probe ``namespace[name]`` with check ``check`` and write the JSON result to ``path``."""
    spec = PROBES[check]
    if name not in namespace:
        result = {"missing": f"`{name}` is not defined when the notebook has run: keep the cell that defines it "
                             f"and its name"}
    elif spec.callable and not callable(namespace[name]):
        result = {"missing": f"`{name}` is a {type(namespace[name]).__name__}, not a function"}
    else:
        result = spec.probe(namespace[name], seed=seed, hidden=True)
    Path(path).write_text(to_json(result), encoding="utf-8")


def probe_source(graded: Graded, path: str, seed: int) -> str:
    """The code cell the grader runs in the kernel for ``graded``."""
    return (f"from fr_course.assignments.hidden_checks import probe_to_file as _fr_course_probe\n"
            f"_fr_course_probe({graded.check!r}, {graded.name!r}, globals(), {str(path)!r}, {int(seed)})\n"
            f"del _fr_course_probe")


@functools.lru_cache(maxsize=None)
def _template(check: str) -> tuple[CheckItem, ...]:
    """The items of ``check`` with their maximum points (from judging a function that raises)."""
    spec = PROBES[check]

    def absent(*args, **kwargs):
        raise RuntimeError("absent")

    return tuple(spec.judge(spec.probe(absent if spec.callable else None, seed=0, hidden=True)))


def max_points(graded: Graded) -> float:
    return sum(item.max_points for item in _template(graded.check))


def failed(graded: Graded, reason: str) -> list[CheckItem]:
    """Every item of ``graded``'s check at 0 points, with ``reason`` as feedback."""
    return [CheckItem(item.name, False, reason, 0.0, item.max_points) for item in _template(graded.check)]


def judge_file(graded: Graded, path: Path, cell_error: str | None) -> list[CheckItem]:
    """Grader side: the :class:`CheckItem` s of ``graded`` from the probe file (or why there is none)."""
    try:
        probed = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return failed(graded, f"not graded: the check could not run ({cell_error or 'it wrote no result'})")
    if "missing" in probed:
        return failed(graded, probed["missing"])
    try:
        return PROBES[graded.check].judge(probed, graded.name)
    except Exception as exc:  # a malformed probe (e.g. the student's code tampered with it)
        return failed(graded, f"not graded: the check's result could not be read ({type(exc).__name__}: {exc})")
