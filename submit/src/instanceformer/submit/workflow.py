"""The whole upload: check the zip, sign in, pick the phase, upload, create the submission, wait.

:func:`submit_zip` sends the requests through a ``SubmissionServer`` (CodaLab or Codabench, see
:mod:`instanceformer.submit.server_protocol`); :func:`wait_for_evaluation` polls until the server has
scored the submission or a time limit passes, then reads the scores or the tail of the error log.
:mod:`instanceformer.submit.plans` lists the requests without sending any (``--dry-run``).
"""

from __future__ import annotations

import datetime
import logging
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import load_results
from instanceformer.core.formats.manifest import file_sha256
from instanceformer.submit.competitions import Competition
from instanceformer.submit.credentials import Credentials
from instanceformer.submit.errors import CodaLabError, PhaseClosedError, SubmissionFailedError
from instanceformer.submit.server_protocol import (
    CODABENCH,
    SERVER_KINDS,
    PhaseInfo,
    SubmissionServer,
    SubmissionState,
)
from instanceformer.submit.transport import check_url, one_line

logger = logging.getLogger(__name__)

# The CodaLab site's own uploader refuses larger files.
MAX_UPLOAD_BYTES = 1 << 30
MAX_DESCRIPTION_CHARACTERS = 256


@dataclass(frozen=True)
class SubmissionTarget:
    """Where a zip goes: the competition (id, server kind and URL possibly overridden), phase, description."""

    competition: Competition
    competition_id: int
    base_url: str
    phase: str | None = None
    description: str = ""
    server: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", check_url(self.base_url.rstrip("/"), "--base-url"))
        object.__setattr__(self, "server", self.server or self.competition.server)
        if self.server not in SERVER_KINDS:
            raise UserError(f"--server: expected one of {', '.join(SERVER_KINDS)}, got {self.server!r}")
        if self.competition_id <= 0:
            raise UserError(f"--competition-id: expected a positive integer, got {self.competition_id}")
        if len(self.description) > MAX_DESCRIPTION_CHARACTERS:
            raise UserError(
                f"--description: expected at most {MAX_DESCRIPTION_CHARACTERS} characters "
                f"(the server's limit), got {len(self.description)}"
            )

    @property
    def page_url(self) -> str:
        """The competition's page, where the submission and its scores show up."""
        tail = "/" if self.server == CODABENCH else ""
        return f"{self.base_url}/competitions/{self.competition_id}{tail}"


@dataclass(frozen=True)
class SelectedPhase:
    """The phase a submission goes to: its id (always known) and what the server says about it."""

    phase_id: int
    info: PhaseInfo

    def describe(self) -> str:
        """``phase 12638 'Validation' (number 2)``."""
        return self.info.describe()


@dataclass(frozen=True)
class ZipSummary:
    """What is uploaded: the file, its size in bytes, its SHA-256 and the number of tracks."""

    path: Path
    size_bytes: int
    sha256: str
    num_tracks: int


