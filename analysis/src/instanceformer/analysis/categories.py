"""Category names for labels and legends: from an annotation file or a built-in category table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from instanceformer.core.formats import CATEGORY_TABLES, VideoDataset, load_annotations


def names_from_dataset(dataset: VideoDataset | None) -> dict[int, str]:
    """``{category id: name}`` of an annotation file (empty for None)."""
    return {} if dataset is None else {category.id: category.name for category in dataset.categories}


def category_names(source: str | None) -> dict[int, str]:
    """``{category id: name}`` of a table name (``ytvis19``, ``ytvis21``, ``ytvis22``, ``ovis``) or an
    annotation file path; empty for None."""
    if source is None:
        return {}
    if source in CATEGORY_TABLES:
        return {category.id: category.name for category in CATEGORY_TABLES[source]}
    return names_from_dataset(load_annotations(Path(source)))


def category_label(category_id: int, names: Mapping[int, str]) -> str:
    """The category's name, or ``category <id>`` when it has none."""
    return names.get(int(category_id), f"category {int(category_id)}")
