"""The YouTube-VIS / OVIS video instance segmentation metric (the servers' definition, vectorised).

:func:`evaluate_files` evaluates a results file against an annotation file; :func:`evaluate_results`
gives the summary numbers (AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l, and
APlight/medium/heavy for OVIS-style ground truth); :func:`compute_evaluation` the full precision/recall
arrays; :func:`evaluate_short_long` the YouTube-VIS 2022 mean of the short- and long-video sets.
"""

from instanceformer.core.metrics.evaluator import compute_evaluation, evaluate_results, evaluate_short_long
from instanceformer.core.metrics.files import evaluate_files
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.parameters import (
    AREA_SUBSETS,
    IOU_THRESHOLDS,
    MAX_DETECTIONS,
    OCCLUSION_SCORES,
    OCCLUSION_SUBSETS,
    RECALL_THRESHOLDS,
    Subset,
    occlusion_score,
)
from instanceformer.core.metrics.report import metrics_table
from instanceformer.core.metrics.summary import AREA_METRICS, OCCLUSION_METRICS, Evaluation
from instanceformer.core.metrics.track_iou import track_intersections, track_iou_matrix

__all__ = [
    "AREA_METRICS",
    "AREA_SUBSETS",
    "IOU_THRESHOLDS",
    "MAX_DETECTIONS",
    "OCCLUSION_METRICS",
    "OCCLUSION_SCORES",
    "OCCLUSION_SUBSETS",
    "RECALL_THRESHOLDS",
    "Evaluation",
    "PreparedGroundTruth",
    "Subset",
    "compute_evaluation",
    "evaluate_files",
    "evaluate_results",
    "evaluate_short_long",
    "metrics_table",
    "occlusion_score",
    "prepare_ground_truth",
    "track_intersections",
    "track_iou_matrix",
]
