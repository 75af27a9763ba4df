"""Rich tables that the ``ifm-prep`` commands print."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from instanceformer.core.formats import CATEGORY_TABLES, VideoDataset
from instanceformer.dataprep.check import CheckReport
from instanceformer.dataprep.coco_keep import CocoKeepResult
from instanceformer.dataprep.import_video import ImportSummary
from instanceformer.dataprep.split import NO_TRACKS_STRATUM, SplitResult
from instanceformer.dataprep.stats import DatasetStats


def _key_value_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("item")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, value)
    return table


def check_table(report: CheckReport, manifest: Path) -> Table:
    """Summary of ``ifm-prep check``."""
    rows = [
        ("annotations", str(report.annotations)),
        ("kind", report.kind),
        ("split", report.split),
        ("ground truth", "yes" if report.has_ground_truth else "no"),
        *((name, str(count)) for name, count in report.counts.items()),
        ("frame root", str(report.frames_root)),
        ("frames checked", f"{report.frames_checked} of {report.frames_total} ({report.mode})"),
        ("problems", str(len(report.problems))),
        ("sha256", report.sha256[:16] + "..."),
        ("manifest", str(manifest)),
    ]
    return _key_value_table("Dataset check", rows)


def coco_keep_table(result: CocoKeepResult, target: str, out: Path) -> Table:
    """Kept annotations per target category of ``ifm-prep coco-keep``."""
    table = Table(title=f"COCO subset for {target}: {out}")
    for column in ("id", "category", "annotations", "crowd"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for category in CATEGORY_TABLES[target]:
        count = result.annotations_per_category.get(category.id, 0)
        if count:
            crowd = result.crowd_per_category.get(category.id, 0)
            table.add_row(str(category.id), category.name, str(count), str(crowd))
    dataset = result.dataset
    table.add_row("", "kept images", str(len(dataset.images)), "")
    table.add_row("", "dropped images", str(result.dropped_images), "")
    table.add_row("", "dropped annotations", str(result.dropped_annotations), "")
    return table


def split_table(result: SplitResult, dataset: VideoDataset, out_dir: Path) -> Table:
    """Videos per stratum of ``ifm-prep split``."""
    names = {category.id: category.name for category in dataset.categories}
    table = Table(title=f"Video split in {out_dir}")
    for column in ("stratum (rarest category)", "videos", "train", "val"):
        table.add_column(column, justify="left" if column.startswith("stratum") else "right")
    for stratum, (train, val) in sorted(result.strata.items()):
        name = "(no tracks)" if stratum == NO_TRACKS_STRATUM else names.get(stratum, str(stratum))
        table.add_row(name, str(train + val), str(train), str(val))
    table.add_row(
        "total", str(len(dataset.videos)), str(len(result.train.videos)), str(len(result.val.videos))
    )
    return table


def import_table(summary: ImportSummary) -> Table:
    """Summary of ``ifm-prep import-video``."""
    rows = [
        ("annotations", str(summary.annotation_file)),
        ("video", f"{summary.name} (id {summary.video_id})"),
        ("frames written", str(summary.num_frames)),
        ("frames of the source", "unknown" if summary.source_frames is None else str(summary.source_frames)),
        ("frame size", f"{summary.height}x{summary.width}"),
    ]
    return _key_value_table("Imported video", rows)


def stats_tables(stats: DatasetStats) -> list[Table]:
    """Per-category counts and a summary of ``ifm-prep stats``."""
    categories = Table(title="Categories")
    for column in ("id", "category", "tracks", "videos", "masks", "mean area (px)"):
        categories.add_column(column, justify="left" if column == "category" else "right")
    for category in stats.categories:
        categories.add_row(
            str(category.id),
            category.name,
            str(category.tracks),
            str(category.videos),
            str(category.masks),
            f"{category.mean_area:.0f}",
        )
    lengths = stats.video_lengths
    rows = [
        ("videos", str(stats.num_videos)),
        ("frames", str(stats.num_frames)),
        ("tracks", str(stats.num_tracks)),
        ("video length min / mean / max", f"{lengths.min()} / {lengths.mean():.1f} / {lengths.max()}"),
        ("tracks per video (mean)", f"{stats.tracks_per_video.mean():.2f}"),
        ("tracks small / medium / large", " / ".join(str(v) for v in stats.size_ranges.values())),
    ]
    if stats.occlusion_frames is not None and stats.occlusion_levels is not None:
        rows.append(
            ("masks no / slight / severe occlusion", " / ".join(map(str, stats.occlusion_frames.values())))
        )
        rows.append(
            ("tracks light / medium / heavy occlusion", " / ".join(map(str, stats.occlusion_levels.values())))
        )
    return [categories, _key_value_table("Summary", rows)]
