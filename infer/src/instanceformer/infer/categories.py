"""The category list a run's classes stand for, when no annotation file is at hand (``ifm-infer video``)."""

from __future__ import annotations

from pathlib import Path

from instanceformer.core.config import Config
from instanceformer.core.errors import UserError
from instanceformer.core.formats import CATEGORY_TABLES, Category, load_annotations


def run_categories(config: Config, categories_file: str | Path | None = None) -> tuple[Category, ...]:
    """The categories of the run's classes, sorted by id (contiguous index ``k`` is the ``k``-th).

    From ``categories_file`` when given (a table key such as ``ytvis21``, or any YouTube-VIS / OVIS
    annotation file), else the dataset table of ``data.dataset`` when its size matches
    ``model.num_classes``, else ``class_1 ... class_N``.
    """
    num_classes = config.model.num_classes
    if categories_file is not None:
        listed = (
            CATEGORY_TABLES[str(categories_file)]
            if str(categories_file) in CATEGORY_TABLES
            else load_annotations(categories_file).categories
        )
        categories = tuple(sorted(listed, key=lambda item: item.id))
        if len(categories) != num_classes:
            raise UserError(
                f"{categories_file}: field 'categories': expected {num_classes} categories "
                f"(the run's model.num_classes), got {len(categories)}"
            )
        return categories
    table = CATEGORY_TABLES.get(config.data.dataset)
    if table is not None and len(table) == num_classes:
        return tuple(sorted(table, key=lambda item: item.id))
    return tuple(
        Category(id=index, name=f"class_{index}", supercategory=None) for index in range(1, num_classes + 1)
    )
