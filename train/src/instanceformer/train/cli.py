"""Command-line interface of ``ifm-train``: ``run`` (video training) and ``pretrain`` (COCO pseudo-videos).

Both accept ``--nproc-per-node N`` to start N processes on this node through PyTorch's elastic launcher;
under ``torchrun`` (multi-node, SLURM) the same command runs as one process of the group. PyTorch and the
trainer are imported inside the commands, so ``--help`` starts fast.

``--resume`` continues with the run's own ``config.yaml``: ``--set`` may change where it stops
(``train.max_steps``, ``train.epochs``) and must repeat anything else. Ctrl-C stops at the next step
boundary with a checkpoint, prints what was saved and the command that resumes, and exits with status 130.
"""

from __future__ import annotations

import shlex
import sys
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from instanceformer.core.cli import create_app, debug_requested, run_app
from instanceformer.core.config import Config, load_config
from instanceformer.core.errors import UserError
from instanceformer.core.runs import RunFolder
from instanceformer.core.runtime.process import launched_by_torchrun, process_info
from instanceformer.core.runtime.progress import progress_bar

if TYPE_CHECKING:
    from instanceformer.train.interruption import TrainingInterruptedError
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
RESUME_OPTION = typer.Option(
    False,
    "--resume",
    help="Continue the run in --out from its newest readable checkpoint, with its own config.yaml "
    "(--set may change train.max_steps / train.epochs); a folder without a run starts one.",
)
FORCE_OPTION = typer.Option(False, "--force", help="Delete an existing run in --out first.")
NPROC_OPTION = typer.Option(1, "--nproc-per-node", min=1, help="Processes to start on this node.")
INIT_OPTION = typer.Option(None, "--init-from", help="Start from the weights of a run folder or checkpoint.")
DROP_HEAD_OPTION = typer.Option(
    False, "--drop-class-head", help="With --init-from: drop the class-dependent tensors even if they fit."
)
PROGRESS_OPTION = typer.Option(True, "--progress/--no-progress", help="Draw the progress bar.")