def summarize_zip(path: str | Path) -> ZipSummary:
    """Check that ``path`` is a results zip the server can read and summarise it.

    FormatError when it is not a zip of one ``results.json`` holding a results list; UserError when
    it is larger than the site's upload limit.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise FormatError(path, None, None, "expected a zip archive (make one with 'ifm-submit pack')")
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UserError(f"{path}: {size} bytes, the server accepts at most {MAX_UPLOAD_BYTES} bytes")
    num_tracks = len(load_results(path))
    return ZipSummary(path, size, file_sha256(path), num_tracks)


def _phase_date(phase: PhaseInfo) -> datetime.date | None:
    """The start date of a phase (the server writes ``YYYY-MM-DD``), or None."""
    if phase.start_date is None:
        return None
    try:
        return datetime.date.fromisoformat(phase.start_date[:10])
    except ValueError:
        return None


def _open_phase(phases: Sequence[PhaseInfo], today: datetime.date) -> PhaseInfo:
    """The phase open now: the one marked active, else the last one that has started."""
    active = [phase for phase in phases if phase.is_active]
    if len(active) == 1:
        return active[0]
    if phases and all(phase.is_active is False for phase in phases):
        listed = ", ".join(phase.describe() for phase in phases)
        raise PhaseClosedError(
            f"no phase of the competition takes submissions now (the server lists: {listed})"
        )
    if not active and all(phase.is_active is None for phase in phases):
        started = [phase for phase in phases if (date := _phase_date(phase)) is not None and date <= today]
        if started:
            return max(started, key=lambda phase: (_phase_date(phase), phase.number or 0))
    listed = ", ".join(phase.describe() for phase in phases) or "none"
    raise UserError(f"cannot tell which phase is open (the server lists: {listed}); choose one with --phase")


def resolve_phase(
    phases: Sequence[PhaseInfo] | None, requested: str | None, today: datetime.date | None = None
) -> SelectedPhase:
    """The phase to submit to.

    ``requested`` is a phase id, a phase number or a phase label (case-insensitive); without it the
    open phase is chosen. ``phases`` is None when the server's list could not be read: then only a
    numeric ``requested`` (taken as the phase id) works. UserError when nothing matches, when the
    server lists no ids, or when the phase is marked closed.
    """
    today = today or datetime.date.today()
    requested = requested.strip() if requested else None
    if phases is None:
        if requested is not None and requested.isdigit():
            return SelectedPhase(int(requested), PhaseInfo(phase_id=int(requested)))
        raise UserError("the server's phase list is not readable; pass the phase id with --phase ID")
    if requested is None:
        chosen = _open_phase(phases, today)
    elif requested.isdigit():
        number = int(requested)
        by_id = [phase for phase in phases if phase.phase_id == number]
        by_number = [phase for phase in phases if phase.number == number]
        chosen = (by_id or by_number or [PhaseInfo(phase_id=number)])[0]
    else:
        matches = [phase for phase in phases if (phase.label or "").casefold() == requested.casefold()]
        if not matches:
            labels = ", ".join(repr(phase.label) for phase in phases if phase.label) or "none"
            raise UserError(f"--phase: no phase named {requested!r} (the server lists {labels})")
        chosen = matches[0]
    if chosen.phase_id is None:
        raise UserError(
            f"the server does not list the id of {chosen.describe()}; pass it with --phase ID "
            "(the number in the phase's link on the competition's Participate page)"
        )
    if chosen.is_active is False:
        raise PhaseClosedError(f"{chosen.describe()} is closed for submissions; choose another with --phase")
    return SelectedPhase(chosen.phase_id, chosen)


def submit_zip(
    client: SubmissionServer,
    target: SubmissionTarget,
    summary: ZipSummary,
    credentials: Credentials,
    *,
    on_step: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SubmissionState:
    """Sign in, pick the phase, upload the zip and create the submission; return its first state."""
    report = on_step or (lambda message: None)
    client.login(credentials)
    report(f"signed in at {client.base_url} (credentials from {credentials.source})")
    try:
        phases: list[PhaseInfo] | None = client.phases(target.competition_id)
    except CodaLabError:
        if target.phase is None or not target.phase.strip().isdigit():
            raise
        phases = None
    phase = resolve_phase(phases, target.phase)
    client.check_can_submit(target.competition_id, phase.info)
    report(f"submitting to {phase.describe()} of competition {target.competition_id}")
    reference = client.send_zip(target.competition_id, summary.path, target.description, on_progress)
    report(f"uploaded {summary.path.name} ({summary.size_bytes} bytes)")
    state = client.create_submission(
        target.competition_id, phase.phase_id, reference, summary.path, target.description
    )
    number = f" (number {state.submission_number})" if state.submission_number is not None else ""
    report(f"created submission {state.submission_id}{number}: {state.status}")
    return state


def _with_outcome(
    client: SubmissionServer, target: SubmissionTarget, state: SubmissionState
) -> SubmissionState:
    """``state`` with the scores of a finished submission or the error log of a failed one.

    Either may be unavailable (not on the leaderboard, output hidden): then it stays empty.
    """
    try:
        if state.finished and not state.scores:
            return replace(state, scores=client.scores(target.competition_id, state.submission_id))
        if state.failed:
            return replace(state, error_log=client.error_log(target.competition_id, state.submission_id))
    except CodaLabError as problem:
        logger.debug("could not read the outcome of submission %d: %s", state.submission_id, problem)
    return state


def wait_for_evaluation(
    client: SubmissionServer,
    target: SubmissionTarget,
    state: SubmissionState,
    *,
    poll_interval_s: float = 15.0,
    timeout_s: float = 7200.0,
    on_status: Callable[[SubmissionState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SubmissionState:
    """Poll the submission until it is done and return it with its scores.

    SubmissionFailedError when the evaluation fails (with the server's details and the last line of
    its error log; the log's tail is on the error) or does not finish within ``timeout_s``.
    """
    started = clock()
    while not state.done:
        if clock() - started > timeout_s:
            raise SubmissionFailedError(
                f"submission {state.submission_id} is still '{state.status}' after {timeout_s:g} s; "
                f"follow it on {target.page_url}"
            )
        sleep(poll_interval_s)
        state = client.submission_state(target.competition_id, state.submission_id)
        if on_status is not None:
            on_status(state)
    state = _with_outcome(client, target, state)
    if state.failed:
        details = f": {state.details}" if state.details else ""
        log = f"; server log: {one_line(state.error_log[-1])}" if state.error_log else ""
        raise SubmissionFailedError(
            f"submission {state.submission_id} {state.status} on the server{details}{log} "
            f"(see {target.page_url})",
            state.error_log,
        )
    return state
