"""``ifm-prep coco-keep``: the COCO subset of a video dataset's categories, for joint training.

Annotations whose COCO category maps to the target (the corrected maps of
:data:`instanceformer.core.formats.COCO_TO_VIDEO`) are kept with the target's category id (crowd
annotations stay crowd); the others are dropped, then the images left without annotations. The
category list becomes the target's table, so the file trains with the video dataset's class indices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.formats import CATEGORY_TABLES, COCO_CATEGORIES, COCO_TO_VIDEO
from instanceformer.core.formats.coco import CocoImageDataset

COCO_KEEP_TARGETS = tuple(COCO_TO_VIDEO)


@dataclass(frozen=True)
class CocoKeepResult:
    """The kept subset and how many annotations each target category received."""

    dataset: CocoImageDataset
    annotations_per_category: dict[int, int]
    crowd_per_category: dict[int, int]
    dropped_annotations: int
    dropped_images: int


def _check_coco_categories(coco: CocoImageDataset, source: str) -> None:
    """The input must use COCO 2017 category ids and names (FormatError at the first that does not)."""
    coco_names = {category.id: category.name for category in COCO_CATEGORIES}
    for index, category in enumerate(coco.categories):
        if coco_names.get(category.id) != category.name:
            expected = coco_names.get(category.id)
            raise FormatError(
                source,
                f"categories[{index}] (id {category.id})",
                "name",
                f"expected the COCO 2017 category {expected!r}, got {category.name!r}"
                if expected
                else f"expected a COCO 2017 category id, got {category.id} ({category.name!r})",
            )


def keep_coco_for_target(coco: CocoImageDataset, target: str, source: str = "<coco>") -> CocoKeepResult:
    """The subset of ``coco`` whose categories map to ``target`` (a key of ``COCO_TO_VIDEO``).

    Raises UserError for an unknown target, FormatError when ``coco`` does not use COCO categories.
    """
    if target not in COCO_TO_VIDEO:
        raise UserError(f"--target: expected one of {', '.join(COCO_KEEP_TARGETS)}, got {target!r}")
    _check_coco_categories(coco, source)
    mapping = COCO_TO_VIDEO[target]
    kept = [
        replace(annotation, category_id=mapping[annotation.category_id])
        for annotation in coco.annotations
        if annotation.category_id in mapping
    ]
    kept_images = {annotation.image_id for annotation in kept}
    images = tuple(image for image in coco.images if image.id in kept_images)
    subset = CocoImageDataset(
        images=images, annotations=tuple(kept), categories=CATEGORY_TABLES[target], extra=coco.extra
    )
    return CocoKeepResult(
        dataset=subset,
        annotations_per_category=dict(Counter(annotation.category_id for annotation in kept)),
        crowd_per_category=dict(Counter(a.category_id for a in kept if a.iscrowd)),
        dropped_annotations=len(coco.annotations) - len(kept),
        dropped_images=len(coco.images) - len(images),
    )
