"""``ifm-infer video``: one video through the engine in a single pass, with an overlay mp4."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from instanceformer.core.engine import OnlineEngine, PreparedFrame, VideoResult, write_analysis
from instanceformer.core.errors import UserError
from instanceformer.core.formats import write_results_json
from instanceformer.core.runtime.video import mp4_writer
from instanceformer.infer.frame_sources import FrameSource
from instanceformer.infer.outputs import OVERLAY_FILE, RESULTS_JSON, inference_output_folder
from instanceformer.infer.overlay import draw_overlay
from instanceformer.infer.prefetch import Prefetcher

VIDEO_ID = 1
PREFETCH_FRAMES = 4


@dataclass(frozen=True)
class VideoInferenceSummary:
    """What :func:`infer_video` did: frames, timing and the files written."""

    result: VideoResult
    num_frames: int
    seconds: float
    results_path: Path
    overlay_path: Path | None

    @property
    def frames_per_second(self) -> float:
        """Frames processed per second (decoding, model, encoding and overlay included)."""
        return self.num_frames / max(self.seconds, 1e-9)


def _prepared(engine: OnlineEngine, source: FrameSource) -> Iterator[tuple[np.ndarray, PreparedFrame]]:
    for frame in source.frames:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise UserError(f"{source.name}: expected [height, width, 3] uint8 RGB frames, got {frame.shape}")
        tensor = torch.from_numpy(np.require(frame, requirements=["C", "W"])).permute(2, 0, 1)  # [3, H, W]
        yield frame, engine.prepare(tensor)


def infer_video(
    engine: OnlineEngine,
    source: FrameSource,
    out_dir: str | Path,
    *,
    class_names: Sequence[str],
    overlay: bool = True,
    on_frame: Callable[[int], None] | None = None,
    force: bool = False,
) -> VideoInferenceSummary:
    """Stream a video through ``engine``; write ``results.json`` (video id 1), ``overlay.mp4`` and, when
    the engine collects analysis, the analysis dumps, all into ``out_dir``.

    The overlay is drawn in the same pass, so it shows for each frame the tracks as ranked after that
    frame (see :class:`~instanceformer.core.engine.FrameReport`); ``results.json`` holds the final ranking.

    Args:
        engine: the online engine.
        source: the frames (:func:`~instanceformer.infer.frame_sources.open_frame_source`).
        out_dir: the output folder: new or empty unless ``force``; its files appear only when the whole
            video is done (see :func:`~instanceformer.infer.outputs.inference_output_folder`).
        class_names: the name of each contiguous class index, for the overlay labels.
        overlay: write ``overlay.mp4``.
        on_frame: called with the number of frames done after each frame.
        force: write into a folder that already holds files.
    """
    out_dir = Path(out_dir)
    with inference_output_folder(out_dir, force) as staging:
        result, seconds = _stream_video(engine, source, staging, class_names, overlay, on_frame)
    overlay_path = out_dir / OVERLAY_FILE if overlay else None
    return VideoInferenceSummary(result, result.num_frames, seconds, out_dir / RESULTS_JSON, overlay_path)


def _stream_video(
    engine: OnlineEngine,
    source: FrameSource,
    out_dir: Path,
    class_names: Sequence[str],
    overlay: bool,
    on_frame: Callable[[int], None] | None,
) -> tuple[VideoResult, float]:
    """Run the video through the engine and write its files into ``out_dir``; the result and seconds."""
    overlay_path = out_dir / OVERLAY_FILE if overlay else None
    stream = engine.start(VIDEO_ID)
    started = time.perf_counter()
    writing = mp4_writer(overlay_path, source.fps) if overlay_path is not None else contextlib.nullcontext()
    with writing as writer:
        with Prefetcher(lambda: _prepared(engine, source), depth=PREFETCH_FRAMES) as frames:
            for frame, prepared in frames:
                report = stream.push(prepared)
                if writer is not None:
                    writer.append_data(draw_overlay(frame, report, class_names))
                if on_frame is not None:
                    on_frame(stream.num_frames)
        if stream.num_frames == 0:
            raise UserError(f"{source.name}: expected at least one frame, found none")
    result = stream.finish()
    seconds = time.perf_counter() - started
    write_results_json(result.tracks, out_dir / RESULTS_JSON)
    if result.analysis is not None:
        write_analysis(out_dir, [result.analysis], [0])
    return result, seconds
