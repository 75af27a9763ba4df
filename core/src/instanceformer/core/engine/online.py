"""The online engine: a video streams through the model one frame at a time in constant memory.

For each frame the engine resizes and normalises the input (:mod:`.preprocess`), runs
:meth:`InstanceFormer.step` without gradients in evaluation mode, updates the per-query statistics
(:mod:`.statistics`), upsamples the masks of the frame's candidate queries to the original size,
thresholds them at ``infer.mask_threshold``, encodes them to compressed RLE at once and drops the frame.
What it keeps grows only by those RLE strings (and, with analysis on, by the bounded rows of each
frame's candidates): the model state and the statistics have a fixed size.

When the video ends the selection rule of :mod:`.statistics` picks up to ``infer.max_tracks`` queries;
each becomes a track with one category (mapped from the contiguous class index to the dataset's id),
one score and, per frame, its RLE where the query was a candidate and ``null`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from instanceformer.core.config import InferConfig
from instanceformer.core.engine.analysis import AnalysisBuffer, FrameAnalysis, VideoAnalysis
from instanceformer.core.engine.masks import masks_at_original_size
from instanceformer.core.engine.preprocess import PreparedFrame, prepare_frame
from instanceformer.core.engine.statistics import QueryStatistics, frame_candidates
from instanceformer.core.formats import TrackResult, encode_mask
from instanceformer.core.model import InstanceFormer

CANDIDATES_PER_TRACK = 2


@dataclass(frozen=True)
class FrameReport:
    """What one frame produced, for live display (an overlay) and progress reports.

    Attributes:
        frame_index: the frame's position in the video.
        queries: ``[K]`` int64 candidate queries of the frame.
        masks: ``[K, height, width]`` bool masks of the candidates at the original size (CPU).
        leaders: the tracks as ranked after this frame, ``(query, class index, score)`` best first
            (at most ``max_tracks``); the final ranking may differ.
    """

    frame_index: int
    queries: torch.Tensor
    masks: torch.Tensor
    leaders: tuple[tuple[int, int, float], ...]


@dataclass(frozen=True)
class VideoResult:
    """The tracks of one video, best score first, and their analysis rows when requested."""

    video_id: int
    num_frames: int
    tracks: tuple[TrackResult, ...]
    queries: tuple[int, ...]
    analysis: VideoAnalysis | None


class OnlineEngine:
    """Runs videos through a model online. One engine serves any number of videos, one at a time.

    Args:
        model: the model; it is put in evaluation mode.
        infer: the ``infer`` section of the configuration (sizes, thresholds, ``max_tracks``).
        category_ids: the dataset category id of each contiguous class index (``num_classes`` entries).
        size_divisibility: the padded input sides are multiples of it.
        num_candidates: candidate queries per frame (default ``2 * max_tracks``, at most ``num_queries``).
        collect_analysis: buffer the candidates' decoder embeddings, contrastive embeddings (when the
            model has a contrastive head), reference points and sampling locations.
    """

    def __init__(
        self,
        model: InstanceFormer,
        infer: InferConfig,
        category_ids: Sequence[int],
        *,
        size_divisibility: int = 32,
        num_candidates: int | None = None,
        collect_analysis: bool = False,
    ):
        if len(category_ids) != model.config.num_classes:
            raise ValueError(
                f"expected {model.config.num_classes} category ids (model.num_classes), "
                f"got {len(category_ids)}"
            )
        self.model = model.eval()
        self.infer = infer
        self.category_ids = tuple(int(category_id) for category_id in category_ids)
        self.size_divisibility = size_divisibility
        wanted = CANDIDATES_PER_TRACK * infer.max_tracks if num_candidates is None else num_candidates
        self.num_candidates = max(1, min(wanted, model.num_queries))
        self.collect_analysis = collect_analysis

    @property
    def device(self) -> torch.device:
        """The model's device."""
        return next(self.model.parameters()).device

    def prepare(self, frame: torch.Tensor) -> PreparedFrame:
        """Resize, normalise and pad a ``[3, height, width]`` uint8 frame (on the CPU)."""
        return prepare_frame(frame, self.infer.min_size, self.infer.max_size, self.size_divisibility)

    def start(self, video_id: int) -> VideoStream:
        """Begin a video; push its frames in order, then call :meth:`VideoStream.finish`."""
        return VideoStream(self, video_id)


