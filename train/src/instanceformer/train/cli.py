"""Command-line interface of ``ifm-train``: ``run`` (video training) and ``pretrain`` (COCO pseudo-videos).

Both accept ``--nproc-per-node N`` to start N processes on this node through PyTorch's elastic launcher;
under ``torchrun`` (multi-node, SLURM) the same command runs as one process of the group. PyTorch and the
trainer are imported inside the commands, so ``--help`` starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from instanceformer.core.cli import create_app, run_app
from instanceformer.core.config import Config, load_config
from instanceformer.core.errors import UserError
from instanceformer.core.runtime.process import launched_by_torchrun, process_info
from instanceformer.core.runtime.progress import progress_bar

if TYPE_CHECKING:
    from instanceformer.train.trainer import TrainOptions, TrainSummary

app = create_app("ifm-train", "instanceformer-train", "Train InstanceFormer models and manage run folders.")

DATASETS = ("ytvis19", "ytvis21", "ytvis22", "ovis", "coco", "synth")
DEFAULT_PRESETS = {
    "ytvis19": "r50-ytvis19",
    "ytvis21": "r50-ytvis21",
    "ytvis22": "r50-ytvis21",
    "ovis": "r50-ovis",
    "coco": "r50-coco-pretrain",
    "synth": "tiny-cpu",
}

DATASET_OPTION = typer.Option(..., "--dataset", help="ytvis19, ytvis21, ytvis22, ovis, coco or synth.")
DATA_ROOT_OPTION = typer.Option(
    None, "--data-root", help="Data root (default: $IFM_DATA_ROOT, else data/).", file_okay=False
)
PRESET_OPTION = typer.Option(None, "--preset", help="Preset name or YAML file (default: the dataset's).")
SET_OPTION = typer.Option([], "--set", help="Override a configuration key: section.key=value (repeatable).")
OUT_OPTION = typer.Option(..., "--out", help="The run folder, e.g. runs/NAME.")
RESUME_OPTION = typer.Option(False, "--resume", help="Continue the run in --out from its newest checkpoint.")
FORCE_OPTION = typer.Option(False, "--force", help="Delete an existing run in --out first.")
NPROC_OPTION = typer.Option(1, "--nproc-per-node", min=1, help="Processes to start on this node.")
INIT_OPTION = typer.Option(None, "--init-from", help="Start from the weights of a run folder or checkpoint.")
DROP_HEAD_OPTION = typer.Option(
    False, "--drop-class-head", help="With --init-from: drop the class-dependent tensors even if they fit."
)
PROGRESS_OPTION = typer.Option(True, "--progress/--no-progress", help="Draw the progress bar.")


def resolve_config(
    dataset: str, preset: str | None, data_root: Path | None, overrides: list[str], *, pretrain: bool = False
) -> Config:
    """The configuration of a command: preset, then ``data.dataset`` / ``data.root``, then ``--set``."""
    if dataset not in DATASETS:
        raise UserError(f"--dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
    if pretrain and dataset != "coco":
        raise UserError(f"--dataset: pretrain uses COCO pseudo-videos; expected coco, got {dataset!r}")
    chosen = preset or DEFAULT_PRESETS[dataset]
    base = [f"data.dataset={dataset}"]
    if data_root is not None:
        base.append(f"data.root={data_root}")
    if pretrain:
        base.append("data.num_frames=1")
    return load_config(chosen, [*base, *overrides])


@dataclass(frozen=True)
class TrainCommand:
    """What one ``ifm-train run`` / ``pretrain`` command line asked for."""

    command: str
    dataset: str
    out: Path
    data_root: Path | None = None
    preset: str | None = None
    overrides: tuple[str, ...] = ()
    resume: bool = False
    force: bool = False
    nproc_per_node: int = 1
    init_from: Path | None = None
    drop_class_head: bool = False
    progress: bool = True

    def worker_arguments(self) -> list[str]:
        """The command line each launched process runs (the same command without ``--nproc-per-node``)."""
        arguments = [self.command, "--dataset", self.dataset, "--out", str(self.out)]
        if self.data_root is not None:
            arguments += ["--data-root", str(self.data_root)]
        if self.preset is not None:
            arguments += ["--preset", self.preset]
        for override in self.overrides:
            arguments += ["--set", override]
        if self.resume:
            arguments.append("--resume")
        if self.force:
            arguments.append("--force")
        if self.init_from is not None:
            arguments += ["--init-from", str(self.init_from)]
        if self.drop_class_head:
            arguments.append("--drop-class-head")
        if not self.progress:
            arguments.append("--no-progress")
        return arguments

    def train_options(self) -> TrainOptions:
        """The trainer's options for this process."""
        from instanceformer.train.trainer import TrainOptions

        return TrainOptions(
            out=self.out,
            resume=self.resume,
            force=self.force,
            init_from=self.init_from,
            drop_class_head=self.drop_class_head,
            command=tuple(sys.argv),
            progress=self.progress,
        )


