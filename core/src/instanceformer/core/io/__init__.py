"""Crash-safe file writers (a temporary file in the target folder, then a rename) and output folders
written aside and moved in when complete."""

from instanceformer.core.io.atomic import (
    atomic_path,
    refuse_special_destination,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_zip_atomic,
)
from instanceformer.core.io.output_folder import check_output_folder, staged_output_folder

__all__ = [
    "atomic_path",
    "check_output_folder",
    "refuse_special_destination",
    "staged_output_folder",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
    "write_zip_atomic",
]
