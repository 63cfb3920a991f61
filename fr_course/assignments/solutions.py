"""Execute the solution notebooks in place: ``python -m fr_course.assignments run [NAMES]``.

The committed outputs of the solution notebooks are written only by this command, through the
chapters' papermill runner (:func:`fr_course.notebooks.execute_notebook`): a notebook is copied
back only if every cell succeeded, with timing metadata stripped. nbval then re-executes them in CI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..notebooks import NotebookRunError, execute_notebook
from ..notebooks.runner import check_kernel
from .registry import ASSIGNMENT_DIR, select

#: A solution cell that runs longer than this is hung (the training assignment included).
CELL_TIMEOUT_S = 1200


@dataclass(frozen=True)
class SolutionRun:
    name: str
    ok: bool
    seconds: float
    error: str | None = None


def run(root: Path, names: list[str] | None = None, log=print) -> list[SolutionRun]:
    """Execute each selected solution notebook in place; a failure leaves that file untouched."""
    check_kernel()
    results = []
    for assignment in select(names):
        path = root / ASSIGNMENT_DIR / assignment.filename
        log(f"[assignments] {assignment.name}: running" + (" (trains, or reads the cached runs)" if assignment.trains else ""))
        start = time.perf_counter()
        try:
            seconds = execute_notebook(path, path, cell_timeout=CELL_TIMEOUT_S)
            results.append(SolutionRun(assignment.name, True, seconds))
            log(f"[assignments] {assignment.name}: ok in {seconds:.1f} s")
        except NotebookRunError as error:
            seconds = time.perf_counter() - start
            results.append(SolutionRun(assignment.name, False, seconds, str(error)))
            log(f"[assignments] {assignment.name}: FAILED after {seconds:.1f} s, left untouched: {error}")
    return results
