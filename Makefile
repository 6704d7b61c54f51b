# One environment (.venv) for users, notebooks and CI alike.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
WORKERS ?=

.PHONY: setup study test lab data notebooks bench lint lock checksums

setup: $(STAMP)

## Exactly the versions in requirements.lock (as constraints: the dependencies themselves stay in pyproject.toml).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $(STAMP)

## Resolve the dependencies afresh from PyPI in a throwaway venv and pin them (a deliberate upgrade).
lock:
	$(PYTHON) scripts/write_lock.py

## Recompute the bundled studies (quick mode) and rewrite requirements.checksums.json (after a deliberate change).
checksums: $(STAMP)
	$(BIN)/python scripts/refresh_checksums.py

## The main job: every regional study under studies/ on the bundled data, then the comparison.
study: $(STAMP)
	$(BIN)/csi-research run studies/ --language both $(if $(WORKERS),--workers $(WORKERS))

## The whole test suite: unit and reference tests, then the notebooks under nbval.
test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

## JupyterLab in the project environment, opened on the notebooks (jupyter refuses root without --allow-root).
LAB_UID ?= $(shell id -u)
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(LAB_UID)),--allow-root)

## Regenerate the bundled synthetic surveys under data/ (byte-identical for the same code).
data: $(STAMP)
	$(BIN)/csi-research simulate --all --out data/

## Re-execute the notebooks and keep only the outputs nbval compares (after a deliberate change).
notebooks: $(STAMP)
	$(BIN)/python scripts/refresh_notebooks.py

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
