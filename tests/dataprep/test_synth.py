"""End-to-end tests of the synthetic dataset: files, determinism, ground truth, realism and the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from typer.testing import CliRunner

from instanceformer.core.cli import run_app
from instanceformer.dataprep.cli import app
from instanceformer.dataprep.synth import (
    SHAPE_KINDS,
    SynthSpec,
    generate_synthetic_dataset,
    render_frame,
    sample_scene,
    video_rng,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TINY = SynthSpec(train_videos=3, valid_videos=2, num_frames=6, height=64, width=96, num_categories=4, seed=7)
OCCLUSION_LABELS = {"no_occlusion", "slight_occlusion", "severe_occlusion"}


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


def _load(root: Path, split: str) -> dict[str, Any]:
    return json.loads((root / "annotations" / f"instances_{split}.json").read_text())


def _decode(rle: dict[str, Any]) -> np.ndarray:
    height, width = rle["size"]
    return coco_mask.decode(coco_mask.frPyObjects(rle, height, width)).astype(bool)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    calls: list[tuple[str, int, int]] = []
    summary = generate_synthetic_dataset(root, TINY, progress=lambda *call: calls.append(call))
    assert calls == [("train", 1, 5), ("train", 2, 5), ("train", 3, 5), ("valid", 4, 5), ("valid", 5, 5)]
    assert [split.num_videos for split in summary.splits] == [3, 2]
    assert [split.num_frames for split in summary.splits] == [18, 12]
    assert summary.num_bytes == sum(len(data) for data in _all_files(root).values())
    for split in summary.splits:
        assert split.num_instances == len(_load(root, split.split)["annotations"])
    return root


@pytest.fixture(scope="module")
def default_size_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight training videos of the default size, length and seed (the start of the default dataset)."""
    root = tmp_path_factory.mktemp("default_size")
    generate_synthetic_dataset(root, SynthSpec(train_videos=8, valid_videos=1))
    return root


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tiny_root: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_synthetic_dataset(again, TINY)
    first, second = _all_files(tiny_root), _all_files(again)
    assert sorted(first) == sorted(second)
    assert all(first[name] == second[name] for name in first)

    other = tmp_path / "other"
    generate_synthetic_dataset(other, dataclasses.replace(TINY, seed=8))
    different = _all_files(other)
    assert sorted(different) == sorted(first)
    changed = [name for name in first if first[name] != different[name]]
    assert "annotations/instances_train.json" in changed
    assert sum(name.endswith(".jpg") for name in changed) == sum(name.endswith(".jpg") for name in first)


def test_worker_processes_write_the_same_bytes(tiny_root: Path, tmp_path: Path) -> None:
    parallel = tmp_path / "parallel"
    calls: list[tuple[str, int, int]] = []
    generate_synthetic_dataset(parallel, TINY, progress=lambda *call: calls.append(call), workers=2)
    assert [done for _, done, _ in calls] == [1, 2, 3, 4, 5]
    assert _all_files(parallel) == _all_files(tiny_root)


def test_splits_draw_from_disjoint_streams(tiny_root: Path) -> None:
    train_first = (tiny_root / "train/JPEGImages/train_0000/00000.jpg").read_bytes()
    valid_first = (tiny_root / "valid/JPEGImages/valid_0000/00000.jpg").read_bytes()
    assert train_first != valid_first
    draws = {
        split: video_rng(TINY.seed, split, 0).integers(2**62, size=4).tolist() for split in ("train", "valid")
    }
    assert draws["train"] != draws["valid"]


