"""End-to-end tests of the occlusion scenario of the synthetic dataset: events, ground truth, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from typer.testing import CliRunner

from instanceformer.core.cli import run_app
from instanceformer.core.formats import load_annotations
from instanceformer.dataprep.check import check_dataset
from instanceformer.dataprep.cli import app
from instanceformer.dataprep.stats import compute_stats
from instanceformer.dataprep.synth import (
    OcclusionKnobs,
    SynthSpec,
    VideoScene,
    generate_synthetic_dataset,
    render_frame,
    sample_scene,
    sample_video_scene,
    video_rng,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

OCCLUSION = SynthSpec(
    train_videos=4,
    valid_videos=2,
    num_frames=20,
    height=64,
    width=96,
    num_categories=6,
    seed=3,
    scenario="occlusion",
    occlusion=OcclusionKnobs(exit_probability=1.0),
)
SPLIT_VIDEOS = {"train": OCCLUSION.train_videos, "valid": OCCLUSION.valid_videos}


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


def _load(root: Path, split: str) -> dict[str, Any]:
    return json.loads((root / "annotations" / f"instances_{split}.json").read_text())


def _decode(rle: dict[str, Any]) -> np.ndarray:
    height, width = rle["size"]
    return coco_mask.decode(coco_mask.frPyObjects(rle, height, width)).astype(bool)


def _scene(spec: SynthSpec, split: str, video_id: int) -> VideoScene:
    return sample_video_scene(video_rng(spec.seed, split, video_id - 1), spec)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The ``(start, stop)`` frame ranges where ``flags`` holds."""
    runs, start = [], None
    for frame, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = frame
        elif not flag and start is not None:
            runs.append((start, frame))
            start = None
    return runs


@pytest.fixture(scope="module")
def occlusion_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("occlusion")
    generate_synthetic_dataset(root, OCCLUSION)
    return root


