"""A client for the submission API of Codabench (see :mod:`instanceformer.submit.codabench_endpoints`).

It signs in for an API token, reads the competition's phases, asks whether the account may submit to
the chosen phase, creates a submission dataset (a pre-signed upload URL), uploads the zip there, marks
the upload complete, creates the submission, reads its status and, once it is done, its scores or the
tail of its error log. A token that is revoked meanwhile is renewed once with the same credentials.
Errors are one line and never contain the password or the token.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from instanceformer.submit.codabench_endpoints import (
    DATASETS_PATH,
    ERROR_LOG_NAMES,
    OPEN_PHASE_STATUS,
    SUBMISSION_DATA_TYPE,
    SUBMISSIONS_PATH,
    TOKEN_PATH,
    can_submit_path,
    competition_page_path,
    competition_path,
    submission_details_path,
    submission_path,
    upload_completed_path,
)
from instanceformer.submit.credentials import Credentials
from instanceformer.submit.errors import CodaLabError, LoginError, PhaseClosedError, QuotaError
from instanceformer.submit.json_fields import optional_float, optional_int, optional_str
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.server_protocol import CODABENCH, PhaseInfo, SubmissionState
from instanceformer.submit.storage import put_zip, read_log
from instanceformer.submit.transport import HttpClient, HttpResponse, check_url, one_line, redact_url

logger = logging.getLogger(__name__)

_JSON_CONTENT_TYPE = "application/json"
_EXPIRED_TOKEN_DETAILS = ("invalid token", "credentials were not provided", "token has expired")


def parse_competition_phases(payload: Any, where: str) -> list[PhaseInfo]:
    """The phases of a competition object (``{"phases": [{"id", "index", "name", "start", "status"}]}``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("phases"), list):
        raise CodaLabError(f"{where}: expected a competition with a phase list ({{'phases': [...]}})")
    phases = []
    for raw in payload["phases"]:
        if not isinstance(raw, dict):
            continue
        status = optional_str(raw.get("status"))
        phases.append(
            PhaseInfo(
                phase_id=optional_int(raw.get("id")),
                number=optional_int(raw.get("index")),
                label=optional_str(raw.get("name")),
                start_date=optional_str(raw.get("start")),
                is_active=status == OPEN_PHASE_STATUS if status is not None else None,
            )
        )
    return phases


def parse_submission(payload: Any, where: str) -> SubmissionState:
    """A submission from the API's JSON object (``id``, ``status``, ``status_details``, ``scores``)."""
    if not isinstance(payload, dict) or optional_int(payload.get("id")) is None:
        raise CodaLabError(f"{where}: expected a submission object with an integer 'id'")
    details = optional_str(payload.get("status_details"))
    return SubmissionState(
        submission_id=payload["id"],
        status=optional_str(payload.get("status")) or "unknown",
        details=one_line(details) if details else None,
        scores=parse_scores(payload.get("scores")),
    )


def parse_scores(raw_scores: Any) -> tuple[tuple[str, float], ...]:
    """``(column key, score)`` pairs of a submission's ``scores`` list (unreadable entries skipped)."""
    if not isinstance(raw_scores, list):
        return ()
    scores = []
    for raw in raw_scores:
        if not isinstance(raw, dict):
            continue
        key = optional_str(raw.get("column_key"))
        value = optional_float(raw.get("score"))
        if key is not None and value is not None:
            scores.append((key, value))
    return tuple(scores)


