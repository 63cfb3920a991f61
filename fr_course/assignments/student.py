"""Student versions of the solution notebooks: ``python -m fr_course.assignments make-student``.

For every solution notebook ``notebooks/assignments/<name>.ipynb`` the student version
``notebooks/assignments/student/<name>.ipynb`` is the same notebook with

* every solution region (lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION``) replaced: in a
  code cell by ``raise NotImplementedError("<hint>")`` at the marker's indentation, in a Markdown
  cell by the hint or "*Write your answer here.*"; the hint is whatever follows
  ``BEGIN SOLUTION`` on the marker line (after a colon);
* cells tagged ``hidden`` removed;
* outputs and execution counts cleared, cell metadata reduced to the tags, notebook metadata to the
  kernel and the language name (so re-running the solutions elsewhere does not change it).

The result is a pure function of the solution's source: writing it twice gives the same bytes,
which is what ``make-student --check`` (CI) relies on.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from .registry import ASSIGNMENT_DIR, STUDENT_DIR, Assignment, select

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HIDDEN_TAG = "hidden"
ANSWER_TAG = "answer"
CODE_STUB_HINT = "write your code here (see the instructions above)"
MARKDOWN_STUB = "*Write your answer here.*"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class SolutionMarkupError(ValueError):
    """A solution notebook's markers are unbalanced or a graded name lost its definition."""


def strip_solutions(source: str, cell_type: str, where: str) -> tuple[str, int]:
    """``source`` with its solution regions replaced by stubs, and how many there were."""
    out: list[str] = []
    inside = False
    regions = 0
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise SolutionMarkupError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside = True
            regions += 1
            hint = stripped[len(BEGIN):].strip().lstrip(":").strip()
            indent = line[: len(line) - len(line.lstrip())]
            if cell_type == "code":
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(f"{indent}raise NotImplementedError({json.dumps(hint or CODE_STUB_HINT, ensure_ascii=False)})")
            else:
                out.append(f"{indent}{hint or MARKDOWN_STUB}")
        elif stripped.startswith(END):
            if not inside:
                raise SolutionMarkupError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkupError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out), regions


def make_student(solution, assignment: Assignment | None = None, where: str = "notebook"):
    """The student version (a new ``nbformat`` notebook) of the solution notebook ``solution``."""
    import nbformat

    cells = []
    regions = 0
    for index, cell in enumerate(solution.cells):
        tags = list(cell.metadata.get("tags") or [])
        if HIDDEN_TAG in tags:
            continue
        source, found = strip_solutions(cell.source, cell.cell_type, f"{where}, cell {index}")
        regions += found
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, metadata=metadata)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source, metadata=metadata)
        else:
            new = nbformat.v4.new_raw_cell(source, metadata=metadata)
        if "id" in cell:
            new["id"] = cell["id"]  # keep the ids: the grader finds answer cells by them
        cells.append(new)
    if regions == 0:
        raise SolutionMarkupError(f"{where}: no {BEGIN} region, so the student version would be the solution")
    student = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC),
                                                                "language_info": {"name": "python"}})
    student.nbformat_minor = max(solution.nbformat_minor, 5)
    if assignment is not None:
        _check_graded_names(student, assignment, where)
    return student


def _check_graded_names(student, assignment: Assignment, where: str) -> None:
    """Every graded name must still be defined (as a stub) in the student version."""
    text = "\n".join(cell.source for cell in student.cells if cell.cell_type == "code")
    for graded in assignment.graded:
        if f"def {graded.name}(" not in text and f"{graded.name} =" not in text:
            raise SolutionMarkupError(f"{where}: the student version no longer defines {graded.name!r}; keep its "
                                      f"`def` line (or assignment) outside the solution region")


def student_text(solution_path: Path, assignment: Assignment | None = None) -> str:
    """The student version of ``solution_path`` exactly as it is written to disk."""
    import nbformat

    solution = nbformat.read(solution_path, as_version=4)
    text = nbformat.writes(make_student(solution, assignment, where=solution_path.name))
    return text if text.endswith("\n") else text + "\n"


@dataclass(frozen=True)
class StudentFile:
    assignment: str
    path: Path
    state: str  # "written", "unchanged", "stale", "missing"
    diff: str = ""


def make_all(root: Path, names: list[str] | None = None, check: bool = False) -> list[StudentFile]:
    """Write (or, with ``check``, only compare) the student version of each solution notebook."""
    results = []
    for assignment in select(names):
        solution = root / ASSIGNMENT_DIR / assignment.filename
        if not solution.is_file():
            raise FileNotFoundError(f"{solution} does not exist (assignment {assignment.name})")
        target = root / STUDENT_DIR / assignment.filename
        text = student_text(solution, assignment)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            results.append(StudentFile(assignment.name, target, "unchanged"))
        elif check:
            state = "missing" if current is None else "stale"
            diff = "" if current is None else _diff_summary(current, text, target.name)
            results.append(StudentFile(assignment.name, target, state, diff))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            results.append(StudentFile(assignment.name, target, "written"))
    if not names:
        known = {a.filename for a in select(None)}
        for extra in sorted((root / STUDENT_DIR).glob("*.ipynb")):
            if extra.name not in known:
                results.append(StudentFile(extra.stem, extra, "stale", "no solution notebook of that name"))
    return results


def _diff_summary(current: str, expected: str, name: str, limit: int = 12) -> str:
    lines = list(difflib.unified_diff(current.splitlines(), expected.splitlines(), f"committed/{name}",
                                      f"generated/{name}", n=0, lineterm=""))
    changed = sum(1 for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---")))
    shown = "\n".join(lines[:limit])
    more = f"\n... ({len(lines) - limit} more diff lines)" if len(lines) > limit else ""
    return f"{changed} line(s) differ:\n{shown}{more}"
