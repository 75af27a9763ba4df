"""The whole upload: check the zip, sign in, pick the phase, upload, create the submission, wait.

:func:`plan_submission` lists the requests without sending any (``--dry-run``);
:func:`submit_zip` sends them; :func:`wait_for_evaluation` polls until the server has scored the
submission or a time limit passes.
"""

from __future__ import annotations

import datetime
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import load_results
from instanceformer.core.formats.manifest import file_sha256
from instanceformer.submit.codalab import CodaLabClient, PhaseInfo, SubmissionState
from instanceformer.submit.competitions import Competition
from instanceformer.submit.credentials import Credentials
from instanceformer.submit.endpoints import (
    LOGIN_PATH,
    phases_path,
    submit_page_path,
    upload_slot_path,
)
from instanceformer.submit.errors import CodaLabError, PhaseClosedError, SubmissionFailedError
from instanceformer.submit.transport import check_url

# The site's own uploader refuses larger files.
MAX_UPLOAD_BYTES = 1 << 30
MAX_DESCRIPTION_CHARACTERS = 256


@dataclass(frozen=True)
class SubmissionTarget:
    """Where a zip goes: the competition (id and server possibly overridden), phase and description."""

    competition: Competition
    competition_id: int
    base_url: str
    phase: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", check_url(self.base_url.rstrip("/"), "--base-url"))
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
        return self.base_url + submit_page_path(self.competition_id)


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the upload, as ``--dry-run`` shows it."""

    method: str
    url: str
    sends: str


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


def plan_submission(
    target: SubmissionTarget,
    summary: ZipSummary,
    credentials_from: str | None,
    wait: bool,
    poll_interval_s: float,
) -> list[PlannedRequest]:
    """The requests :func:`submit_zip` (and, with ``wait``, the polling) would send, without sending them."""
    base, competition_id = target.base_url, target.competition_id
    credentials = (
        f"from {credentials_from}" if credentials_from else "NOT FOUND: set CODALAB_USERNAME/PASSWORD"
    )
    phase = target.phase or "the open phase"
    plan = [
        PlannedRequest("GET", base + LOGIN_PATH, "nothing (reads the CSRF token of the sign-in form)"),
        PlannedRequest("POST", base + LOGIN_PATH, f"login, password ({credentials}), csrfmiddlewaretoken"),
        PlannedRequest("GET", base + phases_path(competition_id), f"nothing (looks up {phase})"),
        PlannedRequest("POST", base + upload_slot_path(competition_id), "nothing (asks for an upload URL)"),
        PlannedRequest(
            "PUT",
            "<the upload URL from the previous answer>",
            f"{summary.path.name}: {summary.size_bytes} bytes, {summary.num_tracks} tracks, "
            f"sha256 {summary.sha256[:16]}...",
        ),
        PlannedRequest(
            "POST",
            f"{base}/api/competition/{competition_id}/submission?description=...&phase_id=<phase id>",
            f"id=<tracking id>, name={summary.path.name}, type=application/zip, size={summary.size_bytes}; "
            f"description {target.description!r}",
        ),
    ]
    if wait:
        plan.append(
            PlannedRequest(
                "GET",
                f"{base}/api/competition/{competition_id}/submission/<submission id>",
                f"nothing (every {poll_interval_s:g} s until the status is final)",
            )
        )
    return plan


def submit_zip(
    client: CodaLabClient,
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
    report(f"submitting to {phase.describe()} of competition {target.competition_id}")
    slot = client.request_upload_slot(target.competition_id)
    client.upload(slot, summary.path, on_progress)
    report(f"uploaded {summary.path.name} ({summary.size_bytes} bytes)")
    state = client.create_submission(
        target.competition_id, phase.phase_id, slot, summary.path, target.description
    )
    number = f" (number {state.submission_number})" if state.submission_number is not None else ""
    report(f"created submission {state.submission_id}{number}: {state.status}")
    return state


def wait_for_evaluation(
    client: CodaLabClient,
    target: SubmissionTarget,
    state: SubmissionState,
    *,
    poll_interval_s: float = 15.0,
    timeout_s: float = 7200.0,
    on_status: Callable[[SubmissionState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SubmissionState:
    """Poll the submission until it is finished; SubmissionFailedError when it fails or times out."""
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
    if state.failed:
        details = f": {state.details}" if state.details else ""
        raise SubmissionFailedError(
            f"submission {state.submission_id} {state.status} on the server{details} (see {target.page_url})"
        )
    return state
