"""Reading the analysis dumps ``embeddings.pt``, ``reference_points.pt`` and ``sampling_locations.pt``.

The layout is documented in ``docs/formats.md`` ("Analysis dumps"): a dict of row columns (one row per
kept track and frame) plus the per-kind payload tensors. :func:`load_dump` checks the version, the kind,
every key and every shape, and stops at the first problem with a one-line :class:`FormatError`. A
version-1 ``embeddings.pt`` (decoder embeddings only) is read as a version-2 one without
``contrastive_embeddings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FORMAT_VERSION as DUMP_FORMAT_VERSION
from instanceformer.core.formats.analysis_dumps import READABLE_FORMAT_VERSIONS, upgrade_analysis_payload

# Per kind: payload key -> number of dimensions after the row dimension, and the size of the last
# dimension where it is fixed.
PAYLOAD_SHAPES: dict[str, dict[str, tuple[int, int | None]]] = {
    "embeddings": {"decoder_embeddings": (1, None)},
    "reference_points": {"reference_points": (2, 2)},
    "sampling_locations": {"sampling_locations": (5, 2), "attention_weights": (4, None)},
}
# Per kind: payload keys that may be absent (a model without a contrastive head writes none).
OPTIONAL_PAYLOAD_SHAPES: dict[str, dict[str, tuple[int, int | None]]] = {
    "embeddings": {"contrastive_embeddings": (1, None)},
    "reference_points": {},
    "sampling_locations": {},
}
_ROW_SHAPES: dict[str, tuple[int, int | None]] = {
    "video_ids": (0, None),
    "track_ids": (0, None),
    "frame_indices": (0, None),
    "category_ids": (0, None),
    "scores": (0, None),
    "frame_scores": (0, None),
    "valid_ratios": (1, 2),
}


@dataclass(frozen=True)
class AnalysisDump:
    """One loaded dump: ``kind``, the ``N`` rows' columns and the payload tensors.

    Attributes:
        path: the file it was read from.
        kind: ``embeddings``, ``reference_points`` or ``sampling_locations``.
        columns: every row column and payload tensor by name, each with ``N`` rows first.
    """

    path: Path
    kind: str
    columns: dict[str, torch.Tensor]

    @property
    def num_rows(self) -> int:
        """The number of (track, frame) rows ``N``."""
        return int(self.columns["video_ids"].shape[0])

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.columns[name]

    def video_ids(self) -> list[int]:
        """The distinct video ids, in increasing order."""
        return sorted({int(value) for value in self.columns["video_ids"].tolist()})

    def select(self, mask: torch.Tensor) -> AnalysisDump:
        """The rows where ``mask`` (``[N]`` bool) is true, in their order."""
        return AnalysisDump(self.path, self.kind, {name: value[mask] for name, value in self.columns.items()})

    def for_video(self, video_id: int) -> AnalysisDump:
        """The rows of one video; a :class:`UserError` naming the available ids if it has none."""
        rows = self.columns["video_ids"] == video_id
        if not bool(rows.any()):
            available = ", ".join(str(value) for value in self.video_ids()[:20]) or "none"
            raise UserError(f"{self.path}: no rows for video {video_id} (videos in the dump: {available})")
        return self.select(rows)

    def for_track(self, track_id: int) -> AnalysisDump:
        """The rows of one track (its position in ``results.json``); a :class:`UserError` if none."""
        rows = self.columns["track_ids"] == track_id
        if not bool(rows.any()):
            available = sorted({int(value) for value in self.columns["track_ids"].tolist()})
            shown = ", ".join(str(value) for value in available[:20]) or "none"
            raise UserError(f"{self.path}: no rows for track {track_id} (tracks here: {shown})")
        return self.select(rows)

    def track_ids(self) -> list[int]:
        """The distinct track ids, in increasing order."""
        return sorted({int(value) for value in self.columns["track_ids"].tolist()})


def load_dump(path: str | Path, expected_kind: str) -> AnalysisDump:
    """Load and check one analysis dump.

    Args:
        path: ``embeddings.pt``, ``reference_points.pt`` or ``sampling_locations.pt``.
        expected_kind: the kind the caller needs (a key of :data:`PAYLOAD_SHAPES`).

    Returns:
        The checked dump, tensors on the CPU (floats as float32), in the current layout.

    Raises:
        FormatError: the file is missing, not loadable with ``weights_only=True``, of another version or
            kind, or a key is missing or has the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(
            path, None, None, f"no such file (expected an analysis dump of kind {expected_kind})"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as problem:
        raise FormatError(
            path, None, None, f"expected an analysis dump loadable with torch.load ({type(problem).__name__})"
        ) from None
    if not isinstance(payload, dict):
        raise FormatError(path, None, None, f"expected a dict, got {type(payload).__name__}")
    version = payload.get("format_version")
    payload = upgrade_analysis_payload(payload)
    if payload.get("format_version") != DUMP_FORMAT_VERSION:
        readable = " or ".join(str(number) for number in READABLE_FORMAT_VERSIONS)
        raise FormatError(path, None, "format_version", f"expected {readable}, got {version!r}")
    kind = payload.get("kind")
    if kind != expected_kind:
        raise FormatError(path, None, "kind", f"expected '{expected_kind}', got {kind!r}")
    optional = {name: shape for name, shape in OPTIONAL_PAYLOAD_SHAPES[kind].items() if name in payload}
    shapes = {**_ROW_SHAPES, **PAYLOAD_SHAPES[kind], **optional}
    num_rows = _num_rows(path, payload)
    columns = {}
    for name, (extra_dims, last_size) in shapes.items():
        columns[name] = _checked_column(path, payload, name, num_rows, extra_dims, last_size)
    _check_payload_agreement(path, kind, columns)
    return AnalysisDump(path, kind, columns)


def _num_rows(path: Path, payload: dict) -> int:
    video_ids = payload.get("video_ids")
    if not isinstance(video_ids, torch.Tensor) or video_ids.dim() != 1:
        raise FormatError(path, None, "video_ids", "expected a 1-d tensor")
    return int(video_ids.shape[0])


def _checked_column(
    path: Path, payload: dict, name: str, num_rows: int, extra_dims: int, last_size: int | None
) -> torch.Tensor:
    value = payload.get(name)
    expected_shape = "[N" + ", ..." * extra_dims + (f" x {last_size}" if last_size else "") + "]"
    if not isinstance(value, torch.Tensor):
        what = "missing" if value is None else type(value).__name__
        raise FormatError(
            path, None, name, f"expected a tensor {expected_shape} with N = {num_rows}, got {what}"
        )
    shape = tuple(value.shape)
    if value.dim() != 1 + extra_dims or shape[0] != num_rows or (last_size and shape[-1] != last_size):
        raise FormatError(
            path,
            None,
            name,
            f"expected a tensor {expected_shape} with N = {num_rows}, got shape {list(shape)}",
        )
    if value.is_floating_point():
        value = value.float()
        if not bool(torch.isfinite(value).all()):
            raise FormatError(path, None, name, "expected finite values")
    return value


def _check_payload_agreement(path: Path, kind: str, columns: dict[str, torch.Tensor]) -> None:
    if kind != "sampling_locations":
        return
    locations, weights = columns["sampling_locations"], columns["attention_weights"]
    if tuple(locations.shape[:-1]) != tuple(weights.shape):
        raise FormatError(
            path,
            None,
            "attention_weights",
            f"expected shape {list(locations.shape[:-1])} (sampling_locations without the last dimension), "
            f"got {list(weights.shape)}",
        )
