"""The video set results are checked against: an annotation file, or the manifest that names one.

``--gt`` takes either a YouTube-VIS / OVIS annotation JSON (the valid/test files without annotations
work: only the videos and categories are needed) or the ``manifest.json`` that ``ifm-prep check``
writes beside annotation files (``{"format_version", "files": {file name: entry}}``, see
:mod:`instanceformer.core.formats.manifest`). From a manifest the annotation file is: its only
entry, or else its only entry without ground truth (the split the servers evaluate). When the entry
records the file's ``sha256`` and the file has changed since, a warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import VideoDataset, parse_annotations
from instanceformer.core.formats.jsonfile import read_json_file
from instanceformer.core.formats.manifest import file_sha256


@dataclass(frozen=True)
class GroundTruth:
    """The video set, the annotation file it came from, and warnings about the manifest (if any)."""

    dataset: VideoDataset
    annotation_path: Path
    manifest_path: Path | None = None
    warnings: tuple[str, ...] = ()


def _manifest_entry(manifest_path: Path, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (file name, entry) a manifest points at for submission (FormatError when ambiguous)."""
    files = payload.get("files")
    if not isinstance(files, dict) or not files:
        raise FormatError(
            manifest_path,
            None,
            "files",
            "expected an annotation file (with 'videos') or a manifest.json of 'ifm-prep check' "
            "listing at least one checked file",
        )
    entries = {name: entry for name, entry in files.items() if isinstance(entry, dict)}
    if len(entries) == 1:
        return next(iter(entries.items()))
    without_ground_truth = [
        (name, entry) for name, entry in entries.items() if entry.get("has_ground_truth") is False
    ]
    if len(without_ground_truth) == 1:
        return without_ground_truth[0]
    listed = ", ".join(sorted(files))
    raise FormatError(
        manifest_path,
        None,
        "files",
        f"expected one file to submit for, it lists {listed}; pass that annotation file itself with --gt",
    )


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Load the video set from an annotation file or from a dataset manifest naming one."""
    path = Path(path)
    payload = read_json_file(path)
    if isinstance(payload, dict) and "videos" in payload:
        return GroundTruth(dataset=parse_annotations(payload, str(path)), annotation_path=path)
    if not isinstance(payload, dict):
        raise FormatError(path, None, None, "expected a JSON object (an annotation file or a manifest.json)")
    name, entry = _manifest_entry(path, payload)
    annotation_path = path.parent / name
    if not annotation_path.is_file():
        raise FormatError(
            path, f"files[{name!r}]", None, f"expected {annotation_path} to exist, it is missing"
        )
    warnings = []
    recorded = entry.get("sha256")
    if isinstance(recorded, str) and recorded and recorded.lower() != file_sha256(annotation_path):
        warnings.append(
            f"{annotation_path} has changed since {path} was written (sha256 differs); "
            "run 'ifm-prep check' again"
        )
    dataset = parse_annotations(read_json_file(annotation_path), str(annotation_path))
    return GroundTruth(dataset, annotation_path, manifest_path=path, warnings=tuple(warnings))