class VideoStream:
    """One video in progress. Create it with :meth:`OnlineEngine.start`."""

    def __init__(self, engine: OnlineEngine, video_id: int):
        self.engine = engine
        self.video_id = video_id
        model = engine.model
        self.state = model.init_state(1, device=engine.device, memory_frames=engine.infer.memory_frames)
        self.statistics = QueryStatistics(model.num_queries, model.config.num_classes, device="cpu")
        self.segmentations: dict[int, dict[int, dict[str, Any]]] = {}
        contrastive = model.embedding_head is not None
        self.analysis = AnalysisBuffer(contrastive) if engine.collect_analysis else None
        self.num_frames = 0
        self.original_size: tuple[int, int] | None = None

    def push(self, frame: torch.Tensor | PreparedFrame) -> FrameReport:
        """Process the next frame: a ``[3, height, width]`` uint8 tensor or a :class:`PreparedFrame`."""
        engine = self.engine
        prepared = frame if isinstance(frame, PreparedFrame) else engine.prepare(frame)
        if self.original_size is None:
            self.original_size = prepared.original_size
        elif prepared.original_size != self.original_size:
            raise ValueError(
                f"frame {self.num_frames} is {prepared.original_size[0]}x{prepared.original_size[1]}, "
                f"the video's first frame {self.original_size[0]}x{self.original_size[1]}"
            )
        prepared = prepared.to(engine.device)
        with torch.inference_mode():
            outputs, self.state = engine.model.step(
                prepared.images,
                self.state,
                prepared.padding_mask,
                collect_analysis=engine.collect_analysis,
                compute_masks=True,
            )
            assert outputs.masks is not None  # compute_masks=True
            probabilities = outputs.logits[0].sigmoid().float().cpu()  # [Q, C]
            candidates = frame_candidates(probabilities, engine.num_candidates, engine.infer.score_threshold)
            masks = masks_at_original_size(
                outputs.masks[0, candidates.to(outputs.masks.device)],
                outputs.mask_stride,
                prepared.resized_size,
                prepared.original_size,
                engine.infer.mask_threshold,
            ).cpu()  # [K, H, W]
            if self.analysis is not None and outputs.analysis is not None:
                on_device = candidates.to(outputs.logits.device)
                self.analysis.add(
                    FrameAnalysis(
                        frame_index=self.num_frames,
                        queries=candidates,
                        decoder_embeddings=outputs.decoder_embeddings[0, on_device],
                        reference_points=outputs.analysis.reference_points[0, on_device],
                        sampling_locations=outputs.analysis.sampling_locations[0, on_device],
                        attention_weights=outputs.analysis.attention_weights[0, on_device],
                        probabilities=probabilities[candidates],
                        valid_ratios=outputs.valid_ratios[0],
                        contrastive_embeddings=(
                            outputs.embeddings[0, on_device] if self.analysis.contrastive else None
                        ),
                    )
                )
        self.statistics.update(probabilities, candidates)
        mask_array = masks.numpy()
        for position, query in enumerate(candidates.tolist()):
            self.segmentations.setdefault(query, {})[self.num_frames] = encode_mask(mask_array[position])
        report = FrameReport(
            frame_index=self.num_frames,
            queries=candidates,
            masks=masks,
            leaders=tuple(self.statistics.select(engine.infer.max_tracks, engine.infer.score_threshold)),
        )
        self.num_frames += 1
        return report

    def finish(self) -> VideoResult:
        """Select the video's tracks (see :mod:`.statistics`) and release the per-video buffers."""
        engine = self.engine
        if self.num_frames == 0:
            raise ValueError(f"video {self.video_id}: no frames were pushed")
        selected = self.statistics.select(engine.infer.max_tracks, engine.infer.score_threshold)
        tracks = []
        for query, class_index, score in selected:
            frames = self.segmentations.get(query, {})
            tracks.append(
                TrackResult(
                    video_id=self.video_id,
                    category_id=engine.category_ids[class_index],
                    score=round(score, 6),
                    segmentations=tuple(frames.get(index) for index in range(self.num_frames)),
                )
            )
        analysis = None
        if self.analysis is not None:
            analysis = self.analysis.select(
                self.video_id,
                [
                    (query, class_index, engine.category_ids[class_index], score)
                    for query, class_index, score in selected
                ],
            )
        self.segmentations = {}
        return VideoResult(
            video_id=self.video_id,
            num_frames=self.num_frames,
            tracks=tuple(tracks),
            queries=tuple(query for query, _, _ in selected),
            analysis=analysis,
        )

    def retained_tensor_bytes(self) -> int:
        """Bytes of the tensors kept between frames (model state and statistics; constant per video)."""
        state_bytes = sum(tensor.numel() * tensor.element_size() for tensor in self.state.tensors().values())
        return state_bytes + self.statistics.num_bytes()

    def num_encoded_masks(self) -> int:
        """The RLE masks held so far (at most ``num_candidates`` per frame)."""
        return sum(len(frames) for frames in self.segmentations.values())
