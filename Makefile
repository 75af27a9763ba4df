# InstanceFormer toolkit: user-facing targets. `make test` and `make demo` install first when needed.

PYTHON_BOOTSTRAP ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PACKAGES := ops core dataprep train infer submit analysis
STAMP := $(VENV)/.ifm-installed
OPS_SOURCES := $(wildcard ops/setup.py ops/csrc/*.cpp ops/csrc/*.h ops/csrc/*.cuh)
INSTALL_INPUTS := requirements.txt requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml) $(OPS_SOURCES)
PYTEST_ARGS ?=
DATA ?= data/synth

.PHONY: install test test-slow test-cuda lint synth clean help

help:
	@echo "make install     create .venv (Python 3.11), install pinned requirements and all packages editable"
	@echo "make test        run the default test suite (installs first if needed)"
	@echo "make test-slow   run the slow tests"
	@echo "make test-cuda   run the CUDA tests (needs a GPU)"
	@echo "make lint        run ruff"
	@echo "make ops-cuda    build the CUDA kernel of the deformable attention op"
	@echo "make bench-ops   benchmark the deformable attention op"
	@echo "make synth       write the synthetic dataset to $(DATA)"

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python $(INSTALL_INPUTS)
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt
	$(PIP) install -q --no-build-isolation --no-deps --config-settings editable_mode=compat \
		$(foreach p,$(PACKAGES),-e ./$(p))
	$(PIP) check
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-cuda: $(STAMP)
	$(PY) -m pytest -m cuda $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

synth: $(STAMP)
	$(VENV)/bin/ifm-prep synth --out $(DATA)

clean:
	rm -rf $(VENV) build */build */src/*.egg-info .pytest_cache .ruff_cache

.PHONY: demo
demo: $(STAMP)
	$(VENV)/bin/ifm-prep synth --out $(DATA)
	@echo "synthetic dataset: $(DATA)/annotations/instances_{train,valid}.json, frames under $(DATA)/{train,valid}/JPEGImages"
