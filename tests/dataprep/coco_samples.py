"""Small hand-made COCO annotation files for the dataprep tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from instanceformer.core.formats import COCO_CATEGORIES, encode_mask_uncompressed

IMAGE_HEIGHT, IMAGE_WIDTH = 40, 60


def _square(x: float, y: float, side: float) -> list[list[float]]:
    return [[x, y, x + side, y, x + side, y + side, x, y + side]]


def coco_payload(category_ids: list[int], crowd: set[int] = frozenset()) -> dict[str, Any]:
    """One image per category id, each with one square object of that category (crowd where asked)."""
    images, annotations = [], []
    for index, category_id in enumerate(category_ids, 1):
        images.append(
            {"id": index, "file_name": f"{index:012d}.jpg", "height": IMAGE_HEIGHT, "width": IMAGE_WIDTH}
        )
        if category_id in crowd:
            mask = np.zeros((IMAGE_HEIGHT, IMAGE_WIDTH), dtype=np.uint8)
            mask[5:15, 5:15] = 1
            segmentation: Any = encode_mask_uncompressed(mask)
        else:
            segmentation = _square(10.0, 10.0, 12.0)
        annotations.append(
            {
                "id": 100 + index,
                "image_id": index,
                "category_id": category_id,
                "segmentation": segmentation,
                "area": 144.0 if category_id not in crowd else 100.0,
                "bbox": [10.0, 10.0, 12.0, 12.0],
                "iscrowd": int(category_id in crowd),
            }
        )
    return {
        "info": {"description": "test"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [category.to_json() for category in COCO_CATEGORIES],
    }


def write_images(payload: dict[str, Any], folder: Path) -> None:
    """Write a grey JPEG of the declared size for every image of ``payload``."""
    folder.mkdir(parents=True, exist_ok=True)
    for image in payload["images"]:
        Image.new("RGB", (image["width"], image["height"]), (90, 120, 150)).save(folder / image["file_name"])
