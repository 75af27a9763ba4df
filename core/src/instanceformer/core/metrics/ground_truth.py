"""Ground truth prepared once for any number of evaluations (training validates against it every epoch).

Preparing converts every mask to compressed RLE and computes areas, mean areas, crowd flags and OVIS
occlusion scores per video; it is the part of an evaluation that does not depend on the predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

from instanceformer.core.errors import UserError
from instanceformer.core.formats import VideoDataset
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.metrics.parameters import AREA_SUBSETS, OCCLUSION_SUBSETS, Subset
from instanceformer.core.metrics.video_tracks import TruthTracks, truth_tracks


@dataclass(frozen=True)
class PreparedGroundTruth:
    """A dataset with its ground-truth tracks prepared per video (``tracks[video_id]``).

    ``subsets`` are the area subsets, followed by the occlusion subsets when any track carries OVIS
    occlusion labels; ``category_ids`` are the dataset's category ids in ascending order.
    """

    dataset: VideoDataset
    tracks: dict[int, TruthTracks]
    subsets: tuple[Subset, ...]
    category_ids: tuple[int, ...]


@paused_garbage_collection()
def prepare_ground_truth(dataset: VideoDataset) -> PreparedGroundTruth:
    """Prepare the ground truth of ``dataset`` (masks in any encoding) for :func:`compute_evaluation`.

    Raises UserError when the dataset has no annotations (a val/test split).
    """
    if not dataset.has_ground_truth:
        raise UserError(
            "the ground-truth file has no annotations (a val/test split cannot be evaluated locally)"
        )
    has_occlusion = any(track.occlusion is not None for track in dataset.annotations or ())
    return PreparedGroundTruth(
        dataset=dataset,
        tracks={video.id: truth_tracks(dataset.tracks_of(video.id), video) for video in dataset.videos},
        subsets=AREA_SUBSETS + (OCCLUSION_SUBSETS if has_occlusion else ()),
        category_ids=tuple(sorted(set(dataset.category_ids()))),
    )
