"""Analysis dumps: embeddings, reference points and sampling locations of the kept tracks.

While a video streams, the per-query data of each frame's candidates only is buffered (at most
``num_candidates`` rows per frame); when the video ends the rows of the selected tracks are kept and
the rest dropped. The rows of a dataset are written as three files (``docs/formats.md``):

- ``embeddings.pt``: ``decoder_embeddings`` ``[N, d_model]`` final decoder embeddings and, when the
  model has a contrastive head, ``contrastive_embeddings`` ``[N, embedding_dim]`` (the head's output);
- ``reference_points.pt``: ``reference_points`` ``[N, num_layers, 2]``;
- ``sampling_locations.pt``: ``sampling_locations`` ``[N, num_layers, num_heads, num_levels,
  num_points, 2]`` and ``attention_weights`` ``[N, num_layers, num_heads, num_levels, num_points]``;

each with the row columns ``video_ids``, ``track_ids`` (the track's position in ``results.json``),
``frame_indices``, ``category_ids``, ``scores`` (the track's score), ``frame_scores`` (the probability of
the track's category in that frame) and ``valid_ratios`` ``[N, 2]``, plus ``format_version`` and
``kind``. Every value is a tensor, an int or a str, so the files load with ``weights_only=True``.
:func:`load_analysis` also reads version-1 files (see :mod:`instanceformer.core.formats.analysis_dumps`).
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
    OPTIONAL_PAYLOAD_COLUMNS,
    OPTIONAL_TENSOR_COLUMNS,
    PAYLOAD_COLUMNS,
    READABLE_FORMAT_VERSIONS,
    ROW_COLUMNS,
    TENSOR_COLUMNS,
    upgrade_analysis_payload,
)


@dataclass(frozen=True)
class FrameAnalysis:
    """The analysis rows of one frame's candidate queries (``K`` rows).

    Attributes:
        frame_index: the frame.
        queries: ``[K]`` int64 query indices.
        decoder_embeddings: ``[K, d_model]`` final decoder embeddings.
        reference_points: ``[K, num_layers, 2]`` (x, y) normalised to the unpadded image.
        sampling_locations: ``[K, num_layers, num_heads, num_levels, num_points, 2]`` in [0, 1] of the
            padded maps.
        attention_weights: ``[K, num_layers, num_heads, num_levels, num_points]``.
        probabilities: ``[K, num_classes]`` class probabilities.
        valid_ratios: ``[2]`` (width, height) fraction of the padded input that is image.
        contrastive_embeddings: ``[K, embedding_dim]`` the contrastive head's output, or None when the
            model has no contrastive head.
    """

    frame_index: int
    queries: torch.Tensor
    decoder_embeddings: torch.Tensor
    reference_points: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor
    probabilities: torch.Tensor
    valid_ratios: torch.Tensor
    contrastive_embeddings: torch.Tensor | None


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
    decoder_embeddings: torch.Tensor  # [N, d_model]
    reference_points: torch.Tensor  # [N, num_layers, 2]
    sampling_locations: torch.Tensor  # [N, num_layers, num_heads, num_levels, num_points, 2]
    attention_weights: torch.Tensor  # [N, num_layers, num_heads, num_levels, num_points]
    contrastive_embeddings: torch.Tensor | None  # [N, embedding_dim], None without a contrastive head

    @property
    def num_rows(self) -> int:
        """The number of (track, frame) rows."""
        return int(self.track_ranks.shape[0])


class AnalysisBuffer:
    """The candidate rows of the frames seen so far (at most ``num_candidates`` per frame).

    Args:
        contrastive: whether every frame brings ``contrastive_embeddings`` (the model has a
            contrastive head).
    """

    def __init__(self, contrastive: bool = False) -> None:
        self.contrastive = contrastive
        self.frames: list[FrameAnalysis] = []

    def add(self, frame: FrameAnalysis) -> None:
        """Buffer one frame's candidate rows (tensors moved to the CPU)."""
        if (frame.contrastive_embeddings is not None) != self.contrastive:
            expected = "with" if self.contrastive else "without"
            raise ValueError(f"frame {frame.frame_index}: expected rows {expected} contrastive_embeddings")
        contrastive = frame.contrastive_embeddings
        self.frames.append(
            FrameAnalysis(
                frame_index=frame.frame_index,
                queries=_to_cpu(frame.queries),
                decoder_embeddings=_to_cpu(frame.decoder_embeddings),
                reference_points=_to_cpu(frame.reference_points),
                sampling_locations=_to_cpu(frame.sampling_locations),
                attention_weights=_to_cpu(frame.attention_weights),
                probabilities=_to_cpu(frame.probabilities),
                valid_ratios=_to_cpu(frame.valid_ratios),
                contrastive_embeddings=None if contrastive is None else _to_cpu(contrastive),
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
        tensor_columns = self._tensor_columns()
        rows: dict[str, list[torch.Tensor]] = {name: [] for name in (*tensor_columns, "frame_scores")}
        ranks, frame_indices, category_ids, scores, valid_ratios = [], [], [], [], []
        for rank, (query, class_index, category_id, score) in enumerate(tracks):
            for frame in self.frames:
                positions = (frame.queries == query).nonzero().flatten()
                if positions.numel() == 0:
                    continue
                position = int(positions[0])
                for name in tensor_columns:
                    rows[name].append(getattr(frame, name)[position])
                rows["frame_scores"].append(frame.probabilities[position, class_index].float())
                ranks.append(rank)
                frame_indices.append(frame.frame_index)
                category_ids.append(category_id)
                scores.append(score)
                valid_ratios.append(frame.valid_ratios)
        shapes = self._row_shapes()
        stacked = {name: _stack(rows[name], shapes[name]) for name in tensor_columns}
        contrastive_embeddings = stacked.pop("contrastive_embeddings", None)
        self.frames = []
        return VideoAnalysis(
            video_id=video_id,
            track_ranks=torch.tensor(ranks, dtype=torch.long),
            frame_indices=torch.tensor(frame_indices, dtype=torch.long),
            category_ids=torch.tensor(category_ids, dtype=torch.long),
            scores=torch.tensor(scores, dtype=torch.float32),
            frame_scores=_stack(rows["frame_scores"], ()),
            valid_ratios=_stack(valid_ratios, (2,)),
            contrastive_embeddings=contrastive_embeddings,
            **stacked,
        )

    def _tensor_columns(self) -> tuple[str, ...]:
        return (*TENSOR_COLUMNS, *OPTIONAL_TENSOR_COLUMNS) if self.contrastive else TENSOR_COLUMNS

    def _row_shapes(self) -> dict[str, tuple[int, ...]]:
        columns = self._tensor_columns()
        if not self.frames:
            return {name: (0,) for name in columns}
        first = self.frames[0]
        return {name: tuple(getattr(first, name).shape[1:]) for name in columns}


def _to_cpu(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().cpu()


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
        ``{kind: payload}`` for each kind of :data:`ANALYSIS_FILES`; ``contrastive_embeddings`` is in
        the ``embeddings`` payload when the videos have them.

    Raises:
        ValueError: some videos have contrastive embeddings and others not.
    """
    contrastive = {video.contrastive_embeddings is not None for video in videos}
    if len(contrastive) > 1:
        raise ValueError("videos with and without contrastive_embeddings cannot share one dump")
    tensor_columns = (*TENSOR_COLUMNS, *OPTIONAL_TENSOR_COLUMNS) if True in contrastive else TENSOR_COLUMNS
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in (*ROW_COLUMNS, *tensor_columns)}
    for video, offset in zip(videos, track_offsets, strict=True):
        columns["video_ids"].append(torch.full((video.num_rows,), video.video_id, dtype=torch.long))
        columns["track_ids"].append(video.track_ranks + offset)
        for name in (
            "frame_indices",
            "category_ids",
            "scores",
            "frame_scores",
            "valid_ratios",
            *tensor_columns,
        ):
            columns[name].append(getattr(video, name))
    merged = {name: _concatenate(parts) for name, parts in columns.items()}
    payloads = {}
    for kind, names in PAYLOAD_COLUMNS.items():
        optional = tuple(name for name in OPTIONAL_PAYLOAD_COLUMNS[kind] if name in merged)
        payload: dict = {"format_version": ANALYSIS_FORMAT_VERSION, "kind": kind}
        payload.update({name: merged[name] for name in ROW_COLUMNS})
        payload.update({name: merged[name] for name in (*names, *optional)})
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

    Raises:
        ValueError: an optional column (``contrastive_embeddings``) is in some payloads only.
    """
    kind = payloads[0]["kind"]
    optional = tuple(name for name in OPTIONAL_PAYLOAD_COLUMNS[kind] if name in payloads[0])
    for payload in payloads:
        if tuple(name for name in OPTIONAL_PAYLOAD_COLUMNS[kind] if name in payload) != optional:
            raise ValueError(f"the {kind} dumps to merge disagree on their optional columns")
    names = (*ROW_COLUMNS, *PAYLOAD_COLUMNS[kind], *optional)
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
    """Load one analysis dump with ``weights_only=True`` and check its version and row columns.

    A version-1 dump is returned in the version-2 layout (:func:`upgrade_analysis_payload`).
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FormatError(path, None, None, "no such analysis dump") from None
    except Exception as problem:
        raise FormatError(
            path, None, None, f"not a loadable analysis dump ({type(problem).__name__})"
        ) from None
    if isinstance(payload, dict):
        payload = upgrade_analysis_payload(payload)
    if not isinstance(payload, dict) or payload.get("format_version") != ANALYSIS_FORMAT_VERSION:
        readable = " or ".join(str(version) for version in READABLE_FORMAT_VERSIONS)
        raise FormatError(path, None, "format_version", f"expected {readable}")
    kind = payload.get("kind")
    if kind not in PAYLOAD_COLUMNS:
        raise FormatError(path, None, "kind", f"expected one of {', '.join(PAYLOAD_COLUMNS)}")
    num_rows = int(payload["video_ids"].shape[0])
    optional = tuple(name for name in OPTIONAL_PAYLOAD_COLUMNS[kind] if name in payload)
    for name in (*ROW_COLUMNS, *PAYLOAD_COLUMNS[kind], *optional):
        value = payload.get(name)
        if not isinstance(value, torch.Tensor) or int(value.shape[0]) != num_rows:
            raise FormatError(path, None, name, f"expected a tensor with {num_rows} rows")
    return payload
