"""A client for the submission API of CodaLab Competitions v1.x (see :mod:`instanceformer.submit.endpoints`).

It signs in with a Django session (the CSRF token of the sign-in form, then the session cookie), reads
the phases (the phase list, and the competition page for their ids), checks the account's
participation, asks for an upload slot, uploads the zip to the pre-signed storage URL, creates the
submission for a phase, reads its status and, once it is done, its score or its error output. A
session that expires meanwhile is renewed once with the same credentials. Errors are one line (closed
phase, used-up quota, wrong credentials, network failures) and never contain the password.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from instanceformer.submit.credentials import Credentials
from instanceformer.submit.endpoints import (
    LOGIN_PATH,
    create_submission_path,
    participation_path,
    phases_path,
    score_path,
    stderr_path,
    submission_path,
    submit_page_path,
    upload_slot_path,
)
from instanceformer.submit.errors import (
    CodaLabError,
    LoginError,
    PhaseClosedError,
    QuotaError,
)
from instanceformer.submit.json_fields import optional_float, optional_int, optional_str
from instanceformer.submit.login_form import CSRF_FIELD, find_csrf_token
from instanceformer.submit.phase_page import PagePhase, find_page_phases
from instanceformer.submit.phase_schedule import ScheduledPhase, active_flags, parse_day
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.server_protocol import CODALAB, PhaseInfo, SubmissionState
from instanceformer.submit.storage import ZIP_CONTENT_TYPE, log_tail, put_zip, read_log
from instanceformer.submit.transport import HttpClient, HttpResponse, check_url, one_line, redact_url

logger = logging.getLogger(__name__)

CSRF_COOKIE = "csrftoken"
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_EXPIRED_SESSION_DETAILS = ("credentials were not provided", "not authenticated")
_CLOSED_DETAILS = ("phase is closed", "has ended", "being migrated", "disabled by admins")


@dataclass(frozen=True)
class UploadSlot:
    """Where to upload the zip: a pre-signed storage URL (kept out of ``repr``) and its tracking id."""

    url: str = field(repr=False)
    tracking_id: str


def parse_phases(payload: Any, where: str, today: datetime.date | None = None) -> list[PhaseInfo]:
    """The phases of the phase list ``[{"end_date", "phases": [...]}]`` (or one such object).

    A phase's ``id`` and ``is_active`` are taken when the server lists them; otherwise activity follows
    the schedule (:mod:`instanceformer.submit.phase_schedule`) and the id stays None.
    """
    today = today or datetime.date.today()
    containers = payload if isinstance(payload, list) else [payload]
    phases = []
    for container in containers:
        if not isinstance(container, dict) or not isinstance(container.get("phases"), list):
            raise CodaLabError(f"{where}: expected a phase list ({{'phases': [...]}}), got something else")
        raw_phases = [raw for raw in container["phases"] if isinstance(raw, dict)]
        schedule = [
            ScheduledPhase(
                optional_int(raw.get("phasenumber")),
                parse_day(raw.get("start_date")),
                raw.get("phase_never_ends") is True,
            )
            for raw in raw_phases
        ]
        flags = active_flags(schedule, parse_day(container.get("end_date")), today)
        for raw, scheduled_active in zip(raw_phases, flags, strict=True):
            listed = raw.get("is_active")
            phases.append(
                PhaseInfo(
                    phase_id=optional_int(raw.get("id")),
                    number=optional_int(raw.get("phasenumber")),
                    label=optional_str(raw.get("label")),
                    start_date=optional_str(raw.get("start_date")),
                    is_active=listed if isinstance(listed, bool) else scheduled_active,
                )
            )
    return phases


def merge_page_phases(phases: list[PhaseInfo], page: list[PagePhase]) -> list[PhaseInfo]:
    """Fill in the phase ids (and the active marks) of the competition page.

    A phase is matched by its label, else by its place when both list the same number of phases.
    """
    by_label = {phase.label.casefold(): phase for phase in page if phase.label}
    same_length = len(page) == len(phases)
    merged = []
    for index, phase in enumerate(phases):
        match = by_label.get((phase.label or "").casefold()) or (page[index] if same_length else None)
        if match is None:
            merged.append(phase)
            continue
        merged.append(
            replace(
                phase,
                phase_id=phase.phase_id if phase.phase_id is not None else match.phase_id,
                label=phase.label or match.label or None,
                is_active=match.active,
            )
        )
    return merged


def parse_submission(payload: Any, where: str) -> SubmissionState:
    """A submission from the API's JSON object (``id``, ``status``, ``submission_number``, ...)."""
    if not isinstance(payload, dict) or optional_int(payload.get("id")) is None:
        raise CodaLabError(f"{where}: expected a submission object with an integer 'id'")
    details = optional_str(payload.get("status_details")) or optional_str(payload.get("exception_details"))
    return SubmissionState(
        submission_id=payload["id"],
        status=optional_str(payload.get("status")) or "unknown",
        submission_number=optional_int(payload.get("submission_number")),
        details=one_line(details) if details else None,
    )


