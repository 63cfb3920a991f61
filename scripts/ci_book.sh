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
# Every command of every step runs even when an earlier one failed (so one run reports every
# problem), its output is kept in _build/logs/, and the script ends with a summary of what failed
# (which command, which notebook and cell, the message) and exits non-zero if anything did.
# Failures are collected explicitly rather than with `set -e`: bash ignores `set -e` inside a
# function called from an `a && b` list, which once let `make book` exit 0 with three failed notebooks.
#
# PY (default .venv/bin/python) is the interpreter of the project's virtual environment.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
export TQDM_DISABLE=1
LOGS=_build/logs
mkdir -p "$LOGS"
FAILED=()

# run NAME CMD...: run CMD with its output on the terminal and in $LOGS/NAME.log; record a failure.
run() {
    local name=$1
    shift
    echo "== ci_book.sh: $name: $*"
    "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name")
        echo "== ci_book.sh: $name FAILED (exit $rc)"
    fi
    return 0
}

summary() {
    echo
    echo "==================== ci_book.sh summary ===================="
    if [ ${#FAILED[@]} -eq 0 ]; then
        echo "all steps passed"
        return 0
    fi
    local name
    for name in "${FAILED[@]}"; do
        echo "FAILED: $name (full log: $LOGS/$name.log)"
        # the lines that say what failed: the runner's per-notebook verdicts, pytest's short summary,
        # assertion and error messages
        grep -E '^\[[a-z]+\].*(FAILED|failed)|^FAILED |^ERROR |^error:|Error:|^E  ' \
            "$LOGS/$name.log" | tail -n 15 | sed 's/^/    /'
    done
    echo "============================================================"
    return 1
}

have_notebooks() {
    compgen -G "notebooks/*.ipynb" > /dev/null
}

step_notebooks() {
    run chapters "$PY" -m fr_course.notebooks run --profile quick
    # the assignment solutions after the chapters (a3/a4 read runs that chapters 5 and 9 cached),
    # then their student versions
    run assignments "$PY" -m fr_course.assignments run
    run student-versions "$PY" -m fr_course.assignments make-student
}

step_build() {
    run build "$BIN/jupyter-book" build . -W --keep-going
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
    run student-versions-check "$PY" -m fr_course.assignments make-student --check
    # --nbval-current-env: run the notebooks with this interpreter, whatever their kernelspec says.
    # Chapters first, then the assignment solutions (collection order), which reuse the chapters'
    # fresh runs; the student versions raise NotImplementedError by design and are not executed.
    run nbval "$PY" -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/ --ignore=notebooks/assignments/student
}

step_site() {
    run site "$PY" -m pytest -q -p no:cacheprovider -m site tests/test_site.py
}

case "${1:-}" in
    notebooks) step_notebooks ;;
    build) step_build ;;
    nbval) step_nbval ;;
    site) step_site ;;
    book) step_notebooks; step_build ;;
    check) step_nbval; step_build; step_site ;;
    *) echo "usage: $0 {notebooks|build|nbval|site|book|check}" >&2; exit 2 ;;
esac
summary
