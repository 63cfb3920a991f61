# Every target creates .venv if it is missing and installs into it; a second run is a no-op
# (the stamp file is newer than requirements.txt and pyproject.toml).
PY      := .venv/bin/python
STAMP   := .venv/.installed
export TQDM_MININTERVAL ?= 5

.PHONY: install quickstart test unit bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The main job: train ArcFace in the quick profile on the embedded synthetic faces, print the
# 10-fold verification accuracy.
quickstart: $(STAMP)
	$(PY) -m fr_course train --loss arcface --profile quick --out runs/quickstart

test: unit

unit: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) benchmarks/bench_losses.py

clean:
	rm -rf _build runs .pytest_cache
