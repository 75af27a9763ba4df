"""A multi-seed study's table: the metrics of every variant as mean +- std over its seeds.

A study folder holds one ``metrics.json`` (written by ``ifm-infer evaluate --json``) per run, at
``<root>/<split>/<variant>/<seed>/metrics.json``: ``split`` is the dataset the runs were trained and
evaluated on, ``variant`` the model setting compared, ``seed`` one repetition. For each split and
variant the table gives each metric's mean and sample standard deviation over the seeds, and, against a
reference variant, the difference of the means and whether the two variants' seeds are *separated*:
every seed of one is better than every seed of the other (for 3 seeds each, a 1-in-20 chance when the
two variants are the same).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instanceformer.core.errors import UserError
from instanceformer.core.io import write_text_atomic

METRICS_FILE = "metrics.json"
DEFAULT_METRICS = ("AP", "AP50", "APlight", "APmedium", "APheavy", "HOTA", "DetA", "AssA", "IDF1", "IDSW")
COUNT_METRICS = frozenset({"IDTP", "IDFP", "IDFN", "IDSW", "Frag", "MT", "PT", "ML"})
LOWER_IS_BETTER = frozenset({"IDFP", "IDFN", "IDSW", "Frag", "ML"})


@dataclass(frozen=True)
class MetricSummary:
    """One metric of one variant over its seeds: ``values`` in seed order (fractions or counts; ``None``
    where a run does not define the metric, e.g. APheavy without occlusion labels)."""

    values: tuple[float | None, ...]

    @property
    def defined(self) -> list[float]:
        """The values that are defined."""
        return [value for value in self.values if value is not None]

    @property
    def mean(self) -> float | None:
        """The mean of the defined values, or None."""
        defined = self.defined
        return sum(defined) / len(defined) if defined else None

    @property
    def std(self) -> float | None:
        """The sample standard deviation (n - 1) of the defined values, or None below two values."""
        defined = self.defined
        if len(defined) < 2:
            return None
        mean = sum(defined) / len(defined)
        return math.sqrt(sum((value - mean) ** 2 for value in defined) / (len(defined) - 1))


@dataclass(frozen=True)
class VariantSummary:
    """One variant of one split: its seeds (folder names) and every metric over them."""

    split: str
    variant: str
    seeds: tuple[str, ...]
    metrics: dict[str, MetricSummary] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """A variant's metric against the reference variant's: the difference of the means (variant minus
    reference) and whether every seed of one side is better than every seed of the other."""

    difference: float
    separated: bool
    better: bool


def _metric_value(path: Path, metrics: Mapping[str, Any], name: str) -> float | None:
    if name not in metrics:
        return None
    value = metrics[name]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise UserError(f"{path}: field {name!r} is {value!r}, expected a number")
    # the evaluator writes -1 for a metric without any defined entry (e.g. APm with only small tracks)
    return None if value < 0 else float(value)


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read: {error}") from error
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(metrics, dict):
        raise UserError(f"{path}: expected a JSON object of metrics, got {type(metrics).__name__}")
    return metrics


def collect_study(root: Path, metric_names: Sequence[str] = DEFAULT_METRICS) -> list[VariantSummary]:
    """Every ``<root>/<split>/<variant>/<seed>/metrics.json``, summarised per split and variant.

    Args:
        root: the study folder.
        metric_names: the metrics to keep (keys of metrics.json).

    Returns:
        One :class:`VariantSummary` per split and variant, sorted by split, then variant name; seeds are
        sorted by folder name.

    Raises:
        UserError: ``root`` is not a folder, holds no metrics file at that depth, or a file is unreadable
            or not an object of numbers.
    """
    if not root.is_dir():
        raise UserError(f"{root}: not a folder (expected <root>/<split>/<variant>/<seed>/{METRICS_FILE})")
    paths = sorted(root.glob(f"*/*/*/{METRICS_FILE}"))
    if not paths:
        raise UserError(f"{root}: no <split>/<variant>/<seed>/{METRICS_FILE} found")
    grouped: dict[tuple[str, str], list[Path]] = {}
    for path in paths:
        seed_folder = path.parent
        grouped.setdefault((seed_folder.parent.parent.name, seed_folder.parent.name), []).append(path)
    summaries = []
    for (split, variant), runs in sorted(grouped.items()):
        loaded = [(path, _read_metrics(path)) for path in runs]
        summaries.append(
            VariantSummary(
                split=split,
                variant=variant,
                seeds=tuple(path.parent.name for path in runs),
                metrics={
                    name: MetricSummary(tuple(_metric_value(path, metrics, name) for path, metrics in loaded))
                    for name in metric_names
                },
            )
        )
    return summaries


def order_variants(summaries: Sequence[VariantSummary], order: Sequence[str]) -> list[VariantSummary]:
    """``summaries`` with the variants named in ``order`` first, in that order, then the rest by name."""
    rank = {name: index for index, name in enumerate(order)}
    return sorted(summaries, key=lambda item: (item.split, rank.get(item.variant, len(rank)), item.variant))


def compare(variant: MetricSummary, reference: MetricSummary, metric: str) -> Comparison | None:
    """``variant`` against ``reference`` on ``metric`` (None when either has no defined value)."""
    if variant.mean is None or reference.mean is None:
        return None
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    difference = variant.mean - reference.mean
    ours, theirs = variant.defined, reference.defined
    separated = min(ours) > max(theirs) or max(ours) < min(theirs)
    return Comparison(difference=difference, separated=separated, better=difference * sign > 0)


def format_value(metric: str, value: float | None) -> str:
    """A metric value for the table: fractions as percent with one decimal, counts with one decimal."""
    if value is None:
        return "n/a"
    return f"{value:.1f}" if metric in COUNT_METRICS else f"{100.0 * value:.1f}"


def format_cell(metric: str, summary: MetricSummary) -> str:
    """``mean +- std`` (just the mean for one seed; ``n/a`` when undefined)."""
    mean, std = summary.mean, summary.std
    if mean is None:
        return "n/a"
    if std is None:
        return format_value(metric, mean)
    return f"{format_value(metric, mean)} ± {format_value(metric, std)}"


def format_comparison(metric: str, comparison: Comparison | None) -> str:
    """The signed difference of the means, starred when the seeds are separated."""
    if comparison is None:
        return ""
    scale = 1.0 if metric in COUNT_METRICS else 100.0
    return f"{scale * comparison.difference:+.1f}{'*' if comparison.separated else ''}"


def study_rows(
    summaries: Sequence[VariantSummary], metric_names: Sequence[str], reference: str | None
) -> list[tuple[str, str, str, list[str]]]:
    """One row per split and variant: ``(split, variant, seed count, cells)``. With a ``reference``
    variant present in the split, each cell is followed by the difference to it (``+1.2*``: seeds
    separated)."""
    by_split: dict[str, dict[str, VariantSummary]] = {}
    for summary in summaries:
        by_split.setdefault(summary.split, {})[summary.variant] = summary
    rows = []
    for summary in summaries:
        base = by_split[summary.split].get(reference) if reference is not None else None
        cells = []
        for metric in metric_names:
            cell = format_cell(metric, summary.metrics[metric])
            if base is not None and base is not summary:
                delta = format_comparison(
                    metric, compare(summary.metrics[metric], base.metrics[metric], metric)
                )
                cell = f"{cell} ({delta})" if delta else cell
            cells.append(cell)
        rows.append((summary.split, summary.variant, str(len(summary.seeds)), cells))
    return rows


def study_markdown(
    summaries: Sequence[VariantSummary], metric_names: Sequence[str], reference: str | None
) -> str:
    """The study table in Markdown (percent for fractions, counts for IDSW and the like)."""
    header = ["split", "variant", "seeds", *metric_names]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for split, variant, seeds, cells in study_rows(summaries, metric_names, reference):
        lines.append("| " + " | ".join([split, variant, seeds, *cells]) + " |")
    return "\n".join(lines) + "\n"


def study_json(summaries: Sequence[VariantSummary], reference: str | None) -> dict[str, Any]:
    """Plain data of the study: per split and variant, the seeds and each metric's values, mean, std and
    (against ``reference``) difference and separation."""
    by_split: dict[str, dict[str, VariantSummary]] = {}
    for summary in summaries:
        by_split.setdefault(summary.split, {})[summary.variant] = summary
    output: dict[str, Any] = {"reference": reference, "splits": {}}
    for split, variants in by_split.items():
        base = variants.get(reference) if reference is not None else None
        entries = {}
        for name, summary in variants.items():
            metrics = {}
            for metric, values in summary.metrics.items():
                entry: dict[str, Any] = {
                    "values": list(values.values),
                    "mean": values.mean,
                    "std": values.std,
                }
                if base is not None and base is not summary:
                    comparison = compare(values, base.metrics[metric], metric)
                    if comparison is not None:
                        entry["difference"] = comparison.difference
                        entry["separated"] = comparison.separated
                        entry["better"] = comparison.better
                metrics[metric] = entry
            entries[name] = {"seeds": list(summary.seeds), "metrics": metrics}
        output["splits"][split] = entries
    return output


def write_study(
    summaries: Sequence[VariantSummary], metric_names: Sequence[str], reference: str | None, out: Path
) -> Path:
    """Write the Markdown table to ``out`` and the plain data next to it (``.json``); returns the
    JSON path."""
    json_path = out.with_suffix(".json")
    write_text_atomic(out, study_markdown(summaries, metric_names, reference))
    write_text_atomic(json_path, json.dumps(study_json(summaries, reference), indent=2) + "\n")
    return json_path
