"""The instructor's grader: ``python -m fr_course.assignments grade SUBMISSIONS_DIR``.

Layout: one folder per student, named as the student should appear in the scores, holding the
submitted notebooks under the assignment's file name or number::

    SUBMISSIONS_DIR/alice/a1_margin_logits.ipynb
    SUBMISSIONS_DIR/alice/a2.ipynb
    SUBMISSIONS_DIR/bob/a1_margin_logits.ipynb

For each notebook, in turn:

1. copy it into a fresh temporary folder outside the repository and start a fresh kernel there;
2. install the guard of :mod:`.sandbox` (no reading the solutions or other submissions);
3. run the notebook's code cells in order under a time budget (``--timeout``, default the
   assignment's; ``--cell-timeout`` per cell). A cell that raises is recorded and the next cell
   runs; a cell that runs out of time is interrupted (killed if it does not respond) and the
   remaining cells are skipped;
4. run the hidden checks (:mod:`.hidden_checks`) on the names the assignment grades, in the same
   kernel, each with its own time limit;
5. write one CSV row per check — ``student, assignment, check, points, max_points, feedback`` —
   and a ``TOTAL`` row per submission. Written answers are listed with empty points for the
   instructor to fill in.

A submission that is not valid JSON, raises, loops, crashes its kernel or tries to read the
solutions costs its own points and nothing else.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import hidden_checks
from .kernel import Kernel
from .registry import ASSIGNMENT_DIR, STUDENT_DIR, Assignment, find
from .sandbox import guard_environment, read_log
from .student import ANSWER_TAG, MARKDOWN_STUB

COLUMNS = ("student", "assignment", "check", "points", "max_points", "feedback")
TOTAL = "TOTAL"
#: Seconds one hidden check may run (the student's function is called a dozen times).
CHECK_TIMEOUT_S = 120
#: Points for a notebook that runs from top to bottom without an error.
RUNS_POINTS = 1.0
MIN_ANSWER_WORDS = 15


@dataclass
class Row:
    student: str
    assignment: str
    check: str
    points: float | str      # "" for a written answer the instructor grades
    max_points: float
    feedback: str

    def as_csv(self) -> list[str]:
        points = self.points if isinstance(self.points, str) else f"{self.points:g}"
        return [self.student, self.assignment, self.check, points, f"{self.max_points:g}", self.feedback]


@dataclass
class Submission:
    student: str
    path: Path
    assignment: Assignment | None


@dataclass
class GradeReport:
    rows: list[Row] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # files not in the expected layout
    seed: int = 0

    def totals(self) -> list[Row]:
        return [row for row in self.rows if row.check == TOTAL]


# --------------------------------------------------------------------------- discovery

def discover(submissions_dir: Path) -> tuple[list[Submission], list[str]]:
    """``SUBMISSIONS_DIR/<student>/<assignment>.ipynb`` files, sorted; and what did not fit the layout."""
    submissions, skipped = [], []
    for path in sorted(submissions_dir.rglob("*.ipynb")):
        relative = path.relative_to(submissions_dir)
        if any(part.startswith(".") for part in relative.parts):  # .ipynb_checkpoints and the like
            continue
        if len(relative.parts) != 2:
            skipped.append(f"{relative}: expected SUBMISSIONS_DIR/<student>/<assignment>.ipynb")
            continue
        submissions.append(Submission(relative.parts[0], path, find(path.stem)))
    return submissions, skipped


# --------------------------------------------------------------------------- one submission

def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:59] + "…"


# The kernel installs the guard at start-up (sandbox.guard_environment); this cell makes sure.
_GUARD_CHECK = ("from fr_course.assignments import sandbox as _fr_course_sandbox\n"
                "assert _fr_course_sandbox.install_from_environment(), 'the guard is not installed'\n"
                "del _fr_course_sandbox")


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    # single-threaded like the chapters' runs; no progress bars in the captured output
    env.update({"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
    return env


def _answer_cells(root: Path, assignment: Assignment) -> list[tuple[str, str, float]]:
    """``(cell id, title, points)`` of the written answers of the solution notebook."""
    import nbformat

    solution = nbformat.read(root / ASSIGNMENT_DIR / assignment.filename, as_version=4)
    answers = []
    for index, cell in enumerate(solution.cells):
        if ANSWER_TAG in (cell.metadata.get("tags") or []):
            points = float((cell.metadata.get("fr_course") or {}).get("points", 0))
            previous = solution.cells[index - 1].source if index else ""
            title = next((line.lstrip("#* ").strip() for line in previous.splitlines() if line.strip()), cell.id)
            answers.append((cell.get("id", str(index)), title[:60], points))
    return answers


def _written_rows(student: str, assignment: Assignment, root: Path, notebook, reason: str = "") -> list[Row]:
    rows = []
    by_id = {cell.get("id"): cell for cell in (notebook.cells if notebook is not None else [])}
    for cell_id, title, points in _answer_cells(root, assignment):
        cell = by_id.get(cell_id)
        if notebook is None:
            feedback = reason
        elif cell is None:
            feedback = "answer cell not found (was it deleted?)"
        else:
            text = cell.source.replace(MARKDOWN_STUB, "").strip()
            words = len(text.split())
            feedback = (f"graded by hand: {words} words" if words >= MIN_ANSWER_WORDS else
                        "not answered" if words == 0 else f"graded by hand: only {words} words")
        rows.append(Row(student, assignment.name, f"written: {title}", "", points, feedback))
    return rows


def grade_submission(submission: Submission, root: Path, submissions_dir: Path, *, seed: int,
                     timeout: float | None = None, cell_timeout: float | None = None,
                     check_timeout: float = CHECK_TIMEOUT_S) -> list[Row]:
    """All rows of one submission (see the module docstring)."""
    import nbformat

    student, assignment = submission.student, submission.assignment
    if assignment is None:
        from .registry import ASSIGNMENTS

        return [Row(student, submission.path.stem, TOTAL, 0.0, 0.0,
                    f"unknown assignment {submission.path.name!r}; name the file after one of: "
                    f"{', '.join(ASSIGNMENTS)} (or a1, a2, ...)")]
    budget = float(timeout if timeout is not None else assignment.timeout_s)
    per_cell = float(cell_timeout if cell_timeout is not None else budget)
    rows: list[Row] = []
    scratch = Path(tempfile.mkdtemp(prefix="fr_course_grade_"))
    try:
        copy = scratch / assignment.filename
        shutil.copyfile(submission.path, copy)
        try:
            notebook = nbformat.read(copy, as_version=4)
            nbformat.validate(notebook)
        except Exception as exc:  # not JSON, not a notebook, an unknown nbformat
            reason = f"not a readable notebook: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return _all_failed(student, assignment, root, reason)
        log_path = str(scratch / ".guard.log")
        blocked = [str(root / ASSIGNMENT_DIR), str(root / ".git"), str(submissions_dir.resolve())]
        allowed = [str(root / STUDENT_DIR), str(scratch)]
        code_cells = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]
        problems: list[str] = []
        images = 0
        item_rows: list[tuple] = []
        try:
            env = guard_environment(blocked, allowed, log_path, scratch / ".guard", _kernel_env())
            with Kernel(str(scratch), env) as kernel:
                prepared = kernel.run(_GUARD_CHECK, 60)
                if not prepared.ok:
                    return _all_failed(student, assignment, root, f"the grader could not prepare the kernel: "
                                                                  f"{prepared.error}")
                start = time.monotonic()
                for number, (index, cell) in enumerate(code_cells, start=1):
                    remaining = budget - (time.monotonic() - start)
                    where = f"code cell {number} (`{_first_line(cell.source)}`)"
                    if remaining <= 0:
                        problems.append(f"the time budget of {budget:.0f} s ran out before {where}")
                        break
                    result = kernel.run(cell.source, min(per_cell, remaining))
                    images += result.images
                    if result.timed_out or result.killed:
                        problems.append(f"{where}: {result.error}; the cells after it were not run")
                        break
                    if not result.ok and not problems:
                        problems.append(f"{where} raised {result.error}")
                seconds = time.monotonic() - start
                stopped = problems[-1] if problems else "the kernel stopped"
                for graded in assignment.graded:
                    if not kernel.alive:
                        item_rows += [(graded, item) for item in hidden_checks.failed(graded, f"not graded: {stopped}")]
                        continue
                    probe_path = scratch / f".probe_{graded.name}.json"
                    result = kernel.run(hidden_checks.probe_source(graded, str(probe_path), seed), check_timeout)
                    if result.timed_out:
                        items = hidden_checks.failed(graded, f"the hidden checks of `{graded.name}` did not finish "
                                                             f"within {check_timeout:.0f} s (an endless loop?)")
                    else:
                        items = hidden_checks.judge_file(graded, probe_path, result.error)
                    if result.killed:
                        stopped = f"the kernel was stopped while checking `{graded.name}`"
                    item_rows += [(graded, item) for item in items]
        except Exception as exc:  # kernel start-up failures and the like: this submission only
            return _all_failed(student, assignment, root, f"the grader could not run the notebook: "
                                                          f"{type(exc).__name__}: {exc}")
        rows.append(Row(student, assignment.name, "runs top to bottom", 0.0 if problems else RUNS_POINTS,
                        RUNS_POINTS, "; ".join(problems) or f"all {len(code_cells)} code cells ran without an "
                                                            f"error in {seconds:.0f} s"))
        for graded, item in item_rows:
            rows.append(Row(student, assignment.name, f"{graded.name}: {item.name}", item.points, item.max_points,
                            ("✓ " if item.passed else "✗ ") + item.message))
        if assignment.figure_points:
            rows.append(Row(student, assignment.name, "shows a figure", assignment.figure_points if images else 0.0,
                            assignment.figure_points, f"{images} figure(s)" if images else
                            "no figure was displayed"))
        rows += _written_rows(student, assignment, root, notebook)
        refusals = read_log(log_path)
        if refusals:
            listed = "; ".join(line.replace("\t", " ") for line in refusals[:3])
            rows.append(Row(student, assignment.name, "integrity", 0.0, 0.0,
                            f"REFUSED {len(refusals)} attempt(s) to read solutions or other submissions: {listed}"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows + [_total(rows, student, assignment)]


def _all_failed(student: str, assignment: Assignment, root: Path, reason: str) -> list[Row]:
    rows = [Row(student, assignment.name, "runs top to bottom", 0.0, RUNS_POINTS, reason)]
    for graded in assignment.graded:
        rows += [Row(student, assignment.name, f"{graded.name}: {item.name}", 0.0, item.max_points, reason)
                 for item in hidden_checks.failed(graded, reason)]
    if assignment.figure_points:
        rows.append(Row(student, assignment.name, "shows a figure", 0.0, assignment.figure_points, reason))
    rows += _written_rows(student, assignment, root, None, reason)
    return rows + [_total(rows, student, assignment)]


def _total(rows: list[Row], student: str, assignment: Assignment) -> Row:
    auto = [r for r in rows if not isinstance(r.points, str)]
    manual = [r for r in rows if isinstance(r.points, str)]
    earned, possible = sum(r.points for r in auto), sum(r.max_points for r in auto)
    note = f"automatic points; plus {sum(r.max_points for r in manual):g} graded by hand" if manual else "automatic points"
    return Row(student, assignment.name, TOTAL, earned, possible, note)


# --------------------------------------------------------------------------- all submissions

def grade(submissions_dir: str | Path, root: Path, *, out: str | Path | None = None, timeout: float | None = None,
          cell_timeout: float | None = None, check_timeout: float = CHECK_TIMEOUT_S, seed: int | None = None,
          jobs: int = 1, progress: bool = True, log=print) -> GradeReport:
    """Grade every submission under ``submissions_dir`` (``jobs`` at a time); write the CSV to ``out``."""
    from tqdm.auto import tqdm

    from ..notebooks.runner import check_kernel

    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise FileNotFoundError(f"{submissions_dir} is not a folder of submissions "
                                f"(expected SUBMISSIONS_DIR/<student>/<assignment>.ipynb)")
    check_kernel()
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    submissions, skipped = discover(submissions_dir)
    report = GradeReport(skipped=skipped, seed=secrets.randbelow(2**31) if seed is None else int(seed))
    options = dict(seed=report.seed, timeout=timeout, cell_timeout=cell_timeout, check_timeout=check_timeout)
    bar = tqdm(total=len(submissions), desc="grading", unit="notebook", disable=not progress)
    results: dict[int, list[Row]] = {}
    if jobs == 1:
        for index, submission in enumerate(submissions):
            bar.set_postfix_str(f"{submission.student}/{submission.path.name}")
            results[index] = grade_submission(submission, root.resolve(), submissions_dir, **options)
            bar.update()
    else:  # each submission in its own worker process (each with its own kernel and event loop)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(grade_submission, submission, root.resolve(), submissions_dir, **options): index
                       for index, submission in enumerate(submissions)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    report.rows = [row for index in sorted(results) for row in results[index]]
    if out is not None:
        write_csv(report.rows, Path(out))
    for line in skipped:
        log(f"[grade] skipped {line}")
    log(summary_table(report))
    return report


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row.as_csv() for row in rows)


def summary_table(report: GradeReport) -> str:
    """One line per submission: student, assignment, points, and what went wrong if anything."""
    lines = [f"{'student':<16} {'assignment':<26} {'points':>13}  notes", "-" * 80]
    by_key: dict[tuple[str, str], list[Row]] = {}
    for row in report.rows:
        by_key.setdefault((row.student, row.assignment), []).append(row)
    for (student, assignment), rows in by_key.items():
        total = next(r for r in rows if r.check == TOTAL)
        notes = []
        runs = next((r for r in rows if r.check == "runs top to bottom"), None)
        if runs is not None and runs.points == 0:
            notes.append(runs.feedback[:60])
        if any(r.check == "integrity" for r in rows):
            notes.append("REFUSED reads of solutions")
        if runs is None:
            notes.append(total.feedback[:60])
        manual = sum(r.max_points for r in rows if isinstance(r.points, str))
        if manual:
            notes.append(f"+{manual:g} by hand")
        lines.append(f"{student:<16} {assignment:<26} {total.points:>6g} / {total.max_points:<4g}  {'; '.join(notes)}")
    lines.append(f"{len(by_key)} submission(s); hidden-check seed {report.seed}")
    return "\n".join(lines)
