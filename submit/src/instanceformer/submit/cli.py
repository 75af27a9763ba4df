"""Command-line interface of ``ifm-submit``."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from instanceformer.core.cli import create_app, run_app
from instanceformer.submit.codalab import CodaLabClient, SubmissionState
from instanceformer.submit.competitions import get_competition
from instanceformer.submit.credentials import credentials_source, find_credentials
from instanceformer.submit.ground_truth import load_ground_truth
from instanceformer.submit.packing import pack_results
from instanceformer.submit.reports import competitions_table, plan_table, print_validation, submission_table
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.validation import InvalidResultsError, validate_results
from instanceformer.submit.workflow import (
    SubmissionTarget,
    plan_submission,
    submit_zip,
    summarize_zip,
    wait_for_evaluation,
)

app = create_app(
    "ifm-submit", "instanceformer-submit", "Validate, pack and upload results to the evaluation servers."
)

GT_HELP = (
    "Annotation JSON of the evaluated split (valid/test files without annotations work) or its manifest.json."
)


def _check_results(console: Console, results: Path, gt: Path) -> None:
    """Validate ``results`` against the set of ``gt``; print the report; InvalidResultsError on problems."""
    ground_truth = load_ground_truth(gt)
    report = validate_results(results, ground_truth.dataset)
    print_validation(console, report, ground_truth.warnings)
    if not report.ok:
        raise InvalidResultsError(report)


@app.command()
def validate(
    results: Path = typer.Argument(..., help="results.json or a results zip."),
    gt: Path = typer.Option(..., "--gt", help=GT_HELP),
) -> None:
    """Check results against a video set: everything the server checks, all problems at once."""
    console = Console()
    _check_results(console, results, gt)
    console.print(f"[green]ok[/green]: {results} is ready for the server")


@app.command()
def pack(
    results: Path = typer.Argument(..., help="results.json written by ifm-infer."),
    out: Path = typer.Option(..., "--out", help="The zip to write (one member results.json)."),
    gt: Path | None = typer.Option(None, "--gt", help=f"Validate first. {GT_HELP}"),
) -> None:
    """Write the zip the servers take: one member results.json at its root, deterministic bytes."""
    console = Console()
    dataset, gt_warnings = None, ()
    if gt is not None:
        ground_truth = load_ground_truth(gt)
        dataset, gt_warnings = ground_truth.dataset, ground_truth.warnings
    try:
        packed = pack_results(results, out, dataset)
    except InvalidResultsError as failure:
        print_validation(console, failure.report, gt_warnings)
        raise
    if packed.report is not None:
        print_validation(console, packed.report, gt_warnings)
    console.print(
        f"wrote {packed.path}: {packed.num_tracks} tracks, {packed.size_bytes} bytes, sha256 {packed.sha256}"
    )


@app.command()
def competitions() -> None:
    """List the known CodaLab competitions (override with --competition-id / --base-url)."""
    Console().print(competitions_table())


def _upload_progress(console: Console) -> Progress:
    """A progress bar in bytes for the upload."""
    return Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@app.command()
def codalab(
    results_zip: Path = typer.Argument(..., help="The results zip (see 'ifm-submit pack')."),
    competition: str = typer.Option(..., "--competition", help="ytvis19, ytvis21, ytvis22 or ovis."),
    competition_id: int | None = typer.Option(None, "--competition-id", help="Override the competition id."),
    phase: str | None = typer.Option(
        None, "--phase", help="Phase label, id or number (default: the phase open now)."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="Override the server, e.g. https://host."),
    description: str = typer.Option("", "--description", help="Shown with the submission on the site."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the server has scored the submission."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show the requests; send nothing."),
    gt: Path | None = typer.Option(None, "--gt", help=f"Validate first. {GT_HELP}"),
    poll_interval: float = typer.Option(15.0, "--poll-interval", min=0.01, help="Seconds between polls."),
    wait_timeout: float = typer.Option(7200.0, "--wait-timeout", min=0.0, help="Give up waiting after this."),
    attempts: int = typer.Option(4, "--attempts", min=1, help="Tries per request on transient failures."),
) -> None:
    """Upload a results zip to CodaLab with credentials from CODALAB_USERNAME/CODALAB_PASSWORD or ~/.netrc."""
    console = Console()
    entry = get_competition(competition)
    target = SubmissionTarget(
        competition=entry,
        competition_id=competition_id if competition_id is not None else entry.competition_id,
        base_url=base_url or entry.base_url,
        phase=phase,
        description=description,
    )
    if gt is not None:
        _check_results(console, results_zip, gt)
    summary = summarize_zip(results_zip)
    host = urlsplit(target.base_url).hostname or ""
    if dry_run:
        plan = plan_submission(target, summary, credentials_source(host), wait, poll_interval)
        console.print(plan_table(target, plan))
        console.print("dry run: nothing was sent")
        return
    credentials = find_credentials(host)
    client = CodaLabClient(target.base_url, retry=RetryPolicy(attempts=attempts))
    with _upload_progress(console) as progress:
        task = progress.add_task("upload", total=summary.size_bytes)
        state = submit_zip(
            client,
            target,
            summary,
            credentials,
            on_step=progress.console.print,
            on_progress=lambda sent, total: progress.update(task, completed=sent, total=total),
        )
    if wait:
        with console.status(f"waiting for the server to score submission {state.submission_id}") as status:

            def show(current: SubmissionState) -> None:
                status.update(f"submission {current.submission_id}: {current.status}")

            state = wait_for_evaluation(
                client, target, state, poll_interval_s=poll_interval, timeout_s=wait_timeout, on_status=show
            )
    console.print(submission_table(target, state))


def main() -> None:
    """Entry point of the ``ifm-submit`` console script."""
    sys.exit(run_app(app))
