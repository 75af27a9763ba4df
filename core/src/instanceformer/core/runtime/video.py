"""Reading video files and writing H.264 mp4 files with imageio's ffmpeg plugin (imported when used).

Files are written atomically: under a temporary name beside the destination that keeps its suffix (the
plugin picks the container by it), renamed onto the destination when the writer is done. An ffmpeg
failure becomes a one-line UserError: the library's headline and ffmpeg's last line, not its banner.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from instanceformer.core.errors import UserError
from instanceformer.core.io import atomic_path

MP4_WRITER_SETTINGS: dict[str, Any] = {
    "format": "FFMPEG",
    "mode": "I",
    "codec": "libx264",
    "pixelformat": "yuv420p",
    "macro_block_size": 2,
    "ffmpeg_log_level": "error",
}
"""imageio ``get_writer`` arguments of every mp4 the toolkit writes (besides the frame rate)."""

MAX_FFMPEG_MESSAGE = 200
_FFMPEG_OUTPUT_MARKERS = ("=== stderr ===", "FFMPEG STDERR OUTPUT:")
_FFMPEG_BANNER = ("ffmpeg version", "built with", "configuration:", "lib", "FFMPEG COMMAND:")
_FFMPEG_CONTEXT = re.compile(r"^\[[^\]]*\]\s*")  # "[in#0 @ 0x55d...] "


def ffmpeg_message(problem: BaseException) -> str:
    """The gist of an ffmpeg failure on one short line: the library's headline and ffmpeg's last line
    (its version banner and build configuration left out), at most :data:`MAX_FFMPEG_MESSAGE`
    characters."""
    text = str(problem)
    headline, output = text, ""
    for marker in _FFMPEG_OUTPUT_MARKERS:
        if marker in text:
            headline, _, output = text.partition(marker)
            break
    headline = headline.split("FFMPEG COMMAND:")[0]
    lines = [_FFMPEG_CONTEXT.sub("", line.strip()) for line in output.splitlines()]
    details = [line for line in lines if line and not line.startswith(_FFMPEG_BANNER)]
    message = ": ".join(part for part in (" ".join(headline.split()), *details[-1:]) if part)
    if len(message) > MAX_FFMPEG_MESSAGE:
        message = message[: MAX_FFMPEG_MESSAGE - 3] + "..."
    return message


@contextlib.contextmanager
def media_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path with the destination's suffix (writers pick the format by it); renamed on success."""
    destination = Path(destination)
    with atomic_path(destination) as temporary:
        media = temporary.parent / f"{temporary.stem}{destination.suffix}"
        try:
            yield media
            os.replace(media, temporary)
        finally:
            media.unlink(missing_ok=True)


def open_mp4_writer(path: str | os.PathLike[str], fps: float):
    """An imageio writer of an H.264 mp4 at ``path`` (any suffix) with :data:`MP4_WRITER_SETTINGS`.

    Frames are ``[height, width, 3]`` uint8 RGB of one size; even sizes avoid a resize by the encoder.
    """
    import imageio.v2 as imageio

    return imageio.get_writer(os.fspath(path), fps=fps, **MP4_WRITER_SETTINGS)


@contextlib.contextmanager
def mp4_writer(destination: str | os.PathLike[str], fps: float) -> Iterator[Any]:
    """An H.264 mp4 writer of ``destination``, written atomically (nothing is left behind on an error)."""
    with media_path(destination) as temporary:
        writer = open_mp4_writer(temporary, fps)
        try:
            try:
                yield writer
            finally:
                writer.close()
        except (OSError, RuntimeError) as problem:
            if "ffmpeg" not in str(problem).lower():
                raise
            raise UserError(
                f"{destination}: ffmpeg could not write the video ({ffmpeg_message(problem)})"
            ) from None


def _unreadable(path: Path, problem: BaseException) -> UserError:
    """The one-line error of a file ffmpeg cannot read."""
    return UserError(f"{path}: expected a video file ffmpeg can read ({ffmpeg_message(problem)})")


class VideoReader:
    """A video file opened with ffmpeg: its metadata now, its frames decoded as they are reached.

    Attributes:
        path: the file.
        fps: frames per second from the metadata, or None when it gives none.
        duration: seconds from the metadata, or None.
    """

    def __init__(self, path: str | os.PathLike[str]):
        import imageio.v2 as imageio

        self.path = Path(path)
        try:
            self._reader = imageio.get_reader(self.path, format="FFMPEG")
            metadata = self._reader.get_meta_data()
        except (OSError, RuntimeError, ValueError) as problem:
            raise _unreadable(self.path, problem) from None
        self.fps: float | None = float(metadata["fps"]) if metadata.get("fps") else None
        self.duration: float | None = metadata.get("duration") or None

    @property
    def estimated_frames(self) -> int | None:
        """The number of frames the metadata announces (duration x fps), or None when it does not."""
        if self.fps is None or self.duration is None or not math.isfinite(self.duration * self.fps):
            return None
        return round(self.duration * self.fps)

    def count_frames(self) -> int:
        """The exact number of frames (ffmpeg reads the whole stream)."""
        try:
            # the FFMPEG plugin's Reader has count_frames; imageio's stub types get_reader as the base Reader
            return self._reader.count_frames()  # type: ignore[attr-defined]
        except (OSError, RuntimeError, ValueError) as problem:
            raise _unreadable(self.path, problem) from None

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame as ``[height, width, 3]`` uint8 RGB, in order; the file is closed at the end."""
        try:
            # imageio's stub declares Reader.__iter__ as returning an Array (it yields the frames)
            for frame in self._reader:  # type: ignore[attr-defined]
                yield np.asarray(frame)[..., :3]
        except (OSError, RuntimeError) as problem:
            raise _unreadable(self.path, problem) from None
        finally:
            self.close()

    def close(self) -> None:
        """Release the ffmpeg process."""
        self._reader.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
