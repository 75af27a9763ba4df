"""The storage side of a submission: streaming the zip to a pre-signed URL, reading a log from one.

Pre-signed URLs carry their signature in the query string: they are never logged or shown (see
:func:`~instanceformer.submit.transport.redact_url`), and no cookie or token goes to the storage host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from instanceformer.submit.errors import CodaLabError
from instanceformer.submit.transport import HttpClient, check_url, redact_url

ZIP_CONTENT_TYPE = "application/zip"
LOG_TAIL_LINES = 20
_UPLOAD_CHUNK_BYTES = 1 << 20
_LOG_BYTES_LIMIT = 1 << 20


def file_chunks(path: Path, on_progress: Callable[[int, int], None] | None) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks, reporting (bytes sent, total bytes) after each."""
    total = path.stat().st_size
    sent = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_UPLOAD_CHUNK_BYTES):
            sent += len(chunk)
            yield chunk
            if on_progress is not None:
                on_progress(sent, total)


def put_zip(
    storage: HttpClient,
    url: str,
    zip_path: Path,
    on_progress: Callable[[int, int], None] | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """PUT the zip's bytes to a pre-signed storage URL; CodaLabError when the storage refuses them."""
    headers = {
        "Content-Type": ZIP_CONTENT_TYPE,
        "Content-Length": str(zip_path.stat().st_size),
        **(extra_headers or {}),
    }
    response = storage.request("PUT", url, body=lambda: file_chunks(zip_path, on_progress), headers=headers)
    if not 200 <= response.status < 300:
        raise CodaLabError(
            f"{redact_url(url)}: the storage server refused the upload (HTTP {response.status}); "
            "the upload URL may have expired: run the command again"
        )


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> tuple[str, ...]:
    """The last ``lines`` non-blank lines of a log, right-stripped."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(kept[-lines:])


def read_log(storage: HttpClient, url: str, where: str) -> tuple[str, ...]:
    """The tail of the text at a pre-signed URL (empty when the storage does not hand it out)."""
    response = storage.request("GET", check_url(url, f"{where}: log URL"), headers={"Accept": "text/plain"})
    if response.status != 200:
        return ()
    return log_tail(response.body[-_LOG_BYTES_LIMIT:].decode("utf-8", "replace"))
