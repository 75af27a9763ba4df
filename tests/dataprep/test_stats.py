"""``ifm-prep stats``: counts, sizes and occlusion of a dataset, as tables, JSON and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from instanceformer.core.cli import run_app
from instanceformer.core.formats import decode_segmentation, load_annotations
from instanceformer.dataprep.cli import app
from instanceformer.dataprep.stats import compute_stats, occlusion_level, size_range

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_stats_command_writes_json_and_plots(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = synthetic_root / "annotations" / "instances_train.json"
    assert run_app(app, ["stats", str(annotations), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Categories" in out and "Summary" in out
    for name in ("categories.png", "video_lengths.png", "object_sizes.png", "occlusion.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width > 100
    written = json.loads((tmp_path / "stats.json").read_text())
    dataset = load_annotations(annotations)
    assert (
        written["videos"] == 4 and written["frames"] == 24 and written["tracks"] == len(dataset.annotations)
    )
    assert sum(written["size_ranges"].values()) == len(dataset.annotations)


def test_counts_agree_with_decoded_masks(synthetic_root: Path) -> None:
    dataset = load_annotations(synthetic_root / "annotations" / "instances_train.json")
    stats = compute_stats(dataset)
    areas = []
    per_category: dict[int, list[int]] = {}
    for video in dataset.videos:
        for track in dataset.tracks_of(video.id):
            for segmentation in track.segmentations:
                if segmentation is not None:
                    area = int(decode_segmentation(segmentation, video.height, video.width).sum())
                    areas.append(area)
                    per_category.setdefault(track.category_id, []).append(area)
    assert sorted(stats.mask_areas.tolist()) == sorted(areas)
    for category in stats.categories:
        assert category.masks == len(per_category.get(category.id, []))
        expected = np.mean(per_category[category.id]) if category.id in per_category else 0.0
        assert category.mean_area == pytest.approx(expected)
        assert category.tracks == sum(1 for t in dataset.annotations if t.category_id == category.id)
    assert stats.occlusion_frames is not None
    assert sum(stats.occlusion_frames.values()) == len(areas)


def test_size_ranges_and_occlusion_levels() -> None:
    assert size_range(128**2 - 1) == "small"
    assert size_range(128**2) == "medium"
    assert size_range(256**2) == "medium"
    assert size_range(256**2 + 1) == "large"
    assert occlusion_level(["no_occlusion"] * 4) == "light"
    # Top half of [0.75, 0.75, 0, 0] -> mean 0.75: heavy, although half the frames are clear.
    assert (
        occlusion_level(["severe_occlusion", "no_occlusion", "severe_occlusion", "no_occlusion"]) == "heavy"
    )
    assert occlusion_level(["slight_occlusion", "slight_occlusion", "no_occlusion"]) == "light"
    assert (
        occlusion_level(["severe_occlusion", "slight_occlusion", "no_occlusion", "no_occlusion"]) == "medium"
    )


def test_files_without_ground_truth_exit_2(synthetic_root: Path, tmp_path: Path, capsys) -> None:
    payload = json.loads((synthetic_root / "annotations" / "instances_train.json").read_text())
    payload.pop("annotations")
    path = tmp_path / "test.json"
    path.write_text(json.dumps(payload))
    assert run_app(app, ["stats", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "expected ground truth" in capsys.readouterr().err
