"""Where the frames of ``ifm-infer video`` come from: a video file, a folder of images, or raw stdin.

Every source yields ``[height, width, 3]`` uint8 RGB arrays, decoded only when reached. The stdin format
is a plain concatenation of raw RGB24 frames (``height * width * 3`` bytes each, rows top to bottom,
pixels left to right, channels R, G, B) whose size is given with ``--size WxH``, e.g. what
``ffmpeg -i input.mp4 -f rawvideo -pix_fmt rgb24 -`` writes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from instanceformer.core.errors import UserError
from instanceformer.core.runtime.frame_size import parse_frame_size
from instanceformer.core.runtime.image_folder import image_files, read_rgb_image
from instanceformer.core.runtime.video import VideoReader

STDIN_NAME = "-"
DEFAULT_FPS = 10.0


@dataclass
class FrameSource:
    """An opened source: its frames, a name, and the frame rate an overlay should use."""

    frames: Iterator[np.ndarray]
    name: str
    fps: float


def _folder_frames(folder: Path) -> Iterator[np.ndarray]:
    return (read_rgb_image(path) for path in image_files(folder))


def _video_frames(path: Path) -> tuple[Iterator[np.ndarray], float]:
    video = VideoReader(path)
    return video.frames(), video.fps or DEFAULT_FPS


def raw_frames(stream: BinaryIO, height: int, width: int) -> Iterator[np.ndarray]:
    """Raw RGB24 frames of ``height x width`` from a byte stream until it ends.

    Raises:
        UserError: the stream ends inside a frame.
    """
    frame_bytes = height * width * 3
    index = 0
    while True:
        chunk = stream.read(frame_bytes)
        while chunk and len(chunk) < frame_bytes:
            more = stream.read(frame_bytes - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        if len(chunk) != frame_bytes:
            raise UserError(
                f"stdin: frame {index}: expected {frame_bytes} bytes of RGB24 ({width}x{height}), "
                f"the stream ended after {len(chunk)}"
            )
        yield np.frombuffer(chunk, dtype=np.uint8).reshape(height, width, 3)
        index += 1


def _every_and_limit(
    frames: Iterator[np.ndarray], every: int, max_frames: int | None
) -> Iterator[np.ndarray]:
    kept = 0
    for index, frame in enumerate(frames):
        if max_frames is not None and kept >= max_frames:
            return
        if index % every == 0:
            kept += 1
            yield frame


def open_frame_source(
    source: str,
    *,
    every: int = 1,
    max_frames: int | None = None,
    size: str | None = None,
    fps: float | None = None,
) -> FrameSource:
    """Open a video file, a folder of images or ``-`` (raw RGB24 frames on stdin, ``size`` required).

    Args:
        source: the path, or ``-``.
        every: keep every ``every``-th frame.
        max_frames: stop after this many kept frames.
        size: ``WxH`` of the stdin frames.
        fps: frame rate for the overlay (default: the video's divided by ``every``, else 10).
    """
    if every < 1:
        raise UserError(f"--every: expected a positive integer, got {every}")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"--max-frames: expected a positive integer, got {max_frames}")
    if fps is not None and fps <= 0:
        raise UserError(f"--fps: expected a positive number, got {fps}")
    if source == STDIN_NAME:
        if size is None:
            raise UserError("--size: required with '-' (raw RGB24 frames on stdin), e.g. --size 640x360")
        height, width = parse_frame_size(size)
        frames, name, source_fps = raw_frames(sys.stdin.buffer, height, width), "stdin", DEFAULT_FPS * every
    else:
        path = Path(source)
        if not path.exists():
            raise UserError(f"{path}: no such video file or frame folder")
        if path.is_dir():
            frames, source_fps = _folder_frames(path), DEFAULT_FPS * every
        else:
            frames, source_fps = _video_frames(path)
        name = path.stem if path.is_file() else path.name
    chosen_fps = fps if fps is not None else source_fps / every
    return FrameSource(_every_and_limit(frames, every, max_frames), name, chosen_fps)