def _report(summary: TrainSummary) -> None:
    if not process_info().is_main:
        return
    console = Console()
    console.print(
        f"{summary.run}: optimiser steps {summary.start_step} -> {summary.final_step} "
        f"({summary.steps_per_epoch} per epoch, {summary.accumulation} micro-batches each, "
        f"{summary.world_size} process(es), {summary.precision}); epochs completed {summary.epoch}",
        markup=False,
        highlight=False,
    )


def _execute(request: TrainCommand) -> None:
    config = resolve_config(
        request.dataset,
        request.preset,
        request.data_root,
        list(request.overrides),
        pretrain=request.command == "pretrain",
    )
    if request.init_from is not None and request.resume:
        raise UserError("--init-from: only for a new run; a resumed run continues from its own checkpoint")
    if request.nproc_per_node > 1:
        if launched_by_torchrun():
            raise UserError("--nproc-per-node: already running under torchrun; pass its options instead")
        from instanceformer.train.launcher import launch_local_workers

        launch_local_workers(request.nproc_per_node, request.worker_arguments())
        return
    from instanceformer.train.trainer import train
    from instanceformer.train.validation import HeldOutValidation

    validation = HeldOutValidation(config) if config.train.validate_every is not None else None
    _report(train(config, request.train_options(), validation))


@app.command("run")
def run_command(
    dataset: str = DATASET_OPTION,
    out: Path = OUT_OPTION,
    data_root: Path | None = DATA_ROOT_OPTION,
    preset: str | None = PRESET_OPTION,
    overrides: list[str] = SET_OPTION,
    resume: bool = RESUME_OPTION,
    force: bool = FORCE_OPTION,
    nproc_per_node: int = NPROC_OPTION,
    init_from: Path | None = INIT_OPTION,
    drop_class_head: bool = DROP_HEAD_OPTION,
    progress: bool = PROGRESS_OPTION,
) -> None:
    """Train on a video dataset (or any dataset with its preset) into a run folder."""
    _execute(
        TrainCommand(
            command="run",
            dataset=dataset,
            out=out,
            data_root=data_root,
            preset=preset,
            overrides=tuple(overrides),
            resume=resume,
            force=force,
            nproc_per_node=nproc_per_node,
            init_from=init_from,
            drop_class_head=drop_class_head,
            progress=progress,
        )
    )


@app.command("pretrain")
def pretrain_command(
    out: Path = OUT_OPTION,
    dataset: str = typer.Option("coco", "--dataset", help="coco (single-frame pseudo-video clips)."),
    data_root: Path | None = DATA_ROOT_OPTION,
    preset: str | None = typer.Option(None, "--preset", help="Preset (default r50-coco-pretrain)."),
    overrides: list[str] = SET_OPTION,
    resume: bool = RESUME_OPTION,
    force: bool = FORCE_OPTION,
    nproc_per_node: int = NPROC_OPTION,
    progress: bool = PROGRESS_OPTION,
) -> None:
    """Pretrain on COCO images as single-frame clips (the published first stage)."""
    _execute(
        TrainCommand(
            command="pretrain",
            dataset=dataset,
            out=out,
            data_root=data_root,
            preset=preset,
            overrides=tuple(overrides),
            resume=resume,
            force=force,
            nproc_per_node=nproc_per_node,
            progress=progress,
        )
    )


@app.command("loader-speed")
def loader_speed_command(
    preset: str = typer.Option("tiny-cpu", "--preset", help="Configuration preset or YAML file."),
    overrides: list[str] = SET_OPTION,
    workers: list[int] = typer.Option([0, 2], "--workers", help="Worker counts to compare (repeatable)."),
    batches: int = typer.Option(50, "--batches", help="Timed batches per worker count."),
    threads: int | None = typer.Option(
        None, "--threads", help="PyTorch threads of the main process (default: PyTorch's choice)."
    ),
) -> None:
    """Measure the training clip loader's throughput (clips/s) at several worker counts."""
    from instanceformer.train.loader_speed import loader_speed_table, measure_loader_speed

    config = load_config(preset, list(overrides))
    console = Console()
    with progress_bar("[bold]{task.description}", console=console) as bar:
        task = bar.add_task("worker counts", total=len(workers))
        results = measure_loader_speed(
            config,
            workers,
            batches,
            threads=threads,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    console.print(loader_speed_table(results))


def main() -> None:
    """Entry point of the ``ifm-train`` console script."""
    sys.exit(run_app(app))
