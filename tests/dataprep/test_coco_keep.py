"""``ifm-prep coco-keep``: the COCO subset of a video dataset's categories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.formats import CATEGORY_TABLES, COCO_CATEGORIES, COCO_TO_VIDEO
from instanceformer.core.formats.coco import load_coco_annotations
from instanceformer.dataprep.cli import app

from .coco_samples import coco_payload

ALL_COCO_IDS = [category.id for category in COCO_CATEGORIES]
CROWD_IDS = {1, 3, 5, 74}


@pytest.fixture
def coco_file(tmp_path: Path) -> Path:
    """One image per COCO category, each with one object of it; a few of them crowd."""
    path = tmp_path / "instances_train2017.json"
    path.write_text(json.dumps(coco_payload(ALL_COCO_IDS, crowd=CROWD_IDS)))
    return path


@pytest.mark.parametrize("target", ["ytvis19", "ytvis21", "ytvis22", "ovis"])
def test_every_mapped_pair_is_kept_and_the_rest_dropped(
    coco_file: Path, tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"coco_{target}.json"
    assert run_app(app, ["coco-keep", str(coco_file), "--target", target, "--out", str(out)]) == 0
    assert "COCO subset" in capsys.readouterr().out
    source = json.loads(coco_file.read_text())
    kept = load_coco_annotations(out)
    mapping = COCO_TO_VIDEO[target]
    table = {category.id: category.name for category in CATEGORY_TABLES[target]}

    assert [category.to_json() for category in kept.categories] == [
        c.to_json() for c in CATEGORY_TABLES[target]
    ]
    by_source_id = {annotation["id"]: annotation for annotation in source["annotations"]}
    assert len(kept.annotations) == len(mapping)
    seen_coco_ids = set()
    for annotation in kept.annotations:
        original = by_source_id[annotation.id]
        coco_id = original["category_id"]
        seen_coco_ids.add(coco_id)
        assert annotation.category_id == mapping[coco_id]
        assert annotation.category_id in table
        assert annotation.iscrowd == int(coco_id in CROWD_IDS)
        assert annotation.segmentation == original["segmentation"]
        assert annotation.image_id == original["image_id"]
    assert seen_coco_ids == set(mapping)
    assert {image.id for image in kept.images} == {a.image_id for a in kept.annotations}
    assert len(kept.images) == len(mapping)
    assert kept.extra["info"] == source["info"]


def test_known_corrections_of_the_published_maps(coco_file: Path, tmp_path: Path) -> None:
    names = {}
    for target in ("ovis", "ytvis19"):
        out = tmp_path / f"{target}.json"
        assert run_app(app, ["coco-keep", str(coco_file), "--target", target, "--out", str(out)]) == 0
        kept = json.loads(out.read_text())
        table = {category["id"]: category["name"] for category in kept["categories"]}
        coco_of_annotation = {100 + index: coco_id for index, coco_id in enumerate(ALL_COCO_IDS, 1)}
        names[target] = {
            coco_of_annotation[annotation["id"]]: table[annotation["category_id"]]
            for annotation in kept["annotations"]
        }
    # COCO 3 car, 4 motorcycle, 5 airplane, 9 boat, 74 computer mouse.
    assert names["ovis"][4] == "Motorcycle"
    assert names["ovis"][5] == "Airplane"
    assert names["ovis"][9] == "Boat"
    assert names["ovis"][3] == "Vehical"
    assert 74 not in names["ytvis19"]


def test_non_coco_categories_and_bad_targets_exit_2(
    coco_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    assert run_app(app, ["coco-keep", str(coco_file), "--target", "synth", "--out", str(out)]) == 2
    assert "--target" in capsys.readouterr().err

    payload = json.loads(coco_file.read_text())
    payload["categories"][2]["name"] = "automobile"
    coco_file.write_text(json.dumps(payload))
    assert run_app(app, ["coco-keep", str(coco_file), "--target", "ovis", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "categories[2] (id 3)" in error and "'car'" in error and "'automobile'" in error
    assert "\n" not in error
    assert not out.exists()
