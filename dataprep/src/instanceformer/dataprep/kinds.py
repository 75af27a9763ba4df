"""Dataset kinds and the category lists that identify them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import CATEGORY_TABLES, COCO_CATEGORIES, Category
from instanceformer.dataprep.synth import SHAPE_KINDS

VIDEO_KINDS = ("ytvis19", "ytvis21", "ytvis22", "ovis", "synth", "custom")
DATASET_KINDS = ("ytvis19", "ytvis21", "ytvis22", "ovis", "coco", "synth", "custom")
"""``custom``: any category list (e.g. an ``import-video`` dataset); ``synth``: ``ifm-prep synth`` output."""


def _id_names(categories: Sequence[Category]) -> dict[int, str]:
    return {category.id: category.name for category in categories}


def _synth_table(count: int) -> dict[int, str]:
    return {index + 1: name for index, name in enumerate(SHAPE_KINDS[:count])}


def detect_kind(payload: Any, categories: Sequence[Category]) -> str:
    """The kind of a parsed annotation file: ``coco`` for image files, else by its category list.

    YouTube-VIS 2022 shares the 2021 table and is reported as ``ytvis21``; unknown tables are ``custom``.
    """
    if isinstance(payload, dict) and isinstance(payload.get("images"), list):
        return "coco"
    names = _id_names(categories)
    for kind in ("ytvis19", "ytvis21", "ovis"):
        if names == _id_names(CATEGORY_TABLES[kind]):
            return kind
    if names and names == _synth_table(len(names)):
        return "synth"
    return "custom"


def check_kind_categories(kind: str, categories: Sequence[Category], source: str) -> None:
    """Check that a file's categories are those of ``kind`` (FormatError naming the first mismatch).

    Video kinds must have exactly their table (ids and names; order free); ``synth`` the first K shape
    names with ids 1..K; ``coco`` COCO 2017 categories (a subset) or a video table (``coco-keep``
    output); ``custom`` anything.
    """
    if kind not in DATASET_KINDS:
        raise UserError(f"--kind: expected one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    if kind == "custom":
        return
    names = _id_names(categories)
    if kind == "coco":
        if any(names == _id_names(table) for table in CATEGORY_TABLES.values()):
            return
        expected, required = _id_names(COCO_CATEGORIES), set()
    elif kind == "synth":
        expected, required = _synth_table(len(SHAPE_KINDS)), set(range(1, len(names) + 1))
    else:
        expected = _id_names(CATEGORY_TABLES[kind])
        required = set(expected)
    for index, category in enumerate(categories):
        if expected.get(category.id) != category.name:
            known = category.id in expected
            wanted = (
                f"{expected[category.id]!r} (the {kind} name of id {category.id})" if known else "a known id"
            )
            raise FormatError(
                source,
                f"categories[{index}] (id {category.id})",
                "name" if known else "id",
                f"expected {wanted}, got {category.name!r}"
                if known
                else f"expected {wanted} of the {kind} table",
            )
    missing = sorted(required - set(names))
    if missing:
        raise FormatError(
            source,
            None,
            "categories",
            f"expected all {len(required)} {kind} categories, missing ids {missing[:10]}",
        )