@pytest.mark.parametrize("split", ["train", "valid"])
def test_json_structure_and_frames(tiny_root: Path, split: str) -> None:
    document = _load(tiny_root, split)
    assert set(document) >= {"videos", "annotations", "categories"}
    assert document["categories"] == [
        {"id": index + 1, "name": SHAPE_KINDS[index], "supercategory": "shape"} for index in range(4)
    ]
    videos = document["videos"]
    assert [video["id"] for video in videos] == list(range(1, (3 if split == "train" else 2) + 1))
    for video in videos:
        assert (video["height"], video["width"], video["length"]) == (64, 96, 6)
        name = f"{split}_{video['id'] - 1:04d}"
        assert video["file_names"] == [f"{name}/{frame:05d}.jpg" for frame in range(6)]
        for file_name in video["file_names"]:
            with Image.open(tiny_root / split / "JPEGImages" / file_name) as image:
                assert image.format == "JPEG" and image.mode == "RGB" and image.size == (96, 64)
    annotations = document["annotations"]
    assert annotations, "every tiny video has objects"
    assert [record["id"] for record in annotations] == list(range(1, len(annotations) + 1))
    assert {record["video_id"] for record in annotations} == {video["id"] for video in videos}
    for record in annotations:
        assert record["iscrowd"] == 0 and (record["height"], record["width"]) == (64, 96)
        assert 1 <= record["category_id"] <= 4
        for field in ("segmentations", "areas", "bboxes", "occlusion"):
            assert len(record[field]) == 6, field
        assert set(record["occlusion"]) <= OCCLUSION_LABELS
        assert any(segmentation is not None for segmentation in record["segmentations"])


def _check_masks_areas_boxes(document: dict[str, Any]) -> int:
    """Check every frame of every track against pycocotools; return the number of non-null frames."""
    checked = 0
    for record in document["annotations"]:
        for segmentation, area, box in zip(
            record["segmentations"], record["areas"], record["bboxes"], strict=True
        ):
            if segmentation is None:
                assert area is None and box is None
                continue
            assert segmentation["size"] == [record["height"], record["width"]]
            assert all(isinstance(count, int) for count in segmentation["counts"])
            mask = _decode(segmentation)
            compressed = coco_mask.frPyObjects(segmentation, *segmentation["size"])
            assert area == int(mask.sum()) == int(coco_mask.area(compressed)) > 0
            assert box == pytest.approx(coco_mask.toBbox(compressed).tolist())
            rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            assert box == [columns[0], rows[0], columns[-1] - columns[0] + 1, rows[-1] - rows[0] + 1]
            checked += 1
    return checked


@pytest.mark.parametrize("split", ["train", "valid"])
def test_masks_areas_and_boxes_agree(tiny_root: Path, split: str) -> None:
    assert _check_masks_areas_boxes(_load(tiny_root, split)) > 0


def test_ground_truth_matches_the_rendered_scene(tiny_root: Path) -> None:
    """Decoded masks equal the renderer's visible masks; null frames and occlusion labels follow them."""
    document = _load(tiny_root, "train")
    for video in document["videos"]:
        scene = sample_scene(video_rng(TINY.seed, "train", video["id"] - 1), 64, 96, 6, TINY.num_categories)
        frames = [render_frame(scene, frame_index) for frame_index in range(6)]
        records = [record for record in document["annotations"] if record["video_id"] == video["id"]]
        visible_objects = [
            index
            for index in range(len(scene.objects))
            if any(frame.visible_masks[index].any() for frame in frames)
        ]
        assert len(records) == len(visible_objects)
        for record, index in zip(records, visible_objects, strict=True):
            assert record["category_id"] == scene.objects[index].category_id
            for frame_index, frame in enumerate(frames):
                visible, full = frame.visible_masks[index], frame.full_masks[index]
                segmentation = record["segmentations"][frame_index]
                if not visible.any():
                    assert segmentation is None
                    expected = "severe_occlusion" if full.any() else "no_occlusion"
                    assert record["occlusion"][frame_index] == expected
                    continue
                np.testing.assert_array_equal(_decode(segmentation), visible)
                fraction = visible.sum() / full.sum()
                expected = (
                    "no_occlusion"
                    if fraction >= 0.9
                    else "slight_occlusion"
                    if fraction >= 0.5
                    else "severe_occlusion"
                )
                assert record["occlusion"][frame_index] == expected


