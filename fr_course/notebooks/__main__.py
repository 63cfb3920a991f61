"""``python -m fr_course.notebooks {list,run}``: list the chapters or execute them with papermill."""

from __future__ import annotations

import argparse
import sys

from . import book, runner


def _parse_value(text: str):
    """A ``-p`` value as papermill's own CLI reads it: int, float, True/False/None, else the string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fr_course.notebooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the chapter notebooks of _toc.yml and whether each exists")
    run = commands.add_parser("run", help="execute notebooks with papermill (default: every chapter that exists)")
    run.add_argument("names", nargs="*", help="chapters: 05_arcface, 05, arcface or notebooks/05_arcface.ipynb")
    run.add_argument("--profile", choices=runner.PROFILES, default="quick")
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
        help="a papermill parameter (full profile only), e.g. -p DATA_ROOT /data/faces_webface_112x112",
    )
    run.add_argument("--output-dir", help="write executed notebooks here (full profile default: runs/notebooks-full)")
    run.add_argument("--cell-timeout", type=float, help="seconds one cell may run (quick default 900, full: none)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            root = book.find_root()
            for name in book.chapter_names(root):
                state = "present" if book.notebook_path(name, root).is_file() else "missing"
                print(f"{name}\t{state}")
            return 0
        parameters = {key: _parse_value(value) for key, value in args.parameter}
        results = runner.run(
            args.names,
            profile=args.profile,
            parameters=parameters,
            output_dir=args.output_dir,
            cell_timeout=args.cell_timeout,
        )
    except (ValueError, runner.NotebookRunError) as error:  # BookConfigError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
