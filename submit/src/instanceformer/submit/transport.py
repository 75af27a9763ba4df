"""HTTP with an in-memory cookie session, timeouts, no automatic redirects and bounded retries.

Only the standard library is used (``urllib`` and ``http.cookiejar``). Cookies live in memory and are
never written to disk. Plain ``http`` is allowed for loopback addresses only. Request bodies are never
logged; log lines name the method and the URL without its query string (pre-signed storage URLs carry
their signature there).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import ipaddress
import json
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from instanceformer.core.errors import UserError
from instanceformer.submit.errors import CodaLabError, NetworkError, ServerError
from instanceformer.submit.retry import (
    NOT_FORWARDED_STATUSES,
    TRANSIENT_STATUSES,
    RetryPolicy,
    parse_retry_after,
)

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = ("localhost",)
_MESSAGE_LIMIT = 200
RequestBody = bytes | Callable[[], Iterable[bytes]] | None


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """``url`` without its query string and fragment (for messages and logs)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def check_url(url: str, what: str) -> str:
    """Return ``url`` when it is https, or plain http to a loopback host; UserError otherwise."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise UserError(f"{what}: expected an absolute http(s) URL, got {redact_url(url)!r}")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http":
        if is_loopback_host(parts.hostname):
            return url
        raise UserError(
            f"{what}: refusing plain http to {parts.hostname} (credentials and uploads need https; "
            "plain http is allowed for loopback addresses only)"
        )
    raise UserError(f"{what}: expected an http(s) URL, got the scheme {parts.scheme!r}")


def one_line(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, cut to a readable length, with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


@dataclass(frozen=True)
class HttpResponse:
    """A complete HTTP response (any status)."""

    status: int
    headers: Message
    body: bytes
    url: str

    def json(self) -> Any:
        """The body parsed as JSON (CodaLabError naming the URL when it is not JSON)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CodaLabError(
                f"{redact_url(self.url)}: expected a JSON answer, got HTTP {self.status} "
                f"({self.headers.get('Content-Type', 'no content type')})"
            ) from None

    def json_or_none(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def detail(self) -> str | None:
        """The message of a Django REST framework error body, when there is one.

        ``{"detail": ...}`` gives its text; field errors (``{"file_size": ["..."]}``,
        ``{"non_field_errors": [...]}``) and ``{"error_msg": ...}`` give ``field: message; ...``.
        """
        try:
            payload = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if isinstance(payload, str):
            return payload
        if isinstance(payload, list):
            return "; ".join(str(item) for item in payload if isinstance(item, str)) or None
        if not isinstance(payload, dict):
            return None
        if isinstance(payload.get("detail"), str):
            return payload["detail"]
        parts = []
        for key, value in payload.items():
            messages = value if isinstance(value, list) else [value]
            text = " ".join(str(message) for message in messages if isinstance(message, str | int | float))
            if text:
                parts.append(text if key in ("non_field_errors", "error_msg", "error") else f"{key}: {text}")
        return "; ".join(parts) or None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller instead of following them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _network_problem(error: BaseException) -> tuple[str, bool] | None:
    """(description, request surely not sent) for a transient network failure; None otherwise."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(reason, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return "connection reset", False
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out", False
    if isinstance(reason, http.client.IncompleteRead):
        return "incomplete answer", False
    return None


def _fatal_network_message(error: BaseException) -> str:
    """A one-line description of a network failure that retrying will not fix."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failure ({reason.reason or reason})"
    return one_line(str(reason))


class HttpClient:
    """Sends requests with one cookie session; retries transient failures with exponential backoff.

    ``secrets`` are redacted from every message this client raises. ``sleep`` is injectable so that
    tests do not wait.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        use_cookies: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.cookies = http.cookiejar.CookieJar()
        self.secrets: tuple[str, ...] = ()
        self._sleep = sleep
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if use_cookies:
            handlers.append(urllib.request.HTTPCookieProcessor(self.cookies))
        self._opener = urllib.request.build_opener(*handlers)

    def cookie(self, name: str, host: str) -> str | None:
        """The value of cookie ``name`` set by ``host`` (None when absent)."""
        for cookie in self.cookies:
            domain = cookie.domain.lstrip(".")
            if cookie.name == name and (
                host == domain or host.endswith("." + domain) or domain == host + ".local"
            ):
                return cookie.value
        return None

    def _open_once(
        self, method: str, url: str, body: RequestBody, headers: Mapping[str, str], timeout_s: float
    ) -> HttpResponse:
        """One attempt; HTTP error statuses come back as responses, network failures as exceptions."""
        data = body() if callable(body) else body
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        try:
            with self._opener.open(request, timeout=timeout_s) as response:
                return HttpResponse(response.status, response.headers, response.read(), url)
        except urllib.error.HTTPError as answer:
            with answer:
                return HttpResponse(answer.code, answer.headers, answer.read(), url)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: RequestBody = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send ``method url`` and return the response of any status.

        Transient failures (connection refused or reset, time-outs, HTTP 429 and 5xx) are retried up
        to ``retry.attempts`` times in total. A request that is not ``idempotent`` (it creates
        something on the server) is retried only when it surely did not reach the application:
        connection refused, or a gateway status (502, 503, 504). ``body`` may be a callable that
        returns a fresh iterable of chunks per attempt (streamed uploads with a known length).
        Raises NetworkError / ServerError when the retries are used up.
        """
        where = redact_url(url)
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        for attempt in range(self.retry.attempts):
            retry_after_s = None
            logger.debug("%s %s (attempt %d of %d)", method, where, attempt + 1, self.retry.attempts)
            try:
                response = self._open_once(method, url, body, headers or {}, timeout_s)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                problem = _network_problem(error)
                if problem is None:
                    raise NetworkError(f"{where}: {_fatal_network_message(error)}") from None
                description, not_sent = problem
                if (not idempotent and not not_sent) or attempt + 1 == self.retry.attempts:
                    attempts = f" after {attempt + 1} attempts" if attempt else ""
                    raise NetworkError(f"{where}: {description}{attempts}") from None
            else:
                retryable = NOT_FORWARDED_STATUSES if not idempotent else TRANSIENT_STATUSES
                if response.status not in retryable:
                    return response
                if attempt + 1 == self.retry.attempts:
                    attempts = f" after {attempt + 1} attempts" if attempt else ""
                    raise ServerError(
                        f"{where}: the server answered HTTP {response.status}{attempts}; try again later"
                    )
                retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
                logger.debug("%s %s answered HTTP %d, retrying", method, where, response.status)
            self._sleep(self.retry.delay_s(attempt, retry_after_s))
        raise AssertionError("unreachable: the retry loop always returns or raises")
