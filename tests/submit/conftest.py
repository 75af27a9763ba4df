"""Fixtures of the ifm-submit tests: a tiny video set, results builders and a loopback CodaLab server.

The server implements what the client relies on, as the CodaLab Competitions source does: the
django-allauth sign-in form (``csrftoken`` cookie, hidden ``csrfmiddlewaretoken``, a redirect and a
``sessionid`` cookie on success, the form again on wrong credentials, the CSRF token rotated on
sign-in), Django REST framework's session authentication with the ``X-CSRFToken`` check on POSTs
(403 ``{"detail": ...}`` otherwise), the phase list, the upload slot, a storage PUT endpoint, the
submission creation (closed phase and quota answers included) and the submission status.
"""

from __future__ import annotations

import http.cookies
import http.server
import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from pycocotools import mask as coco_mask

PASSWORD = "Zq8-unique-pa55word-7xK"
USERNAME = "participant7"
COMPETITION_ID = 4242
REQUEST_TIMEOUT_S = 10.0

VIDEO_SIZES = {1: (6, 8, 3), 2: (5, 5, 2), 3: (4, 4, 2)}  # video id: (height, width, num_frames)


def _mask(height: int, width: int, seed: int) -> np.ndarray:
    """A small deterministic ``[height, width]`` mask (a block whose place depends on ``seed``)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    top, left = seed % (height - 1), (seed * 3) % (width - 1)
    mask[top : top + 2, left : left + 2] = 1
    return mask


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """A compressed RLE by pycocotools directly (independent of the toolkit's encoder)."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def track(video_id: int, category_id: int = 1, score: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """A valid results record for one of the fixture's videos (the second frame empty)."""
    height, width, frames = VIDEO_SIZES[video_id]
    segmentations: list[dict[str, Any] | None] = [
        compressed_rle(_mask(height, width, seed + frame)) for frame in range(frames)
    ]
    segmentations[1] = None
    return {"video_id": video_id, "category_id": category_id, "score": score, "segmentations": segmentations}


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as JSON (NaN allowed, as a broken writer would produce) and return ``path``."""
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


@pytest.fixture
def annotations_path(tmp_path: Path) -> Path:
    """A valid/test-style annotation file (OVIS spelling: ``"annotations": null``) of three videos."""
    videos = [
        {
            "id": video_id,
            "height": height,
            "width": width,
            "length": frames,
            "file_names": [f"v{video_id}/{frame:05d}.jpg" for frame in range(frames)],
        }
        for video_id, (height, width, frames) in VIDEO_SIZES.items()
    ]
    categories = [{"id": 1, "name": "Person"}, {"id": 2, "name": "Bird"}]
    return write_json(
        tmp_path / "valid.json", {"videos": videos, "categories": categories, "annotations": None}
    )


@pytest.fixture
def results_path(tmp_path: Path) -> Path:
    """Valid results for videos 1 and 2 (video 3 has none)."""
    return write_json(
        tmp_path / "results.json", [track(1, 1, 0.9), track(1, 2, 0.4, seed=2), track(2, 2, 0.7)]
    )


@dataclass
class RecordedRequest:
    """A request the fake server received (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeCodaLabState:
    """What the fake server knows and how it should misbehave."""

    base_url: str = ""
    phases: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": 101,
                "phasenumber": 1,
                "label": "Development",
                "start_date": "2020-01-01",
                "is_active": False,
            },
            {
                "id": 102,
                "phasenumber": 2,
                "label": "Validation",
                "start_date": "2021-01-01",
                "is_active": True,
            },
        ]
    )
    # Endpoint name ("login_form", "sas", "create", "status", "upload") -> statuses to answer first.
    failures: dict[str, list[int]] = field(default_factory=dict)
    create_error: tuple[int, dict[str, Any]] | None = None
    statuses: list[str] = field(default_factory=lambda: ["submitted", "running", "finished"])
    requests: list[RecordedRequest] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    submissions: dict[int, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, method: str | None = None) -> list[str]:
        """The paths of the requests received so far (of ``method`` only, when given)."""
        return [request.path for request in self.requests if method is None or request.method == method]


_LOGIN_PAGE = """<!DOCTYPE html><html><body>
<form class="login" method="POST" action="/accounts/login/">
  {error}
  <input type='hidden' name='csrfmiddlewaretoken' value='{token}'>
  <input type="text" name="login" id="id_login"><input type="password" name="password" id="id_password">
  <button type="submit">Sign In</button>
</form></body></html>"""


def _handler_class(state: FakeCodaLabState) -> type[http.server.BaseHTTPRequestHandler]:
    """A request handler bound to ``state``."""
    submission_ids = itertools.count(900)

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _cookies(self) -> dict[str, str]:
            jar = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
            return {name: morsel.value for name, morsel in jar.items()}

        def _send(
            self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(payload).encode("utf-8"), "application/json", extra)

        def _fail_first(self, endpoint: str) -> bool:
            with state.lock:
                pending = state.failures.get(endpoint) or []
                status = pending.pop(0) if pending else None
            if status is None:
                return False
            self._json(status, {"detail": "Server Error"})
            return True

        def _record(self) -> RecordedRequest:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            recorded = RecordedRequest(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {name.lower(): value for name, value in self.headers.items()},
                body,
            )
            with state.lock:
                state.requests.append(recorded)
            return recorded

        def _authorized(self, request: RecordedRequest, check_csrf: bool) -> bool:
            cookies = self._cookies()
            if cookies.get("sessionid") not in state.sessions:
                self._json(403, {"detail": "Authentication credentials were not provided."})
                return False
            if check_csrf and (
                not cookies.get("csrftoken") or request.headers.get("x-csrftoken") != cookies["csrftoken"]
            ):
                self._json(403, {"detail": "CSRF Failed: CSRF token missing or incorrect."})
                return False
            return True

        def _login_page(self, error: str = "") -> None:
            token = secrets.token_hex(16)
            html = _LOGIN_PAGE.format(error=error, token="m-" + token).encode("utf-8")
            self._send(200, html, "text/html; charset=utf-8", {"Set-Cookie": f"csrftoken={token}; Path=/"})

        def do_GET(self) -> None:
            request = self._record()
            competition = f"/api/competition/{COMPETITION_ID}"
            if request.path == "/accounts/login/":
                if not self._fail_first("login_form"):
                    self._login_page()
            elif request.path == f"{competition}/phases/":
                self._json(200, [{"end_date": None, "phases": state.phases}])
            elif request.path.startswith(f"{competition}/submission/"):
                if self._fail_first("status") or not self._authorized(request, check_csrf=False):
                    return
                submission_id = int(request.path.rsplit("/", 1)[1])
                with state.lock:
                    status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
                    record = dict(state.submissions[submission_id], status=status)
                if status == "failed":
                    record["status_details"] = "scoring program: Results do not correspond to the videos"
                self._json(200, record)
            else:
                self._json(404, {"detail": "Not found."})

        def do_POST(self) -> None:
            request = self._record()
            competition = f"/api/competition/{COMPETITION_ID}"
            if request.path == "/accounts/login/":
                self._sign_in(request)
            elif request.path == f"{competition}/submission/sas":
                if self._fail_first("sas") or not self._authorized(request, check_csrf=True):
                    return
                key = f"competition/{COMPETITION_ID}/submission/7/{secrets.token_hex(8)}.zip"
                url = f"{state.base_url}/storage/{key}?X-Amz-Signature=signature-{secrets.token_hex(4)}"
                self._json(201, {"url": url, "id": key})
            elif request.path == f"{competition}/submission":
                self._create(request)
            else:
                self._json(404, {"detail": "Not found."})

        def do_PUT(self) -> None:
            request = self._record()
            if self._fail_first("upload"):
                return
            if not request.path.startswith("/storage/") or "X-Amz-Signature" not in request.query:
                self._send(403, b"<Error>SignatureDoesNotMatch</Error>", "application/xml")
                return
            with state.lock:
                state.blobs[request.path.removeprefix("/storage/")] = request.body
            self._send(200, b"", "application/xml")

        def _sign_in(self, request: RecordedRequest) -> None:
            form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8")).items()}
            cookie_token = self._cookies().get("csrftoken")
            same_origin = request.headers.get("referer", "").startswith(state.base_url)
            if not cookie_token or form.get("csrfmiddlewaretoken") != "m-" + cookie_token or not same_origin:
                self._send(403, b"<h1>Forbidden (403)</h1><p>CSRF verification failed.</p>", "text/html")
                return
            if form.get("login") != USERNAME or form.get("password") != PASSWORD:
                self._login_page("<p>The username and/or password you specified are not correct.</p>")
                return
            session = secrets.token_hex(16)
            with state.lock:
                state.sessions.add(session)
            self.send_response(302)
            self.send_header("Location", "/my")
            self.send_header("Set-Cookie", f"sessionid={session}; Path=/; HttpOnly")
            self.send_header("Set-Cookie", f"csrftoken={secrets.token_hex(16)}; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _create(self, request: RecordedRequest) -> None:
            if self._fail_first("create") or not self._authorized(request, check_csrf=True):
                return
            phase_id = request.query.get("phase_id", [""])[0]
            phase = next((p for p in state.phases if str(p["id"]) == phase_id), None)
            if phase is None or phase.get("is_active") is False:
                self._json(403, {"detail": "Competition phase is closed."})
                return
            if state.create_error is not None:
                self._json(*state.create_error)
                return
            form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8")).items()}
            if form.get("id") not in state.blobs:
                self._json(400, {"detail": "Invalid or missing tracking ID."})
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
            self._json(201, record)

    return Handler


@pytest.fixture
def fake_codalab() -> Iterator[FakeCodaLabState]:
    """A CodaLab-like server on 127.0.0.1 (port 0) in a thread, shut down after the test."""
    state = FakeCodaLabState()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=REQUEST_TIMEOUT_S)


@dataclass(frozen=True)
class SubmitKit:
    """The helpers and constants above, handed to test modules as a fixture."""

    password: str = PASSWORD
    username: str = USERNAME
    competition_id: int = COMPETITION_ID
    video_sizes: dict[int, tuple[int, int, int]] = field(default_factory=lambda: dict(VIDEO_SIZES))

    @staticmethod
    def track(video_id: int, category_id: int = 1, score: float = 0.5, seed: int = 0) -> dict[str, Any]:
        """See :func:`track`."""
        return track(video_id, category_id, score, seed)

    @staticmethod
    def write_json(path: Path, payload: Any) -> Path:
        """See :func:`write_json`."""
        return write_json(path, payload)

    @staticmethod
    def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
        """See :func:`compressed_rle`."""
        return compressed_rle(mask)


@pytest.fixture
def kit() -> SubmitKit:
    """Helpers and constants of the submit tests."""
    return SubmitKit()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME with no .netrc, no CodaLab variables, and a wide terminal for Rich tables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODALAB_USERNAME", raising=False)
    monkeypatch.delenv("CODALAB_PASSWORD", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return home
