"""Tools for the course's chapter notebooks: the papermill runner, the Colab setup cell, the book's
configuration (repository URL, chapter list), and :class:`Chapter`, which checks a chapter's
parameters and trains its face experiments.

Command line::

    python -m fr_course.notebooks list
    python -m fr_course.notebooks run [--profile quick|full] [-p KEY VALUE ...] [--output-dir DIR] [NAMES...]

Chapter authors: start every notebook with the cell :func:`colab_cell_source` returns (see
``docs/CHAPTER_GUIDE.md``).
"""

from .book import BookConfigError, chapter_names, find_root, repository_url
from .chapter import Chapter
from .clean import strip_run_metadata
from .colab import COLAB_TAG, colab_cell_problems, colab_cell_source, make_colab_cell
from .runner import NotebookRunError, RunResult, execute_notebook, run

__all__ = [
    "BookConfigError",
    "COLAB_TAG",
    "Chapter",
    "NotebookRunError",
    "RunResult",
    "chapter_names",
    "colab_cell_problems",
    "colab_cell_source",
    "execute_notebook",
    "find_root",
    "make_colab_cell",
    "repository_url",
    "run",
    "strip_run_metadata",
]
