"""Pairing the rows of a dump with the frames of their video, and the shared frame-panel drawing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from instanceformer.analysis.dumps import AnalysisDump
from instanceformer.analysis.frames import VideoFrames
from instanceformer.core.errors import UserError
from instanceformer.core.formats import TrackResult


def check_frames_cover(dump: AnalysisDump, frames: VideoFrames) -> list[int]:
    """The sorted frame indices of the dump's rows; a :class:`UserError` if the video has fewer frames."""
    indices = sorted({int(value) for value in dump["frame_indices"].tolist()})
    if indices and indices[-1] >= len(frames):
        raise UserError(
            f"{dump.path}: rows reach frame {indices[-1]} but {frames.description} has {len(frames)} frames "
            "(wrong --frames, --video or --every?)"
        )
    return indices


def check_results_match(
    dump: AnalysisDump, results: Sequence[TrackResult], source: str, video_id: int
) -> None:
    """Check that the dump's track ids are positions of ``video_id``'s tracks in ``results``."""
    for track_id in dump.track_ids():
        if track_id >= len(results) or results[track_id].video_id != video_id:
            raise UserError(
                f"{source}: track {track_id} of {dump.path.name} is not a track of video {video_id} here "
                "(expected the results.json written with the dump)"
            )


def show_frame(axes, image: np.ndarray) -> None:
    """Draw a ``[height, width, 3]`` uint8 frame on ``axes`` in pixel coordinates, without ticks."""
    height, width = image.shape[:2]
    axes.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    axes.set_xticks([])
    axes.set_yticks([])
