"""The summary numbers of the YouTube-VIS / OVIS metric and the :class:`Evaluation` that holds the curves.

Every summary number is the mean of the defined entries (> -1) of a slice of the precision or recall
array, as COCO's summary computes it, and -1 when no entry is defined (e.g. APs without small objects):

- AP: precision over all IoU thresholds, recall thresholds and categories, all areas, 100 detections;
  AP50 / AP75 the same at IoU 0.5 / 0.75; APs / APm / APl on the area subsets;
- AR1 / AR10 / AR100: recall over IoU thresholds and categories with 1 / 10 / 100 detections;
  ARs / ARm / ARl: recall on the area subsets with 100 detections;
- OVIS only: APlight / APmedium / APheavy on the occlusion subsets, 100 detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instanceformer.core.metrics.parameters import IOU_THRESHOLDS, MAX_DETECTIONS, Subset

AREA_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
OCCLUSION_METRICS = ("APlight", "APmedium", "APheavy")
_AREA_SUFFIXES = {"small": "s", "medium": "m", "large": "l"}
_OCCLUSION_SUFFIXES = {"light_occlusion": "light", "medium_occlusion": "medium", "heavy_occlusion": "heavy"}


def _mean_defined(values: np.ndarray) -> float:
    """Mean of the entries above -1, or -1 when there is none."""
    defined = values[values > -1]
    return float(defined.mean()) if defined.size else -1.0


@dataclass(frozen=True)
class Evaluation:
    """Precision and recall curves of one evaluation.

    ``precision`` is ``[T, R, K, S, M]`` and ``recall`` ``[T, K, S, M]`` (-1 where undefined) over
    IoU thresholds (T), recall thresholds (R), ``category_ids`` (K, ascending), ``subsets`` (S: all,
    small, medium, large, then the occlusion ranges when the ground truth has occlusion labels) and
    maximum detections (M: 1, 10, 100).
    """

    category_ids: tuple[int, ...]
    subsets: tuple[Subset, ...]
    precision: np.ndarray
    recall: np.ndarray

    def _subset(self, name: str) -> int:
        return [subset.name for subset in self.subsets].index(name)

    def average_precision(self, subset: str = "all", iou_threshold: float | None = None) -> float:
        """AP (fraction) on ``subset`` with 100 detections, over all IoU thresholds or at one of them."""
        curves = self.precision[..., self._subset(subset), MAX_DETECTIONS.index(100)]  # [T, R, K]
        if iou_threshold is not None:
            curves = curves[np.flatnonzero(np.equal(IOU_THRESHOLDS, iou_threshold))]
        return _mean_defined(curves)

    def average_recall(self, subset: str = "all", max_detections: int = 100) -> float:
        """AR (fraction) on ``subset`` with at most ``max_detections`` predictions per video and category."""
        return _mean_defined(self.recall[..., self._subset(subset), MAX_DETECTIONS.index(max_detections)])

    def summary(self) -> dict[str, float]:
        """The summary numbers as fractions in [0, 1] (-1 where undefined), keyed as in the module doc."""
        metrics = {
            "AP": self.average_precision(),
            "AP50": self.average_precision(iou_threshold=0.5),
            "AP75": self.average_precision(iou_threshold=0.75),
        }
        for subset, suffix in _AREA_SUFFIXES.items():
            metrics[f"AP{suffix}"] = self.average_precision(subset)
        for max_detections in MAX_DETECTIONS:
            metrics[f"AR{max_detections}"] = self.average_recall(max_detections=max_detections)
        for subset, suffix in _AREA_SUFFIXES.items():
            metrics[f"AR{suffix}"] = self.average_recall(subset)
        names = {subset.name for subset in self.subsets}
        for subset, suffix in _OCCLUSION_SUFFIXES.items():
            if subset in names:
                metrics[f"AP{suffix}"] = self.average_precision(subset)
        return metrics
