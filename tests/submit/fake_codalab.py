"""A loopback CodaLab Competitions v1.x server, built from the codalab-competitions source.

It implements what the client relies on as that source does: the django-allauth sign-in form
(``csrftoken`` cookie, hidden ``csrfmiddlewaretoken``, a redirect and a ``sessionid`` cookie on success,
the form again on wrong credentials, the CSRF token rotated on sign-in), Django REST framework's session
authentication with the ``X-CSRFToken`` check on POSTs (403 ``{"detail": ...}`` otherwise), the phase
list without phase ids (``PhaseSerial``), the competition page with its ``results_phase_<id>`` buttons,
``mystatus``, the upload slot, a storage PUT/GET endpoint, the submission creation (closed phase, quota
and server-wide refusals), the submission status, ``get_score`` and ``stderr.txt`` (a redirect to a
pre-signed storage URL).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.submit.fake_http import FakeHandler, FakeServerState, RecordedRequest

PASSWORD = "Zq8-unique-pa55word-7xK"
USERNAME = "participant7"
COMPETITION_ID = 4242
SCORE = 0.4375
SCORING_ERROR = "ValueError: video 77 of results.json is not a video of the evaluated set"

_LOGIN_PAGE = """<!DOCTYPE html><html><body>
<form class="login" method="POST" action="/accounts/login/">
  {error}
  <input type='hidden' name='csrfmiddlewaretoken' value='{token}'>
  <input type="text" name="login" id="id_login"><input type="password" name="password" id="id_password">
  <button type="submit">Sign In</button>
