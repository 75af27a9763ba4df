"""``ifm-submit competitions --check``: ask each server whether a competition is reachable and open.

Only public, unauthenticated requests are sent: CodaLab's phase list and competition page, Codabench's
competition object. A CodaLab server can refuse every submission with a server-wide switch that its API
does not show (codalab.lisn.upsaclay.fr since 2026-01-20), so an open CodaLab phase means "open by its
schedule".
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from instanceformer.core.errors import UserError
from instanceformer.submit.clients import open_client
from instanceformer.submit.competitions import Competition
from instanceformer.submit.retry import RetryPolicy

CHECK_TIMEOUT_S = 10.0
_MAX_PARALLEL_CHECKS = 8


@dataclass(frozen=True)
class CheckResult:
    """What asking the server about one competition gave.

    ``open_phases`` is None when the server could not be asked (``problem`` says why).
    """

    competition: Competition
    open_phases: tuple[str, ...] | None
    problem: str | None = None

    @property
    def reachable(self) -> bool:
        """True when the server answered with the competition's phases."""
        return self.open_phases is not None


def check_competition(competition: Competition, timeout_s: float = CHECK_TIMEOUT_S) -> CheckResult:
    """Ask the competition's server for its phases, once, without signing in."""
    try:
        client = open_client(
            competition.server, competition.base_url, retry=RetryPolicy(attempts=1), timeout_s=timeout_s
        )
        phases = client.phases(competition.competition_id)
    except UserError as problem:
        message = str(problem)
        where, _, reason = message.partition(": ")
        return CheckResult(competition, None, reason if where.startswith("http") and reason else message)
    open_phases = tuple(
        phase.label or f"phase {phase.phase_id if phase.phase_id is not None else '?'}"
        for phase in phases
        if phase.is_active
    )
    return CheckResult(competition, open_phases)


def check_competitions(
    competitions: Sequence[Competition], timeout_s: float = CHECK_TIMEOUT_S
) -> list[CheckResult]:
    """:func:`check_competition` for each competition (a few at a time), in the given order."""
    if not competitions:
        return []
    workers = min(_MAX_PARALLEL_CHECKS, len(competitions))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda competition: check_competition(competition, timeout_s), competitions))


def check_summary(results: Sequence[CheckResult]) -> str:
    """One line on what the check established."""
    reachable = [result for result in results if result.reachable]
    if not reachable:
        return (
            f"could not check: no server answered for any of the {len(results)} competitions (no network "
            "access?); the 'takes submissions (last known)' column comes from the cited sources, not verified"
        )
    open_now = [result for result in reachable if result.open_phases]
    return (
        f"{len(reachable)} of {len(results)} reachable, {len(open_now)} with a phase open by its schedule; "
        "the rest were not checked"
        if len(reachable) < len(results)
        else f"all {len(results)} reachable, {len(open_now)} with a phase open by its schedule"
    )
