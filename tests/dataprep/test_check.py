"""``ifm-prep check``: validation, frame checks, manifest.json and one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from instanceformer.core.cli import run_app
from instanceformer.core.formats.manifest import read_manifest_entry
from instanceformer.dataprep.check import check_dataset, split_name
from instanceformer.dataprep.cli import app

from .coco_samples import coco_payload, write_images

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _train_paths(root: Path) -> tuple[Path, Path]:
    return root / "annotations" / "instances_train.json", root / "train" / "JPEGImages"


def _run(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = run_app(app, arguments)
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip()


def _assert_one_line_error(status: int, error: str, *fragments: str) -> None:
    assert status == 2
    assert error.startswith("error: ")
    assert "\n" not in error
    for fragment in fragments:
        assert fragment in error, error


def test_check_writes_a_manifest_entry_per_file(
    dataset_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations, frames = _train_paths(dataset_copy)
    status, out, _ = _run(["check", str(annotations), "--frames", str(frames), "--full"], capsys)
    assert status == 0
    assert "Dataset check" in out
    valid = dataset_copy / "annotations" / "instances_valid.json"
    status, _, _ = _run(["check", str(valid), "--frames", str(dataset_copy / "valid" / "JPEGImages")], capsys)
    assert status == 0

    manifest = json.loads((dataset_copy / "annotations" / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert sorted(manifest["files"]) == ["instances_train.json", "instances_valid.json"]
    entry = read_manifest_entry(annotations)
    payload = json.loads(annotations.read_text())
    assert entry["kind"] == "synth"
    assert entry["split"] == "train"
    assert entry["has_ground_truth"] is True
    assert entry["sha256"] == hashlib.sha256(annotations.read_bytes()).hexdigest()
    assert entry["counts"]["videos"] == 4
    assert entry["counts"]["frames"] == 24
    assert entry["counts"]["tracks"] == len(payload["annotations"])
    assert entry["categories"] == [{"id": c["id"], "name": c["name"]} for c in payload["categories"]]
    assert entry["frame_root"] == str(frames.resolve())
    assert entry["frame_check"] == {"mode": "full", "checked": 24, "total": 24}
    assert entry["num_problems"] == 0 and entry["problems"] == []
    assert manifest["files"]["instances_valid.json"]["split"] == "valid"


def test_sampled_check_covers_the_ends_of_every_video(synthetic_root: Path) -> None:
    annotations, frames = _train_paths(synthetic_root)
    calls: list[tuple[int, int]] = []
    report = check_dataset(annotations, frames, sample=0, progress=lambda *call: calls.append(call))
    assert report.mode == "sample"
    assert report.frames_checked == 8  # first and last frame of 4 videos
    assert calls[-1] == (8, 8)
    assert check_dataset(annotations, frames, sample=5).frames_checked == 13
    assert check_dataset(annotations, frames, sample=500).frames_checked == 24


def test_missing_frame_is_recorded_and_exits_2(
    dataset_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations, frames = _train_paths(dataset_copy)
    payload = json.loads(annotations.read_text())
    missing = frames / payload["videos"][1]["file_names"][2]
    missing.unlink()
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--full"], capsys)
    video_id = payload["videos"][1]["id"]
    _assert_one_line_error(
        status,
        error,
        str(missing),
        f"videos[1] (id {video_id})",
        "file_names[2]",
        "does not exist",
        "manifest.json",
    )
    entry = read_manifest_entry(annotations)
    assert entry["num_problems"] == 1
    assert entry["problems"][0]["file"] == str(missing)


def test_wrong_frame_size_exits_2(dataset_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations, frames = _train_paths(dataset_copy)
    payload = json.loads(annotations.read_text())
    wrong = frames / payload["videos"][0]["file_names"][0]
    Image.new("RGB", (95, 64)).save(wrong)
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--sample", "0"], capsys)
    _assert_one_line_error(
        status,
        error,
        str(wrong),
        "file_names[0]",
        "expected a frame of 96x64",
        "(width x height",
        "got 95x64",
    )


def test_unreadable_frame_exits_2(dataset_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations, frames = _train_paths(dataset_copy)
    payload = json.loads(annotations.read_text())
    broken = frames / payload["videos"][2]["file_names"][-1]
    broken.write_bytes(b"not a jpeg")
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--sample", "0"], capsys)
    _assert_one_line_error(status, error, str(broken), "expected a readable image")


def _edit_json(path: Path, edit) -> None:
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload))


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (
            lambda payload: payload["annotations"][0]["segmentations"].pop(),
            ("annotations[0]", "'segmentations'", "expected 6 entries"),
        ),
        (
            lambda payload: payload["annotations"][1].update(category_id=77),
            ("annotations[1]", "'category_id'", "got 77"),
        ),
        (
            lambda payload: payload["videos"][0].pop("height"),
            ("videos[0]", "'height'", "missing"),
        ),
    ],
    ids=["segmentation-count", "unknown-category", "missing-field"],
)
def test_broken_annotations_exit_2_without_a_manifest(
    dataset_copy: Path, capsys: pytest.CaptureFixture[str], edit, fragments: tuple[str, ...]
) -> None:
    annotations, frames = _train_paths(dataset_copy)
    _edit_json(annotations, edit)
    status, _, error = _run(["check", str(annotations), "--frames", str(frames)], capsys)
    _assert_one_line_error(status, error, str(annotations), *fragments)
    assert not (dataset_copy / "annotations" / "manifest.json").exists()


def test_truncated_json_exits_2(dataset_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations, frames = _train_paths(dataset_copy)
    text = annotations.read_text()
    annotations.write_text(text[: text.index('"annotations"')])  # cut after a comma, as an interrupted copy
    status, _, error = _run(["check", str(annotations), "--frames", str(frames)], capsys)
    _assert_one_line_error(status, error, str(annotations), "expected valid JSON", "ends too early")


def test_wrong_kind_names_the_category(synthetic_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations, frames = _train_paths(synthetic_root)
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--kind", "ytvis19"], capsys)
    _assert_one_line_error(status, error, "categories[0] (id 1)", "'name'", "'person'", "'disc'")
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--kind", "coco"], capsys)
    _assert_one_line_error(status, error, "'images'", "missing")
    status, _, error = _run(["check", str(annotations), "--frames", str(frames), "--kind", "nope"], capsys)
    _assert_one_line_error(status, error, "--kind")


def test_missing_inputs_exit_2(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations, frames = _train_paths(synthetic_root)
    status, _, error = _run(["check", str(tmp_path / "none.json"), "--frames", str(frames)], capsys)
    _assert_one_line_error(status, error, "none.json")
    status, _, error = _run(["check", str(annotations), "--frames", str(tmp_path / "nowhere")], capsys)
    _assert_one_line_error(status, error, "nowhere", "--frames")


def test_coco_files_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = coco_payload([1, 3, 44], crowd={3})
    annotations = tmp_path / "annotations" / "instances_train2017.json"
    annotations.parent.mkdir()
    annotations.write_text(json.dumps(payload))
    images = tmp_path / "train2017"
    write_images(payload, images)
    status, _, _ = _run(["check", str(annotations), "--frames", str(images)], capsys)
    assert status == 0
    entry = read_manifest_entry(annotations)
    assert entry["kind"] == "coco"
    assert entry["split"] == "train2017"
    assert entry["counts"] == {"images": 3, "annotations": 3, "crowd_annotations": 1, "categories": 80}

    (images / payload["images"][2]["file_name"]).unlink()
    status, _, error = _run(["check", str(annotations), "--frames", str(images), "--kind", "coco"], capsys)
    _assert_one_line_error(status, error, "images[2] (id 3)", "'file_name'", "does not exist")

    payload["annotations"][0]["segmentation"] = [[1.0, 2.0, 3.0]]
    annotations.write_text(json.dumps(payload))
    status, _, error = _run(["check", str(annotations), "--frames", str(images)], capsys)
    _assert_one_line_error(status, error, "annotations[0] (id 101)", "'segmentation'", "polygon 0")


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("instances_train_sub.json", "train_sub"),
        ("instances_val_sub.json", "val_sub"),
        ("annotations_valid.json", "valid"),
        ("train.json", "train"),
        ("instances_train2017.json", "train2017"),
    ],
)
def test_split_names_come_from_file_names(name: str, split: str) -> None:
    assert split_name(Path(name)) == split
