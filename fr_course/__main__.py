"""``python -m fr_course`` = :func:`fr_course.cli.main` (also under ``torchrun -m fr_course``)."""

from fr_course.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