</form></body></html>"""

_COMPETITION_PAGE = """<!DOCTYPE html><html><body><h1>Competition {competition}</h1>
<div id="results_phase_buttons">{buttons}</div>
<div class="competition_results"></div></body></html>"""


def _default_phases() -> list[dict[str, Any]]:
    """A development phase that has ended and a validation phase open for ever."""
    return [
        {"id": 101, "phasenumber": 1, "label": "Development", "start_date": "2020-01-01", "is_active": False},
        {
            "id": 102,
            "phasenumber": 2,
            "label": "Validation",
            "start_date": "2021-01-01",
            "is_active": True,
            "phase_never_ends": True,
        },
    ]


@dataclass
class FakeCodaLabState(FakeServerState):
    """What the fake CodaLab server knows and how it should misbehave.

    ``phases`` hold the truth (``id``, ``is_active``); the phase list leaves both out, as the real one
    does, unless ``list_phase_ids`` is set. Endpoint names of ``failures``: ``login_form``, ``phases``,
    ``sas``, ``upload``, ``create``, ``status``.
    """

    password: str = PASSWORD
    phases: list[dict[str, Any]] = field(default_factory=_default_phases)
    list_phase_ids: bool = False
    participant_status: str | None = "approved"
    create_error: tuple[int, dict[str, Any]] | None = None
    statuses: list[str] = field(default_factory=lambda: ["submitted", "running", "finished"])
    on_leaderboard: bool = True
    expire_sessions_on_create: bool = False
    sessions: set[str] = field(default_factory=set)
    submissions: dict[int, dict[str, Any]] = field(default_factory=dict)


def _api_phase(phase: dict[str, Any], with_ids: bool) -> dict[str, Any]:
    """A phase as ``PhaseSerial`` lists it (no ``id``, no ``is_active``, unless asked)."""
    listed = {
        "phasenumber": phase["phasenumber"],
        "label": phase["label"],
        "start_date": phase["start_date"],
        "phase_never_ends": phase.get("phase_never_ends", False),
        "max_submissions": 100,
        "max_submissions_per_day": 5,
    }
    if with_ids:
        listed.update(id=phase["id"], is_active=phase.get("is_active"))
    return listed


def codalab_handler(state: FakeCodaLabState) -> type[FakeHandler]:
    """A request handler bound to ``state``."""
    submission_ids = itertools.count(900)
    competition = f"/api/competition/{COMPETITION_ID}"

    class Handler(FakeHandler):
        def _authorized(self, request: RecordedRequest, check_csrf: bool) -> bool:
            cookies = self.cookies()
            if cookies.get("sessionid") not in state.sessions:
                self.send_json(403, {"detail": "Authentication credentials were not provided."})
                return False
            if check_csrf and (
                not cookies.get("csrftoken") or request.headers.get("x-csrftoken") != cookies["csrftoken"]
            ):
                self.send_json(403, {"detail": "CSRF Failed: CSRF token missing or incorrect."})
                return False
            return True

        def _login_page(self, error: str = "") -> None:
            token = secrets.token_hex(16)
            html = _LOGIN_PAGE.format(error=error, token="m-" + token).encode("utf-8")
            self.send(200, html, "text/html; charset=utf-8", [("Set-Cookie", f"csrftoken={token}; Path=/")])

        def _competition_page(self) -> None:
            buttons = "".join(
                f'<button class="btn {"active " if phase.get("is_active") else ""}phase-btn-white" '
                f'id="results_phase_{phase["id"]}">{phase["label"]}</button>'
                for phase in state.phases
            )
            html = _COMPETITION_PAGE.format(competition=COMPETITION_ID, buttons=buttons)
            self.send(200, html.encode("utf-8"), "text/html; charset=utf-8")

        def on_get(self, request: RecordedRequest) -> None:
            if request.path == "/accounts/login/":
                if not self.fail_first("login_form"):
                    self._login_page()
            elif request.path == f"{competition}/phases/":
                if not self.fail_first("phases"):
                    phases = [_api_phase(phase, state.list_phase_ids) for phase in state.phases]
                    self.send_json(200, [{"end_date": None, "phases": phases}])
            elif request.path == f"/competitions/{COMPETITION_ID}":
                self._competition_page()
            elif request.path == f"{competition}/mystatus/":
                if self._authorized(request, check_csrf=False):
                    status = state.participant_status
                    self.send_json(200 if status else 400, {"status": status, "reason": None})
            elif request.path.startswith(f"{competition}/submission/"):
                if self.fail_first("status") or not self._authorized(request, check_csrf=False):
                    return
                self._status(int(request.path.rsplit("/", 1)[1]))
            elif request.path.startswith("/api/submission/") and request.path.endswith("/get_score"):
                if self._authorized(request, check_csrf=False):
                    self._score(int(request.path.split("/")[3]))
            elif request.path.startswith("/my/competition/submission/"):
                if self._authorized(request, check_csrf=False):
                    self._stderr(int(request.path.split("/")[4]))
            elif request.path.startswith("/storage/"):
                self.storage_get(request)
            else:
                self.send_json(404, {"detail": "Not found."})

        def on_post(self, request: RecordedRequest) -> None:
            if request.path == "/accounts/login/":
                self._sign_in(request)
            elif request.path == f"{competition}/submission/sas":
                if self.fail_first("sas") or not self._authorized(request, check_csrf=True):
                    return
                key = f"competition/{COMPETITION_ID}/submission/7/{secrets.token_hex(8)}.zip"
                url = f"{state.base_url}/storage/{key}?X-Amz-Signature=signature-{secrets.token_hex(4)}"
                self.send_json(201, {"url": url, "id": key})
            elif request.path == f"{competition}/submission":
                self._create(request)
            else:
                self.send_json(404, {"detail": "Not found."})

        def on_put(self, request: RecordedRequest) -> None:
            self.storage_put(request)

        def _sign_in(self, request: RecordedRequest) -> None:
            form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8")).items()}
            cookie_token = self.cookies().get("csrftoken")
            same_origin = request.headers.get("referer", "").startswith(state.base_url)
            if not cookie_token or form.get("csrfmiddlewaretoken") != "m-" + cookie_token or not same_origin:
                self.send(403, b"<h1>Forbidden (403)</h1><p>CSRF verification failed.</p>", "text/html")
                return
            if form.get("login") != USERNAME or form.get("password") != state.password:
                self._login_page("<p>The username and/or password you specified are not correct.</p>")
                return
            session = secrets.token_hex(16)
            with state.lock:
                state.sessions.add(session)
            self.send(
                302,
                b"",
                "text/html",
                [
                    ("Location", "/my"),
                    ("Set-Cookie", f"sessionid={session}; Path=/; HttpOnly"),
                    ("Set-Cookie", f"csrftoken={secrets.token_hex(16)}; Path=/"),
                ],
            )

        def _create(self, request: RecordedRequest) -> None:
            if self.fail_first("create") or not self._authorized(request, check_csrf=True):
                return
            phase_id = request.query.get("phase_id", [""])[0]
            phase = next((p for p in state.phases if str(p["id"]) == phase_id), None)
            if phase is None or phase.get("is_active") is False:
                self.send_json(403, {"detail": "Competition phase is closed."})
                return
            if state.create_error is not None:
                self.send_json(*state.create_error)
                return
            form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8")).items()}
            if form.get("id") not in state.blobs:
                self.send_json(400, {"detail": "Invalid or missing tracking ID."})
                return
            submission_id = next(submission_ids)
            record = {
                "id": submission_id,
                "status": "submitting",
                "submission_number": len(state.submissions) + 1,
                "description": request.query.get("description", [""])[0],
                "filename": form.get("name"),
                "status_details": None,
            }
            with state.lock:
                state.submissions[submission_id] = record
                if state.expire_sessions_on_create:
                    state.sessions.clear()
            self.send_json(201, record)

        def _status(self, submission_id: int) -> None:
            with state.lock:
                status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
                record = dict(state.submissions[submission_id], status=status)
                state.submissions[submission_id]["status"] = status
            if status == "failed":
                record["status_details"] = "scoring program: the program exited with status 1"
            self.send_json(200, record)

        def _score(self, submission_id: int) -> None:
            record = state.submissions.get(submission_id)
            if record is None or record["status"] != "finished" or not state.on_leaderboard:
                self.send(404, b"<h1>Not Found</h1>", "text/html")
                return
            self.send_json(200, {"score": SCORE, "status": "finished", "logs": {}})

        def _stderr(self, submission_id: int) -> None:
            key = f"submission_details/{submission_id}/stderr.txt"
            with state.lock:
                state.logs[key] = (
                    f"Traceback (most recent call last):\n  File 'evaluate.py'\n{SCORING_ERROR}\n".encode()
                )
            location = f"{state.base_url}/storage/{key}?X-Amz-Signature=log-{secrets.token_hex(4)}"
            self.send(302, b"", "text/html", [("Location", location)])

    Handler.state = state
    return Handler
