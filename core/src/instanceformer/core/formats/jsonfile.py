"""Reading JSON files with errors that name the file and the position of the problem.

Parsing runs in ``orjson``, faster than the standard library on annotation and results files that hold
millions of numbers, with the cyclic garbage collector paused while the document is built
(:mod:`~instanceformer.core.formats.collector`). A document ``orjson`` refuses is parsed again by the
standard library, which accepts ``NaN``/``Infinity``, numbers beyond a double's range and lone surrogate
escapes, and whose line and column name the position of any real syntax error. One difference remains:
``orjson`` reads integers beyond 64 bits as floats, which the record checks then refuse where an integer
is expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.collector import paused_garbage_collection

_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _parse_with_standard_library(data: bytes, source: str) -> Any:
    """Parse ``data`` with :mod:`json`; FormatError naming the byte offset or the line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise FormatError(
            source,
            None,
            None,
            f"expected UTF-8 JSON text, got a byte that is not UTF-8 at offset {problem.start}",
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as problem:
        record = f"line {problem.lineno}, column {problem.colno}"
        truncated = " (the file ends too early)" if problem.pos >= len(text.rstrip()) else ""
        raise FormatError(source, record, None, f"expected valid JSON: {problem.msg}{truncated}") from None


def parse_json_bytes(data: bytes, source: str) -> Any:
    """Parse UTF-8 JSON ``data`` read from ``source`` (a file name, used in error messages).

    A leading byte order mark is skipped. Raises FormatError naming the line and column of invalid or
    truncated JSON, or the offset of a byte that is not UTF-8.
    """
    body = data[len(_BYTE_ORDER_MARK) :] if data.startswith(_BYTE_ORDER_MARK) else data
    with paused_garbage_collection():
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return _parse_with_standard_library(data, source)


def read_json_file(path: str | Path) -> Any:
    """Read and parse the JSON file at ``path`` (FileNotFoundError when it does not exist)."""
    path = Path(path)
    return parse_json_bytes(path.read_bytes(), str(path))
