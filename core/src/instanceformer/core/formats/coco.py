"""COCO image annotation files (``images`` / ``annotations`` / ``categories``).

Used for COCO pretraining, joint training on COCO pseudo-videos and ``ifm-prep coco-keep``.
:func:`load_coco_annotations` validates the whole file and raises
:class:`~instanceformer.core.errors.FormatError` naming the file, the record and the field; records keep
their other fields in ``extra`` so that writing a loaded file back gives the same JSON object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instanceformer.core.errors import FormatError
from instanceformer.core.formats import Category, validate_segmentation
from instanceformer.core.formats.fields import RecordFields, is_finite_number, record_name, type_name
from instanceformer.core.formats.jsonfile import read_json_file
from instanceformer.core.io import write_json_atomic

_IMAGE_FIELDS = ("id", "file_name", "height", "width")
_ANNOTATION_FIELDS = ("id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd")
_CATEGORY_FIELDS = ("id", "name", "supercategory")
_TOP_LEVEL_FIELDS = ("images", "annotations", "categories")


@dataclass(frozen=True)
class CocoImage:
    """One image: id, file name relative to the image folder, size in pixels."""

    id: int
    file_name: str
    height: int
    width: int
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The image as a JSON object."""
        return {
            "id": self.id,
            "file_name": self.file_name,
            "height": self.height,
            "width": self.width,
            **self.extra,
        }


