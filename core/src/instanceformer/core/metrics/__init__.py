"""The YouTube-VIS / OVIS video instance segmentation metric (the servers' definition, vectorised), and
the association metrics HOTA, IDF1 and CLEAR's ID switches as trackeval computes them for YouTube-VIS.

:func:`evaluate_files` evaluates a results file against an annotation file; :func:`evaluate_results`
gives the summary numbers of the requested metric sets (:data:`METRIC_SETS`; by default ``ap``: AP, AP50,
AP75, APs/m/l, AR1/10/100, ARs/m/l, and APlight/medium/heavy for OVIS-style ground truth; ``hota`` and
``identity``: :data:`HOTA_METRICS`, :data:`IDENTITY_METRICS`); :func:`compute_evaluation` the full
precision/recall arrays; :func:`compute_association` the association counts per category and video;
:func:`association_reports` how each ground-truth track of each video was followed and
:func:`association_document` the same as the content of ``association.json``
(:func:`evaluate_files_with_association` for files);
:func:`evaluate_short_long` the YouTube-VIS 2022 mean of the short- and long-video sets.
"""

from instanceformer.core.metrics.association import AssociationEvaluation, compute_association
from instanceformer.core.metrics.association_report import (
    association_document,
    association_reports,
    video_reports,
)
from instanceformer.core.metrics.association_summary import (
    COUNT_METRICS,
    HOTA_METRICS,
    IDENTITY_METRICS,
    hota_summary,
    identity_summary,
)
from instanceformer.core.metrics.evaluator import compute_evaluation, evaluate_results, evaluate_short_long
from instanceformer.core.metrics.files import evaluate_files, evaluate_files_with_association
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.metric_sets import DEFAULT_METRIC_SETS, METRIC_SETS, select_metric_sets
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
    "COUNT_METRICS",
    "DEFAULT_METRIC_SETS",
    "HOTA_METRICS",
    "IDENTITY_METRICS",
    "IOU_THRESHOLDS",
    "MAX_DETECTIONS",
    "METRIC_SETS",
    "OCCLUSION_METRICS",
    "OCCLUSION_SCORES",
    "OCCLUSION_SUBSETS",
    "RECALL_THRESHOLDS",
    "AssociationEvaluation",
    "Evaluation",
    "PreparedGroundTruth",
    "Subset",
    "association_document",
    "association_reports",
    "compute_association",
    "compute_evaluation",
    "evaluate_files",
    "evaluate_files_with_association",
    "evaluate_results",
    "evaluate_short_long",
    "hota_summary",
    "identity_summary",
    "metrics_table",
    "occlusion_score",
    "prepare_ground_truth",
    "select_metric_sets",
    "track_intersections",
    "track_iou_matrix",
    "video_reports",
]
