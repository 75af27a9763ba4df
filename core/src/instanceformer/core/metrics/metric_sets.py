"""The metric sets the evaluator computes on request.

- ``ap``: the YouTube-VIS / OVIS AP and AR numbers (:mod:`~instanceformer.core.metrics.summary`);
- ``hota``: HOTA and its parts (:data:`~instanceformer.core.metrics.association_summary.HOTA_METRICS`);
- ``identity``: IDF1 and its parts, ID switches, fragmentations and the coverage of ground-truth tracks
  (:data:`~instanceformer.core.metrics.association_summary.IDENTITY_METRICS`).
"""

from __future__ import annotations

from collections.abc import Sequence

from instanceformer.core.errors import UserError

METRIC_SETS = ("ap", "hota", "identity")
DEFAULT_METRIC_SETS = ("ap",)


def select_metric_sets(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """The requested metric sets in :data:`METRIC_SETS` order, without repeats.

    ``metrics`` is a sequence of names or one comma-separated string (``"ap,hota,identity"``; names are
    case-insensitive, spaces around them ignored). Raises UserError for an unknown name or an empty
    request.
    """
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    requested = {name.strip().lower() for name in names if name.strip()}
    unknown = sorted(requested - set(METRIC_SETS))
    if unknown:
        raise UserError(f"unknown metric set(s) {', '.join(unknown)}; choose from {', '.join(METRIC_SETS)}")
    if not requested:
        raise UserError(f"no metric set requested; choose from {', '.join(METRIC_SETS)}")
    return tuple(name for name in METRIC_SETS if name in requested)
