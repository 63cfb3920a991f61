#!/usr/bin/env bash
# The book's build and checks, one step per sub-command, for the Makefile and CI.
#
#   scripts/ci_book.sh notebooks   execute every chapter (quick profile) and the assignment solutions with
#                                  papermill, then regenerate the student versions of the assignments
#   scripts/ci_book.sh build       jupyter-book build . -W --keep-going   (renders committed outputs)
#   scripts/ci_book.sh nbval       re-execute the notebooks and compare their outputs (pytest --nbval)
#   scripts/ci_book.sh site        the browser test of _build/html (headless Chromium)
#   scripts/ci_book.sh book        notebooks + build           (make book)
#   scripts/ci_book.sh check       nbval + build + site        (make test, after the unit tests)
#
# PY (default .venv/bin/python) is the interpreter of the project's virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
export TQDM_DISABLE=1

have_notebooks() {
    compgen -G "notebooks/*.ipynb" > /dev/null
}

step_notebooks() {
    "$PY" -m fr_course.notebooks run --profile quick
    # the assignment solutions after the chapters (a3/a4 read runs that chapters 5 and 9 cached),
    # then their student versions
    "$PY" -m fr_course.assignments run
    "$PY" -m fr_course.assignments make-student
}

step_build() {
    "$BIN/jupyter-book" build . -W --keep-going
}

step_nbval() {
    if ! have_notebooks; then
        echo "ci_book.sh nbval: no notebook in notebooks/ yet, nothing to compare"
        return 0
    fi
    # Re-execute from nothing: a fresh cache, so every training run of the chapters is trained
    # again here and checked against the committed outputs (a shared cache would only replay them).
    local cache="$PWD/.cache/nbval"
    rm -rf "$cache"
    export FR_COURSE_CACHE="$cache"
    # The committed student versions of the assignments must be those the solutions generate now.
    "$PY" -m fr_course.assignments make-student --check
    # --nbval-current-env: run the notebooks with this interpreter, whatever their kernelspec says.
    # Chapters first, then the assignment solutions (collection order), which reuse the chapters'
    # fresh runs; the student versions raise NotImplementedError by design and are not executed.
    "$PY" -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/ --ignore=notebooks/assignments/student
}

step_site() {
    "$PY" -m pytest -q -p no:cacheprovider -m site tests/test_site.py
}

case "${1:-}" in
    notebooks) step_notebooks ;;
    build) step_build ;;
    nbval) step_nbval ;;
    site) step_site ;;
    book) step_notebooks && step_build ;;
    check) step_nbval && step_build && step_site ;;
    *) echo "usage: $0 {notebooks|build|nbval|site|book|check}" >&2; exit 2 ;;
esac
