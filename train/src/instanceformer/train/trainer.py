"""The training loop: resumable, gradient accumulation, mixed precision, DDP over torchrun processes.

One call of :func:`train` runs (or continues) a run folder until ``train.max_steps`` optimiser steps, or
``train.epochs`` epochs when ``max_steps`` is unset (see :mod:`instanceformer.train.schedule` for how
epochs map to steps). Every process computes; rank 0 alone writes the run folder and draws progress.

The run folder is checked before anything is built, but written only once the first optimiser step of
the command has completed: a new run that fails to start (missing data, a bad annotation, an unreadable
frame) leaves no folder behind, and a resumed one leaves its folder as it was. SIGINT stops at the next
step boundary with a checkpoint (:mod:`instanceformer.train.interruption`).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from instanceformer.core.config import Config
from instanceformer.core.engine.checkpoints import (
    capture_rng_state,
    checkpoint_payload,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from instanceformer.core.engine.distributed import destroy_process_group, init_process_group
from instanceformer.core.errors import UserError
from instanceformer.core.formats.data_paths import resolve_data_paths
from instanceformer.core.formats.manifest import manifest_path
from instanceformer.core.losses import build_criterion
from instanceformer.core.losses.criterion import normalisation_count
from instanceformer.core.model import build_model
from instanceformer.core.model.batch import ClipBatch
from instanceformer.core.runs import RunFolder
from instanceformer.core.runtime.device import resolve_device
from instanceformer.core.runtime.process import ProcessInfo, process_info
from instanceformer.train import distributed
from instanceformer.train.accumulation import accumulation_steps, micro_batch_weights
from instanceformer.train.checkpointing import (
    ResumePoint,
    SkippedCheckpoint,
    describe_resume,
    find_resume_point,
    rank_rng_state,
    remove_partial_writes,
)
from instanceformer.train.compilation import CompiledForward
from instanceformer.train.data.loader import build_train_dataset, build_train_loader
from instanceformer.train.initialisation import InitReport, initialise_from
from instanceformer.train.interruption import StopRequest, TrainingInterruptedError
from instanceformer.train.optimizer import build_optimizer
from instanceformer.train.part_gradients import part_gradient_norms, temporal_part_parameters
from instanceformer.train.precision import PrecisionPolicy
from instanceformer.train.progress import TrainingProgress
from instanceformer.train.schedule import ScheduledLearningRate, rate_multiplier, total_steps

CONTRASTIVE_TERM = "contrastive"
ValidationHook = Callable[[nn.Module, int, int], Mapping[str, float]]


@dataclass(frozen=True)
class TrainOptions:
    """What the command line adds to the configuration.

    Attributes:
        out: the run folder.
        resume: continue the run in ``out`` from its newest loadable checkpoint (a new run when ``out``
            holds none); the configuration must be the run's except for where it stops.
        force: delete an existing run in ``out`` once the new run has started.
        init_from: a run folder or checkpoint whose weights start a new run.
        drop_class_head: drop the class-dependent tensors of ``init_from`` even when their shapes fit.
        command: the command line, recorded in the run's manifest.
        progress: draw the progress bar (rank 0).
        environ: environment for the data root and the process group (default ``os.environ``).
    """

    out: Path
    resume: bool = False
    force: bool = False
    init_from: Path | None = None
    drop_class_head: bool = False
    command: tuple[str, ...] | None = None
    progress: bool = True
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True)
class TrainSummary:
    """The outcome of :func:`train`: where it started and stopped, and what was loaded."""

    run: Path
    start_step: int
    final_step: int
    epoch: int
    steps_per_epoch: int
    accumulation: int
    world_size: int
    precision: str
    init_report: InitReport | None


@dataclass
class LoopState:
    """The counters of the loop: optimiser steps done, completed epochs, steps done in this epoch."""

    step: int = 0
    epoch: int = 0
    epoch_step: int = 0


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _on_rank_zero(info: ProcessInfo, action: Callable[[], Any]) -> Any:
    """Run ``action`` on rank 0 and hand its result to every process; a :class:`UserError` it raises
    reaches every process as the same error."""
    outcome: tuple[str, Any] = ("ok", None)
    if info.is_main:
        try:
            outcome = ("ok", action())
        except UserError as error:
            outcome = ("error", str(error))
    kind, value = distributed.broadcast_object(outcome)
    if kind == "error":
        raise UserError(value)
    return value


def _check_run_folder(config: Config, options: TrainOptions, info: ProcessInfo) -> ResumePoint | None:
    """Check ``--out`` before anything is built, writing nothing; return the checkpoint a resume continues
    from (None for a new run).

    A new run's target must be free (or ``force``); a resumed run must keep its configuration except
    where it stops and have a loadable checkpoint.
    """

    found: list[ResumePoint] = []

    def check() -> tuple[str, tuple[Any, ...]] | None:
        run = RunFolder(options.out)
        if not (options.resume and run.is_run):
            RunFolder.check_target(options.out, force=options.force)
            return None
        run.check_resumable(config)
        found.append(find_resume_point(run))
        return str(found[0].path), tuple((str(item.path), item.reason) for item in found[0].skipped)

    chosen = _on_rank_zero(info, check)
    if chosen is None:
        return None
    if found:
        return found[0]
    path, skipped = chosen
    return ResumePoint(
        Path(path), load_checkpoint(path), tuple(SkippedCheckpoint(Path(file), why) for file, why in skipped)
    )


class Trainer:
    """Owns the model, optimiser, schedule and loader of one process and runs optimiser steps."""

    def __init__(self, config: Config, options: TrainOptions, validation: ValidationHook | None = None):
        self.config = config
        self.options = options
        self.validation = validation
        self.info = process_info(options.environ)
        self.device = resolve_device(config.train.device, self.info.local_rank, setting="train.device")
        self.precision = PrecisionPolicy.from_config(config.train, self.device)
        self.accumulation = accumulation_steps(config.train, self.info.world_size)
        init_process_group(self.info, self.device)
        self.run = RunFolder(options.out)
        self.notes: list[str] = []
        if options.resume and not self.run.is_run:
            self.notes.append(f"--resume: {options.out} holds no run yet; starting a new one")
        point = _check_run_folder(config, options, self.info)
        self.resume_point = point
        self.started = False
        _seed_everything(config.train.seed)
        dataset = build_train_dataset(config, resolve_data_paths(config.data, options.environ))
        self.loader = build_train_loader(
            config, rank=self.info.rank, world_size=self.info.world_size, dataset=dataset
        )
        self.steps_per_epoch = len(self.loader) // self.accumulation
        if self.steps_per_epoch < 1:
            raise UserError(
                f"{options.out}: an epoch has {len(self.loader)} batches per process, fewer than the "
                f"{self.accumulation} accumulation steps of one optimiser step; lower train.total_batch_size"
            )
        self.total_steps = total_steps(config.train, self.steps_per_epoch)
        if point is not None and self.total_steps < point.step:
            raise UserError(
                f"{self.run.config_path}: {_stopping_point(config)} ends at step {self.total_steps}, before "
                f"step {point.step} of the checkpoint {point.path}; a resumed run cannot go back: pass a "
                "larger value, or start the run again with --force"
            )
        # a checkpoint supplies the weights: model.backbone.weights is not opened (--init-from reads it
        # only for backbone tensors its source lacks)
        weights_from_checkpoint = point is not None or options.init_from is not None
        self.model = build_model(config.model, pretrained_backbone=not weights_from_checkpoint)
        self.model = self.model.to(self.device).train()
        if self.info.is_distributed and self.device.type == "cuda":
            # trainable BatchNorm (from-scratch backbones) normalises over the global batch, as one process
            self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.criterion = build_criterion(config.loss, config.model)
        self.optimizer = build_optimizer(self.model, config.train)
        self.schedule = ScheduledLearningRate(
            self.optimizer, rate_multiplier(config.train, self.steps_per_epoch)
        )
        self.scaler = self.precision.grad_scaler()
        self.state = LoopState()
        self.init_report: InitReport | None = None
        if point is not None:
            self._restore(point)
            self.notes.append(describe_resume(self.run, point, self.total_steps))
            for change in self.run.check_resumable(config) if self.info.is_main else []:
                self.notes.append(f"{change.describe()} (as asked; written to config.yaml)")
        elif options.init_from is not None:
            self.init_report = initialise_from(
                self.model,
                options.init_from,
                drop_class_head=options.drop_class_head,
                backbone_weights=config.model.backbone.weights,
            )
        self.start_step = self.state.step
        self.network: nn.Module = self.model
        if self.info.is_distributed:
            self.network = DistributedDataParallel(
                self.model,
                device_ids=[self.device] if self.device.type == "cuda" else None,
                find_unused_parameters=config.data.num_frames == 1,
            )
        self.temporal_parts = temporal_part_parameters(self.model)
        self.temporal_grad_norms: dict[str, torch.Tensor] = {}
        self.forward: Callable[..., Any] = self.network
        if config.train.compile:
            self.forward = CompiledForward(self.network, self._compile_fell_back)
        self.last_saved_step = self.state.step if point is not None else -1
        self.last_saved_path: Path | None = None if point is None else point.path

    def _restore(self, point: ResumePoint) -> None:
        payload = point.payload
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.schedule.load_state_dict(payload["scheduler"])
        if payload.get("grad_scaler"):
            self.scaler.load_state_dict(payload["grad_scaler"])
        self.state = LoopState(
            step=int(payload["step"]), epoch=int(payload["epoch"]), epoch_step=int(payload["epoch_step"])
        )
        restore_rng_state(rank_rng_state(payload, self.info.rank, self.info.world_size))

    def save_checkpoint(self) -> None:
        """Write the complete training state (every process takes part; rank 0 writes)."""
        states = distributed.gather_objects(capture_rng_state())
        if self.info.is_main:
            payload = checkpoint_payload(
                model=self.model.state_dict(),
                optimizer=self.optimizer.state_dict(),
                scheduler=self.schedule.state_dict(),
                step=self.state.step,
                epoch=self.state.epoch,
                config=self.config,
                rng=states[0],
                epoch_step=self.state.epoch_step,
                grad_scaler=self.scaler.state_dict(),
                rng_per_rank=states,
                world_size=self.info.world_size,
            )
            self.last_saved_path = save_checkpoint(self.run, payload, keep=self.config.train.keep_checkpoints)
        self.last_saved_step = self.state.step
        distributed.barrier()

    def start_run(self) -> None:
        """Write the run folder once the first optimiser step of this command has completed: create a new
        run (deleting the old one with ``force``), or record a resume (superseded ``metrics.jsonl`` lines
        moved aside, ``config.yaml`` updated where the stopping point changed, ``manifest.json``)."""
        point, options, config = self.resume_point, self.options, self.config

        def write() -> list[str]:
            if point is None:
                paths = resolve_data_paths(config.data, options.environ)
                manifests = [path for path in (manifest_path(paths.train_annotations),) if path.is_file()]
                RunFolder.create(
                    options.out,
                    config,
                    force=options.force,
                    dataset_manifests=manifests,
                    command=options.command,
                )
                return []
            remove_partial_writes(self.run)
            superseded = self.run.supersede_metrics(point.step)
            self.run.record_resume(config, checkpoint=point.path, step=point.step, command=options.command)
            return [] if superseded is None else [superseded.describe()]

        self.notes.extend(_on_rank_zero(self.info, write))
        self.started = True

    def optimiser_step(self, batches: Sequence[ClipBatch]) -> tuple[dict[str, float], float]:
        """One optimiser step over ``batches`` (the accumulation micro-batches of this process).

        Returns the loss terms (averaged over processes) and the gradient norm before clipping.
        """
        counts = [normalisation_count(batch.targets, self.device) for batch in batches]
        weights = micro_batch_weights(counts)
        self.optimizer.zero_grad(set_to_none=True)
        logged: dict[str, torch.Tensor] = {}
        for index, (batch, weight) in enumerate(zip(batches, weights, strict=True)):
            batch = batch.to(self.device)
            is_last = index == len(batches) - 1
            synchronise: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if isinstance(self.network, DistributedDataParallel) and not is_last:
                synchronise = self.network.no_sync()
            with synchronise:
                with self.precision.autocast():
                    outputs = self.forward(batch.images, batch.padding_mask)
                losses = self.criterion(outputs, batch.targets)
                contrastive = losses.get(CONTRASTIVE_TERM)
                objective = losses["total"] * weight
                if contrastive is not None:
                    objective = objective + contrastive * (1.0 / len(batches) - weight)
                self.scaler.scale(objective).backward()
            for name, value in losses.items():
                share = 1.0 / len(batches) if name == CONTRASTIVE_TERM else weight
                logged[name] = logged.get(name, 0.0) + value.detach().float() * share
        total = sum(value for name, value in logged.items() if name != "total")
        assert isinstance(total, torch.Tensor)  # the criterion returns at least one loss term
        logged["total"] = total
        self.scaler.unscale_(self.optimizer)
        self.temporal_grad_norms = part_gradient_norms(self.temporal_parts)
        max_norm = self.config.train.clip_max_norm or float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        names = sorted(logged)
        reduced = distributed.all_reduce_mean(torch.stack([logged[name] for name in names]).cpu())
        values = dict(zip(names, reduced.tolist(), strict=True))
        if not np.isfinite(values["total"]):
            raise FloatingPointError(f"non-finite training loss at optimiser step {self.state.step + 1}")
        return values, float(grad_norm)

    def _compile_fell_back(self, reason: str) -> None:
        self.notes.append(f"train.compile: compiling the model failed, training runs eagerly ({reason})")

    def fit(self) -> TrainSummary:
        """Run optimiser steps until the configured end; checkpoint, log and validate on the way.

        Raises:
            TrainingInterruptedError: on SIGINT, after saving a checkpoint at the last completed step (or at
                once, without saving, on a second SIGINT).
        """
        with StopRequest() as stop:
            try:
                return self._fit(stop)
            except KeyboardInterrupt:
                raise self._interrupted(at_once=True) from None

    def _fit(self, stop: StopRequest) -> TrainSummary:
        train = self.config.train
        state = self.state
        samples_per_step = train.total_batch_size
        with TrainingProgress(
            self.total_steps, state.step, self.options.progress and self.info.is_main
        ) as bar:
            if self.init_report is not None and self.info.is_main:
                bar.print(self.init_report.summary())
            self._print_notes(bar)
            if state.step >= self.total_steps and self.info.is_main:
                bar.print(
                    f"{self.run.root}: already at step {state.step} of {self.total_steps}; nothing to train"
                )
            window_start, window_steps = time.perf_counter(), 0
            while state.step < self.total_steps:
                self.loader.set_epoch(state.epoch)
                self.loader.sampler.skip = state.epoch_step * self.accumulation * train.batch_size
                batches = iter(self.loader)
                while state.epoch_step < self.steps_per_epoch and state.step < self.total_steps:
                    micro_batches = [next(batches) for _ in range(self.accumulation)]
                    losses, grad_norm = self.optimiser_step(micro_batches)
                    state.step += 1
                    state.epoch_step += 1
                    window_steps += 1
                    if not self.started:
                        self.start_run()
                        self._print_notes(bar)
                    elapsed = time.perf_counter() - window_start
                    samples_per_s = window_steps * samples_per_step / max(elapsed, 1e-9)
                    rates = self.schedule.rates()
                    bar.update(state.step, state.epoch, losses, rates, samples_per_s)
                    if self.notes:
                        self._print_notes(bar)
                    if state.step % train.log_every == 0 or state.step == self.total_steps:
                        record: dict[str, Any] = {
                            "kind": "train",
                            "step": state.step,
                            "epoch": state.epoch,
                            "loss": losses,
                            "lr": rates,
                            "samples_per_s": samples_per_s,
                            "grad_norm": grad_norm,
                        }
                        if self.temporal_grad_norms:
                            record["temporal_grad_norm"] = {
                                part: float(norm) for part, norm in self.temporal_grad_norms.items()
                            }
                        self._log(record)
                        window_start, window_steps = time.perf_counter(), 0
                    if state.step % train.checkpoint_every == 0:
                        self.save_checkpoint()
                    if train.validate_every is not None and state.step % train.validate_every == 0:
                        self._validate(bar)
                    more = state.epoch_step < self.steps_per_epoch and state.step < self.total_steps
                    if more and self._stop_requested(stop):
                        raise self._interrupted(at_once=False)
                if state.epoch_step == self.steps_per_epoch:
                    state.epoch += 1
                    state.epoch_step = 0
                    self._log({"kind": "epoch", "step": state.step, "epoch": state.epoch})
                    self.save_checkpoint()
                    if state.step < self.total_steps and self._stop_requested(stop):
                        raise self._interrupted(at_once=False)
            if self.last_saved_step != state.step:
                self.save_checkpoint()
        return TrainSummary(
            run=self.run.root,
            start_step=self.start_step,
            final_step=state.step,
            epoch=state.epoch,
            steps_per_epoch=self.steps_per_epoch,
            accumulation=self.accumulation,
            world_size=self.info.world_size,
            precision=self.precision.name,
            init_report=self.init_report,
        )

    def _print_notes(self, bar: TrainingProgress) -> None:
        if self.info.is_main:
            for note in self.notes:
                bar.print(note)
        self.notes.clear()

    def _stop_requested(self, stop: StopRequest) -> bool:
        """Whether any process was asked to stop (every process must agree, as saving is collective)."""
        if not self.info.is_distributed:
            return stop.requested
        return any(distributed.gather_objects(stop.requested))

    def _interrupted(self, *, at_once: bool) -> TrainingInterruptedError:
        """Save what a stop allows and describe it: a checkpoint at the last completed step, unless
        ``at_once`` (a second SIGINT inside a step, whose partial updates no checkpoint may hold)."""
        step = self.state.step
        if not self.started and self.resume_point is not None:
            return TrainingInterruptedError(
                f"interrupted before the first optimiser step completed: the run is unchanged, its newest "
                f"checkpoint {self.resume_point.path} (step {self.resume_point.step})",
                resumable=True,
                folder_exists=True,
            )
        if not self.started:
            return TrainingInterruptedError(
                "interrupted before the first optimiser step completed: nothing was saved and no run "
                "folder was written",
                resumable=False,
                folder_exists=False,
            )
        if not at_once:
            if self.last_saved_step != step:
                self.save_checkpoint()
                outcome = f"interrupted after step {step}: saved the checkpoint {self.last_saved_path}"
            else:
                outcome = (
                    f"interrupted after step {step}: its checkpoint {self.last_saved_path} was already saved"
                )
            return TrainingInterruptedError(outcome, resumable=True, folder_exists=True)
        if self.last_saved_path is None:
            return TrainingInterruptedError(
                f"stopped at once after step {step}: nothing was saved and the run has no checkpoint yet",
                resumable=False,
                folder_exists=True,
            )
        return TrainingInterruptedError(
            f"stopped at once after step {step}: nothing was saved since the checkpoint "
            f"{self.last_saved_path} (step {self.last_saved_step})",
            resumable=True,
            folder_exists=True,
        )

    def _log(self, record: dict[str, Any]) -> None:
        if self.info.is_main:
            self.run.append_metrics(record)

    def _validate(self, bar: TrainingProgress) -> None:
        if self.validation is None:
            return
        self.model.eval()
        try:
            with torch.no_grad():
                metrics = self.validation(self.model, self.state.step, self.info.rank)
        finally:
            self.model.train()
        if self.info.is_main:
            self._log({"kind": "validation", "step": self.state.step, "epoch": self.state.epoch, **metrics})
            bar.print(f"step {self.state.step}: validation AP {metrics.get('AP', float('nan')):.4f}")
        distributed.barrier()


def _stopping_point(config: Config) -> str:
    """The setting that decides where a run stops, as ``key=value``."""
    if config.train.max_steps is not None:
        return f"train.max_steps={config.train.max_steps}"
    return f"train.epochs={config.train.epochs}"


def train(config: Config, options: TrainOptions, validation: ValidationHook | None = None) -> TrainSummary:
    """Train (or resume) the run described by ``config`` and ``options``; see :class:`TrainOptions`."""
    try:
        return Trainer(config, options, validation).fit()
    finally:
        destroy_process_group()
