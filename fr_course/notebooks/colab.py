"""The first cell of every chapter notebook: install ``fr_course`` when the notebook runs on Colab.

Colab opens a notebook straight from the repository but without the package beside it, so the
first cell pip-installs the package from the same repository URL the book's launch buttons use
(``_config.yml``'s ``repository.url``). Anywhere else (a local checkout, nbval, papermill) the
cell does nothing and prints nothing, so its committed output stays empty and nbval stays stable.
"""

from __future__ import annotations

from pathlib import Path

from . import book

COLAB_TAG = "colab-setup"
# myst-nb leaves a cell with this tag out of the web page: the cell is for Colab, not for readers.
REMOVE_CELL_TAG = "remove-cell"

_TEMPLATE = '''\
# On Google Colab only: install the course package (does nothing elsewhere).
import subprocess, sys
REPOSITORY = "{url}"
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"fr_course @ git+{{REPOSITORY}}"], check=True)'''


def colab_cell_source(url: str | None = None, root: str | Path | None = None) -> str:
    """Source text of the Colab setup cell for the repository at ``url``.

    Without ``url`` it is read from ``_config.yml`` (``repository.url``) of the book at ``root``,
    so chapter authors paste exactly the text this returns.
    """
    if url is None:
        url = book.repository_url(root)
    if '"' in url or "\n" in url:
        raise ValueError(f"repository url {url!r} cannot be embedded in the setup cell")
    return _TEMPLATE.format(url=url.rstrip("/"))


def make_colab_cell(url: str | None = None, root: str | Path | None = None):
    """A new nbformat code cell holding :func:`colab_cell_source`, tagged ``colab-setup`` (and
    ``remove-cell``, which keeps it off the web page)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(colab_cell_source(url, root))
    cell.metadata["tags"] = [COLAB_TAG, REMOVE_CELL_TAG]
    return cell


def colab_cell_problems(notebook, url: str) -> list[str]:
    """Why ``notebook``'s first cell is not the Colab setup cell for ``url`` (empty list: it is)."""
    cells = notebook.get("cells") or []
    if not cells:
        return ["the notebook has no cells"]
    first = cells[0]
    problems = []
    if first.get("cell_type") != "code":
        problems.append(f"the first cell is a {first.get('cell_type')} cell, not a code cell")
    source = first.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if source != colab_cell_source(url):
        problems.append("the first cell's source differs from fr_course.notebooks.colab_cell_source()")
    if COLAB_TAG not in (first.get("metadata", {}).get("tags") or []):
        problems.append(f"the first cell lacks the {COLAB_TAG!r} tag")
    if first.get("outputs"):
        problems.append("the first cell has outputs (it must print nothing outside Colab)")
    return problems