@dataclass(frozen=True)
class CocoAnnotation:
    """One object of one image: a polygon or RLE segmentation, its area and ``[x, y, w, h]`` box."""

    id: int
    image_id: int
    category_id: int
    segmentation: Any
    area: float
    bbox: tuple[float, float, float, float]
    iscrowd: int
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The annotation as a JSON object."""
        return {
            "id": self.id,
            "image_id": self.image_id,
            "category_id": self.category_id,
            "segmentation": self.segmentation,
            "area": self.area,
            "bbox": list(self.bbox),
            "iscrowd": self.iscrowd,
            **self.extra,
        }


@dataclass(frozen=True, repr=False)
class CocoImageDataset:
    """A whole COCO annotation file."""

    images: tuple[CocoImage, ...]
    annotations: tuple[CocoAnnotation, ...]
    categories: tuple[Category, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    _annotations_by_image: dict[int, tuple[CocoAnnotation, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        for name in ("images", "annotations", "categories"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        grouped: dict[int, list[CocoAnnotation]] = {}
        for annotation in self.annotations:
            grouped.setdefault(annotation.image_id, []).append(annotation)
        object.__setattr__(
            self, "_annotations_by_image", {key: tuple(value) for key, value in grouped.items()}
        )

    def __repr__(self) -> str:
        return (
            f"CocoImageDataset({len(self.images)} images, {len(self.annotations)} annotations, "
            f"{len(self.categories)} categories)"
        )

    def annotations_of(self, image_id: int) -> tuple[CocoAnnotation, ...]:
        """The annotations of one image, in file order."""
        return self._annotations_by_image.get(image_id, ())

    def to_json(self) -> dict[str, Any]:
        """The dataset as the JSON object of an annotation file."""
        return {
            **self.extra,
            "images": [image.to_json() for image in self.images],
            "annotations": [annotation.to_json() for annotation in self.annotations],
            "categories": [category.to_json() for category in self.categories],
        }


def is_coco_payload(payload: Any) -> bool:
    """True for parsed JSON that looks like a COCO image file (an object with an ``images`` list)."""
    return isinstance(payload, dict) and isinstance(payload.get("images"), list)


def _parse_image(fields: RecordFields) -> CocoImage:
    return CocoImage(
        id=fields.integer("id"),
        file_name=fields.string("file_name"),
        height=fields.integer("height", minimum=1),
        width=fields.integer("width", minimum=1),
        extra=fields.extra(_IMAGE_FIELDS),
    )


def _parse_annotation(fields: RecordFields) -> CocoAnnotation:
    box = fields.list_field("bbox")
    if len(box) != 4 or not all(is_finite_number(value) for value in box):
        raise fields.error("bbox", "expected [x, y, w, h] as four finite numbers")
    area = fields.number("area")
    if area < 0:
        raise fields.error("area", f"expected a non-negative number, got {area}")
    return CocoAnnotation(
        id=fields.integer("id"),
        image_id=fields.integer("image_id"),
        category_id=fields.integer("category_id"),
        segmentation=fields.get("segmentation"),
        area=area,
        bbox=(box[0], box[1], box[2], box[3]),
        iscrowd=fields.integer("iscrowd"),
        extra=fields.extra(_ANNOTATION_FIELDS),
    )


def _parse_category(fields: RecordFields) -> Category:
    return Category(
        id=fields.integer("id"),
        name=fields.string("name"),
        supercategory=fields.optional_string("supercategory"),
        extra=fields.extra(_CATEGORY_FIELDS),
    )


def _top_level_list(source: str, payload: dict[str, Any], key: str) -> list[Any]:
    if key not in payload:
        raise FormatError(source, None, key, "expected this top-level field, it is missing")
    value = payload[key]
    if not isinstance(value, list):
        raise FormatError(source, None, key, f"expected a list, got {type_name(value)}")
    return value


def _check_unique(source: str, collection: str, ids: list[int]) -> None:
    seen: dict[int, int] = {}
    for index, record_id in enumerate(ids):
        if record_id in seen:
            raise FormatError(
                source,
                f"{collection}[{index}] (id {record_id})",
                "id",
                f"expected a unique id, {collection}[{seen[record_id]}] has the same id",
            )
        seen[record_id] = index


def validate_coco_dataset(dataset: CocoImageDataset, source: str = "<coco>") -> None:
    """Check unique ids, references to images and categories, ``iscrowd`` and every segmentation.

    Raises FormatError at the first problem, naming ``source``, the record and the field.
    """
    _check_unique(source, "images", [image.id for image in dataset.images])
    _check_unique(source, "categories", [category.id for category in dataset.categories])
    _check_unique(source, "annotations", [annotation.id for annotation in dataset.annotations])
    images = {image.id: image for image in dataset.images}
    category_ids = {category.id for category in dataset.categories}
    for index, annotation in enumerate(dataset.annotations):
        record = f"annotations[{index}] (id {annotation.id})"
        image = images.get(annotation.image_id)
        if image is None:
            raise FormatError(
                source,
                record,
                "image_id",
                f"expected the id of an image in the file, got {annotation.image_id}",
            )
        if annotation.category_id not in category_ids:
            raise FormatError(
                source,
                record,
                "category_id",
                f"expected the id of a category in the file, got {annotation.category_id}",
            )
        if annotation.iscrowd not in (0, 1):
            raise FormatError(source, record, "iscrowd", f"expected 0 or 1, got {annotation.iscrowd}")
        try:
            validate_segmentation(annotation.segmentation, image.height, image.width)
        except ValueError as problem:
            raise FormatError(source, record, "segmentation", str(problem)) from None


def parse_coco_annotations(payload: Any, source: str = "<coco>") -> CocoImageDataset:
    """Build and validate a :class:`CocoImageDataset` from parsed JSON (FormatError on any problem)."""
    if not isinstance(payload, dict):
        raise FormatError(
            source, None, None, f"expected a JSON object at the top level, got {type_name(payload)}"
        )
    raw_images = _top_level_list(source, payload, "images")
    raw_annotations = _top_level_list(source, payload, "annotations")
    raw_categories = _top_level_list(source, payload, "categories")
    dataset = CocoImageDataset(
        images=tuple(
            _parse_image(RecordFields(source, record_name("images", index, raw), raw))
            for index, raw in enumerate(raw_images)
        ),
        annotations=tuple(
            _parse_annotation(RecordFields(source, record_name("annotations", index, raw), raw))
            for index, raw in enumerate(raw_annotations)
        ),
        categories=tuple(
            _parse_category(RecordFields(source, record_name("categories", index, raw), raw))
            for index, raw in enumerate(raw_categories)
        ),
        extra={key: value for key, value in payload.items() if key not in _TOP_LEVEL_FIELDS},
    )
    validate_coco_dataset(dataset, source)
    return dataset


def load_coco_annotations(path: str | Path) -> CocoImageDataset:
    """Load and validate a COCO annotation file (FormatError naming the file, record and field)."""
    return parse_coco_annotations(read_json_file(path), str(path))


def write_coco_annotations(dataset: CocoImageDataset, path: str | Path) -> Path:
    """Write ``dataset`` as a compact COCO annotation file, atomically."""
    return write_json_atomic(path, dataset.to_json())
