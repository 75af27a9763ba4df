"""Crash-safe file writers: every writer writes a temporary file in the target folder, then renames."""

from instanceformer.core.io.atomic import (
    atomic_path,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_zip_atomic,
)

__all__ = [
    "atomic_path",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
    "write_zip_atomic",
]
