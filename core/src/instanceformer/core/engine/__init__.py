"""The online inference engine: frames stream through the model one at a time in constant memory.

- :class:`OnlineEngine` / :class:`VideoStream`: push frames, get per-frame reports, finish a video into
  tracks in the results format (selection rule in :mod:`instanceformer.core.engine.statistics`).
- :func:`load_run_model`: the model of a run folder with a checkpoint's weights.
- :func:`write_analysis` / :func:`load_analysis`: the ``embeddings.pt``, ``reference_points.pt`` and
  ``sampling_locations.pt`` dumps.

The training stage validates with the same engine.
"""

from instanceformer.core.engine.analysis import (
    AnalysisBuffer,
    FrameAnalysis,
    VideoAnalysis,
    analysis_payloads,
    load_analysis,
    merge_analysis_payloads,
    write_analysis,
)
from instanceformer.core.engine.loading import (
    LoadedModel,
    load_run_model,
    with_infer_overrides,
)
from instanceformer.core.engine.masks import masks_at_original_size
from instanceformer.core.engine.online import FrameReport, OnlineEngine, VideoResult, VideoStream
from instanceformer.core.engine.preprocess import PreparedFrame, inference_size, prepare_frame
from instanceformer.core.engine.statistics import QueryStatistics, frame_candidates

__all__ = [
    "AnalysisBuffer",
    "FrameAnalysis",
    "FrameReport",
    "LoadedModel",
    "OnlineEngine",
    "PreparedFrame",
    "QueryStatistics",
    "VideoAnalysis",
    "VideoResult",
    "VideoStream",
    "analysis_payloads",
    "frame_candidates",
    "inference_size",
    "load_analysis",
    "load_run_model",
    "masks_at_original_size",
    "merge_analysis_payloads",
    "prepare_frame",
    "with_infer_overrides",
    "write_analysis",
]
