"""``manifest.json``: what ``ifm-prep check`` found about the annotation files of a folder.

One ``manifest.json`` sits beside the annotation files and holds one entry per checked file::

    {"format_version": 1, "files": {"instances_train.json": {"kind": ..., "split": ..., "sha256": ...}}}

An entry records the dataset kind, the split, counts, the category list, the frame root, the SHA-256
of the annotation file and the problems found. Training copies the entries of the files it uses into
the run's manifest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.io import write_json_atomic

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT_VERSION = 1
_HASH_CHUNK_BYTES = 1 << 20


def manifest_path(annotations: str | Path) -> Path:
    """The manifest file that describes ``annotations`` (``manifest.json`` in the same folder)."""
    return Path(annotations).parent / MANIFEST_NAME


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path`` (an empty one when the file does not exist)."""
    if not path.is_file():
        return {"format_version": MANIFEST_FORMAT_VERSION, "files": {}}
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise FormatError(path, None, None, f"expected a JSON manifest ({problem})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("files"), dict):
        raise FormatError(path, None, "files", "expected an object mapping annotation file names to entries")
    return payload


def read_manifest_entry(annotations: str | Path) -> dict[str, Any] | None:
    """The manifest entry of an annotation file, or None when it was never checked."""
    annotations = Path(annotations)
    return _read_manifest(manifest_path(annotations))["files"].get(annotations.name)


def write_manifest_entry(annotations: str | Path, entry: dict[str, Any]) -> Path:
    """Set the entry of ``annotations`` in its folder's manifest (other entries kept); atomic write."""
    annotations = Path(annotations)
    path = manifest_path(annotations)
    manifest = _read_manifest(path)
    manifest["format_version"] = MANIFEST_FORMAT_VERSION
    manifest["files"][annotations.name] = entry
    manifest["files"] = dict(sorted(manifest["files"].items()))
    return write_json_atomic(path, manifest, indent=2)
