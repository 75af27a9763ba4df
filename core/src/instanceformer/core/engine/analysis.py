"""Analysis dumps: decoder embeddings, reference points and sampling locations of the kept tracks.

While a video streams, the per-query data of each frame's candidates only is buffered (at most
``num_candidates`` rows per frame); when the video ends the rows of the selected tracks are kept and
the rest dropped. The rows of a dataset are written as three files (``docs/formats.md``):

- ``embeddings.pt``: ``embeddings`` ``[N, d_model]`` final decoder embeddings;
- ``reference_points.pt``: ``reference_points`` ``[N, num_layers, 2]``;
- ``sampling_locations.pt``: ``sampling_locations`` ``[N, num_layers, num_heads, num_levels,
  num_points, 2]`` and ``attention_weights`` ``[N, num_layers, num_heads, num_levels, num_points]``;

each with the row columns ``video_ids``, ``track_ids`` (the track's position in ``results.json``),
``frame_indices``, ``category_ids``, ``scores`` (the track's score), ``frame_scores`` (the probability of
the track's category in that frame) and ``valid_ratios`` ``[N, 2]``, plus ``format_version`` and
``kind``. Every value is a tensor, an int or a str, so the files load with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from instanceformer.core.engine.torch_io import save_torch_atomic
from instanceformer.core.errors import FormatError
from instanceformer.core.formats.analysis_dumps import (
    ANALYSIS_FILES,
    ANALYSIS_FORMAT_VERSION,
    PAYLOAD_COLUMNS,
    ROW_COLUMNS,
    TENSOR_COLUMNS,
)


@dataclass(frozen=True)
class FrameAnalysis:
    """The analysis rows of one frame's candidate queries (``K`` rows).

    Attributes:
        frame_index: the frame.
        queries: ``[K]`` int64 query indices.
        embeddings: ``[K, d_model]``.
        reference_points: ``[K, num_layers, 2]`` (x, y) normalised to the unpadded image.
        sampling_locations: ``[K, num_layers, num_heads, num_levels, num_points, 2]`` in [0, 1] of the
            padded maps.
        attention_weights: ``[K, num_layers, num_heads, num_levels, num_points]``.
        probabilities: ``[K, num_classes]`` class probabilities.
        valid_ratios: ``[2]`` (width, height) fraction of the padded input that is image.
    """

    frame_index: int
    queries: torch.Tensor
    embeddings: torch.Tensor
    reference_points: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor
    probabilities: torch.Tensor
    valid_ratios: torch.Tensor


@dataclass(frozen=True)
class VideoAnalysis:
    """The analysis rows of one video's kept tracks; ``track_ranks`` index the video's track list."""

    video_id: int
    track_ranks: torch.Tensor  # [N] int64
    frame_indices: torch.Tensor  # [N] int64
    category_ids: torch.Tensor  # [N] int64
    scores: torch.Tensor  # [N] float32
    frame_scores: torch.Tensor  # [N] float32
    valid_ratios: torch.Tensor  # [N, 2]
    embeddings: torch.Tensor  # [N, d_model]
    reference_points: torch.Tensor  # [N, num_layers, 2]
    sampling_locations: torch.Tensor  # [N, num_layers, num_heads, num_levels, num_points, 2]
    attention_weights: torch.Tensor  # [N, num_layers, num_heads, num_levels, num_points]

    @property
    def num_rows(self) -> int:
        """The number of (track, frame) rows."""
        return int(self.track_ranks.shape[0])


class AnalysisBuffer:
    """The candidate rows of the frames seen so far (at most ``num_candidates`` per frame)."""

    def __init__(self) -> None:
        self.frames: list[FrameAnalysis] = []

    def add(self, frame: FrameAnalysis) -> None:
        """Buffer one frame's candidate rows (tensors moved to the CPU)."""
        self.frames.append(
            FrameAnalysis(
                frame.frame_index,
                *(
                    tensor.detach().cpu()
                    for tensor in (
                        frame.queries,
                        frame.embeddings,
                        frame.reference_points,
                        frame.sampling_locations,
                        frame.attention_weights,
                        frame.probabilities,
                        frame.valid_ratios,
                    )
                ),
            )
        )

    def num_rows(self) -> int:
        """The number of buffered rows."""
        return sum(int(frame.queries.shape[0]) for frame in self.frames)

    def select(self, video_id: int, tracks: Sequence[tuple[int, int, int, float]]) -> VideoAnalysis:
        """Keep the rows of the selected tracks, ordered by track then frame, and clear the buffer.

        Args:
            video_id: the video's id.
            tracks: ``(query index, contiguous class index, dataset category id, score)`` per track, in
                the order of the video's track list.
        """
        rows: dict[str, list[torch.Tensor]] = {name: [] for name in (*TENSOR_COLUMNS, "frame_scores")}
        ranks, frame_indices, category_ids, scores, valid_ratios = [], [], [], [], []
        for rank, (query, class_index, category_id, score) in enumerate(tracks):
            for frame in self.frames:
                positions = (frame.queries == query).nonzero().flatten()
                if positions.numel() == 0:
                    continue
                position = int(positions[0])
                for name in TENSOR_COLUMNS:
                    rows[name].append(getattr(frame, name)[position])
                rows["frame_scores"].append(frame.probabilities[position, class_index].float())
                ranks.append(rank)
                frame_indices.append(frame.frame_index)
                category_ids.append(category_id)
                scores.append(score)
                valid_ratios.append(frame.valid_ratios)
        shapes = self._row_shapes()
        self.frames = []
        return VideoAnalysis(
            video_id=video_id,
            track_ranks=torch.tensor(ranks, dtype=torch.long),
            frame_indices=torch.tensor(frame_indices, dtype=torch.long),
            category_ids=torch.tensor(category_ids, dtype=torch.long),
            scores=torch.tensor(scores, dtype=torch.float32),
            frame_scores=_stack(rows["frame_scores"], ()),
            valid_ratios=_stack(valid_ratios, (2,)),
            **{name: _stack(rows[name], shapes[name]) for name in TENSOR_COLUMNS},
        )

    def _row_shapes(self) -> dict[str, tuple[int, ...]]:
        if not self.frames:
            return {name: (0,) for name in TENSOR_COLUMNS}
        first = self.frames[0]
        return {name: tuple(getattr(first, name).shape[1:]) for name in TENSOR_COLUMNS}


