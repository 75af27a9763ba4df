"""Category tables and COCO -> video category maps."""

from __future__ import annotations

import pytest

from instanceformer.core.formats import (
    CATEGORY_TABLES,
    COCO_CATEGORIES,
    COCO_TO_VIDEO,
    Category,
    category_table,
)

COCO_IDS_NOT_USED = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}


@pytest.mark.parametrize(
    ("dataset", "count", "first", "last"),
    [
        ("ytvis19", 40, "person", "tennis_racket"),
        ("ytvis21", 40, "airplane", "zebra"),
        ("ytvis22", 40, "airplane", "zebra"),
        ("ovis", 25, "Person", "Vehical"),
    ],
)
def test_table_sizes_and_ends(dataset: str, count: int, first: str, last: str) -> None:
    table = CATEGORY_TABLES[dataset]
    assert len(table) == count
    assert [category.id for category in table] == list(range(1, count + 1))
    assert table[0].name == first
    assert table[-1].name == last
    assert len({category.name for category in table}) == count
    assert all(isinstance(category, Category) for category in table)


def test_known_positions() -> None:
    ytvis19 = {category.id: category.name for category in CATEGORY_TABLES["ytvis19"]}
    assert (ytvis19[2], ytvis19[21], ytvis19[36]) == ("giant_panda", "motorbike", "mouse")
    ytvis21 = [category.name for category in CATEGORY_TABLES["ytvis21"]]
    assert ytvis21 == sorted(ytvis21)
    assert ytvis21[13] == "flying_disc"
    ovis = {category.id: category.name for category in CATEGORY_TABLES["ovis"]}
    assert (ovis[12], ovis[13], ovis[22], ovis[23]) == ("Poultry", "Giant_panda", "Motorcycle", "Airplane")
    assert CATEGORY_TABLES["ytvis22"] is CATEGORY_TABLES["ytvis21"]


def test_coco_table() -> None:
    ids = [category.id for category in COCO_CATEGORIES]
    assert len(ids) == 80
    assert ids == sorted(ids)
    assert set(range(1, 91)) - set(ids) == COCO_IDS_NOT_USED
    names = {category.id: category.name for category in COCO_CATEGORIES}
    assert (names[1], names[4], names[74], names[90]) == ("person", "motorcycle", "mouse", "toothbrush")


@pytest.mark.parametrize("dataset", ["ytvis19", "ytvis21", "ytvis22", "ovis"])
def test_maps_point_from_coco_ids_to_table_ids(dataset: str) -> None:
    coco_ids = {category.id for category in COCO_CATEGORIES}
    target_ids = {category.id for category in CATEGORY_TABLES[dataset]}
    mapping = COCO_TO_VIDEO[dataset]
    assert mapping
    assert set(mapping) <= coco_ids
    assert set(mapping.values()) <= target_ids


def _named(dataset: str) -> dict[str, str]:
    """The map as COCO name -> video category name."""
    coco = {category.id: category.name for category in COCO_CATEGORIES}
    video = {category.id: category.name for category in CATEGORY_TABLES[dataset]}
    return {coco[source]: video[target] for source, target in COCO_TO_VIDEO[dataset].items()}


def test_map_semantics() -> None:
    ovis = _named("ovis")
    assert COCO_TO_VIDEO["ovis"][4] == 22
    assert ovis["motorcycle"] == "Motorcycle"
    assert COCO_TO_VIDEO["ovis"][5] == 23
    assert ovis["airplane"] == "Airplane"
    assert (ovis["boat"], ovis["bicycle"]) == ("Boat", "Bicycle")
    assert ovis["car"] == ovis["bus"] == ovis["truck"] == "Vehical"
    assert "train" not in ovis
    assert 74 not in COCO_TO_VIDEO["ytvis19"]
    assert 74 not in COCO_TO_VIDEO["ytvis21"]
    ytvis19 = _named("ytvis19")
    assert (ytvis19["car"], ytvis19["motorcycle"], ytvis19["tennis racket"]) == (
        "sedan",
        "motorbike",
        "tennis_racket",
    )
    ytvis21 = _named("ytvis21")
    assert (ytvis21["car"], ytvis21["frisbee"], ytvis21["bird"]) == ("car", "flying_disc", "bird")
    # Names that exist on both sides map to each other (modulo spelling).
    for dataset in ("ytvis19", "ytvis21", "ovis"):
        for coco_name, video_name in _named(dataset).items():
            if coco_name.replace(" ", "_") in {c.name.lower() for c in CATEGORY_TABLES[dataset]}:
                assert video_name.lower() == coco_name.replace(" ", "_")


def test_unknown_dataset_name() -> None:
    assert category_table("ovis") is CATEGORY_TABLES["ovis"]
    with pytest.raises(KeyError, match="expected one of ytvis19, ytvis21, ytvis22, ovis"):
        category_table("coco")
