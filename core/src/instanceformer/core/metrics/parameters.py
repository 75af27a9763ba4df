"""The fixed parameters of the YouTube-VIS / OVIS video instance segmentation metric.

They follow the official evaluation code of the servers (a video variant of COCO's evaluation):

- IoU thresholds 0.50:0.05:0.95 and recall thresholds 0:0.01:1, built with ``numpy.linspace`` exactly as
  COCO builds them (the 0.90 threshold is therefore one unit in the last place below 0.9);
- at most 1, 10 or 100 predicted tracks per video and category;
- area ranges by a track's mean non-empty mask area in pixels: small ``[0, 128^2]``, medium
  ``[128^2, 256^2]``, large ``[256^2, inf)``; both ends are inclusive, as in COCO, so a track of exactly
  ``128^2`` pixels counts as small and as medium;
- OVIS occlusion ranges by a ground-truth track's occlusion score: light ``[0, 0.25]``, medium
  ``[0.25, 0.5]``, heavy ``[0.5, 1]`` (inclusive ends, as in the OVIS evaluation code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # [num_iou_thresholds]
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)  # [num_recall_thresholds]
MAX_DETECTIONS = (1, 10, 100)

# COCO caps a threshold just below 1 so that an IoU of exactly 1 still matches at threshold 1.
_HIGHEST_MATCHING_THRESHOLD = 1.0 - 1e-10
MATCHING_THRESHOLDS = np.minimum(IOU_THRESHOLDS, _HIGHEST_MATCHING_THRESHOLD)  # [num_iou_thresholds]

_UNBOUNDED_AREA = 1e5**2

# Per-frame OVIS occlusion labels and the score each one counts for.
OCCLUSION_SCORES = {"no_occlusion": 0.0, "slight_occlusion": 0.25, "severe_occlusion": 0.75}


@dataclass(frozen=True)
class Subset:
    """A subset of ground-truth tracks the metric is computed on.

    ``area_range`` is ``(low, high)`` in pixels (mean non-empty mask area of a track, both ends
    inclusive); ``occlusion_range`` is ``(low, high)`` on the occlusion score, or ``None`` when the subset
    does not depend on occlusion. Predictions are only filtered by area (an unmatched prediction outside
    the area range is ignored); occlusion ranges filter the ground truth alone, as the OVIS code does.
    """

    name: str
    area_range: tuple[float, float]
    occlusion_range: tuple[float, float] | None = None


AREA_SUBSETS = (
    Subset("all", (0.0, _UNBOUNDED_AREA)),
    Subset("small", (0.0, 128.0**2)),
    Subset("medium", (128.0**2, 256.0**2)),
    Subset("large", (256.0**2, _UNBOUNDED_AREA)),
)
OCCLUSION_SUBSETS = (
    Subset("light_occlusion", (0.0, _UNBOUNDED_AREA), (0.0, 0.25)),
    Subset("medium_occlusion", (0.0, _UNBOUNDED_AREA), (0.25, 0.5)),
    Subset("heavy_occlusion", (0.0, _UNBOUNDED_AREA), (0.5, 1.0)),
)


def occlusion_score(labels: tuple[str | None, ...] | None) -> float:
    """The occlusion score of one ground-truth track from its per-frame OVIS labels.

    Each non-null label counts as its :data:`OCCLUSION_SCORES` value; the score is the mean of the
    highest half of those values (``ceil(n / 2)`` of them). Returns NaN (unknown) when the track has no
    labels at all: such a track belongs to none of the occlusion ranges.
    """
    if labels is None:
        return math.nan
    values = sorted(OCCLUSION_SCORES[label] for label in labels if label is not None)
    if not values:
        return math.nan
    highest = values[-math.ceil(len(values) / 2) :]
    return sum(highest) / len(highest)
