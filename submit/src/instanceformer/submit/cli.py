"""Command-line interface of ``ifm-submit``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING
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

if TYPE_CHECKING:
    from instanceformer.submit.server_protocol import SubmissionState

app = create_app(
    "ifm-submit", "instanceformer-submit", "Validate, pack and upload results to the evaluation servers."
)

GT_HELP = (
    "Annotation JSON of the evaluated split (valid/test files without annotations work) or its manifest.json."
)


def _check_results(console: Console, results: Path, gt: Path) -> None:
    """Validate ``results`` against the set of ``gt``; print the report; InvalidResultsError on problems."""
    from instanceformer.submit.ground_truth import load_ground_truth
    from instanceformer.submit.reports import print_validation
    from instanceformer.submit.validation import InvalidResultsError, validate_results

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
    from instanceformer.submit.ground_truth import load_ground_truth
    from instanceformer.submit.packing import pack_results
    from instanceformer.submit.reports import print_validation
    from instanceformer.submit.validation import InvalidResultsError

    console = Console()
    dataset = None
    gt_warnings: tuple[str, ...] = ()
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
def competitions(
    check: bool = typer.Option(
        False, "--check", help="Ask each server now whether it is reachable and open."
    ),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds per server for --check."),
) -> None:
    """List the known competitions and the sources of their ids; --check asks the servers."""
    from instanceformer.submit.availability import check_competitions, check_summary
    from instanceformer.submit.competitions import COMPETITIONS
    from instanceformer.submit.reports import check_table, competitions_table, print_competition_sources

    console = Console()
    entries = list(COMPETITIONS.values())
    console.print(competitions_table(entries))
    print_competition_sources(console, entries)
    if not check:
        console.print("not checked against the servers: add --check to ask them")
        return
    results = check_competitions(entries, timeout_s=timeout)
    console.print(check_table(results))
    console.print(check_summary(results))


def _upload_progress(console: Console) -> Progress:
    """A progress bar in bytes for the upload (plain lines when the console is not a terminal)."""
    from instanceformer.core.runtime.progress import progress_display

    return progress_display(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command()
def upload(
    results_zip: Path = typer.Argument(..., help="The results zip (see 'ifm-submit pack')."),
    competition: str = typer.Option(
        ..., "--competition", help="A key of 'ifm-submit competitions', e.g. ytvis21 or ovis."
    ),
    server: str | None = typer.Option(
        None, "--server", help="Override the server kind: codalab or codabench."
    ),
    competition_id: int | None = typer.Option(None, "--competition-id", help="Override the competition id."),
    phase: str | None = typer.Option(
        None, "--phase", help="Phase label, id or number (default: the phase open now)."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="Override the server, e.g. https://host."),
    description: str = typer.Option("", "--description", help="Shown with the submission on the site."),
    wait: bool = typer.Option(False, "--wait", help="Wait until the server has scored the submission."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate and show the requests; send nothing (exit 2 when no credentials are found).",
    ),
    gt: Path | None = typer.Option(None, "--gt", help=f"Validate first. {GT_HELP}"),
    poll_interval: float = typer.Option(15.0, "--poll-interval", min=0.01, help="Seconds between polls."),
    wait_timeout: float = typer.Option(7200.0, "--wait-timeout", min=0.0, help="Give up waiting after this."),
    attempts: int = typer.Option(4, "--attempts", min=1, help="Tries per request on transient failures."),
) -> None:
    """Upload a results zip to CodaLab or Codabench; credentials from the environment or ~/.netrc.

    CodaLab reads CODALAB_USERNAME/CODALAB_PASSWORD, Codabench CODABENCH_USERNAME/CODABENCH_PASSWORD;
    without them, the 'machine <host>' entry of ~/.netrc.
    """
    from rich.markup import escape

    from instanceformer.core.errors import UserError
    from instanceformer.submit.clients import credential_names, open_client
    from instanceformer.submit.competitions import DEFAULT_BASE_URLS, get_competition, require_open
    from instanceformer.submit.credentials import credentials_source, find_credentials
    from instanceformer.submit.errors import SubmissionFailedError
    from instanceformer.submit.plans import plan_submission
    from instanceformer.submit.reports import plan_table, print_error_log, submission_table
    from instanceformer.submit.retry import RetryPolicy
    from instanceformer.submit.workflow import (
        SubmissionTarget,
        submit_zip,
        summarize_zip,
        wait_for_evaluation,
    )

    console = Console()
    entry = get_competition(competition)
    kind = server or entry.server
    if kind != entry.server and kind in DEFAULT_BASE_URLS and competition_id is None:
        raise UserError(
            f"--competition-id: required with --server {kind} ({entry.competition_id} is the {entry.server} "
            f"id of '{entry.key}')"
        )
    default_url = entry.base_url if kind == entry.server else DEFAULT_BASE_URLS.get(kind, entry.base_url)
    target = SubmissionTarget(
        competition=entry,
        competition_id=competition_id if competition_id is not None else entry.competition_id,
        base_url=base_url or default_url,
        phase=phase,
        description=description,
        server=kind,
    )
    if server is None and competition_id is None and base_url is None:
        try:
            require_open(entry)
        except UserError as closed:
            if not dry_run:
                raise
            console.print(f"[yellow]warning:[/yellow] {escape(str(closed))}", soft_wrap=True)
    if gt is not None:
        _check_results(console, results_zip, gt)
    summary = summarize_zip(results_zip)
    host = urlsplit(target.base_url).hostname or ""
    names = credential_names(target.server)
    if dry_run:
        source = credentials_source(host, names=names)
        console.print(
            plan_table(target, plan_submission(target, summary, source, names, wait, poll_interval))
        )
        console.print("dry run: nothing was sent")
        if source is None:
            try:
                find_credentials(host, names=names)
            except UserError as missing:
                raise UserError(f"dry run: the upload could not sign in to {host}: {missing}") from None
        return
    credentials = find_credentials(host, names=names)
    client = open_client(target.server, target.base_url, retry=RetryPolicy(attempts=attempts))
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

            try:
                state = wait_for_evaluation(
                    client,
                    target,
                    state,
                    poll_interval_s=poll_interval,
                    timeout_s=wait_timeout,
                    on_status=show,
                )
            except SubmissionFailedError as failure:
                print_error_log(console, failure.error_log)
                raise
    console.print(submission_table(target, state))


app.command("codalab", hidden=True, help="The former name of 'upload'.")(upload)


def main() -> None:
    """Entry point of the ``ifm-submit`` console script."""
    sys.exit(run_app(app))
