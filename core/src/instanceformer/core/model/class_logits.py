"""Which outputs of the class heads are the dataset's classes.

The toolkit's heads have one logit per class (contiguous class indices). The published heads index their
logits by raw dataset category id (42 outputs for the 40 YouTube-VIS categories, 27 for the 25 OVIS
ones); the published model feeds all of them to its memory tokens and its top-k selection, so a model
that reproduces it keeps that layout inside and maps the logits to the classes only in its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class ClassLogitLayout(Protocol):
    """The class heads' output layout."""

    @property
    def num_logits(self) -> int:
        """The number of class-head outputs."""
        ...

    def dataset_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """``[..., num_logits]`` head outputs -> ``[..., num_classes]`` logits of the contiguous classes."""
        ...


@dataclass(frozen=True)
class ContiguousClassLogits:
    """One logit per class, in the order of the contiguous class indices (the toolkit's layout)."""

    num_classes: int

    @property
    def num_logits(self) -> int:
        """The number of class-head outputs: one per class."""
        return self.num_classes

    def dataset_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits unchanged."""
        return logits


@dataclass(frozen=True)
class CategoryIdClassLogits:
    """The published raw-id layout: logit ``i`` scores dataset category id ``i``, so class ``k`` (category
    id ``k + 1``) is logit ``k + 1``; the other logits belong to no category."""

    num_classes: int
    num_logits: int

    def dataset_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """``[..., num_logits]`` -> ``[..., num_classes]``: logits ``1 .. num_classes``."""
        return logits[..., 1 : self.num_classes + 1]