def command_overrides(
    dataset: str, data_root: Path | None, overrides: list[str], *, pretrain: bool = False
) -> list[str]:
    """The ``a.b=c`` overrides of a command: ``data.dataset`` / ``data.root`` (and ``data.num_frames=1`` for
    pretraining), then ``--set``."""
    if dataset not in DATASETS:
        raise UserError(f"--dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
    if pretrain and dataset != "coco":
        raise UserError(f"--dataset: pretrain uses COCO pseudo-videos; expected coco, got {dataset!r}")
    base = [f"data.dataset={dataset}"]
    if data_root is not None:
        base.append(f"data.root={data_root}")
    if pretrain:
        base.append("data.num_frames=1")
    return [*base, *overrides]


def resolve_config(
    dataset: str, preset: str | None, data_root: Path | None, overrides: list[str], *, pretrain: bool = False
) -> Config:
    """The configuration of a command: preset, then ``data.dataset`` / ``data.root``, then ``--set``."""
    settings = command_overrides(dataset, data_root, overrides, pretrain=pretrain)
    return load_config(preset or DEFAULT_PRESETS[dataset], settings)


def resumed_config(request: TrainCommand) -> Config:
    """The configuration of ``request``: with ``--resume`` on an existing run, the run's ``config.yaml``
    with the command's overrides on top (:meth:`RunFolder.resumed_config`); else :func:`resolve_config`."""
    pretrain = request.command == "pretrain"
    requested = resolve_config(
        request.dataset, request.preset, request.data_root, list(request.overrides), pretrain=pretrain
    )
    run = RunFolder(request.out)
    if not (request.resume and run.is_run):
        return requested
    settings = command_overrides(
        request.dataset, request.data_root, list(request.overrides), pretrain=pretrain
    )
    return run.resumed_config(settings, requested if request.preset is not None else None)


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

    def shell_command(self) -> str:
        """This command as one shell line, e.g. to print how to resume it."""
        arguments = ["ifm-train", *self.worker_arguments()]
        if self.nproc_per_node > 1:
            arguments += ["--nproc-per-node", str(self.nproc_per_node)]
        return shlex.join(arguments)

    def resume_command(self) -> str:
        """The shell line that continues this command's run (``--resume``, no ``--force`` nor
        ``--init-from``)."""
        return replace(self, resume=True, force=False, init_from=None, drop_class_head=False).shell_command()

    def restart_command(self) -> str:
        """The shell line that starts this command's run again from step 0 (``--force``)."""
        return replace(self, resume=False, force=True).shell_command()

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
    if request.resume and request.force:
        raise UserError(
            "--resume and --force contradict each other: --resume continues the run in --out, --force "
            "deletes it; pass one"
        )
    if request.init_from is not None and request.resume:
        raise UserError("--init-from: only for a new run; a resumed run continues from its own checkpoint")
    config = resumed_config(request)
    if request.nproc_per_node > 1:
        if launched_by_torchrun():
            raise UserError("--nproc-per-node: already running under torchrun; pass its options instead")
        from instanceformer.train.launcher import launch_local_workers

        launch_local_workers(request.nproc_per_node, request.worker_arguments())
        return
    from instanceformer.train.interruption import INTERRUPTED_EXIT_STATUS, TrainingInterruptedError
    from instanceformer.train.trainer import train
    from instanceformer.train.validation import HeldOutValidation

    validation = HeldOutValidation(config) if config.train.validate_every is not None else None
    try:
        summary = train(config, request.train_options(), validation)
    except TrainingInterruptedError as stop:
        interrupted = stop
    else:
        _report(summary)
        return
    # raised outside the except block: the exit carries no KeyboardInterrupt for the shared error path
    # to report a second time
    _report_interruption(request, interrupted)
    raise typer.Exit(INTERRUPTED_EXIT_STATUS)


def _report_interruption(request: TrainCommand, stop: TrainingInterruptedError) -> None:
    """Print on standard error (rank 0) what an interrupted run saved and the command that continues it,
    after the traceback with ``--debug``."""
    if not process_info().is_main:
        return
    if stop.resumable:
        advice = f"resume with: {request.resume_command()}"
    elif stop.folder_exists:
        advice = f"start it again with: {request.restart_command()}"
    else:
        advice = f"run the command again: {request.shell_command()}"
    if debug_requested():
        traceback.print_exception(stop, file=sys.stderr)
    Console(stderr=True).print(f"{stop.outcome}; {advice}", markup=False, highlight=False, soft_wrap=True)


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


@app.command("convert")
def convert_command(
    checkpoint: Path = typer.Argument(
        ..., help="A published InstanceFormer checkpoint (.pth).", dir_okay=False
    ),
    out: Path = OUT_OPTION,
    variant: str = typer.Option(
        "toolkit",
        "--variant",
        help="published: reproduce the published outputs; toolkit: this toolkit's model (fine-tune it).",
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="ovis, ytvis19 or ytvis21 (default: ovis for 27 class logits)."
    ),
    overrides: list[str] = SET_OPTION,
    force: bool = FORCE_OPTION,
) -> None:
    """Convert a published checkpoint into a run folder (config.yaml, checkpoints/last.pt) for ifm-infer."""
    from instanceformer.train.conversion import convert_published_run

    converted = convert_published_run(
        checkpoint, out, variant=variant, dataset=dataset, overrides=list(overrides), force=force
    )
    console = Console()
    console.print(converted.report.summary(), markup=False, highlight=False)
    model = converted.config.model
    console.print(
        f"{converted.run}: preset {converted.config.preset}, model.variant {model.variant}, "
        f"{model.num_classes} classes",
        markup=False,
        highlight=False,
    )
    if model.variant == "toolkit":
        console.print(
            "The toolkit model differs from the published one (docs/deviations.md): fine-tune it, or "
            "convert with --variant published to reproduce the published outputs.",
            markup=False,
            highlight=False,
        )


def main() -> None:
    """Entry point of the ``ifm-train`` console script."""
    sys.exit(run_app(app))
