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
	@echo "make prep        check and split a dataset: make prep DATASET=ytvis21 DATA_ROOT=data"
	@echo "make train       train: make train DATASET=synth PRESET=tiny-cpu RUN=runs/tiny SET=\"train.max_steps=600\""
	@echo "make eval        infer + evaluate on the held-out split: make eval RUN=runs/tiny DATASET=synth"
	@echo "make submit      upload to CodaLab: make submit RESULTS=results/x/results.zip COMPETITION=ytvis21"
	@echo "make bench-infer frames/s and memory of streaming inference"
	@echo "make bench-eval  the evaluator against trackeval"
	@echo "make demo        the pipeline on the built-in synthetic dataset"

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

# The deformable attention op (ops/README.md). The CUDA kernel is a separate extension, built only here;
# it needs a CUDA toolkit (CUDA_HOME, default /usr/local/cuda) but no GPU. TORCH_CUDA_ARCH_LIST picks the
# GPU architectures (default 8.0;8.6;9.0+PTX).
ops-cuda: $(STAMP)
	cd ops && CUDA_HOME=$${CUDA_HOME:-/usr/local/cuda} IFM_BUILD_CUDA=1 ../$(PY) setup.py build_ext --inplace

bench-ops: $(STAMP)
	$(PY) -m instanceformer.ops.benchmark

clean:
	rm -rf $(VENV) build */build */src/*.egg-info .pytest_cache .ruff_cache

.PHONY: demo
demo: $(STAMP)
	$(VENV)/bin/ifm-prep synth --out $(DATA)
	@echo "synthetic dataset: $(DATA)/annotations/instances_{train,valid}.json, frames under $(DATA)/{train,valid}/JPEGImages"

# Dataset preparation (README, "Where data and runs go"): check the training file and its frames (and the
# validation file when present), split it into instances_{train,val}_sub.json, and keep the COCO subset
# of the dataset's categories when COCO is there.
DATASET ?= ytvis21
DATA_ROOT ?= data
VAL_FRACTION ?= 0.1
SPLIT_SEED ?= 0
PREP_DIR := $(DATA_ROOT)/$(DATASET)
COCO_JSON := $(DATA_ROOT)/coco/annotations/instances_train2017.json
PREP_KIND := $(filter ytvis19 ytvis21 ytvis22 ovis synth,$(DATASET))

.PHONY: prep
prep: $(STAMP)
	@test -n "$(PREP_KIND)" || { echo "DATASET must be one of ytvis19 ytvis21 ytvis22 ovis synth"; exit 2; }
	$(VENV)/bin/ifm-prep check $(PREP_DIR)/annotations/instances_train.json \
		--frames $(PREP_DIR)/train/JPEGImages --kind $(DATASET)
	@if [ -f $(PREP_DIR)/annotations/instances_valid.json ]; then \
		$(VENV)/bin/ifm-prep check $(PREP_DIR)/annotations/instances_valid.json \
			--frames $(PREP_DIR)/valid/JPEGImages --kind $(DATASET); fi
	$(VENV)/bin/ifm-prep split $(PREP_DIR)/annotations/instances_train.json \
		--val-fraction $(VAL_FRACTION) --seed $(SPLIT_SEED) --out-dir $(PREP_DIR)/annotations
	@if [ "$(DATASET)" != synth ] && [ -f $(COCO_JSON) ]; then \
		$(VENV)/bin/ifm-prep coco-keep $(COCO_JSON) --target $(DATASET) \
			--out $(DATA_ROOT)/coco/annotations/instances_train2017_$(DATASET).json; \
	else echo "coco-keep skipped (needs $(COCO_JSON) and a YouTube-VIS or OVIS dataset)"; fi

# Upload a results zip to the CodaLab server of a dataset and wait for its score. Credentials come from
# CODALAB_USERNAME / CODALAB_PASSWORD or ~/.netrc; GT (optional) validates the results first.
.PHONY: submit
submit: $(STAMP)
	@test -n "$(RESULTS)" -a -n "$(COMPETITION)" || { \
		echo "usage: make submit RESULTS=results/<name>/results.zip COMPETITION=ytvis19|ytvis21|ytvis22|ovis [GT=...] [PHASE=...]"; \
		exit 2; }
	$(VENV)/bin/ifm-submit codalab $(RESULTS) --competition $(COMPETITION) --wait \
		$(if $(GT),--gt $(GT)) $(if $(PHASE),--phase "$(PHASE)")

.PHONY: bench-eval
bench-eval: $(STAMP)
	$(PY) -m instanceformer.infer.bench_eval

# Inference and evaluation on the held-out split (README, "Inference and evaluation"):
# make eval RUN=runs/<name> [DATASET=ytvis21|ytvis19|ytvis22|ovis|synth] [DATA_ROOT=data] [EVAL_OUT=...]
EVAL_ANNOTATIONS = $(if $(filter synth,$(DATASET)),$(DATA_ROOT)/synth/annotations/instances_valid.json,$(PREP_DIR)/annotations/instances_val_sub.json)
EVAL_FRAMES = $(if $(filter synth,$(DATASET)),$(DATA_ROOT)/synth/valid/JPEGImages,$(PREP_DIR)/train/JPEGImages)
EVAL_OUT ?= results/$(notdir $(patsubst %/,%,$(RUN)))-$(DATASET)

.PHONY: eval
eval: $(STAMP)
	$(VENV)/bin/ifm-infer dataset --run $(RUN) --annotations $(EVAL_ANNOTATIONS) --frames $(EVAL_FRAMES) \
		--out $(EVAL_OUT)

.PHONY: bench-infer
bench-infer: $(STAMP)
	$(PY) -m instanceformer.infer.bench_infer

# Train a model (README, "Training"): make train DATASET=synth PRESET=tiny-cpu RUN=runs/tiny SET="train.max_steps=600"
# DATASET: ytvis19 | ytvis21 | ytvis22 | ovis | coco | synth; PRESET defaults to the dataset's; RESUME=1 continues.
PRESET ?=
RUN ?= runs/$(DATASET)$(if $(PRESET),-$(notdir $(basename $(PRESET))))
SET ?=
NPROC ?= 1

.PHONY: train
train: $(STAMP)
	$(VENV)/bin/ifm-train run --dataset $(DATASET) --data-root $(DATA_ROOT) --out $(RUN) \
		$(if $(PRESET),--preset $(PRESET)) $(foreach s,$(SET),--set $(s)) \
		--nproc-per-node $(NPROC) $(if $(RESUME),--resume)
