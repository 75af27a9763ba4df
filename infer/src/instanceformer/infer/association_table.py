"""What the commands print about ``association.json``: the videos that lose identities most, and where
the report went."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

WORST_VIDEOS = 5


def worst_videos(document: Mapping[str, Any], limit: int = WORST_VIDEOS) -> list[Mapping[str, Any]]:
    """The reports of the ``limit`` videos with the most ID switches, then the most mostly-lost tracks;
    videos with neither are left out, ties keep the file's video order."""
    troubled = [video for video in document["videos"] if video["IDSW"] > 0 or video["ML"] > 0]
    return sorted(troubled, key=lambda video: (-video["IDSW"], -video["ML"]))[:limit]


def _video_label(video: Mapping[str, Any]) -> str:
    """``3 (0043f083b5)``: the video id and, when it has one, its name."""
    name = video.get("name")
    return f"{video['video_id']} ({name})" if name else str(video["video_id"])


def worst_videos_table(videos: list[Mapping[str, Any]]) -> Table:
    """A table of the given video reports: ID switches, fragmentations, lost tracks, AssA and IDF1."""
    table = Table(title="Videos with the most ID switches and lost tracks")
    table.add_column("video")
    for column in ("IDSW", "Frag", "lost tracks (ML)", "AssA (%)", "IDF1 (%)"):
        table.add_column(column, justify="right")
    for video in videos:
        table.add_row(
            _video_label(video),
            str(video["IDSW"]),
            str(video["Frag"]),
            str(video["ML"]),
            f"{100.0 * video['AssA']:.2f}",
            f"{100.0 * video['IDF1']:.2f}",
        )
    return table


def print_association_report(console: Console, document: Mapping[str, Any], path: Path) -> None:
    """Print the :func:`worst_videos` table of ``document`` (a line when no video has an ID switch or a
    lost track) and the path it was written to."""
    videos = worst_videos(document)
    if videos:
        console.print(worst_videos_table(videos))
    else:
        console.print("no ID switches and no mostly lost tracks")
    totals = document["totals"]
    console.print(
        f"association report of {len(document['videos'])} videos ({totals['IDSW']} ID switches, "
        f"{totals['ML']} mostly lost tracks) -> {path}"
    )
