"""Rich tables of ``ifm-submit``: validation reports, competitions, checks, upload plans, submissions."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from instanceformer.submit.availability import CheckResult
from instanceformer.submit.competitions import Competition
from instanceformer.submit.plans import PlannedRequest
from instanceformer.submit.server_protocol import SubmissionState
from instanceformer.submit.validation import ValidationReport
from instanceformer.submit.workflow import SubmissionTarget

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


def _accepts(competition: Competition) -> str:
    """``yes``, ``no`` or ``unknown``: whether the competition took submissions as last known."""
    if competition.accepts_submissions is None:
        return "unknown"
    return "yes" if competition.accepts_submissions else "no"


def competitions_table(competitions: Sequence[Competition]) -> Table:
    """The known competitions: key, dataset, server, base URL, id, cited phases, last known state."""
    table = Table(title="Known competitions (ids as cited by public sources, not verified)")
    table.add_column("key", no_wrap=True)
    table.add_column("dataset")
    table.add_column("server", no_wrap=True)
    table.add_column("base URL", overflow="fold")
    table.add_column("id", no_wrap=True)
    table.add_column("phases (cited ids)")
    table.add_column("takes submissions (last known)")
    for competition in competitions:
        phases = ", ".join(
            f"{phase.phase_id}" + (f" {phase.label}" if phase.label else "") for phase in competition.phases
        )
        table.add_row(
            competition.key,
            escape(competition.title),
            competition.server,
            competition.base_url,
            str(competition.competition_id),
            phases or "from the server",
            _accepts(competition),
        )
    return table


def print_competition_sources(console: Console, competitions: Sequence[Competition]) -> None:
    """Per competition: its last known state, where its id and phase ids come from, and notes."""
    console.print("Sources (public material; none of it was checked against a live server):")
    for competition in competitions:
        lines = [f"last known: {competition.last_known}"]
        lines.extend(f"id: {source}" for source in competition.sources)
        lines.extend(f"phase {phase.phase_id}: {phase.source}" for phase in competition.phases)
        if competition.note:
            lines.append(f"note: {competition.note}")
        console.print(f"[bold]{competition.key}[/bold] ({competition.competition_id})", highlight=False)
        for line in lines:
            console.print(f"  {escape(line)}", soft_wrap=True, highlight=False)


def check_table(results: Sequence[CheckResult]) -> Table:
    """What ``--check`` found for each competition: reachable or not, and its open phases."""
    table = Table(title="Asked the servers now")
    table.add_column("key", no_wrap=True)
    table.add_column("server")
    table.add_column("reachable", no_wrap=True)
    table.add_column("open now")
    for result in results:
        competition = result.competition
        where = f"{competition.base_url}/competitions/{competition.competition_id}"
        if not result.reachable:
            table.add_row(competition.key, where, "no", escape(f"not checked: {result.problem}"))
            continue
        opened = ", ".join(result.open_phases or ()) or "no phase open"
        table.add_row(competition.key, where, "yes", escape(opened))
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
    """The submission's id, number, status and scores, and where to see them."""
    table = Table(title="Submission", show_header=False)
    table.add_column("item")
    table.add_column("value")
    table.add_row("competition", f"{target.competition.title} ({target.competition_id}, {target.server})")
    table.add_row("submission id", str(state.submission_id))
    if state.submission_number is not None:
        table.add_row("number", str(state.submission_number))
    table.add_row("status", state.status)
    if state.details:
        table.add_row("details", escape(state.details))
    for name, value in state.scores:
        table.add_row(escape(name), f"{value:g}")
    if state.finished and not state.scores:
        table.add_row("scores", "not given to the API (not on the leaderboard?): see the page")
    table.add_row("page", target.page_url)
    return table


def print_error_log(console: Console, lines: Sequence[str]) -> None:
    """The tail of the server's error output, as the server wrote it."""
    if not lines:
        return
    console.print(f"[red]server error log[/red] (last {len(lines)} lines):")
    for line in lines:
        console.print(f"  {escape(line)}", soft_wrap=True, highlight=False)
