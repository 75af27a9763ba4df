"""Rich tables of ``ifm-submit``: validation reports, competitions, upload plans, submission states."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from instanceformer.submit.codalab import SubmissionState
from instanceformer.submit.competitions import COMPETITIONS
from instanceformer.submit.validation import ValidationReport
from instanceformer.submit.workflow import PlannedRequest, SubmissionTarget

PROBLEMS_SHOWN = 20


def validation_summary_table(report: ValidationReport) -> Table:
    """Counts of a validation: tracks, videos with results, problems and warnings."""
    table = Table(title="Results check", show_header=False)
    table.add_column("item")
    table.add_column("value")
    table.add_row("results", escape(report.source))
    table.add_row("tracks", str(report.num_tracks))
    table.add_row("videos with results", f"{report.num_videos_with_results} of {report.num_videos}")
    table.add_row("problems", str(len(report.problems)))
    table.add_row("warnings", str(len(report.warnings)))
    return table


def problems_table(report: ValidationReport, limit: int = PROBLEMS_SHOWN) -> Table:
    """The first ``limit`` problems, one row each (record, video id, what is wrong)."""
    shown = report.problems[:limit]
    title = f"Problems ({len(shown)} of {len(report.problems)} shown)"
    table = Table(title=title, show_lines=False)
    table.add_column("record", no_wrap=True)
    table.add_column("video_id", justify="right")
    table.add_column("problem")
    for problem in shown:
        video = str(problem.video_id) if problem.video_id is not None else "-"
        table.add_row(problem.record, video, escape(problem.message))
    return table


def print_validation(console: Console, report: ValidationReport, extra_warnings: Sequence[str] = ()) -> None:
    """Print the summary, the problems (first 20 and the count of the others) and the warnings."""
    console.print(validation_summary_table(report))
    if report.problems:
        console.print(problems_table(report))
        hidden = len(report.problems) - PROBLEMS_SHOWN
        if hidden > 0:
            console.print(f"... and {hidden} more problems")
    for warning in (*extra_warnings, *report.warnings):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)


def competitions_table() -> Table:
    """The known competitions: dataset key, name, id, server and known phases."""
    table = Table(title="CodaLab competitions")
    table.add_column("key", no_wrap=True)
    table.add_column("dataset")
    table.add_column("id", no_wrap=True)
    table.add_column("server", no_wrap=True)
    table.add_column("phases")
    table.add_column("note")
    for competition in COMPETITIONS.values():
        phases = ", ".join(
            f"{phase.phase_id}" + (f" ({phase.label})" if phase.label else "") for phase in competition.phases
        )
        table.add_row(
            competition.key,
            competition.title,
            str(competition.competition_id),
            competition.base_url,
            phases or "from the server",
            escape(competition.note),
        )
    return table


def plan_table(target: SubmissionTarget, plan: Sequence[PlannedRequest]) -> Table:
    """The requests a submission would send, in order."""
    table = Table(title=f"Dry run: {target.competition.title}, competition {target.competition_id}")
    table.add_column("step", justify="right")
    table.add_column("request", overflow="fold")
    table.add_column("sends")
    for step, request in enumerate(plan, start=1):
        table.add_row(str(step), escape(f"{request.method} {request.url}"), escape(request.sends))
    return table


def submission_table(target: SubmissionTarget, state: SubmissionState) -> Table:
    """The submission's id, number and status, and where to see its scores."""
    table = Table(title="Submission", show_header=False)
    table.add_column("item")
    table.add_column("value")
    table.add_row("competition", f"{target.competition.title} ({target.competition_id})")
    table.add_row("submission id", str(state.submission_id))
    if state.submission_number is not None:
        table.add_row("number", str(state.submission_number))
    table.add_row("status", state.status)
    if state.details:
        table.add_row("details", escape(state.details))
    table.add_row("scores", target.page_url)
    return table