def test_default_size_dataset_has_entering_leaving_occlusion_and_twins(default_size_root: Path) -> None:
    document = _load(default_size_root, "train")
    assert _check_masks_areas_boxes(document) > 0
    tracks = document["annotations"]
    present = [[segmentation is not None for segmentation in record["segmentations"]] for record in tracks]
    entering = [flags for flags in present if not flags[0]]
    leaving = [flags for flags in present if not flags[-1]]
    with_gap = [
        flags
        for flags in present
        if any(not flag for flag in flags[flags.index(True) : len(flags) - flags[::-1].index(True)])
    ]
    assert entering and leaving and with_gap
    labels = Counter(label for record in tracks for label in record["occlusion"])
    assert labels["slight_occlusion"] > 0 and labels["severe_occlusion"] > 0
    per_video = Counter((record["video_id"], record["category_id"]) for record in tracks)
    assert any(count >= 2 for count in per_video.values()), "some video holds two objects of one category"
    objects_per_video = Counter(record["video_id"] for record in tracks)
    assert max(objects_per_video.values()) >= 3
    assert len({record["category_id"] for record in tracks}) >= 4
    areas = [area for record in tracks for area in record["areas"] if area is not None]
    assert 200 < np.median(areas) < 0.2 * 192 * 320


def test_default_size_frames_are_textured_and_pan(default_size_root: Path) -> None:
    frame_root = default_size_root / "train/JPEGImages/train_0000"
    first = np.asarray(Image.open(frame_root / "00000.jpg"), dtype=np.float64)
    last = np.asarray(Image.open(frame_root / "00023.jpg"), dtype=np.float64)
    assert first.shape == (192, 320, 3)
    assert first.std(axis=(0, 1)).mean() > 5.0  # not a flat background
    assert np.abs(first - last).mean() > 2.0  # the video changes over time


def test_cli_writes_the_dataset_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    arguments = ["synth", "--out", str(out), "--videos", "2", "--valid-videos", "1", "--frames", "3"]
    result = CliRunner().invoke(app, [*arguments, "--size", "48x64", "--num-categories", "8", "--seed", "3"])
    assert result.exit_code == 0, result.output
    for column in ("videos", "frames", "instances", "size on disk"):
        assert column in result.output
    assert "train" in result.output and "valid" in result.output
    train = _load(out, "train")
    assert len(train["videos"]) == 2 and len(_load(out, "valid")["videos"]) == 1
    assert [category["name"] for category in train["categories"]] == list(SHAPE_KINDS[:8])
    assert (out / "train/JPEGImages/train_0001/00002.jpg").is_file()
    assert not list(out.rglob("*.tmp"))


def test_console_script_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ifm-prep")
    out = tmp_path / "script"
    completed = subprocess.run(
        [
            str(script),
            "synth",
            "--out",
            str(out),
            "--videos",
            "1",
            "--valid-videos",
            "1",
            "--frames",
            "2",
            "--size",
            "32x48",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (out / "annotations/instances_valid.json").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--size", "64by96"], "--size"),
        (["--size", "16x96"], "--size"),
        (["--videos", "0"], "--videos"),
        (["--valid-videos", "0"], "--valid-videos"),
        (["--frames", "-2"], "--frames"),
        (["--num-categories", "0"], "--num-categories"),
        (["--num-categories", str(len(SHAPE_KINDS) + 1)], "--num-categories"),
        (["--seed", "-1"], "--seed"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    status = run_app(app, ["synth", "--out", str(tmp_path / "never"), *arguments])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("error: ") and message in error
    assert not (tmp_path / "never").exists()


def test_output_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "taken"
    target.write_text("not a folder")
    assert (
        run_app(app, ["synth", "--out", str(target), "--videos", "1", "--valid-videos", "1", "--frames", "1"])
        == 2
    )
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(target) in error
