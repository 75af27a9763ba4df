"""The summary numbers of the association metrics, combined over categories as trackeval combines them.

The headline numbers are trackeval's class average (``cls_comb_cls_av``): each category's value (from
its counts summed over the videos) averaged over every category the ground truth lists, including
categories without ground truth or predictions (they count 0). HOTA and its parts are means over the
19 localisation thresholds alpha of those averages; ``HOTA0`` is HOTA at alpha 0.05. The ``_pooled``
numbers are trackeval's detection average (``cls_comb_det_av``): computed once from the counts summed
over all categories. Counts (identity detections, ID switches, fragmentations, coverage classes of
ground-truth tracks) are sums over categories and videos.

- ``hota``: HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA, HOTA0, HOTA_pooled, DetA_pooled,
  AssA_pooled;
- ``identity``: IDF1, IDP, IDR, IDTP, IDFP, IDFN, IDSW, Frag, MT, PT, ML, IDF1_pooled.
"""

from __future__ import annotations

import numpy as np

from instanceformer.core.metrics.association import SequenceCounts
from instanceformer.core.metrics.hota import hota_scores
from instanceformer.core.metrics.identity import identity_scores

HOTA_METRICS = (
    "HOTA",
    "DetA",
    "AssA",
    "DetRe",
    "DetPr",
    "AssRe",
    "AssPr",
    "LocA",
    "HOTA0",
    "HOTA_pooled",
    "DetA_pooled",
    "AssA_pooled",
)
IDENTITY_METRICS = (
    "IDF1",
    "IDP",
    "IDR",
    "IDTP",
    "IDFP",
    "IDFN",
    "IDSW",
    "Frag",
    "MT",
    "PT",
    "ML",
    "IDF1_pooled",
)
COUNT_METRICS = frozenset({"IDTP", "IDFP", "IDFN", "IDSW", "Frag", "MT", "PT", "ML"})
_POOLED = "_pooled"


def _class_average(values: np.ndarray) -> float:
    """Mean over categories (and alphas) of ``[num_categories, ...]`` values; -1 without categories."""
    return float(values.mean(axis=0).mean()) if len(values) else -1.0


def hota_summary(per_category: SequenceCounts) -> dict[str, float]:
    """The :data:`HOTA_METRICS` (fractions) of counts ``[num_categories, ...]``."""
    scores = hota_scores(per_category.hota)  # each [num_categories, num_alphas]
    pooled = hota_scores(per_category.hota.total())  # each [num_alphas]
    summary = {name: _class_average(values) for name, values in scores.items()}
    summary["HOTA0"] = _class_average(scores["HOTA"][:, 0])
    for name in ("HOTA", "DetA", "AssA"):
        summary[name + _POOLED] = float(pooled[name].mean())
    return {name: summary[name] for name in HOTA_METRICS}


def identity_summary(per_category: SequenceCounts) -> dict[str, float]:
    """The :data:`IDENTITY_METRICS` (fractions and counts) of counts ``[num_categories, ...]``."""
    identity, clear = per_category.identity, per_category.clear
    scores = identity_scores(identity)  # each [num_categories]
    pooled = identity_scores(identity.total())  # each 0-d
    summary: dict[str, float] = {name: _class_average(values) for name, values in scores.items()}
    totals = {
        "IDTP": identity.true_positives,
        "IDFP": identity.false_positives,
        "IDFN": identity.false_negatives,
        "IDSW": clear.id_switches,
        "Frag": clear.fragmentations,
        "MT": clear.mostly_tracked,
        "PT": clear.partially_tracked,
        "ML": clear.mostly_lost,
    }
    summary.update({name: int(values.sum()) for name, values in totals.items()})
    summary["IDF1_pooled"] = float(pooled["IDF1"])
    return {name: summary[name] for name in IDENTITY_METRICS}
