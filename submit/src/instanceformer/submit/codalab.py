"""A client for the submission API of CodaLab Competitions (see :mod:`instanceformer.submit.endpoints`).

It signs in with a Django session (the CSRF token of the sign-in form, then the session cookie),
asks the competition for an upload slot, uploads the zip to the pre-signed storage URL, creates the
submission for a phase and reads its status. Errors are one line (closed phase, used-up quota, wrong
credentials, network failures) and never contain the password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from instanceformer.submit.credentials import Credentials
from instanceformer.submit.endpoints import (
    LOGIN_PATH,
    SUBMISSION_STATUS_FINISHED,
    SUBMISSION_STATUSES_FAILED,
    create_submission_path,
    phases_path,
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
from instanceformer.submit.login_form import CSRF_FIELD, find_csrf_token
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.transport import HttpClient, HttpResponse, check_url, one_line, redact_url

logger = logging.getLogger(__name__)

CSRF_COOKIE = "csrftoken"
ZIP_CONTENT_TYPE = "application/zip"
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
_UPLOAD_CHUNK_BYTES = 1 << 20
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)


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
class UploadSlot:
    """Where to upload the zip: a pre-signed storage URL (kept out of ``repr``) and its tracking id."""

    url: str = field(repr=False)
    tracking_id: str


@dataclass(frozen=True)
class SubmissionState:
    """A submission as the server reports it."""

    submission_id: int
    status: str
    submission_number: int | None = None
    details: str | None = None

    @property
    def finished(self) -> bool:
        """True once the server has scored the submission."""
        return self.status == SUBMISSION_STATUS_FINISHED

    @property
    def failed(self) -> bool:
        """True when the server's evaluation failed or was cancelled."""
        return self.status in SUBMISSION_STATUSES_FAILED

    @property
    def done(self) -> bool:
        """True once the status will not change any more."""
        return self.finished or self.failed


def _optional_int(value: Any) -> int | None:
    """``value`` when it is an integer (bool excluded), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def parse_phases(payload: Any, where: str) -> list[PhaseInfo]:
    """The phases of the answer of the phase list: ``[{"phases": [...]}]`` or ``{"phases": [...]}``."""
    containers = payload if isinstance(payload, list) else [payload]
    phases = []
    for container in containers:
        if not isinstance(container, dict) or not isinstance(container.get("phases"), list):
            raise CodaLabError(f"{where}: expected a phase list ({{'phases': [...]}}), got something else")
        for raw in container["phases"]:
            if not isinstance(raw, dict):
                continue
            active = raw.get("is_active")
            phases.append(
                PhaseInfo(
                    phase_id=_optional_int(raw.get("id")),
                    number=_optional_int(raw.get("phasenumber")),
                    label=_optional_str(raw.get("label")),
                    start_date=_optional_str(raw.get("start_date")),
                    is_active=active if isinstance(active, bool) else None,
                )
            )
    return phases


def parse_submission(payload: Any, where: str) -> SubmissionState:
    """A submission from the API's JSON object (``id``, ``status``, ``submission_number``, ...)."""
    if not isinstance(payload, dict) or _optional_int(payload.get("id")) is None:
        raise CodaLabError(f"{where}: expected a submission object with an integer 'id'")
    details = _optional_str(payload.get("status_details")) or _optional_str(payload.get("exception_details"))
    return SubmissionState(
        submission_id=payload["id"],
        status=_optional_str(payload.get("status")) or "unknown",
        submission_number=_optional_int(payload.get("submission_number")),
        details=one_line(details) if details else None,
    )


