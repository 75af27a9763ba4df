"""Reading JSON files with errors that name the file and the position of the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError


def parse_json_bytes(data: bytes, source: str) -> Any:
    """Parse UTF-8 JSON ``data`` read from ``source`` (a file name, used in error messages).

    Raises FormatError naming the line and column of invalid or truncated JSON.
    """
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


def read_json_file(path: str | Path) -> Any:
    """Read and parse the JSON file at ``path`` (FileNotFoundError when it does not exist)."""
    path = Path(path)
    return parse_json_bytes(path.read_bytes(), str(path))
