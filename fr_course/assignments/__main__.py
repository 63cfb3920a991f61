"""``python -m fr_course.assignments {list,run,make-student,grade}`` (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import ASSIGNMENT_DIR, ASSIGNMENTS, STUDENT_DIR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fr_course.assignments",
                                     description="Solution notebooks, student versions and the grader of the "
                                                 "course's assignments.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the assignments and their files")
    run = commands.add_parser("run", help="execute the solution notebooks in place (papermill)")
    run.add_argument("names", nargs="*", help="assignments by name or number (a1, a2_sface_loss, ...); default all")
    make = commands.add_parser("make-student", help=f"write the student versions to {STUDENT_DIR}/")
    make.add_argument("names", nargs="*", help="assignments (default: all)")
    make.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if a committed student version is missing or stale")
    grade = commands.add_parser("grade", help="grade SUBMISSIONS_DIR/<student>/<assignment>.ipynb")
    grade.add_argument("submissions", help="folder with one sub-folder per student")
    grade.add_argument("--out", default="scores.csv", help="CSV to write (default: scores.csv)")
    grade.add_argument("--timeout", type=float,
                       help="seconds the notebook's own cells may run in all (default: the assignment's, "
                            "a1-a3 5-10 min, a4 30 min)")
    grade.add_argument("--cell-timeout", type=float, help="seconds one cell may run (default: the whole budget)")
    grade.add_argument("--check-timeout", type=float, default=120.0, help="seconds one hidden check may run")
    grade.add_argument("--seed", type=int, help="seed of the hidden checks' inputs (default: a random one, "
                                                "printed in the summary)")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded at once, each in its own process "
                                                           "and kernel (default 1)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..notebooks.book import find_root
    from ..notebooks.runner import NotebookRunError

    args = _parser().parse_args(argv)
    try:
        root = find_root()
        if args.command == "list":
            for a in ASSIGNMENTS.values():
                solution = (root / ASSIGNMENT_DIR / a.filename).is_file()
                student = (root / STUDENT_DIR / a.filename).is_file()
                print(f"{a.name:28s} {a.title:60s} solution:{'yes' if solution else 'no'} "
                      f"student:{'yes' if student else 'no'} graded: {', '.join(g.name for g in a.graded)}")
            return 0
        if args.command == "run":
            from .solutions import run

            results = run(root, args.names)
            if all(r.ok for r in results):
                print("[assignments] solutions executed; now `python -m fr_course.assignments make-student`")
            return 0 if all(r.ok for r in results) else 1
        if args.command == "make-student":
            from .student import make_all

            results = make_all(root, args.names, check=args.check)
            for r in results:
                print(f"[make-student] {r.state:9s} {r.path.relative_to(root)}")
                if r.diff:
                    print("    " + r.diff.replace("\n", "\n    "))
            bad = [r for r in results if r.state in ("stale", "missing")]
            if bad:
                print(f"[make-student] {len(bad)} student version(s) out of date: run "
                      f"`python -m fr_course.assignments make-student` and commit the result", file=sys.stderr)
                return 1
            return 0
        from .grader import grade

        report = grade(Path(args.submissions), root, out=args.out, timeout=args.timeout,
                       cell_timeout=args.cell_timeout, check_timeout=args.check_timeout, seed=args.seed,
                       jobs=args.jobs, progress=not args.no_progress)
        if not report.rows:
            print(f"[grade] no submission found: expected {args.submissions}/<student>/<assignment>.ipynb",
                  file=sys.stderr)
            return 1
        print(f"[grade] scores written to {args.out}")
        return 0
    except (ValueError, FileNotFoundError, NotebookRunError) as error:  # incl. BookConfigError, SolutionMarkupError
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
