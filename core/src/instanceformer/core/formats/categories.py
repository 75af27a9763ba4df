"""Category tables of the supported datasets and the maps from COCO categories to them.

Ids and names are those of the official annotation files: YouTube-VIS 2019 (40 categories),
YouTube-VIS 2021 (40, alphabetical; YouTube-VIS 2022 uses the same table), OVIS (25, with the
dataset's own spelling ``Vehical``) and COCO 2017 (80 ids between 1 and 90).

``COCO_TO_VIDEO[dataset]`` maps a COCO category id to the video dataset's category id, for joint
training on COCO pseudo-videos. Categories without a counterpart are absent (e.g. COCO's computer
mouse, id 74, is not YouTube-VIS 2019's animal ``mouse``).
"""

from __future__ import annotations

from instanceformer.core.formats.video_dataset import Category

_YTVIS_SUPERCATEGORY = "object"

_YTVIS_2019_NAMES = (
    "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog",
    "snake", "monkey", "hand", "rabbit", "duck", "cat", "cow", "fish",
    "train", "horse", "turtle", "bear", "motorbike", "giraffe", "leopard", "fox",
    "deer", "owl", "surfboard", "airplane", "truck", "zebra", "tiger", "elephant",
    "snowboard", "boat", "shark", "mouse", "frog", "eagle", "earless_seal", "tennis_racket",
)  # fmt: skip

_YTVIS_2021_NAMES = (
    "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer",
    "dog", "duck", "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog",
    "giant_panda", "giraffe", "horse", "leopard", "lizard", "monkey", "motorbike", "mouse",
    "parrot", "person", "rabbit", "shark", "skateboard", "snake", "snowboard", "squirrel",
    "surfboard", "tennis_racket", "tiger", "train", "truck", "turtle", "whale", "zebra",
)  # fmt: skip

_OVIS_NAMES = (
    "Person", "Bird", "Cat", "Dog", "Horse", "Sheep", "Cow", "Elephant", "Bear", "Zebra",
    "Giraffe", "Poultry", "Giant_panda", "Lizard", "Parrot", "Monkey", "Rabbit", "Tiger", "Fish", "Turtle",
    "Bicycle", "Motorcycle", "Airplane", "Boat", "Vehical",
)  # fmt: skip

# COCO 2017 instance categories: (id, name, supercategory).
_COCO_ENTRIES = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"), (6, "bus", "vehicle"), (7, "train", "vehicle"), (8, "truck", "vehicle"),
    (9, "boat", "vehicle"), (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"), (49, "knife", "kitchen"),
    (50, "spoon", "kitchen"), (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"),
    (54, "sandwich", "food"), (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"), (88, "teddy bear", "indoor"),
    (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
)  # fmt: skip


def _numbered(names: tuple[str, ...], supercategory: str | None) -> tuple[Category, ...]:
    """Categories with ids 1..len(names) in the given order."""
    return tuple(
        Category(id=index, name=name, supercategory=supercategory) for index, name in enumerate(names, 1)
    )


YTVIS_2019_CATEGORIES = _numbered(_YTVIS_2019_NAMES, _YTVIS_SUPERCATEGORY)
YTVIS_2021_CATEGORIES = _numbered(_YTVIS_2021_NAMES, _YTVIS_SUPERCATEGORY)
OVIS_CATEGORIES = _numbered(_OVIS_NAMES, None)
COCO_CATEGORIES = tuple(
    Category(id=id_, name=name, supercategory=group) for id_, name, group in _COCO_ENTRIES
)

CATEGORY_TABLES: dict[str, tuple[Category, ...]] = {
    "ytvis19": YTVIS_2019_CATEGORIES,
    "ytvis21": YTVIS_2021_CATEGORIES,
    "ytvis22": YTVIS_2021_CATEGORIES,
    "ovis": OVIS_CATEGORIES,
}

_COCO_TO_YTVIS_2019 = {
    1: 1, 2: 21, 3: 6, 4: 21, 5: 28, 7: 17, 8: 29, 9: 34, 17: 14, 18: 8, 19: 18, 21: 15, 22: 32, 23: 20,
    24: 30, 25: 22, 35: 33, 36: 33, 41: 5, 42: 27, 43: 40,
}  # fmt: skip
_COCO_TO_YTVIS_2021 = {
    1: 26, 2: 23, 3: 5, 4: 23, 5: 1, 7: 36, 8: 37, 9: 4, 16: 3, 17: 6, 18: 9, 19: 19, 21: 7, 22: 12, 23: 2,
    24: 40, 25: 18, 34: 14, 35: 31, 36: 31, 41: 29, 42: 33, 43: 34,
}  # fmt: skip
_COCO_TO_OVIS = {
    1: 1, 2: 21, 3: 25, 4: 22, 5: 23, 6: 25, 8: 25, 9: 24, 16: 2, 17: 3, 18: 4, 19: 5, 20: 6, 21: 7, 22: 8,
    23: 9, 24: 10, 25: 11,
}  # fmt: skip

COCO_TO_VIDEO: dict[str, dict[int, int]] = {
    "ytvis19": _COCO_TO_YTVIS_2019,
    "ytvis21": _COCO_TO_YTVIS_2021,
    "ytvis22": _COCO_TO_YTVIS_2021,
    "ovis": _COCO_TO_OVIS,
}


def category_table(dataset: str) -> tuple[Category, ...]:
    """The category table of ``dataset`` (``ytvis19``, ``ytvis21``, ``ytvis22`` or ``ovis``).

    Raises KeyError listing the known names for any other value.
    """
    try:
        return CATEGORY_TABLES[dataset]
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; expected one of {', '.join(CATEGORY_TABLES)}") from None
