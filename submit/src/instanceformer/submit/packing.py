"""Packing results into the zip the evaluation servers take: one member ``results.json``, no folder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from instanceformer.core.errors import UserError
from instanceformer.core.formats import VideoDataset, load_results, write_results_zip
from instanceformer.submit.validation import InvalidResultsError, ValidationReport, validate_results


@dataclass(frozen=True)
class PackedResults:
    """The written zip: its path, the number of tracks, its size in bytes and its SHA-256."""

    path: Path
    num_tracks: int
    size_bytes: int
    sha256: str
    report: ValidationReport | None = None


def pack_results(
    results_path: str | Path, out_path: str | Path, dataset: VideoDataset | None = None
) -> PackedResults:
    """Write the server zip of ``results_path`` to ``out_path`` (deterministic bytes, atomic write).

    With ``dataset``, the results are validated first and InvalidResultsError is raised on any problem
    before anything is written.
    """
    results_path, out_path = Path(results_path), Path(out_path)
    if out_path.suffix.lower() != ".zip":
        raise UserError(f"--out: expected a path ending in .zip, got {out_path}")
    if out_path.exists() and out_path.resolve() == results_path.resolve():
        raise UserError(f"--out: {out_path} is the input file; choose another path")
    report = None
    if dataset is not None:
        report = validate_results(results_path, dataset)
        if not report.ok:
            raise InvalidResultsError(report)
        tracks = list(report.tracks)
    else:
        tracks = load_results(results_path)
    write_results_zip(tracks, out_path)
    data = out_path.read_bytes()
    return PackedResults(
        path=out_path,
        num_tracks=len(tracks),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        report=report,
    )
