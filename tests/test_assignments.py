"""fr_course.assignments: the student-version generator, the guard, the kernel and the grader.

The grading test builds its submissions at test time from the committed solution of assignment 1
(a correct one, a wrong one, one that raises, one that hangs, one that tries to read the solutions,
one that is not JSON) and grades them with short time limits. Assignment 4 trains networks, so it
is never executed here; CI executes the solution notebooks with nbval.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from fr_course.assignments import ASSIGNMENTS, find
from fr_course.assignments import __main__ as cli
from fr_course.assignments import grader, sandbox, student
from fr_course.assignments.kernel import Kernel
from fr_course.assignments.registry import ASSIGNMENT_DIR, STUDENT_DIR
from fr_course.notebooks import colab_cell_problems, repository_url

ROOT = Path(__file__).resolve().parents[1]
A1 = ASSIGNMENTS["a1_margin_logits"]


# ----------------------------------------------------------------------------- the generator

def _solution_notebook(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells), metadata={"kernelspec": student.KERNELSPEC})
    nb.nbformat_minor = 5
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def test_strip_solutions_replaces_regions_by_stubs():
    source = ("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION: square it\n    y = x * x\n    return y\n"
              "    ### END SOLUTION\n")
    stub, count = student.strip_solutions(source, "code", "here")
    assert count == 1
    assert stub == ('def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError("square it")\n')
    text, count = student.strip_solutions("Intro\n### BEGIN SOLUTION\nThe answer.\n### END SOLUTION", "markdown", "md")
    assert (text, count) == ("Intro\n" + student.MARKDOWN_STUB, 1)
    compiled = compile(stub, "stub", "exec")  # the stub is valid Python
    namespace: dict = {}
    exec(compiled, namespace)
    with pytest.raises(NotImplementedError, match="square it"):
        namespace["f"](2)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
])
def test_strip_solutions_rejects_unbalanced_markers(source, message):
    with pytest.raises(student.SolutionMarkupError, match=message):
        student.strip_solutions(source, "code", "cell 3")


def test_make_student_drops_hidden_cells_outputs_and_keeps_ids():
    code = nbformat.v4.new_code_cell("def cosface_logits(c, l):\n    ### BEGIN SOLUTION\n    return c\n    ### END SOLUTION")
    code.outputs = [nbformat.v4.new_output("stream", text="secret output")]
    code.execution_count = 3
    code.metadata["tags"] = ["solution-ish"]
    code.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    hidden = nbformat.v4.new_code_cell("assert True  # instructor only")
    hidden.metadata["tags"] = ["hidden"]
    nb = _solution_notebook(nbformat.v4.new_markdown_cell("# Title"), code, hidden,
                            nbformat.v4.new_code_cell("def arcface_logits(c, l):\n    return c"))
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    out = student.make_student(nb, A1, where="test")
    assert [c.id for c in out.cells] == ["cell-0", "cell-1", "cell-3"]
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert out.cells[1].metadata == {"tags": ["solution-ish"]}
    assert "return c" not in out.cells[1].source and "NotImplementedError" in out.cells[1].source
    assert out.metadata == {"kernelspec": student.KERNELSPEC, "language_info": {"name": "python"}}
    assert nbformat.writes(out) == nbformat.writes(student.make_student(nb, A1))  # deterministic


def test_make_student_refuses_a_notebook_without_solutions_or_without_a_graded_name():
    plain = _solution_notebook(nbformat.v4.new_code_cell("x = 1"))
    with pytest.raises(student.SolutionMarkupError, match="no ### BEGIN SOLUTION"):
        student.make_student(plain)
    swallowed = _solution_notebook(nbformat.v4.new_code_cell(
        "### BEGIN SOLUTION\ndef cosface_logits(c, l):\n    return c\n### END SOLUTION\ndef arcface_logits(c, l): pass"))
    with pytest.raises(student.SolutionMarkupError, match="no longer defines 'cosface_logits'"):
        student.make_student(swallowed, A1)


def test_committed_student_versions_are_up_to_date(capsys):
    results = student.make_all(ROOT, check=True)
    assert {r.assignment for r in results} == set(ASSIGNMENTS)
    assert [r for r in results if r.state != "unchanged"] == []
    assert cli.main(["make-student", "--check"]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_make_student_check_reports_a_stale_version(tmp_path):
    (tmp_path / ASSIGNMENT_DIR).mkdir(parents=True)
    (tmp_path / STUDENT_DIR).mkdir(parents=True)
    for a in ASSIGNMENTS.values():
        (tmp_path / ASSIGNMENT_DIR / a.filename).write_bytes((ROOT / ASSIGNMENT_DIR / a.filename).read_bytes())
        (tmp_path / STUDENT_DIR / a.filename).write_bytes((ROOT / STUDENT_DIR / a.filename).read_bytes())
    solution = nbformat.read(tmp_path / ASSIGNMENT_DIR / A1.filename, as_version=4)
    solution.cells[1].source += "\n\nA new sentence."
    nbformat.write(solution, tmp_path / ASSIGNMENT_DIR / A1.filename)
    results = {r.assignment: r for r in student.make_all(tmp_path, check=True)}
    assert results[A1.name].state == "stale" and "A new sentence." in results[A1.name].diff
    assert all(r.state == "unchanged" for name, r in results.items() if name != A1.name)
    student.make_all(tmp_path)  # writing brings it up to date
    assert all(r.state == "unchanged" for r in student.make_all(tmp_path, check=True))


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS.values()), ids=list(ASSIGNMENTS))
def test_solution_and_student_notebooks_follow_the_conventions(assignment):
    url = repository_url(ROOT)
    solution = nbformat.read(ROOT / ASSIGNMENT_DIR / assignment.filename, as_version=4)
    stud = nbformat.read(ROOT / STUDENT_DIR / assignment.filename, as_version=4)
    for nb in (solution, stud):
        assert colab_cell_problems(nb, url) == []
        assert any("parameters" in (c.metadata.get("tags") or []) for c in nb.cells)
        assert sum(1 for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# ")) == 1
    # the solution was executed by the runner: every code cell has run, none failed
    code = [c for c in solution.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count for c in code[1:])
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    # the student version shows no solution: no markers, no outputs, stubs where the regions were
    text = json.dumps(stud)
    assert student.BEGIN not in text and student.END not in text
    assert all(not c.get("outputs") for c in stud.cells if c.cell_type == "code")
    assert "raise NotImplementedError" in text
    answers = [c for c in solution.cells if student.ANSWER_TAG in (c.metadata.get("tags") or [])]
    assert answers and all(c.metadata["fr_course"]["points"] > 0 for c in answers)


def test_book_page_lists_every_assignment_with_its_points():
    """book/assignments.md links each student version (never a solution) with the points it is worth."""
    from fr_course.assignments import hidden_checks

    text = (ROOT / "book" / "assignments.md").read_text(encoding="utf-8")
    for a in ASSIGNMENTS.values():
        automatic = grader.RUNS_POINTS + sum(hidden_checks.max_points(g) for g in a.graded) + a.figure_points
        by_hand = sum(points for _, _, points in grader._answer_cells(ROOT, a))
        row = next(line for line in text.splitlines() if f"assignments/student/{a.name}`" in line)
        assert f"| {automatic:g} points | {by_hand:g} points |" in row, row
    links = [line for line in text.splitlines() if "{doc}`../notebooks/assignments/" in line]
    assert links and all("/assignments/student/" in line for line in links)


def test_grade_without_submissions_fails_clearly(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "s.csv"), "--no-progress"]) == 1
    assert "no submission found" in capsys.readouterr().err
    assert cli.main(["grade", str(tmp_path / "missing"), "--no-progress"]) == 2


def test_registry_finds_assignments_by_name_or_number():
    assert find("a1_margin_logits") is A1 and find("a1") is A1 and find("A1_my_copy") is A1
    assert find("a9") is None and find("homework") is None


# ----------------------------------------------------------------------------- guard and kernel

def test_guard_refuses_blocked_paths_and_logs_them(tmp_path):
    blocked, allowed = tmp_path / "solutions", tmp_path / "solutions" / "student"
    allowed.mkdir(parents=True)
    (blocked / "a1.ipynb").write_text("secret")
    (allowed / "a1.ipynb").write_text("public")
    log = tmp_path / "guard.log"
    env = sandbox.guard_environment([blocked], [allowed], log, tmp_path / ".guard", dict(__import__("os").environ))
    script = f"""