class CodaLabClient:
    """One signed-in session with a CodaLab Competitions server at ``base_url``.

    ``timeout_s`` bounds every API request, ``upload_timeout_s`` every read/write of the upload;
    ``retry`` sets the retries of transient failures; ``sleep`` is injectable for tests.
    """

    kind = CODALAB

    def __init__(
        self,
        base_url: str,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        upload_timeout_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = check_url(base_url.rstrip("/"), "--base-url")
        self.host = urlsplit(self.base_url).hostname or ""
        self._site = HttpClient(timeout_s=timeout_s, retry=retry, sleep=sleep)
        self._storage = HttpClient(timeout_s=upload_timeout_s, retry=retry, use_cookies=False, sleep=sleep)
        self._credentials: Credentials | None = None

    def url(self, path: str) -> str:
        """The absolute URL of a server path."""
        return self.base_url + path

    def page_url(self, competition_id: int) -> str:
        """The competition's page, where the submission and its scores show up."""
        return self.url(submit_page_path(competition_id))

    def _post_headers(self, referer_path: str) -> dict[str, str]:
        """Headers of an API POST: the CSRF header, a same-origin Referer and the AJAX marker."""
        headers = {
            "Referer": self.url(referer_path),
            "Origin": self.base_url,
            "X-Requested-With": "XMLHttpRequest",
            "Accept": "application/json",
            "Content-Type": _FORM_CONTENT_TYPE,
        }
        token = self._site.cookie(CSRF_COOKIE, self.host)
        if token is not None:
            headers["X-CSRFToken"] = token
        return headers

    def login(self, credentials: Credentials) -> None:
        """Sign in with the site's form; LoginError when the server does not accept the credentials."""
        self._site.secrets = self._storage.secrets = (credentials.password,)
        login_url = self.url(LOGIN_PATH)
        page = self._site.request("GET", login_url, headers={"Accept": "text/html"})
        if page.status != 200:
            raise LoginError(f"{login_url}: expected the sign-in form, got HTTP {page.status}")
        token = find_csrf_token(page.body.decode("utf-8", "replace")) or self._site.cookie(
            CSRF_COOKIE, self.host
        )
        if token is None:
            raise LoginError(f"{login_url}: the sign-in page holds no CSRF token ({CSRF_FIELD})")
        form = urlencode(
            {CSRF_FIELD: token, "login": credentials.username, "password": credentials.password}
        ).encode("utf-8")
        headers = self._post_headers(LOGIN_PATH)
        headers["Accept"] = "text/html"
        answer = self._site.request("POST", login_url, body=form, headers=headers)
        location = answer.headers.get("Location", "")
        if answer.status in _REDIRECT_STATUSES and LOGIN_PATH not in location:
            logger.debug("signed in at %s", self.base_url)
            self._credentials = credentials
            return
        if answer.status == 200 or answer.status in _REDIRECT_STATUSES:
            raise LoginError(
                f"{login_url}: the server did not accept the username and password from {credentials.source}"
            )
        if answer.status == 403:
            raise LoginError(f"{login_url}: the server refused the sign-in form (HTTP 403, CSRF check)")
        raise LoginError(f"{login_url}: unexpected HTTP {answer.status} to the sign-in form")

    def _said(self, response: HttpResponse) -> str:
        """The server's message of an error answer, on one line, secrets redacted ('' when none)."""
        detail = response.detail()
        return one_line(detail, self._site.secrets) if detail else ""

    def _session_expired(self, response: HttpResponse) -> bool:
        """True when the API answered that the request carried no valid session."""
        said = self._said(response).lower()
        return response.status in (401, 403) and any(text in said for text in _EXPIRED_SESSION_DETAILS)

    def _api(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str | int] | None = None,
        referer_path: str | None = None,
        idempotent: bool = True,
        accept: str = "application/json",
    ) -> HttpResponse:
        """Send an API request; when the session has expired, sign in again once and resend it."""
        for attempt in range(2):
            if method == "GET":
                headers = {"Accept": accept}
                body = None
            else:
                headers = self._post_headers(referer_path or LOGIN_PATH)
                body = urlencode(form or {}).encode("utf-8")
            response = self._site.request(
                method, self.url(path), body=body, headers=headers, idempotent=idempotent
            )
            if attempt == 0 and self._credentials is not None and self._session_expired(response):
                logger.debug("the session expired; signing in again")
                self.login(self._credentials)
                continue
            return response
        raise AssertionError("unreachable: the loop always returns")

    def _error(self, response: HttpResponse, competition_id: int) -> CodaLabError:
        """The one-line error for an unexpected API answer."""
        where = redact_url(response.url)
        said = self._said(response)
        lowered = said.lower()
        if response.status in (401, 403):
            if any(text in lowered for text in _CLOSED_DETAILS):
                return PhaseClosedError(
                    f"{where}: the phase does not accept submissions now (server: {said})"
                )
            if "maximum number of submissions" in lowered:
                return QuotaError(f"{where}: submission quota used up (server: {said})")
            if any(text in lowered for text in _EXPIRED_SESSION_DETAILS) or "csrf" in lowered:
                return LoginError(f"{where}: the server did not accept the session (server: {said})")
            reason = f" (server: {said})" if said else ""
            return CodaLabError(
                f"{where}: permission denied{reason}; is this account registered and approved "
                f"for competition {competition_id}?"
            )
        if response.status == 404:
            return CodaLabError(
                f"{where}: not found (HTTP 404); check the competition id {competition_id} and --base-url"
            )
        reason = f": {said}" if said else ""
        return CodaLabError(f"{where}: HTTP {response.status}{reason}")

    def phases(self, competition_id: int) -> list[PhaseInfo]:
        """The phases of a competition; their ids come from the competition page when the list lacks them."""
        response = self._api("GET", phases_path(competition_id))
        if response.status != 200:
            raise self._error(response, competition_id)
        phases = parse_phases(response.json(), redact_url(response.url))
        if all(phase.phase_id is not None for phase in phases):
            return phases
        page = self._api("GET", submit_page_path(competition_id), accept="text/html")
        if page.status != 200:
            return phases
        return merge_page_phases(phases, find_page_phases(page.body.decode("utf-8", "replace")))

    def check_can_submit(self, competition_id: int, phase: PhaseInfo) -> None:
        """CodaLabError when the account is not an approved participant (``mystatus``); else nothing."""
        response = self._api("GET", participation_path(competition_id))
        payload = response.json_or_none() if response.status in (200, 400) else None
        status = optional_str(payload.get("status")) if isinstance(payload, dict) else None
        if response.status == 400 and isinstance(payload, dict) and status is None:
            raise CodaLabError(
                f"{self.page_url(competition_id)}: this account has not registered for competition "
                f"{competition_id}; register on its Participate tab first"
            )
        if status is not None and status != "approved":
            reason = optional_str(payload.get("reason")) if isinstance(payload, dict) else None
            because = f" ({one_line(reason)})" if reason else ""
            raise CodaLabError(
                f"{self.page_url(competition_id)}: this account's participation is '{status}'{because}; "
                "the organisers must approve it before it can submit"
            )

    def request_upload_slot(self, competition_id: int) -> UploadSlot:
        """Ask the competition for a pre-signed URL to upload a submission zip to."""
        response = self._api(
            "POST", upload_slot_path(competition_id), referer_path=submit_page_path(competition_id)
        )
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        payload = response.json()
        where = redact_url(response.url)
        if (
            not isinstance(payload, dict)
            or not optional_str(payload.get("url"))
            or not optional_str(payload.get("id"))
        ):
            raise CodaLabError(f"{where}: expected an upload slot {{'url', 'id'}}")
        url = check_url(payload["url"], f"{where}: upload URL")
        return UploadSlot(url=url, tracking_id=payload["id"])

    def upload(
        self, slot: UploadSlot, zip_path: Path, on_progress: Callable[[int, int], None] | None = None
    ) -> None:
        """PUT the zip's bytes to the slot's storage URL (no cookies go there)."""
        put_zip(self._storage, slot.url, zip_path, on_progress, {"x-ms-blob-type": "BlockBlob"})

    def send_zip(
        self,
        competition_id: int,
        zip_path: Path,
        description: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Ask for an upload slot and upload the zip there; return the slot's tracking id."""
        slot = self.request_upload_slot(competition_id)
        self.upload(slot, zip_path, on_progress)
        return slot.tracking_id

    def create_submission(
        self, competition_id: int, phase_id: int, file_reference: str, zip_path: Path, description: str
    ) -> SubmissionState:
        """Turn the uploaded blob (``file_reference``: the tracking id) into a submission to ``phase_id``."""
        form: dict[str, str | int] = {
            "id": file_reference,
            "name": zip_path.name,
            "type": ZIP_CONTENT_TYPE,
            "size": zip_path.stat().st_size,
        }
        response = self._api(
            "POST",
            create_submission_path(competition_id, phase_id, description),
            form=form,
            referer_path=submit_page_path(competition_id),
            idempotent=False,
        )
        if response.status >= 500:
            raise CodaLabError(
                f"{redact_url(response.url)}: HTTP {response.status} while creating the submission; it may "
                f"exist anyway: check {self.page_url(competition_id)} before submitting again"
            )
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))

    def submission_state(self, competition_id: int, submission_id: int) -> SubmissionState:
        """The current status of one of the participant's submissions."""
        response = self._api("GET", submission_path(competition_id, submission_id))
        if response.status != 200:
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))

    def scores(self, competition_id: int, submission_id: int) -> tuple[tuple[str, float], ...]:
        """The default leaderboard score (``get_score``); empty when not on the leaderboard."""
        response = self._api("GET", score_path(submission_id))
        if response.status != 200:
            return ()
        payload = response.json()
        score = optional_float(payload.get("score")) if isinstance(payload, dict) else None
        return (("score (leaderboard default)", score),) if score is not None else ()

    def error_log(self, competition_id: int, submission_id: int) -> tuple[str, ...]:
        """The tail of the scoring program's error output (``stderr.txt``); empty when unreadable."""
        response = self._api("GET", stderr_path(submission_id), accept="text/plain")
        if response.status in _REDIRECT_STATUSES:
            location = response.headers.get("Location", "")
            if not location:
                return ()
            return read_log(self._storage, urljoin(response.url, location), redact_url(response.url))
        if response.status != 200:
            return ()
        return log_tail(response.body.decode("utf-8", "replace"))
