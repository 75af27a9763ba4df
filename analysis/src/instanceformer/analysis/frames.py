"""Locating and reading the frames of one video for the figures and overlay videos.

The rule (also in the README's "Analysis" section), for ``--frames DIR`` and ``--video ID``:

1. With an annotation file (``--gt``), the video's ``file_names`` are read relative
   to ``DIR``, exactly as ``ifm-infer dataset --frames`` reads them. When ``DIR/<file name>`` does not
   exist but ``DIR/<base name>`` does, ``DIR`` is taken as the video's own frame folder.
2. Without one (``results.json`` holds only video ids), ``DIR`` is the video's frame folder and its
   images (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, ``.webp``) in name order are the frames; a
   sub-folder ``DIR/<ID>`` is used instead when it exists.
3. ``DIR`` may also be a video file (what ``ifm-infer video`` read); ``--every K`` keeps every K-th
   frame as that command did, so frame indices match its outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from instanceformer.core.errors import UserError
from instanceformer.core.formats import VideoDataset
from instanceformer.core.runtime.video import VideoReader

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


@dataclass(frozen=True)
class VideoFrames:
    """The frames of one video: image files in order, or a video file read every ``every`` frames."""

    description: str
    paths: tuple[Path, ...] = ()
    video_file: Path | None = None
    every: int = 1
    num_frames: int = 0

    def __len__(self) -> int:
        return self.num_frames

    def iterate(self, indices: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(frame index, [height, width, 3] uint8 RGB)`` for the wanted indices (default all), in order."""
        wanted = sorted(set(range(self.num_frames) if indices is None else indices))
        for index in wanted:
            if not 0 <= index < self.num_frames:
                raise UserError(f"{self.description}: no frame {index} (it has {self.num_frames} frames)")
        if self.video_file is None:
            for index in wanted:
                yield index, read_image(self.paths[index])
            return
        yield from _video_file_frames(self.video_file, self.every, wanted)


def read_image(path: Path) -> np.ndarray:
    """Decode an image file as ``[height, width, 3]`` uint8 RGB; a one-line error if it is not one."""
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB"))
    except FileNotFoundError:
        raise UserError(f"{path}: frame file not found") from None
    except (UnidentifiedImageError, OSError) as problem:
        raise UserError(f"{path}: expected a decodable image ({' '.join(str(problem).split())})") from None


def locate_frames(
    frames: str | Path, video_id: int, dataset: VideoDataset | None = None, every: int = 1
) -> VideoFrames:
    """The frames of video ``video_id`` by the rule of this module's docstring.

    Args:
        frames: the ``--frames`` folder or video file.
        video_id: the video.
        dataset: the annotation file that names the video's frames, or None.
        every: for a video file, keep every ``every``-th frame.
    """
    frames = Path(frames)
    if every < 1:
        raise UserError(f"--every: expected an integer >= 1, got {every}")
    if not frames.exists():
        raise UserError(f"{frames}: no such frame folder or video file (--frames)")
    if frames.is_file():
        if frames.suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(
                f"{frames}: expected a frame folder or a video file ({', '.join(VIDEO_SUFFIXES)}) (--frames)"
            )
        return _video_file(frames, every)
    if dataset is not None:
        return _annotated_frames(frames, video_id, dataset)
    folder = frames / str(video_id) if (frames / str(video_id)).is_dir() else frames
    paths = tuple(sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES))
    if not paths:
        raise UserError(
            f"{folder}: expected the frames of video {video_id} as image files "
            f"({', '.join(IMAGE_SUFFIXES)}); pass --gt to name them"
        )
    return VideoFrames(description=str(folder), paths=paths, num_frames=len(paths))


def _annotated_frames(frames: Path, video_id: int, dataset: VideoDataset) -> VideoFrames:
    video = next((video for video in dataset.videos if video.id == video_id), None)
    if video is None:
        shown = ", ".join(str(video.id) for video in dataset.videos[:20])
        raise UserError(f"video {video_id} is not in the annotation file (its videos: {shown})")
    paths = [frames / name for name in video.file_names]
    if not paths[0].is_file() and (frames / Path(video.file_names[0]).name).is_file():
        paths = [frames / Path(name).name for name in video.file_names]
    missing = next((path for path in paths if not path.is_file()), None)
    if missing is not None:
        raise UserError(f"{missing}: frame file not found (video {video_id}; check --frames)")
    return VideoFrames(
        description=f"video {video_id} under {frames}", paths=tuple(paths), num_frames=len(paths)
    )


def _video_file(path: Path, every: int) -> VideoFrames:
    with VideoReader(path) as video:
        total = video.count_frames()
    return VideoFrames(
        description=str(path), video_file=path, every=every, num_frames=(total + every - 1) // every
    )


def _video_file_frames(path: Path, every: int, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    if not wanted:
        return
    remaining = iter(wanted)
    target: int | None = next(remaining)
    video = VideoReader(path)
    try:
        for source_index, image in enumerate(video.frames()):
            if source_index % every:
                continue
            if source_index // every == target:
                yield target, image
                target = next(remaining, None)
                if target is None:
                    return
    finally:
        video.close()