def test_same_seed_gives_identical_bytes_whatever_the_workers(occlusion_root: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_synthetic_dataset(again, OCCLUSION, workers=2)
    assert _all_files(again) == _all_files(occlusion_root)

    other = tmp_path / "other"
    generate_synthetic_dataset(other, dataclasses.replace(OCCLUSION, seed=4))
    first, different = _all_files(occlusion_root), _all_files(other)
    assert sorted(different) == sorted(first)
    assert sum(first[name] != different[name] for name in first if name.endswith(".jpg")) > 0.9 * len(first)


def test_info_records_the_scenario_and_its_knobs(occlusion_root: Path) -> None:
    info = _load(occlusion_root, "train")["info"]
    assert info["scenario"] == "occlusion"
    assert info["occlusion"] == {
        "identical_objects": 3,
        "full_occlusion_probability": 0.5,
        "full_occlusion_frames": [2, 4],
        "crossing_rate": 0.5,
        "exit_probability": 1.0,
        "object_scale": 1.0,
    }


@pytest.mark.parametrize("split", ["train", "valid"])
def test_every_video_has_a_full_occlusion_of_two_frames_or_more_then_reappears(
    occlusion_root: Path, split: str
) -> None:
    document = _load(occlusion_root, split)
    for video in document["videos"]:
        found = False
        for record in (r for r in document["annotations"] if r["video_id"] == video["id"]):
            hidden = [
                segmentation is None and label == "severe_occlusion"
                for segmentation, label in zip(record["segmentations"], record["occlusion"], strict=True)
            ]
            visible = [segmentation is not None for segmentation in record["segmentations"]]
            found = found or any(
                stop - start >= 2 and any(visible[:start]) and any(visible[stop:])
                for start, stop in _runs(hidden)
            )
        assert found, f"{split} video {video['id']}"


def _crossing_frames(scene: VideoScene, first: int, second: int) -> list[int]:
    """Frames where two objects overlap nearly centre on centre and are on opposite sides 2 frames apart."""
    a, b = scene.objects[first].trajectory, scene.objects[second].trajectory
    offsets = a.centres - b.centres  # (num_frames, 2)
    return [
        frame
        for frame in range(2, scene.num_frames - 2)
        if np.linalg.norm(offsets[frame]) < 0.5 * a.radii[frame]
        and float(offsets[frame - 2] @ offsets[frame + 2]) < 0.0
    ]


@pytest.mark.parametrize("split", ["train", "valid"])
def test_every_video_has_a_crossing_of_identical_objects(occlusion_root: Path, split: str) -> None:
    document = _load(occlusion_root, split)
    for video in document["videos"]:
        scene = _scene(OCCLUSION, split, video["id"])
        categories = [obj.category_id for obj in scene.objects]
        twin_category = max(set(categories), key=categories.count)
        twins = [index for index, category in enumerate(categories) if category == twin_category]
        assert len(twins) == OCCLUSION.occlusion.identical_objects
        for index in twins[1:]:  # one look, one size, one rotation: they differ only by position
            same, other = scene.objects[twins[0]], scene.objects[index]
            assert other.appearance is same.appearance
            np.testing.assert_array_equal(other.trajectory.radii, same.trajectory.radii)
            np.testing.assert_array_equal(other.trajectory.angles, same.trajectory.angles)
        crossings = [
            (first, second, frame)
            for position, first in enumerate(twins)
            for second in twins[position + 1 :]
            for frame in _crossing_frames(scene, first, second)
        ]
        assert any(_seen_crossing(scene, *crossing) for crossing in crossings), f"{split} video {video['id']}"


def _seen_crossing(scene: VideoScene, first: int, second: int, frame: int) -> bool:
    """Whether both objects are visible 2 frames before and after ``frame`` and overlap mostly at it."""
    before, meeting, after = (render_frame(scene, index) for index in (frame - 2, frame, frame + 2))
    seen = all(r.visible_masks[index].any() for r in (before, after) for index in (first, second))
    overlap = meeting.full_masks[first] & meeting.full_masks[second]
    return seen and overlap.sum() > 0.5 * meeting.full_masks[first].sum()


@pytest.mark.parametrize("split", ["train", "valid"])
def test_ground_truth_labels_and_ids_follow_the_rendered_scene(occlusion_root: Path, split: str) -> None:
    """One record per object, with its id through every gap; masks and labels from the visible fraction."""
    document = _load(occlusion_root, split)
    ids = [record["id"] for record in document["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    exits = 0
    for video in document["videos"]:
        scene = _scene(OCCLUSION, split, video["id"])
        frames = [render_frame(scene, index) for index in range(OCCLUSION.num_frames)]
        records = [record for record in document["annotations"] if record["video_id"] == video["id"]]
        seen_objects = [
            index
            for index in range(len(scene.objects))
            if any(frame.visible_masks[index].any() for frame in frames)
        ]
        assert len(records) == len(seen_objects) >= OCCLUSION.occlusion.identical_objects
        for record, index in zip(records, seen_objects, strict=True):
            assert record["category_id"] == scene.objects[index].category_id
            in_view = [frame.full_masks[index].any() for frame in frames]
            visible = [frame.visible_masks[index].any() for frame in frames]
            exits += any(
                any(visible[:start]) and any(visible[stop:])
                for start, stop in _runs([not flag for flag in in_view])
            )
            for frame_index, frame in enumerate(frames):
                seen, full = frame.visible_masks[index], frame.full_masks[index]
                segmentation, label = record["segmentations"][frame_index], record["occlusion"][frame_index]
                if not seen.any():
                    assert segmentation is None and record["areas"][frame_index] is None
                    assert label == ("severe_occlusion" if full.any() else "no_occlusion")
                    continue
                np.testing.assert_array_equal(_decode(segmentation), seen)
                fraction = seen.sum() / full.sum()
                expected = (
                    "no_occlusion"
                    if fraction >= 0.9
                    else "slight_occlusion"
                    if fraction >= 0.5
                    else "severe_occlusion"
                )
                assert label == expected
    assert exits > 0, "some object leaves the view and comes back under the same id"


def test_the_occluder_band_hides_what_it_covers() -> None:
    scene = _scene(OCCLUSION, "train", 1)
    (band,) = scene.occluders
    covered = band.mask
    assert 0.0 < covered.mean() < 0.6
    for frame_index in range(OCCLUSION.num_frames):
        frame = render_frame(scene, frame_index)
        for visible in frame.visible_masks:
            assert not (visible & covered).any()


@pytest.mark.parametrize("split", ["train", "valid"])
def test_check_passes_on_the_output(occlusion_root: Path, split: str) -> None:
    report = check_dataset(
        occlusion_root / "annotations" / f"instances_{split}.json",
        occlusion_root / split / "JPEGImages",
        sample=None,
    )
    assert not report.problems


def test_occlusion_is_heavier_than_in_the_default_scenario(occlusion_root: Path, tmp_path: Path) -> None:
    default_root = tmp_path / "default"
    generate_synthetic_dataset(default_root, dataclasses.replace(OCCLUSION, scenario="default"))
    shares = {}
    for name, root in (("occlusion", occlusion_root), ("default", default_root)):
        path = root / "annotations" / "instances_train.json"
        levels = compute_stats(load_annotations(path), str(path)).occlusion_levels
        assert levels is not None
        shares[name] = levels["heavy"] / sum(levels.values())
    assert shares["occlusion"] > shares["default"]


def test_the_default_scenario_draws_the_default_scenes() -> None:
    spec = SynthSpec(train_videos=1, valid_videos=1, num_frames=4, height=48, width=64)
    ours = sample_video_scene(video_rng(0, "train", 0), spec)
    reference = sample_scene(video_rng(0, "train", 0), 48, 64, 4, spec.num_categories)
    assert ours.occluders == ()
    for frame_index in range(4):
        np.testing.assert_array_equal(
            render_frame(ours, frame_index).image, render_frame(reference, frame_index).image
        )


def test_cli_writes_the_occlusion_scenario_with_its_knobs(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    arguments = ["synth", "--out", str(out), "--videos", "2", "--valid-videos", "1", "--frames", "22"]
    knobs = ["--identical-objects", "4", "--full-occlusion-frames", "3-6", "--crossing-rate", "1"]
    knobs += ["--full-occlusion-probability", "0", "--exit-probability", "0", "--object-scale", "1.5"]
    result = CliRunner().invoke(app, [*arguments, "--size", "96x64", "--scenario", "occlusion", *knobs])
    assert result.exit_code == 0, result.output
    info = _load(out, "train")["info"]
    assert info["occlusion"] == {
        "identical_objects": 4,
        "full_occlusion_probability": 0.0,
        "full_occlusion_frames": [3, 6],
        "crossing_rate": 1.0,
        "exit_probability": 0.0,
        "object_scale": 1.5,
    }
    counts = [record["video_id"] for record in _load(out, "train")["annotations"]]
    assert all(counts.count(video_id) >= 4 for video_id in (1, 2))


def test_object_scale_scales_the_identical_objects() -> None:
    """Same video stream, twice the scale: the identical objects' radii double in every frame."""
    doubled = dataclasses.replace(
        OCCLUSION, occlusion=dataclasses.replace(OCCLUSION.occlusion, object_scale=2.0)
    )
    ours = sample_video_scene(video_rng(OCCLUSION.seed, "train", 0), OCCLUSION)
    larger = sample_video_scene(video_rng(OCCLUSION.seed, "train", 0), doubled)

    def identical_radii(scene: VideoScene) -> np.ndarray:
        counts = [item.category_id for item in scene.objects]
        category = max(set(counts), key=counts.count)
        radii = [item.trajectory.radii for item in scene.objects if item.category_id == category]
        assert len(radii) >= 2
        return radii[0]

    np.testing.assert_allclose(identical_radii(larger), 2.0 * identical_radii(ours))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scenario", "crowded"], "--scenario"),
        (["--identical-objects", "3"], "--identical-objects"),  # without --scenario occlusion
        (["--scenario", "occlusion", "--identical-objects", "1"], "--identical-objects"),
        (["--scenario", "occlusion", "--identical-objects", "9"], "--identical-objects"),
        (["--scenario", "occlusion", "--full-occlusion-frames", "5-3"], "--full-occlusion-frames"),
        (["--scenario", "occlusion", "--full-occlusion-frames", "1"], "--full-occlusion-frames"),
        (["--scenario", "occlusion", "--full-occlusion-frames", "two"], "--full-occlusion-frames"),
        (["--scenario", "occlusion", "--full-occlusion-probability", "1.5"], "--full-occlusion-probability"),
        (["--scenario", "occlusion", "--crossing-rate", "-0.1"], "--crossing-rate"),
        (["--scenario", "occlusion", "--exit-probability", "2"], "--exit-probability"),
        (["--scenario", "occlusion", "--object-scale", "0.2"], "--object-scale"),
        (["--scenario", "occlusion", "--object-scale", "2.5"], "--object-scale"),
        (["--object-scale", "1.5"], "--object-scale"),  # without --scenario occlusion
        (["--scenario", "occlusion", "--frames", "19"], "--frames"),
        (["--scenario", "occlusion", "--frames", "24", "--full-occlusion-frames", "10"], "--frames"),
    ],
)
def test_bad_scenario_arguments_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    status = run_app(app, ["synth", "--out", str(tmp_path / "never"), *arguments])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("error: ") and message in error
    assert not (tmp_path / "never").exists()
