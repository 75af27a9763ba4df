"""Per-video association reports: how each ground-truth track of each video was followed.

Plain data (dicts, lists, ints, floats, strings and ``None``) ready for JSON. One dict per video, in
video-id order:

- ``video_id``;
- ``HOTA``, ``DetA``, ``AssA``, ``IDF1``: the video's values from its counts summed over its
  categories (fractions; HOTA, DetA, AssA are means over the localisation thresholds);
- ``IDSW``, ``Frag``, ``MT``, ``PT``, ``ML``: its ID switches, fragmentations and ground-truth tracks
  mostly tracked, partially tracked and mostly lost;
- ``tracks``: one dict per ground-truth track, in file order: ``track_id``, ``category_id``,
  ``frames`` (frames with a mask entry), ``tracked_frames`` (of those, frames matched by the CLEAR
  matching), ``id_switches``, ``fragmentations``, ``coverage`` (``"mostly_tracked"``,
  ``"partially_tracked"``, ``"mostly_lost"``, or ``None`` for a track without any mask entry) and
  ``predictions`` (indices into the evaluated results of
  the predicted tracks it was matched to, in the order of their first match).

:func:`association_document` wraps the reports in the layout of ``association.json``
(:mod:`instanceformer.core.formats.association_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from instanceformer.core.formats import TrackResult, VideoDataset
from instanceformer.core.formats.association_file import (
    ASSOCIATION_FORMAT_VERSION,
    ASSOCIATION_KIND,
    TOTAL_KEYS,
    video_name,
)
from instanceformer.core.metrics.association import (
    AssociationEvaluation,
    ProgressCallback,
    VideoAssociation,
    compute_association,
)
from instanceformer.core.metrics.ground_truth import PreparedGroundTruth, prepare_ground_truth
from instanceformer.core.metrics.hota import hota_scores
from instanceformer.core.metrics.identity import identity_scores


def _coverage_names(video: VideoAssociation) -> list[str | None]:
    """The coverage class of each ground-truth track of ``video`` (``None`` when not present)."""
    coverage = video.coverage
    names = np.where(
        coverage.mostly_tracked(),
        "mostly_tracked",
        np.where(coverage.mostly_lost(), "mostly_lost", "partially_tracked"),
    )  # [num_truth]
    present = coverage.frames > 0  # [num_truth]
    return [str(name) if flag else None for name, flag in zip(names.tolist(), present.tolist(), strict=True)]


def video_report(video: VideoAssociation) -> dict[str, Any]:
    """The report of one video (keys in the module docstring)."""
    hota = hota_scores(video.counts.hota)  # each [num_alphas]
    clear, coverage = video.counts.clear, video.coverage
    tracks = [
        {
            "track_id": track_id,
            "category_id": category_id,
            "frames": frames,
            "tracked_frames": tracked,
            "id_switches": switches,
            "fragmentations": fragmentations,
            "coverage": name,
            "predictions": list(partners),
        }
        for track_id, category_id, frames, tracked, switches, fragmentations, name, partners in zip(
            video.truth_ids,
            video.truth_categories,
            coverage.frames.tolist(),
            coverage.tracked_frames.tolist(),
            coverage.id_switches.tolist(),
            coverage.fragmentations.tolist(),
            _coverage_names(video),
            video.partners,
            strict=True,
        )
    ]
    return {
        "video_id": video.video_id,
        "HOTA": float(hota["HOTA"].mean()),
        "DetA": float(hota["DetA"].mean()),
        "AssA": float(hota["AssA"].mean()),
        "IDF1": float(identity_scores(video.counts.identity)["IDF1"]),
        "IDSW": int(clear.id_switches),
        "Frag": int(clear.fragmentations),
        "MT": int(clear.mostly_tracked),
        "PT": int(clear.partially_tracked),
        "ML": int(clear.mostly_lost),
        "tracks": tracks,
    }


def video_reports(evaluation: AssociationEvaluation) -> list[dict[str, Any]]:
    """The report of every video of ``evaluation``, in video-id order."""
    return [video_report(video) for video in evaluation.videos]


def association_reports(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
) -> list[dict[str, Any]]:
    """Evaluate the association of ``results`` and return the per-video reports (module docstring).

    ``progress(videos_done, num_videos)`` is called after each video. Raises as
    :func:`~instanceformer.core.metrics.association.compute_association`.
    """
    return video_reports(compute_association(results, ground_truth, source=source, progress=progress))


def association_document(
    results: Sequence[TrackResult],
    ground_truth: VideoDataset | PreparedGroundTruth,
    *,
    source: str = "<results>",
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """The content of ``association.json`` for ``results``: ``format_version``, ``kind``, ``totals``
    (the counts ``IDSW``, ``Frag``, ``MT``, ``PT``, ``ML`` summed over the videos) and ``videos`` (the
    reports of :func:`association_reports`, each with the video's ``name`` after ``video_id``).

    Arguments and errors as for :func:`association_reports`.
    """
    if isinstance(ground_truth, VideoDataset):
        ground_truth = prepare_ground_truth(ground_truth)
    reports = association_reports(results, ground_truth, source=source, progress=progress)
    dataset = ground_truth.dataset
    videos = [
        {"video_id": report["video_id"], "name": video_name(dataset.video(report["video_id"])), **report}
        for report in reports
    ]
    return {
        "format_version": ASSOCIATION_FORMAT_VERSION,
        "kind": ASSOCIATION_KIND,
        "totals": {key: sum(int(report[key]) for report in reports) for key in TOTAL_KEYS},
        "videos": videos,
    }
