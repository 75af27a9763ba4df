"""YouTube-VIS / OVIS annotation records of the synthetic videos.

Per-frame occlusion labels follow OVIS: the visible fraction of an object is its visible area divided by
its full in-frame area (its shape clipped to the frame, before other objects cover it).

- ``no_occlusion`` when at least 90 % is visible, ``slight_occlusion`` from 50 %, else
  ``severe_occlusion`` (which includes a frame where the object is in view but fully hidden: its
  segmentation is null).
- A frame where the object is not in view at all (not entered yet, gone, or outside the border) has a
  null segmentation and the label ``no_occlusion``: nothing occludes it, it is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from instanceformer.core.formats.rle import encode_mask_uncompressed

NO_OCCLUSION = "no_occlusion"
SLIGHT_OCCLUSION = "slight_occlusion"
SEVERE_OCCLUSION = "severe_occlusion"
NO_OCCLUSION_MIN_VISIBLE = 0.9
SLIGHT_OCCLUSION_MIN_VISIBLE = 0.5
SUPERCATEGORY = "shape"


def occlusion_label(visible_area: int, full_area: int) -> str:
    """The OVIS occlusion label of a frame from the visible and full in-frame areas (pixels)."""
    if full_area == 0:
        return NO_OCCLUSION
    visible_fraction = visible_area / full_area
    if visible_fraction >= NO_OCCLUSION_MIN_VISIBLE:
        return NO_OCCLUSION
    if visible_fraction >= SLIGHT_OCCLUSION_MIN_VISIBLE:
        return SLIGHT_OCCLUSION
    return SEVERE_OCCLUSION


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


class TrackAnnotation:
    """Collects one object's per-frame ground truth: RLE, area, box and occlusion label (or null)."""

    def __init__(self, category_id: int, height: int, width: int):
        self.category_id = category_id
        self.height = height
        self.width = width
        self.segmentations: list[dict[str, Any] | None] = []
        self.areas: list[int | None] = []
        self.bboxes: list[list[float] | None] = []
        self.occlusion: list[str] = []

    def add_frame(self, full_mask: np.ndarray, visible_mask: np.ndarray) -> None:
        """Append a frame given the object's full and visible ``(height, width)`` bool masks."""
        visible_area = int(visible_mask.sum())
        self.occlusion.append(occlusion_label(visible_area, int(full_mask.sum())))
        if visible_area == 0:
            self.segmentations.append(None)
            self.areas.append(None)
            self.bboxes.append(None)
            return
        self.segmentations.append(encode_mask_uncompressed(visible_mask))
        self.areas.append(visible_area)
        self.bboxes.append(mask_bbox(visible_mask))

    @property
    def is_visible(self) -> bool:
        """Whether the object is visible in at least one frame (otherwise it is left out)."""
        return any(area is not None for area in self.areas)

    def record(self, annotation_id: int, video_id: int) -> dict[str, Any]:
        """The annotation record of the track in the YouTube-VIS format plus the OVIS ``occlusion`` list."""
        return {
            "id": annotation_id,
            "video_id": video_id,
            "category_id": self.category_id,
            "iscrowd": 0,
            "height": self.height,
            "width": self.width,
            "segmentations": self.segmentations,
            "areas": self.areas,
            "bboxes": self.bboxes,
            "occlusion": self.occlusion,
        }


def frame_file_names(video_name: str, num_frames: int) -> list[str]:
    """The frame paths ``<video>/00000.jpg ...`` relative to the split's ``JPEGImages`` folder."""
    return [f"{video_name}/{frame:05d}.jpg" for frame in range(num_frames)]


def video_record(video_id: int, video_name: str, height: int, width: int, num_frames: int) -> dict[str, Any]:
    """The ``videos`` entry of one video."""
    return {
        "id": video_id,
        "width": width,
        "height": height,
        "length": num_frames,
        "file_names": frame_file_names(video_name, num_frames),
    }


def category_records(names: Sequence[str]) -> list[dict[str, Any]]:
    """The ``categories`` list: ids 1..K named after the shapes."""
    return [
        {"id": index + 1, "name": name, "supercategory": SUPERCATEGORY} for index, name in enumerate(names)
    ]
