"""Contiguous class indices for a dataset's category ids.

The model predicts ``num_classes`` logits; index ``k`` stands for the ``k``-th category of the dataset
in increasing id order. Results files and metrics speak the dataset's ids again through
:meth:`ClassIndex.category_id`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from instanceformer.core.errors import ConfigError
from instanceformer.core.formats import Category


@dataclass(frozen=True)
class ClassIndex:
    """The bijection between category ids (sorted increasingly) and indices ``0..num_classes-1``."""

    category_ids: tuple[int, ...]
    names: tuple[str, ...]
    _index_of: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if list(self.category_ids) != sorted(set(self.category_ids)):
            raise ValueError(f"expected strictly increasing category ids, got {list(self.category_ids)}")
        if len(self.names) != len(self.category_ids):
            raise ValueError("expected one name per category id")
        object.__setattr__(self, "_index_of", {cid: index for index, cid in enumerate(self.category_ids)})

    @classmethod
    def from_categories(cls, categories: Iterable[Category]) -> ClassIndex:
        """The class index of a dataset's category list (any order; ids must be unique)."""
        ordered = sorted(categories, key=lambda category: category.id)
        return cls(tuple(c.id for c in ordered), tuple(c.name for c in ordered))

    @property
    def num_classes(self) -> int:
        """The number of classes (the model's ``num_classes``)."""
        return len(self.category_ids)

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._index_of

    def index(self, category_id: int) -> int:
        """The contiguous index of a dataset category id (KeyError naming the id when unknown)."""
        try:
            return self._index_of[category_id]
        except KeyError:
            raise KeyError(f"category id {category_id} is not one of the dataset's categories") from None

    def category_id(self, index: int) -> int:
        """The dataset category id of a contiguous class index."""
        if not 0 <= index < self.num_classes:
            raise IndexError(f"class index {index} outside [0, {self.num_classes})")
        return self.category_ids[index]

    def require_num_classes(self, num_classes: int, source: str) -> None:
        """Raise ConfigError unless ``num_classes`` (the model's) equals the categories of ``source``."""
        if num_classes != self.num_classes:
            raise ConfigError(
                f"config key 'model.num_classes': expected {self.num_classes} (the categories of {source}), "
                f"got {num_classes}"
            )

    def to_json(self) -> list[dict[str, object]]:
        """The mapping as a JSON list ``[{"index", "category_id", "name"}, ...]``."""
        return [
            {"index": index, "category_id": category_id, "name": name}
            for index, (category_id, name) in enumerate(zip(self.category_ids, self.names, strict=True))
        ]
