"""Writing images, figures, mp4 and GIF files atomically (a temporary file beside the target, then rename)."""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from instanceformer.analysis.overlay import with_banner
from instanceformer.core.io import write_bytes_atomic
from instanceformer.core.runtime.video import media_path, mp4_writer

SHEET_TILE_WIDTH = 320


def write_png(image: np.ndarray, destination: str | os.PathLike[str]) -> Path:
    """Write a ``[height, width, 3]`` uint8 RGB image as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return write_bytes_atomic(destination, buffer.getvalue())


def save_figure(figure, destination: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return write_bytes_atomic(destination, buffer.getvalue())


class VideoWriters:
    """An H.264 mp4 writer and, optionally, a looping GIF writer fed the same frames."""

    def __init__(self, mp4_path: Path, gif_path: Path | None, fps: float):
        self._stack = contextlib.ExitStack()
        self._writers = [self._stack.enter_context(mp4_writer(mp4_path, fps))]
        if gif_path is not None:
            import imageio.v2 as imageio

            gif_temporary = self._stack.enter_context(media_path(gif_path))
            gif_writer = imageio.get_writer(
                gif_temporary, format="GIF", mode="I", duration=1000.0 / fps, loop=0
            )
            self._writers.append(self._stack.enter_context(contextlib.closing(gif_writer)))

    def append(self, frame: np.ndarray) -> None:
        """Append one ``[height, width, 3]`` uint8 frame (even height and width) to every writer."""
        for writer in self._writers:
            writer.append_data(frame)

    def __enter__(self) -> VideoWriters:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._stack.__exit__(kind, value, traceback)


def contact_sheet(tiles: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
    """A grid of frames, each scaled to at most :data:`SHEET_TILE_WIDTH` pixels wide and titled.

    Args:
        tiles: ``(frame index, [height, width, 3] uint8)`` pairs of equal size, in order.

    Returns:
        ``[rows * tile_height, columns * tile_width, 3]`` uint8 with ``columns = ceil(sqrt(len(tiles)))``.
    """
    height, width = tiles[0][1].shape[:2]
    scale = min(1.0, SHEET_TILE_WIDTH / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rendered = [
        with_banner(
            np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)), f"frame {index}"
        )
        for index, image in tiles
    ]
    columns = math.ceil(math.sqrt(len(rendered)))
    rows = math.ceil(len(rendered) / columns)
    tile_height, tile_width = rendered[0].shape[:2]
    sheet = np.zeros((rows * tile_height, columns * tile_width, 3), dtype=np.uint8)
    for position, tile in enumerate(rendered):
        row, column = divmod(position, columns)
        sheet[
            row * tile_height : (row + 1) * tile_height, column * tile_width : (column + 1) * tile_width
        ] = tile
    return sheet
