"""Mask encodings of the annotation files: uncompressed RLE, pixel area and COCO box."""

from __future__ import annotations

import numpy as np


def encode_uncompressed_rle(mask: np.ndarray) -> dict[str, list[int]]:
    """Uncompressed RLE ``{"size": [height, width], "counts": [...]}`` of a binary mask.

    Args:
        mask: ``(height, width)`` bool (or 0/1) array.

    Returns:
        Run lengths over the pixels in column-major order, alternating background and foreground and
        starting with a (possibly zero-length) background run, as in the YouTube-VIS and COCO files.
    """
    height, width = mask.shape
    flat = np.asarray(mask, dtype=bool).ravel(order="F")  # (height * width,)
    change_points = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    boundaries = np.concatenate([[0], change_points, [flat.size]])
    counts = np.diff(boundaries).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return {"size": [int(height), int(width)], "counts": [int(count) for count in counts]}


def mask_bbox(mask: np.ndarray) -> list[float]:
    """The COCO box ``[x, y, width, height]`` in pixels of the foreground of a ``(height, width)`` mask.

    ``x, y`` is the top-left covered pixel; width and height count covered columns and rows (so a single
    pixel has size 1). An empty mask gives ``[0, 0, 0, 0]``.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [
        float(columns[0]),
        float(rows[0]),
        float(columns[-1] - columns[0] + 1),
        float(rows[-1] - rows[0] + 1),
    ]
