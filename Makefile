# Every target creates .venv if it is missing and installs into it; a second run is a no-op
# (the stamp file is newer than requirements.txt and pyproject.toml).
PY      := .venv/bin/python
STAMP   := .venv/.installed

.PHONY: install quickstart book test unit book-check bench bench-gpu assignments lab spread clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Train ArcFace in the quick profile on the embedded synthetic faces; print the 10-fold accuracy.
quickstart: $(STAMP)
	$(PY) -m fr_course train --loss arcface --profile quick --out runs/quickstart --overwrite

# The main job: execute every chapter (quick profile) with the papermill runner, build _build/html.
book: $(STAMP)
	PY=$(PY) bash scripts/ci_book.sh book

# What CI runs (.ci/run): unit tests, then nbval over the notebooks, the -W book build and the
# browser test of the built site.
test: unit book-check

unit: $(STAMP)
	$(PY) -m pytest -q -m "not site" tests

book-check: $(STAMP)
	PY=$(PY) bash scripts/ci_book.sh check

# Open the course in JupyterLab (the notebooks/ folder; Ctrl-C stops the server).
lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks

# Measure every chapter run's spread over seeds and CPU instruction sets (resumable; about an hour
# for 3 seeds x 3 settings on 2 cores); the chapters' check cells read the result.
spread: $(STAMP)
	$(PY) benchmarks/bench_spread.py

# Execute the assignment solutions and regenerate their student versions (make book does this too).
assignments: $(STAMP)
	$(PY) -m fr_course.assignments run
	$(PY) -m fr_course.assignments make-student

# CPU benchmarks (ratios against a baseline measured in the same run); results in benchmarks/results/.
bench: $(STAMP)
	$(PY) benchmarks/bench_losses.py
	$(PY) benchmarks/bench_pipeline.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_train.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_gpu.py          # says why and exits 0 without CUDA
	$(PY) benchmarks/bench_gpu.py --index  # refreshes results/gpu.md for the book

# On a machine with a CUDA GPU: throughput, trainer overhead and input pipeline at 112x112.
bench-gpu: $(STAMP)
	$(PY) benchmarks/bench_gpu.py
	$(PY) benchmarks/bench_train.py --profile paper --data synthetic-casia
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_gpu.py --index

clean:
	rm -rf _build runs .pytest_cache
