"""Expected failures of the toolkit.

A :class:`UserError` is a problem with the user's input (a missing file, a malformed JSON record, an
invalid override). The command-line tools print its one-line message and exit with status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input, reported as one line and exit status 2."""

    exit_code = 2


class ConfigError(UserError):
    """An invalid configuration value, key or override."""


class FormatError(UserError):
    """A file that does not follow its documented format.

    The message names the file, the record and the field, e.g.
    ``annotations.json: annotations[3] (id 17): field 'segmentations': expected 36 entries, got 35``.
    """

    def __init__(self, path: str | Path | None, record: str | None, field: str | None, expected: str):
        self.path = str(path) if path is not None else None
        self.record = record
        self.field = field
        self.expected = expected
        parts = [p for p in (self.path, self.record) if p]
        where = ": ".join(parts)
        what = f"field '{field}': {expected}" if field else expected
        super().__init__(f"{where}: {what}" if where else what)