def _file_chunks(path: Path, on_progress: Callable[[int, int], None] | None) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks, reporting (bytes sent, total bytes) after each."""
    total = path.stat().st_size
    sent = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_UPLOAD_CHUNK_BYTES):
            sent += len(chunk)
            yield chunk
            if on_progress is not None:
                on_progress(sent, total)


class CodaLabClient:
    """One signed-in session with a CodaLab Competitions server at ``base_url``.

    ``timeout_s`` bounds every API request, ``upload_timeout_s`` every read/write of the upload;
    ``retry`` sets the retries of transient failures; ``sleep`` is injectable for tests.
    """

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

    def url(self, path: str) -> str:
        """The absolute URL of a server path."""
        return self.base_url + path

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
            return
        if answer.status == 200 or answer.status in _REDIRECT_STATUSES:
            raise LoginError(
                f"{login_url}: the server did not accept the username and password from {credentials.source}"
            )
        if answer.status == 403:
            raise LoginError(f"{login_url}: the server refused the sign-in form (HTTP 403, CSRF check)")
        raise LoginError(f"{login_url}: unexpected HTTP {answer.status} to the sign-in form")

    def _error(self, response: HttpResponse, competition_id: int) -> CodaLabError:
        """The one-line error for an unexpected API answer."""
        where = redact_url(response.url)
        detail = response.detail()
        said = one_line(detail, self._site.secrets) if detail else ""
        lowered = said.lower()
        if response.status in (401, 403):
            if "phase is closed" in lowered or "has ended" in lowered or "being migrated" in lowered:
                return PhaseClosedError(
                    f"{where}: the phase does not accept submissions now (server: {said})"
                )
            if "maximum number of submissions" in lowered:
                return QuotaError(f"{where}: submission quota used up (server: {said})")
            if "credentials were not provided" in lowered or "csrf" in lowered:
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
        """The phases of a competition as the server lists them."""
        response = self._site.request(
            "GET", self.url(phases_path(competition_id)), headers={"Accept": "application/json"}
        )
        if response.status != 200:
            raise self._error(response, competition_id)
        return parse_phases(response.json(), redact_url(response.url))

    def request_upload_slot(self, competition_id: int) -> UploadSlot:
        """Ask the competition for a pre-signed URL to upload a submission zip to."""
        response = self._site.request(
            "POST",
            self.url(upload_slot_path(competition_id)),
            body=b"",
            headers=self._post_headers(submit_page_path(competition_id)),
        )
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        payload = response.json()
        where = redact_url(response.url)
        if (
            not isinstance(payload, dict)
            or not _optional_str(payload.get("url"))
            or not _optional_str(payload.get("id"))
        ):
            raise CodaLabError(f"{where}: expected an upload slot {{'url', 'id'}}")
        url = check_url(payload["url"], f"{where}: upload URL")
        return UploadSlot(url=url, tracking_id=payload["id"])

    def upload(
        self, slot: UploadSlot, zip_path: Path, on_progress: Callable[[int, int], None] | None = None
    ) -> None:
        """PUT the zip's bytes to the slot's storage URL (no cookies go there)."""
        size = zip_path.stat().st_size
        headers = {
            "Content-Type": ZIP_CONTENT_TYPE,
            "Content-Length": str(size),
            "x-ms-blob-type": "BlockBlob",
        }
        response = self._storage.request(
            "PUT", slot.url, body=lambda: _file_chunks(zip_path, on_progress), headers=headers
        )
        if not 200 <= response.status < 300:
            raise CodaLabError(
                f"{redact_url(slot.url)}: the storage server refused the upload (HTTP {response.status}); "
                "the upload URL may have expired: run the command again"
            )

    def create_submission(
        self, competition_id: int, phase_id: int, slot: UploadSlot, zip_path: Path, description: str
    ) -> SubmissionState:
        """Turn the uploaded blob into a submission to ``phase_id``."""
        form = urlencode(
            {
                "id": slot.tracking_id,
                "name": zip_path.name,
                "type": ZIP_CONTENT_TYPE,
                "size": zip_path.stat().st_size,
            }
        ).encode("utf-8")
        response = self._site.request(
            "POST",
            self.url(create_submission_path(competition_id, phase_id, description)),
            body=form,
            headers=self._post_headers(submit_page_path(competition_id)),
            idempotent=False,
        )
        if response.status >= 500:
            raise CodaLabError(
                f"{redact_url(response.url)}: HTTP {response.status} while creating the submission; it may "
                f"exist anyway: check {self.url(submit_page_path(competition_id))} before submitting again"
            )
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))

    def submission_state(self, competition_id: int, submission_id: int) -> SubmissionState:
        """The current status of one of the participant's submissions."""
        response = self._site.request(
            "GET",
            self.url(submission_path(competition_id, submission_id)),
            headers={"Accept": "application/json"},
        )
        if response.status != 200:
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))
