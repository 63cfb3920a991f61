"""scripts/ci_book.sh fails loudly: a failing notebook makes `make book` / `make test` exit non-zero.

The test builds a throw-away course folder with one chapter that raises, runs the real script in it
with the real runner, and checks the exit code and the closing summary. (The bug this guards
against: steps chained with `&&` made bash ignore `set -e` inside them, so `make book` exited 0
with three failed notebooks.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _notebook(source: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# A chapter"},
                      {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                       "source": source}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _course(tmp_path: Path, chapters: dict[str, str]) -> Path:
    root = tmp_path / "course"
    (root / "scripts").mkdir(parents=True)
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "scripts" / "ci_book.sh", root / "scripts" / "ci_book.sh")
    (root / "_config.yml").write_text("title: test\nrepository:\n  url: https://example.invalid/x\n")
    toc = ["format: jb-book", "root: intro", "chapters:"]
    for name, source in chapters.items():
        (root / "notebooks" / f"{name}.ipynb").write_text(json.dumps(_notebook(source)))
        toc.append(f"  - file: notebooks/{name}")
    (root / "_toc.yml").write_text("\n".join(toc) + "\n")
    return root


def _run(root: Path, step: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PY": sys.executable}
    return subprocess.run(["bash", "scripts/ci_book.sh", step], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_failing_notebook_fails_the_book_step_with_a_summary(tmp_path):
    root = _course(tmp_path, {"00_ok": "x = 1", "01_broken": "assert 1 + 1 == 3, 'the check cell is wrong'"})
    result = _run(root, "notebooks")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    summary = out[out.index("ci_book.sh summary"):]
    assert "FAILED: chapters" in summary
    assert "01_broken" in summary and "the check cell is wrong" in summary
    # the failing notebook did not stop the others: 00_ok was still executed and written back
    executed = json.loads((root / "notebooks" / "00_ok.ipynb").read_text())
    assert executed["cells"][1]["execution_count"] == 1


def test_usage_error_and_a_failed_command_exit_non_zero(tmp_path):
    root = _course(tmp_path, {})
    assert _run(root, "nonsense").returncode == 2
    # a step whose command cannot even start (no interpreter) is a failure, not a silent skip
    env = {**os.environ, "PY": str(tmp_path / "no-such-python")}
    result = subprocess.run(["bash", "scripts/ci_book.sh", "build"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "FAILED: build" in result.stdout
