"""The schema of ``association.json``, the per-video association report of an evaluated output folder.

The file is one JSON object: ``format_version``, ``kind`` (``"association"``), ``totals`` (the counts
:data:`TOTAL_KEYS` summed over the videos, equal to the identity counts of ``metrics.json``) and
``videos``, one report per video in video-id order with the keys of
:mod:`instanceformer.core.metrics.association_report` and ``name`` (:func:`video_name`) after
``video_id``. :func:`~instanceformer.core.metrics.association_document` builds it; see
``docs/formats.md``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from instanceformer.core.formats.video_dataset import Video

ASSOCIATION_FILE = "association.json"
ASSOCIATION_FORMAT_VERSION = 1
ASSOCIATION_KIND = "association"
TOTAL_KEYS = ("IDSW", "Frag", "MT", "PT", "ML")


def video_name(video: Video) -> str | None:
    """The folder of the video's frames (``0043f083b5`` for ``0043f083b5/00000.jpg``), or ``None`` when
    its first file name has no folder or it has no file names."""
    if not video.file_names:
        return None
    folder = PurePosixPath(video.file_names[0]).parent
    return None if folder == PurePosixPath(".") else str(folder)
