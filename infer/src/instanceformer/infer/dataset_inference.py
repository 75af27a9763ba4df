"""Inference over the videos of an annotation file, frames decoded and resized in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from instanceformer.core.engine import OnlineEngine, PreparedFrame, VideoResult, VideoStream
from instanceformer.core.engine.frames import read_frame
from instanceformer.core.errors import UserError
from instanceformer.core.formats import Video
from instanceformer.infer.prefetch import Prefetcher

PREFETCH_FRAMES = 8

FrameCallback = Callable[[], None]
"""Called after each frame."""
VideoCallback = Callable[[VideoResult], None]
"""Called after each video with its result."""


def _prepared_frames(
    engine: OnlineEngine, videos: Sequence[Video], frames_dir: Path
) -> Iterator[tuple[int, int, PreparedFrame]]:
    """``(video position, frame index, prepared frame)`` for every frame of ``videos`` in order."""
    for position, video in enumerate(videos):
        for frame_index, file_name in enumerate(video.file_names):
            path = frames_dir / file_name
            try:
                frame = read_frame(path, expected_size=(video.height, video.width))
            except FileNotFoundError:
                raise UserError(
                    f"{path}: frame file not found (video {video.id}, frame {frame_index}; check --frames)"
                ) from None
            yield position, frame_index, engine.prepare(frame)


def infer_videos(
    engine: OnlineEngine,
    videos: Sequence[Video],
    frames_dir: str | Path,
    *,
    on_frame: FrameCallback | None = None,
    on_video: VideoCallback | None = None,
) -> list[VideoResult]:
    """Run every video through the engine, in the given order.

    Args:
        engine: the online engine.
        videos: the videos (their ``file_names`` relative to ``frames_dir``).
        frames_dir: the frame root of the annotation file.
        on_frame: progress callback per frame.
        on_video: progress callback per video.

    Returns:
        One :class:`VideoResult` per video, in order.
    """
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise UserError(f"{frames_dir}: expected the folder of the annotation file's frames (--frames)")
    results: list[VideoResult] = []
    stream: VideoStream | None = None
    with Prefetcher(lambda: _prepared_frames(engine, videos, frames_dir), depth=PREFETCH_FRAMES) as frames:
        for position, frame_index, prepared in frames:
            video = videos[position]
            if frame_index == 0:
                stream = engine.start(video.id)
            assert stream is not None  # the frames of each video come in order from frame 0
            stream.push(prepared)
            if on_frame is not None:
                on_frame()
            if frame_index == len(video.file_names) - 1:
                result = stream.finish()
                results.append(result)
                stream = None
                if on_video is not None:
                    on_video(result)
    return results
