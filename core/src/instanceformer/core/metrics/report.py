"""A Rich table of summary metrics, as the tools print them."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

_DESCRIPTIONS = {
    "AP": "mask AP, IoU 0.50:0.95",
    "AP50": "mask AP, IoU 0.50",
    "AP75": "mask AP, IoU 0.75",
    "APs": "AP, small tracks (< 128^2 px)",
    "APm": "AP, medium tracks (128^2 - 256^2 px)",
    "APl": "AP, large tracks (> 256^2 px)",
    "AR1": "AR, 1 track per video and category",
    "AR10": "AR, 10 tracks per video and category",
    "AR100": "AR, 100 tracks per video and category",
    "ARs": "AR, small tracks",
    "ARm": "AR, medium tracks",
    "ARl": "AR, large tracks",
    "APlight": "AP, light occlusion (score 0 - 0.25)",
    "APmedium": "AP, medium occlusion (score 0.25 - 0.5)",
    "APheavy": "AP, heavy occlusion (score 0.5 - 1)",
}


def metrics_table(metrics: Mapping[str, float], title: str = "Video instance segmentation") -> Table:
    """A table of ``metrics`` (fractions, -1 for undefined) shown as percentages with two decimals."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value (%)", justify="right")
    table.add_column("meaning")
    for name, value in metrics.items():
        shown = "n/a" if value < 0 else f"{100.0 * value:.2f}"
        table.add_row(name, shown, _DESCRIPTIONS.get(name, ""))
    return table
