"""Command-line interface of ``ifm-infer``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from instanceformer.core.cli import create_app, run_app
from instanceformer.infer.commands import dataset_command, merge_command, video_command

app = create_app(
    "ifm-infer", "instanceformer-infer", "Run online inference on datasets and videos, and evaluate results."
)


@app.command()
def evaluate(
    results: Path = typer.Argument(..., help="Results in the server format: results.json or its .zip."),
    gt: Path = typer.Option(..., "--gt", help="YouTube-VIS / OVIS annotation file with ground truth."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the metrics to this JSON file."),
    association_path: Path | None = typer.Option(
        None,
        "--association",
        help="Also write the per-video association report (association.json: ID switches, lost tracks).",
    ),
    metric_sets: str = typer.Option(
        "ap",
        "--metrics",
        help="Comma-separated metric sets: ap (AP, AR), hota (HOTA, DetA, AssA) and identity (IDF1, IDSW).",
    ),
) -> None:
    """Evaluate results with the YouTube-VIS / OVIS metric (AP, AR; occlusion AP for OVIS) and, with
    --metrics, the association metrics HOTA and IDF1 / ID switches; --association writes how each
    video's ground-truth tracks were followed."""
    from instanceformer.core.io import refuse_special_destination, write_json_atomic
    from instanceformer.core.metrics import evaluate_files, evaluate_files_with_association, metrics_table
    from instanceformer.core.runtime.progress import timed_progress_bar
    from instanceformer.infer.association_table import print_association_report

    for path in (json_path, association_path):
        if path is not None:
            refuse_special_destination(path)

    progress_bar = timed_progress_bar("evaluating videos")
    with progress_bar:
        task = progress_bar.add_task("evaluate", total=None)

        def progress(done: int, total: int) -> None:
            progress_bar.update(task, completed=done, total=total)

        association: dict[str, Any] | None = None
        if association_path is None:
            metrics = evaluate_files(results, gt, progress=progress, metrics=metric_sets)
        else:
            metrics, association = evaluate_files_with_association(
                results, gt, progress=progress, metrics=metric_sets
            )
    console = Console()
    console.print(metrics_table(metrics, title=f"{results.name} on {gt.name}"))
    if json_path is not None:
        write_json_atomic(json_path, metrics, indent=2)
    if association_path is not None and association is not None:
        write_json_atomic(association_path, association, indent=2)
        print_association_report(console, association, association_path)


app.command("dataset")(dataset_command)
app.command("video")(video_command)
app.command("merge")(merge_command)


def main() -> None:
    """Entry point of the ``ifm-infer`` console script."""
    sys.exit(run_app(app))
