"""A Rich table of summary metrics, as the tools print them."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from instanceformer.core.metrics.association_summary import COUNT_METRICS

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
    "HOTA": "HOTA, mean over categories and alpha 0.05:0.95",
    "DetA": "HOTA detection accuracy",
    "AssA": "HOTA association accuracy",
    "DetRe": "HOTA detection recall",
    "DetPr": "HOTA detection precision",
    "AssRe": "HOTA association recall",
    "AssPr": "HOTA association precision",
    "LocA": "HOTA localisation accuracy (mean mask IoU of matches)",
    "HOTA0": "HOTA at alpha 0.05",
    "HOTA_pooled": "HOTA, all categories pooled",
    "DetA_pooled": "DetA, all categories pooled",
    "AssA_pooled": "AssA, all categories pooled",
    "IDF1": "identity F1, mean over categories",
    "IDP": "identity precision",
    "IDR": "identity recall",
    "IDTP": "identity true positives (masks)",
    "IDFP": "identity false positives (masks)",
    "IDFN": "identity false negatives (masks)",
    "IDSW": "ID switches",
    "Frag": "fragmentations of ground-truth tracks",
    "MT": "ground-truth tracks mostly tracked (> 80% of frames)",
    "PT": "ground-truth tracks partially tracked",
    "ML": "ground-truth tracks mostly lost (< 20% of frames)",
    "IDF1_pooled": "IDF1, all categories pooled",
}


def _shown(name: str, value: float) -> str:
    """A count as an integer, a fraction as a percentage with two decimals, -1 as ``n/a``."""
    if name in COUNT_METRICS:
        return f"{int(value)}"
    return "n/a" if value < 0 else f"{100.0 * value:.2f}"


def metrics_table(metrics: Mapping[str, float], title: str = "Video instance segmentation") -> Table:
    """A table of ``metrics``: fractions (-1 for undefined) as percentages with two decimals, the counts
    of :data:`~instanceformer.core.metrics.association_summary.COUNT_METRICS` as integers."""
    table = Table(title=title)
    table.add_column("metric")
    has_counts = not COUNT_METRICS.isdisjoint(metrics)
    table.add_column("value (% / count)" if has_counts else "value (%)", justify="right")
    table.add_column("meaning")
    for name, value in metrics.items():
        table.add_row(name, _shown(name, value), _DESCRIPTIONS.get(name, ""))
    return table
