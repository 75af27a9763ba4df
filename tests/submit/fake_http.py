"""Shared plumbing of the loopback fake servers: request recording, canned failures, serving in a thread."""

from __future__ import annotations

import http.cookies
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

REQUEST_TIMEOUT_S = 10.0


@dataclass
class RecordedRequest:
    """A request a fake server received (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServerState:
    """What every fake server records, and the failures it answers first.

    ``failures`` maps an endpoint name to the HTTP statuses to answer (in order) before behaving.
    """

    base_url: str = ""
    failures: dict[str, list[int]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    logs: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self, method: str | None = None) -> list[str]:
        """The paths of the requests received so far (of ``method`` only, when given)."""
        return [request.path for request in self.requests if method is None or request.method == method]

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request received so far."""
        return [(request.method, request.path) for request in self.requests]


class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Helpers of the fake servers' handlers; ``state`` is set by the subclass."""

    timeout = REQUEST_TIMEOUT_S
    state: FakeServerState

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.on_get(self.record())

    def do_POST(self) -> None:
        self.on_post(self.record())

    def do_PUT(self) -> None:
        self.on_put(self.record())

    def on_get(self, request: RecordedRequest) -> None:
        """Answer a GET (the subclass's routes)."""
        self.send_json(404, {"detail": "Not found."})

    def on_post(self, request: RecordedRequest) -> None:
        """Answer a POST (the subclass's routes)."""
        self.send_json(404, {"detail": "Not found."})

    def on_put(self, request: RecordedRequest) -> None:
        """Answer a PUT (the subclass's routes)."""
        self.send_json(404, {"detail": "Not found."})

    def cookies(self) -> dict[str, str]:
        """The request's cookies."""
        jar = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    def send(
        self, status: int, body: bytes, content_type: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        """Answer ``status`` with ``body`` and the given extra headers."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> None:
        """Answer ``status`` with ``payload`` as JSON."""
        self.send(status, json.dumps(payload).encode("utf-8"), "application/json", extra)

    def fail_first(self, endpoint: str) -> bool:
        """Answer the next canned failure of ``endpoint``, if any; True when one was answered."""
        with self.state.lock:
            pending = self.state.failures.get(endpoint) or []
            status = pending.pop(0) if pending else None
        if status is None:
            return False
        self.send_json(status, {"detail": "Server Error"})
        return True

    def record(self) -> RecordedRequest:
        """Read the request's body and record the request."""
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
        with self.state.lock:
            self.state.requests.append(recorded)
        return recorded

    def storage_put(self, request: RecordedRequest) -> None:
        """The storage side: keep a signed PUT's bytes under its path."""
        if self.fail_first("upload"):
            return
        if not request.path.startswith("/storage/") or "X-Amz-Signature" not in request.query:
            self.send(403, b"<Error>SignatureDoesNotMatch</Error>", "application/xml")
            return
        with self.state.lock:
            self.state.blobs[request.path.removeprefix("/storage/")] = request.body
        self.send(200, b"", "application/xml")

    def storage_get(self, request: RecordedRequest) -> None:
        """The storage side: hand out a log file to a signed GET."""
        key = request.path.removeprefix("/storage/")
        if "X-Amz-Signature" not in request.query or key not in self.state.logs:
            self.send(403, b"<Error>AccessDenied</Error>", "application/xml")
            return
        self.send(200, self.state.logs[key], "text/plain")


@contextmanager
def serve(
    state: FakeServerState, handler: Callable[..., http.server.BaseHTTPRequestHandler]
) -> Iterator[None]:
    """Serve ``handler`` on 127.0.0.1 (port 0) in a thread; set ``state.base_url``; shut down after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=REQUEST_TIMEOUT_S)
