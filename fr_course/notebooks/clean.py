"""Remove what papermill and nbclient add to an executed notebook that changes on every run.

Committed notebooks must differ from one run to the next only where the computation differs, so
the timing records are dropped and consecutive stream outputs are merged (how a cell's printing was
split into messages depends on timing, not on what it printed). Execution counts are kept: they show the reader that the cells ran
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
      ``injected-parameters``);
    * consecutive ``stream`` outputs of one cell to the same stream are joined into one.

    What the outputs say, and execution counts, are left exactly as they are.
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
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
        kept.append(cell)
    notebook.cells = kept
    return notebook


def _merge_streams(outputs: list) -> list:
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] = _text(previous["text"]) + _text(output["text"])
        else:
            merged.append(output)
    return merged


def _text(text) -> str:
    return text if isinstance(text, str) else "".join(text)
