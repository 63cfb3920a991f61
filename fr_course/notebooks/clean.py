"""Remove what papermill and nbclient add to an executed notebook that changes on every run.

Committed notebooks must differ from one run to the next only where the computation differs, so
the timing records are dropped and consecutive stream outputs are merged (how a cell's printing was
split into messages depends on timing, not on what it printed). Execution counts are kept: they
show the reader that the cells ran in order, and nbval does not compare them.

:func:`tag_setup_cells` is the one rule that decides how a notebook's setup cells look on the
website (myst-nb cell tags): the Colab install cell is removed from the page (it stays in the
notebook, for Colab), and the imports, the ``parameters`` cell and the ``Chapter(...)`` cell are
collapsed, so that a page opens with its title and the chapter's first paragraph. The runner applies
it to every notebook it executes.
"""

from __future__ import annotations

from .colab import COLAB_TAG, REMOVE_CELL_TAG

INJECTED_TAG = "injected-parameters"
# Cell metadata keys that hold wall-clock records: papermill's per-cell status/timing and
# nbclient's `record_timing` timestamps.
_VOLATILE_CELL_KEYS = ("papermill", "execution")

PARAMETERS_TAG = "parameters"
# myst-nb's tags: "remove-cell" leaves the cell out of the page, "hide-cell" collapses it (input
# and output) behind a toggle.
REMOVE_CELL = REMOVE_CELL_TAG
HIDE_CELL = "hide-cell"
# The cell after the parameters that hands them to fr_course.notebooks.Chapter.
_CHAPTER_CALL = "Chapter("


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


def _add_tag(cell, tag: str) -> None:
    tags = list(cell.metadata.get("tags") or [])
    if tag not in tags:
        cell.metadata["tags"] = tags + [tag]


def tag_setup_cells(notebook):
    """Tag ``notebook``'s setup cells for the website, in place, and return it.

    * the Colab setup cell (tag ``colab-setup``) gets ``remove-cell``;
    * every other code cell before the ``parameters`` cell (the imports), the ``parameters`` cell
      itself, and the first code cell after it when it calls ``Chapter(...)`` get ``hide-cell``.

    Only tags are added (never removed, never twice); sources and outputs are untouched. A notebook
    without a ``parameters`` cell gets only the Colab rule.
    """
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        if COLAB_TAG in (cell.metadata.get("tags") or []):
            _add_tag(cell, REMOVE_CELL)
    position = next((i for i, cell in enumerate(code)
                     if PARAMETERS_TAG in (cell.metadata.get("tags") or [])), None)
    if position is None:
        return notebook
    for cell in code[:position]:
        if COLAB_TAG not in (cell.metadata.get("tags") or []):
            _add_tag(cell, HIDE_CELL)
    _add_tag(code[position], HIDE_CELL)
    following = code[position + 1] if position + 1 < len(code) else None
    if following is not None and _CHAPTER_CALL in following.source:
        _add_tag(following, HIDE_CELL)
    return notebook