import os, subprocess, sys
from fr_course.assignments import sandbox
assert sandbox.installed()                                   # installed by sitecustomize at start-up
print(open({str(allowed / 'a1.ipynb')!r}).read())
for attempt in (lambda: open({str(blocked / 'a1.ipynb')!r}).read(), lambda: os.listdir({str(blocked)!r}),
                lambda: subprocess.run(["cat", {str(blocked / 'a1.ipynb')!r}])):
    try:
        attempt()
        print("NOT REFUSED")
    except PermissionError as e:
        print("refused")
# a child Python process whose command line does not name the file is guarded by itself
child_env = dict(os.environ, TARGET={str(blocked / 'a1.ipynb')!r})
out = subprocess.run([sys.executable, "-c", "import os; print(open(os.environ['TARGET']).read())"],
                     capture_output=True, text=True, env=child_env)
print("child:", "PermissionError" in out.stderr)
"""
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["public", "refused", "refused", "refused", "child:", "True"]
    logged = sandbox.read_log(str(log))
    assert len(logged) == 4 and all(str(blocked) in line for line in logged)  # the child's too


def test_kernel_interrupts_a_loop_and_kills_a_kernel_that_ignores_interrupts(tmp_path, monkeypatch):
    from fr_course.assignments import kernel as kernel_module

    monkeypatch.setattr(kernel_module, "INTERRUPT_GRACE_S", 2)
    start = time.monotonic()
    with Kernel(str(tmp_path), dict(__import__("os").environ)) as k:
        assert k.run("x = 41", 30).ok
        looped = k.run("while True:\n    pass", 2)
        assert looped.timed_out and not looped.killed and "interrupted" in looped.error
        assert k.run("print(x + 1)", 30).ok            # the kernel survived the interrupt
        failed = k.run("1 / 0", 30)
        assert not failed.ok and failed.error.startswith("ZeroDivisionError")
        stuck = k.run("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", 2)
        assert stuck.timed_out and stuck.killed and not k.alive
        assert k.run("x", 30).killed
    assert time.monotonic() - start < 40


# ----------------------------------------------------------------------------- the grader

def _write(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _edit(nb, old: str, new: str):
    hits = [c for c in nb.cells if old in c.source]
    assert len(hits) == 1, old
    hits[0].source = hits[0].source.replace(old, new)
    return nb


def _submissions(folder: Path) -> None:
    """One folder per student, each holding an edit of the committed solution of assignment 1."""
    def solution(figures: bool = True):
        """The solution as a student would hand it in: no instructor-only cells, no outputs."""
        nb = nbformat.read(ROOT / ASSIGNMENT_DIR / A1.filename, as_version=4)
        nb.cells = [c for c in nb.cells if "hidden" not in (c.metadata.get("tags") or [])
                    and (figures or "plt.show()" not in c.source)]
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        return nb

    _write(solution(), folder / "correct" / A1.filename)
    wrong = solution(figures=False)  # the figures only cost time here
    _edit(wrong, "return s * (cos - margin)", "return s * (cos + margin)")     # CosFace margin with the wrong sign
    _edit(wrong, "torch.where(cos_y > math.cos(math.pi - m), shifted, fallback)", "shifted")  # no fallback
    _write(wrong, folder / "wrong" / "a1.ipynb")
    raises = solution(figures=False)
    raises.cells.insert(3, nbformat.v4.new_code_cell("1 / 0"))
    raises.cells.append(nbformat.v4.new_code_cell("def broken(:\n    pass"))
    _write(raises, folder / "raises" / A1.filename)
    hangs = solution(figures=False)
    _edit(hangs, "    rows = torch.arange(cos.shape[0], device=cos.device)\n    cos_y = cos[rows, labels]",
          "    while True:\n        pass")
    _write(hangs, folder / "hangs" / A1.filename)
    reader = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, pathlib, subprocess, fr_course\n"
        "answer = pathlib.Path(fr_course.__file__).parents[1] / 'notebooks' / 'assignments' / 'a1_margin_logits.ipynb'\n"
        "try:\n"
        "    subprocess.run(['cat', str(answer)])\n"
        "except PermissionError:\n"
        "    pass"), nbformat.v4.new_code_cell(
        "for cell in json.loads(answer.read_text())['cells']:\n"
        "    if cell['cell_type'] == 'code':\n"
        "        exec(''.join(cell['source']))")])
    _write(reader, folder / "reader" / A1.filename)
    (folder / "broken_json").mkdir()
    (folder / "broken_json" / A1.filename).write_text("{not a notebook", encoding="utf-8")
    (folder / "stray.ipynb").write_text("{}", encoding="utf-8")   # not in a student folder


@pytest.mark.slow
def test_grader_scores_a_folder_of_submissions(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    _submissions(submissions)
    out = tmp_path / "scores.csv"
    start = time.monotonic()
    code = cli.main(["grade", str(submissions), "--out", str(out), "--timeout", "60", "--cell-timeout", "25",
                     "--check-timeout", "10", "--seed", "7", "--jobs", "2", "--no-progress"])
    elapsed = time.monotonic() - start
    assert code == 0
    printed = capsys.readouterr().out
    assert "skipped stray.ipynb" in printed and "hidden-check seed 7" in printed

    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(grader.COLUMNS)
    by_student: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[row["check"]] = row

    def points(student_rows, prefix):
        return [(float(r["points"]), float(r["max_points"])) for check, r in student_rows.items()
                if check.startswith(prefix)]

    def total(student_rows):
        return float(student_rows["TOTAL"]["points"]), float(student_rows["TOTAL"]["max_points"])

    correct = by_student["correct"]
    earned, possible = total(correct)
    assert earned == possible > 20, correct["TOTAL"]
    assert correct["written: Question (2 points, graded by hand)"]["points"] == ""     # for the instructor
    assert "graded by hand" in correct["written: Question (2 points, graded by hand)"]["feedback"]
    assert all(total(rows_)[1] == possible for name, rows_ in by_student.items())       # the same maximum for all

    wrong = by_student["wrong"]
    failed = {check for check, r in wrong.items() if check != "TOTAL" and float(r["points"] or 0) < float(r["max_points"])
              and r["points"] != ""}
    assert failed == {"cosface_logits: target logit", "arcface_logits: fallback where θ + m > π"}
    assert "wrong sign" in wrong["cosface_logits: target logit"]["feedback"]
    assert "no fallback" in wrong["arcface_logits: fallback where θ + m > π"]["feedback"]
    lost = sum(float(wrong[c]["max_points"]) for c in failed)
    assert total(wrong) == (possible - lost, possible)

    raises = by_student["raises"]
    assert float(raises["runs top to bottom"]["points"]) == 0
    assert "ZeroDivisionError" in raises["runs top to bottom"]["feedback"]
    assert total(raises) == (possible - grader.RUNS_POINTS, possible)  # later cells still ran: functions graded

    hangs = by_student["hangs"]
    assert "did not finish" in hangs["runs top to bottom"]["feedback"]
    assert all(p == m for p, m in points(hangs, "cosface_logits"))
    arc = [r for check, r in hangs.items() if check.startswith("arcface_logits")]
    assert arc and all(float(r["points"]) == 0 and "did not finish" in r["feedback"] for r in arc)

    reader = by_student["reader"]
    assert "REFUSED 2 attempt(s)" in reader["integrity"]["feedback"]             # the `cat` and the open
    assert "a1_margin_logits.ipynb" in reader["integrity"]["feedback"]
    assert "PermissionError" in reader["runs top to bottom"]["feedback"]
    assert total(reader)[0] == 0
    assert "not defined" in reader["cosface_logits: runs"]["feedback"]

    broken = by_student["broken_json"]
    assert total(broken)[0] == 0 and "not a readable notebook" in broken["runs top to bottom"]["feedback"]
    assert elapsed < 120