def _stack(rows: list[torch.Tensor], row_shape: tuple[int, ...]) -> torch.Tensor:
    if not rows:
        return torch.zeros(0, *row_shape)
    return torch.stack(rows).float()


def analysis_payloads(videos: Sequence[VideoAnalysis], track_offsets: Sequence[int]) -> dict[str, dict]:
    """The three dump payloads of a list of videos.

    Args:
        videos: per video its kept rows.
        track_offsets: per video the position of its first track in ``results.json``.

    Returns:
        ``{kind: payload}`` for each kind of :data:`ANALYSIS_FILES`.
    """
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in (*ROW_COLUMNS, *TENSOR_COLUMNS)}
    for video, offset in zip(videos, track_offsets, strict=True):
        columns["video_ids"].append(torch.full((video.num_rows,), video.video_id, dtype=torch.long))
        columns["track_ids"].append(video.track_ranks + offset)
        for name in (
            "frame_indices",
            "category_ids",
            "scores",
            "frame_scores",
            "valid_ratios",
            *TENSOR_COLUMNS,
        ):
            columns[name].append(getattr(video, name))
    merged = {name: _concatenate(parts) for name, parts in columns.items()}
    payloads = {}
    for kind, names in PAYLOAD_COLUMNS.items():
        payload: dict = {"format_version": ANALYSIS_FORMAT_VERSION, "kind": kind}
        payload.update({name: merged[name] for name in ROW_COLUMNS})
        payload.update({name: merged[name] for name in names})
        payloads[kind] = payload
    return payloads


def _concatenate(parts: list[torch.Tensor]) -> torch.Tensor:
    filled = [part for part in parts if part.shape[0] > 0]
    if filled:
        return torch.cat(filled)
    return parts[0] if parts else torch.zeros(0)


def merge_analysis_payloads(payloads: Sequence[dict], track_id_maps: Sequence[torch.Tensor]) -> dict:
    """Merge dumps of one kind written by several shards.

    Args:
        payloads: loaded dumps (:func:`load_analysis`) of the same kind.
        track_id_maps: per payload a ``[num_tracks]`` int64 tensor giving each of its track ids the id
            of the same track in the merged ``results.json``.

    Returns:
        One payload with the rows ordered by merged track id, then frame index.
    """
    kind = payloads[0]["kind"]
    names = (*ROW_COLUMNS, *PAYLOAD_COLUMNS[kind])
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for payload, track_id_map in zip(payloads, track_id_maps, strict=True):
        for name in names:
            value = payload[name]
            columns[name].append(track_id_map[value] if name == "track_ids" else value)
    merged = {name: _concatenate(parts) for name, parts in columns.items()}
    if merged["track_ids"].numel() > 0:
        keys = merged["track_ids"] * (int(merged["frame_indices"].max()) + 1) + merged["frame_indices"]
        order = keys.argsort(stable=True)
        merged = {name: value[order] for name, value in merged.items()}
    return {"format_version": ANALYSIS_FORMAT_VERSION, "kind": kind, **merged}


def write_analysis(
    out_dir: str | Path, videos: Sequence[VideoAnalysis], track_offsets: Sequence[int]
) -> list[Path]:
    """Write the three analysis dumps into ``out_dir`` (atomically); returns their paths."""
    out_dir = Path(out_dir)
    written = []
    for kind, payload in analysis_payloads(videos, track_offsets).items():
        written.append(save_torch_atomic(out_dir / ANALYSIS_FILES[kind], payload))
    return written


def load_analysis(path: str | Path) -> dict:
    """Load one analysis dump with ``weights_only=True`` and check its version and row columns."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FormatError(path, None, None, "no such analysis dump") from None
    except Exception as problem:
        raise FormatError(
            path, None, None, f"not a loadable analysis dump ({type(problem).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != ANALYSIS_FORMAT_VERSION:
        raise FormatError(path, None, "format_version", f"expected {ANALYSIS_FORMAT_VERSION}")
    kind = payload.get("kind")
    if kind not in PAYLOAD_COLUMNS:
        raise FormatError(path, None, "kind", f"expected one of {', '.join(PAYLOAD_COLUMNS)}")
    num_rows = int(payload["video_ids"].shape[0])
    for name in (*ROW_COLUMNS, *PAYLOAD_COLUMNS[kind]):
        value = payload.get(name)
        if not isinstance(value, torch.Tensor) or int(value.shape[0]) != num_rows:
            raise FormatError(path, None, name, f"expected a tensor with {num_rows} rows")
    return payload
