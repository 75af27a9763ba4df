"""What every evaluation-server client offers: phases, the upload, the submission and its outcome.

:class:`~instanceformer.submit.codalab.CodaLabClient` (CodaLab Competitions v1.x) and
:class:`~instanceformer.submit.codabench.CodabenchClient` implement :class:`SubmissionServer`, so the
workflow (:mod:`instanceformer.submit.workflow`) runs the same steps against either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from instanceformer.submit.credentials import Credentials

CODALAB = "codalab"
CODABENCH = "codabench"
SERVER_KINDS = (CODALAB, CODABENCH)

STATUS_FINISHED = "finished"
STATUSES_FAILED = ("failed", "cancelled")


@dataclass(frozen=True)
class PhaseInfo:
    """A phase of a competition as the server lists it (fields the server omits are None)."""

    phase_id: int | None
    number: int | None = None
    label: str | None = None
    start_date: str | None = None
    is_active: bool | None = None

    def describe(self) -> str:
        """``phase 12638 'Validation'`` (the parts that are known)."""
        name = f" '{self.label}'" if self.label else ""
        number = f" (number {self.number})" if self.number is not None else ""
        return f"phase {self.phase_id if self.phase_id is not None else '?'}{name}{number}"


@dataclass(frozen=True)
class SubmissionState:
    """A submission as the server reports it; ``scores`` and ``error_log`` once it is done."""

    submission_id: int
    status: str
    submission_number: int | None = None
    details: str | None = None
    scores: tuple[tuple[str, float], ...] = ()
    error_log: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        """True once the server has scored the submission."""
        return self.status.casefold() == STATUS_FINISHED

    @property
    def failed(self) -> bool:
        """True when the server's evaluation failed or was cancelled."""
        return self.status.casefold() in STATUSES_FAILED

    @property
    def done(self) -> bool:
        """True once the status will not change any more."""
        return self.finished or self.failed


class SubmissionServer(Protocol):
    """One signed-in session with an evaluation server."""

    base_url: str
    kind: str

    def login(self, credentials: Credentials) -> None:
        """Sign in; LoginError when the server does not accept the credentials."""
        ...

    def phases(self, competition_id: int) -> list[PhaseInfo]:
        """The competition's phases, with their ids and whether they take submissions when known."""
        ...

    def check_can_submit(self, competition_id: int, phase: PhaseInfo) -> None:
        """Ask the server whether this account may submit to ``phase`` now, when it can tell."""
        ...

    def send_zip(
        self,
        competition_id: int,
        zip_path: Path,
        description: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Upload the zip to the server's storage; return the server's reference to it."""
        ...

    def create_submission(
        self, competition_id: int, phase_id: int, file_reference: str, zip_path: Path, description: str
    ) -> SubmissionState:
        """Turn the uploaded zip into a submission to ``phase_id``."""
        ...

    def submission_state(self, competition_id: int, submission_id: int) -> SubmissionState:
        """The current status of one of the account's submissions."""
        ...

    def scores(self, competition_id: int, submission_id: int) -> tuple[tuple[str, float], ...]:
        """The scores of a finished submission (empty when the server shows none to the API)."""
        ...

    def error_log(self, competition_id: int, submission_id: int) -> tuple[str, ...]:
        """The lines of the evaluation's error output (empty when there is none to read)."""
        ...

    def page_url(self, competition_id: int) -> str:
        """The competition's web page, where the submission and its scores show up."""
        ...
