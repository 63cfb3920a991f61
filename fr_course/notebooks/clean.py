"""Remove what papermill and nbclient add to an executed notebook that changes on every run.

Committed notebooks must differ from one run to the next only where the computation differs, so
the timing records are dropped. Execution counts are kept: they show the reader that the cells ran
in order, and nbval does not compare them.
"""

from __future__ import annotations

INJECTED_TAG = "injected-parameters"
# Cell metadata keys that hold wall-clock records: papermill's per-cell status/timing and
# nbclient's `record_timing` timestamps.
_VOLATILE_CELL_KEYS = ("papermill", "execution")


def strip_run_metadata(notebook, *, drop_injected: bool = True):
    """Strip papermill/nbclient run records from ``notebook`` in place and return it.

    * notebook ``metadata.papermill`` (paths, parameters, start/end time, duration);
    * each cell's ``metadata.papermill`` and ``metadata.execution`` (timings), and the empty
      ``tags`` list papermill gives untagged cells;
    * with ``drop_injected``, the cell papermill inserts for ``-p`` parameters (tag
      ``injected-parameters``).

    Outputs and execution counts are left exactly as they are.
    """
    notebook.metadata.pop("papermill", None)
    kept = []
    for cell in notebook.cells:
        if drop_injected and INJECTED_TAG in (cell.metadata.get("tags") or []):
            continue
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:  # papermill adds an empty list to untagged cells
            del cell.metadata["tags"]
        kept.append(cell)
    notebook.cells = kept
    return notebook