class CodabenchClient:
    """One signed-in (token) session with a Codabench server at ``base_url``.

    ``timeout_s`` bounds every API request, ``upload_timeout_s`` every read/write of the upload;
    ``retry`` sets the retries of transient failures; ``sleep`` is injectable for tests.
    """

    kind = CODABENCH

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
        self._site = HttpClient(timeout_s=timeout_s, retry=retry, use_cookies=False, sleep=sleep)
        self._storage = HttpClient(timeout_s=upload_timeout_s, retry=retry, use_cookies=False, sleep=sleep)
        self._credentials: Credentials | None = None
        self._token: str | None = None

    def url(self, path: str) -> str:
        """The absolute URL of a server path."""
        return self.base_url + path

    def page_url(self, competition_id: int) -> str:
        """The competition's page, where the submission and its scores show up."""
        return self.url(competition_page_path(competition_id))

    def _said(self, response: HttpResponse) -> str:
        """The server's message of an error answer, on one line, secrets redacted ('' when none)."""
        detail = response.detail()
        return one_line(detail, self._site.secrets) if detail else ""

    def login(self, credentials: Credentials) -> None:
        """Exchange the username and password for an API token; LoginError when they are refused."""
        self._site.secrets = self._storage.secrets = (credentials.password,)
        body = json.dumps({"username": credentials.username, "password": credentials.password}).encode()
        response = self._site.request(
            "POST",
            self.url(TOKEN_PATH),
            body=body,
            headers={"Content-Type": _JSON_CONTENT_TYPE, "Accept": _JSON_CONTENT_TYPE},
        )
        where = redact_url(response.url)
        if response.status == 400:
            said = self._said(response)
            reason = f" (server: {said})" if said else ""
            raise LoginError(
                f"{where}: the server did not accept the username and password from {credentials.source}"
                f"{reason}"
            )
        if response.status != 200:
            raise LoginError(f"{where}: unexpected HTTP {response.status} to the sign-in request")
        payload = response.json_or_none()
        token = optional_str(payload.get("token")) if isinstance(payload, dict) else None
        if token is None:
            raise LoginError(f"{where}: the answer holds no token")
        self._token = token
        self._credentials = credentials
        self._site.secrets = self._storage.secrets = (credentials.password, token)
        logger.debug("signed in at %s", self.base_url)

    def _token_expired(self, response: HttpResponse) -> bool:
        """True when the API answered that the token is not (or no longer) valid."""
        said = self._said(response).lower()
        return response.status in (401, 403) and any(text in said for text in _EXPIRED_TOKEN_DETAILS)

    def _api(self, method: str, path: str, *, payload: Any = None, idempotent: bool = True) -> HttpResponse:
        """Send an API request with the token; when the token was revoked, sign in again once and resend."""
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        for attempt in range(2):
            headers = {"Accept": _JSON_CONTENT_TYPE}
            if body is not None:
                headers["Content-Type"] = _JSON_CONTENT_TYPE
            if self._token is not None:
                headers["Authorization"] = f"Token {self._token}"
            response = self._site.request(
                method, self.url(path), body=body, headers=headers, idempotent=idempotent
            )
            if attempt == 0 and self._credentials is not None and self._token_expired(response):
                logger.debug("the token was refused; signing in again")
                self.login(self._credentials)
                continue
            return response
        raise AssertionError("unreachable: the loop always returns")

    def _error(self, response: HttpResponse, competition_id: int) -> CodaLabError:
        """The one-line error for an unexpected API answer."""
        where = redact_url(response.url)
        said = self._said(response)
        reason = f" (server: {said})" if said else ""
        if response.status in (401, 403):
            if self._token_expired(response):
                return LoginError(f"{where}: the server did not accept the token{reason}")
            return CodaLabError(
                f"{where}: permission denied{reason}; is this account registered and approved "
                f"for competition {competition_id}?"
            )
        if response.status == 404:
            return CodaLabError(
                f"{where}: not found (HTTP 404); check the competition id {competition_id} and --base-url"
            )
        return CodaLabError(f"{where}: HTTP {response.status}{': ' + said if said else ''}")

    def phases(self, competition_id: int) -> list[PhaseInfo]:
        """The phases of a competition (``status`` ``Current`` marks the ones taking submissions)."""
        response = self._api("GET", competition_path(competition_id))
        if response.status != 200:
            raise self._error(response, competition_id)
        return parse_competition_phases(response.json(), redact_url(response.url))

    def check_can_submit(self, competition_id: int, phase: PhaseInfo) -> None:
        """Ask ``can_make_submission``: QuotaError, PhaseClosedError or CodaLabError with the reason."""
        if phase.phase_id is None:
            return
        response = self._api("GET", can_submit_path(phase.phase_id))
        if response.status != 200:
            raise self._error(response, competition_id)
        payload = response.json()
        if not isinstance(payload, dict) or payload.get("can") is not False:
            return
        reason = one_line(optional_str(payload.get("reason")) or "no reason given")
        where = redact_url(response.url)
        lowered = reason.lower()
        if "maximum" in lowered:
            raise QuotaError(f"{where}: submission quota used up (server: {reason})")
        if "not approved" in lowered:
            raise CodaLabError(
                f"{where}: this account may not submit (server: {reason}); the organisers must approve "
                f"its registration for competition {competition_id}"
            )
        raise PhaseClosedError(f"{where}: {phase.describe()} takes no submission now (server: {reason})")

    def send_zip(
        self,
        competition_id: int,
        zip_path: Path,
        description: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Create a submission dataset, upload the zip to its URL, mark it complete; return its key."""
        metadata: dict[str, Any] = {
            "type": SUBMISSION_DATA_TYPE,
            "competition": competition_id,
            "request_sassy_file_name": zip_path.name,
            "file_name": zip_path.name,
            "file_size": zip_path.stat().st_size,
        }
        if description:
            metadata["description"] = description
        response = self._api("POST", DATASETS_PATH, payload=metadata, idempotent=False)
        where = redact_url(response.url)
        if response.status == 400:
            said = self._said(response)
            raise CodaLabError(f"{where}: the server refused the upload (server: {said or 'HTTP 400'})")
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        created = response.json()
        key = optional_str(created.get("key")) if isinstance(created, dict) else None
        url = optional_str(created.get("sassy_url")) if isinstance(created, dict) else None
        if key is None or url is None:
            raise CodaLabError(f"{where}: expected {{'key', 'sassy_url'}} for the upload")
        put_zip(
            self._storage,
            check_url(url, f"{where}: upload URL"),
            zip_path,
            on_progress,
            {"x-ms-blob-type": "BlockBlob"},
        )
        completed = self._api("PUT", upload_completed_path(key))
        if completed.status not in (200, 201):
            raise self._error(completed, competition_id)
        return key

    def create_submission(
        self, competition_id: int, phase_id: int, file_reference: str, zip_path: Path, description: str
    ) -> SubmissionState:
        """Turn the uploaded dataset (``file_reference``: its key) into a submission to ``phase_id``."""
        response = self._api(
            "POST", SUBMISSIONS_PATH, payload={"data": file_reference, "phase": phase_id}, idempotent=False
        )
        if response.status >= 500:
            raise CodaLabError(
                f"{redact_url(response.url)}: HTTP {response.status} while creating the submission; it may "
                f"exist anyway: check {self.page_url(competition_id)} before submitting again"
            )
        if response.status == 400:
            said = self._said(response) or "HTTP 400"
            raise CodaLabError(
                f"{redact_url(response.url)}: the server refused the submission (server: {said})"
            )
        if response.status not in (200, 201):
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))

    def submission_state(self, competition_id: int, submission_id: int) -> SubmissionState:
        """The current status (and scores) of one of the account's submissions."""
        response = self._api("GET", submission_path(submission_id))
        if response.status != 200:
            raise self._error(response, competition_id)
        return parse_submission(response.json(), redact_url(response.url))

    def scores(self, competition_id: int, submission_id: int) -> tuple[tuple[str, float], ...]:
        """The submission's leaderboard scores, by column key."""
        return self.submission_state(competition_id, submission_id).scores

    def error_log(self, competition_id: int, submission_id: int) -> tuple[str, ...]:
        """The tail of the first non-empty error log of the evaluation (empty when hidden or absent)."""
        response = self._api("GET", submission_details_path(submission_id))
        if response.status != 200:
            return ()
        payload = response.json_or_none()
        logs = payload.get("logs") if isinstance(payload, dict) else None
        urls = {
            entry.get("name"): entry.get("data_file")
            for entry in (logs if isinstance(logs, list) else [])
            if isinstance(entry, dict)
        }
        where = redact_url(response.url)
        for name in ERROR_LOG_NAMES:
            url = optional_str(urls.get(name))
            if url is None:
                continue
            lines = read_log(self._storage, url, where)
            if lines:
                return lines
        return ()
