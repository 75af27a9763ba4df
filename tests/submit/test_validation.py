"""Validation of results against a video set: every problem class, all problems at once, warnings."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.cli import run_app
from instanceformer.core.errors import FormatError
from instanceformer.core.formats import encode_mask_uncompressed, parse_annotations
from instanceformer.core.formats.manifest import write_manifest_entry
from instanceformer.submit.cli import app
from instanceformer.submit.ground_truth import load_ground_truth
from instanceformer.submit.validation import MAX_TRACKS_PER_VIDEO, validate_results


def _dataset(annotations_path: Path):
    return load_ground_truth(annotations_path).dataset


def test_valid_results_pass_and_missing_videos_are_a_warning(results_path, annotations_path) -> None:
    report = validate_results(results_path, _dataset(annotations_path))
    assert report.ok
    assert report.problems == ()
    assert report.num_tracks == 3
    assert (report.num_videos_with_results, report.num_videos) == (2, 3)
    assert len(report.warnings) == 1
    assert "1 of 3 videos have no result" in report.warnings[0]
    assert "video ids 3" in report.warnings[0]


def test_a_split_file_without_the_annotations_key_works(tmp_path, annotations_path, results_path) -> None:
    payload = json.loads(annotations_path.read_text())
    del payload["annotations"]
    ytvis_style = tmp_path / "ytvis_valid.json"
    ytvis_style.write_text(json.dumps(payload))
    ground_truth = load_ground_truth(ytvis_style)
    assert not ground_truth.dataset.has_ground_truth
    assert validate_results(results_path, ground_truth.dataset).ok


def _nan_score(record: dict[str, Any]) -> None:
    record["score"] = float("nan")


def _wrong_frame_count(record: dict[str, Any]) -> None:
    record["segmentations"] = record["segmentations"][:2]


def _wrong_size(record: dict[str, Any]) -> None:
    record["segmentations"][0]["size"] = [8, 6]


def _uncompressed(record: dict[str, Any]) -> None:
    mask = np.zeros((6, 8), dtype=np.uint8)
    mask[1:3, 2:5] = 1
    record["segmentations"][2] = encode_mask_uncompressed(mask)


def _malformed_counts(record: dict[str, Any]) -> None:
    record["segmentations"][0]["counts"] = "0"


def _counts_not_covering(record: dict[str, Any]) -> None:
    record["segmentations"][0]["counts"] = "3"


PROBLEM_CLASSES = {
    "unknown video": (lambda r: r.update(video_id=99), "video_id 99 is not a video of the dataset"),
    "unknown category": (lambda r: r.update(category_id=7), "category_id 7 is not a category of the dataset"),
    "score above one": (lambda r: r.update(score=1.5), "score 1.5 is outside [0, 1]"),
    "negative score": (lambda r: r.update(score=-0.1), "score -0.1 is outside [0, 1]"),
    "nan score": (_nan_score, "field 'score': expected a finite number, got nan"),
    "string score": (lambda r: r.update(score="0.5"), "field 'score': expected a finite number"),
    "missing score": (lambda r: r.pop("score"), "field 'score': expected this field, it is missing"),
    "frame count": (_wrong_frame_count, "2 segmentations, the video has 3 frames"),
    "mask size": (_wrong_size, "a size other than the video's [6, 8]"),
    "uncompressed rle": (_uncompressed, "uncompressed RLE"),
    "malformed counts": (_malformed_counts, "malformed compressed counts"),
    "counts not covering": (_counts_not_covering, "not covering 6x8 pixels"),
    "rle without counts": (lambda r: r["segmentations"][0].pop("counts"), "expected an RLE object"),
}


@pytest.mark.parametrize("name", sorted(PROBLEM_CLASSES))
def test_each_problem_class_is_reported_on_its_record(name, tmp_path, annotations_path, kit) -> None:
    mutate, expected = PROBLEM_CLASSES[name]
    broken = kit.track(1, 1, 0.5)
    mutate(broken)
    path = kit.write_json(tmp_path / "broken.json", [kit.track(2, 2, 0.8), broken, kit.track(3, 1, 0.3)])
    report = validate_results(path, _dataset(annotations_path))
    assert not report.ok
    assert len(report.problems) == 1, report.problems
    problem = report.problems[0]
    assert problem.record == "results[1]"
    assert expected in problem.message
    assert problem.video_id == broken.get("video_id")


def test_all_problems_are_collected_not_only_the_first(tmp_path, annotations_path, kit) -> None:
    records = [kit.track(1, 1, 0.5)]
    for index in range(25):
        broken = kit.track(2, 1, 0.5, seed=index)
        broken["category_id" if index % 2 else "score"] = 9 if index % 2 else 2.0
        records.append(broken)
    records.append({"video_id": 3})
    path = kit.write_json(tmp_path / "many.json", records)
    report = validate_results(path, _dataset(annotations_path))
    assert len(report.problems) == 26
    assert [problem.record for problem in report.problems] == [f"results[{i}]" for i in range(1, 27)]
    assert "field 'segmentations': expected this field, it is missing" in report.problems[-1].message


def test_validate_command_shows_twenty_problems_and_the_count(
    tmp_path, annotations_path, kit, capsys, home
) -> None:
    records = [dict(kit.track(1, 1, 0.5), category_id=40 + index) for index in range(23)]
    path = kit.write_json(tmp_path / "many.json", records)
    assert run_app(app, ["validate", str(path), "--gt", str(annotations_path)]) == 2
    captured = capsys.readouterr()
    assert "Problems (20 of 23 shown)" in captured.out
    assert "... and 3 more problems" in captured.out
    assert "category_id 59 is not a category" in captured.out
    assert "category_id 62" not in captured.out
    error_lines = captured.err.strip().splitlines()
    assert error_lines == [f"error: {path}: 23 problems found; the server would reject these results"]


def test_validate_command_accepts_valid_results(results_path, annotations_path, capsys, home) -> None:
    assert run_app(app, ["validate", str(results_path), "--gt", str(annotations_path)]) == 0
    output = capsys.readouterr().out
    assert "ok" in output
    assert "warning:" in output
    assert "1 of 3 videos have no result" in output


def _manifest_entry(has_ground_truth: bool, digest: str) -> dict:
    return {"kind": "ovis", "split": "valid", "has_ground_truth": has_ground_truth, "sha256": digest}


def test_a_manifest_may_stand_for_the_annotation_file(
    tmp_path, annotations_path, results_path, capsys, home
) -> None:
    digest = hashlib.sha256(annotations_path.read_bytes()).hexdigest()
    manifest = write_manifest_entry(annotations_path, _manifest_entry(False, digest))
    write_manifest_entry(tmp_path / "instances_train.json", _manifest_entry(True, "1" * 64))
    assert json.loads(manifest.read_text())["files"].keys() == {"instances_train.json", "valid.json"}
    ground_truth = load_ground_truth(manifest)
    assert ground_truth.annotation_path == annotations_path
    assert ground_truth.manifest_path == manifest
    assert ground_truth.warnings == ()
    assert [video.id for video in ground_truth.dataset.videos] == [1, 2, 3]
    assert run_app(app, ["validate", str(results_path), "--gt", str(manifest)]) == 0


def test_a_manifest_with_a_stale_hash_warns(tmp_path, annotations_path, results_path, capsys, home) -> None:
    manifest = write_manifest_entry(annotations_path, _manifest_entry(True, "0" * 64))
    ground_truth = load_ground_truth(manifest)
    assert len(ground_truth.warnings) == 1
    assert "has changed since" in ground_truth.warnings[0]
    assert run_app(app, ["validate", str(results_path), "--gt", str(manifest)]) == 0
    assert "has changed since" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"format_version": 1, "files": {}}, "listing at least one checked file"),
        ({"files": {"gone.json": {"has_ground_truth": False}}}, "gone.json to exist, it is missing"),
        (
            {"files": {"a.json": {"has_ground_truth": False}, "b.json": {"has_ground_truth": False}}},
            "it lists a.json, b.json; pass that annotation file itself with --gt",
        ),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_a_bad_ground_truth_file_is_one_line(tmp_path, results_path, payload, expected, capsys, home) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(payload))
    assert run_app(app, ["validate", str(results_path), "--gt", str(manifest)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert error.startswith(f"error: {manifest}")
    assert expected in error


def test_zip_input_is_validated_and_a_zip_with_a_folder_is_rejected(
    tmp_path, results_path, annotations_path
) -> None:
    dataset = _dataset(annotations_path)
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.write(results_path, "results.json")
    report = validate_results(good, dataset)
    assert report.ok
    assert report.source == f"{good} (member results.json)"
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        archive.write(results_path, "out/results.json")
    with pytest.raises(
        FormatError, match=r"holding only 'results.json' at its root \(no folder\), it holds out/results.json"
    ):
        validate_results(nested, dataset)


def test_top_level_that_is_not_a_list_is_one_error(tmp_path, annotations_path, kit) -> None:
    path = kit.write_json(tmp_path / "object.json", {"results": []})
    with pytest.raises(FormatError, match="expected a JSON list of tracks at the top level, got an object"):
        validate_results(path, _dataset(annotations_path))


def test_warnings_for_crowded_videos_empty_tracks_and_another_split(tmp_path, annotations_path, kit) -> None:
    dataset = _dataset(annotations_path)
    crowded = [kit.track(1, 1, 0.5, seed=index % 3) for index in range(MAX_TRACKS_PER_VIDEO + 5)]
    empty = dict(kit.track(2, 2, 0.2), segmentations=[None, None])
    report = validate_results(kit.write_json(tmp_path / "crowded.json", [*crowded, empty]), dataset)
    assert report.ok
    text = " | ".join(report.warnings)
    assert (
        f"1 videos have more than {MAX_TRACKS_PER_VIDEO} tracks (e.g. 1 ({MAX_TRACKS_PER_VIDEO + 5}))" in text
    )
    assert "1 tracks have no mask in any frame" in text
    other_split = validate_results(
        kit.write_json(tmp_path / "other.json", [dict(kit.track(1), video_id=500)]), dataset
    )
    assert "none of the video ids is a video of the set" in " ".join(other_split.warnings)
    empty_list = validate_results(kit.write_json(tmp_path / "empty.json", []), dataset)
    assert empty_list.ok
    assert "the results list is empty" in empty_list.warnings[0]


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(2, 12),
    width=st.integers(2, 12),
    frames=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_masks_encoded_by_pycocotools_pass_and_transposed_sizes_fail(height, width, frames, seed) -> None:
    """pycocotools' own encoding is accepted; the same runs claimed for [width, height] are rejected."""
    import tempfile

    from pycocotools import mask as coco_mask

    generator = np.random.default_rng(seed)
    dataset = parse_annotations(
        {
            "videos": [
                {"id": 5, "height": height, "width": width, "length": frames, "file_names": ["f"] * frames}
            ],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": None,
        }
    )
    segmentations = []
    for _ in range(frames):
        mask = (generator.random((height, width)) < 0.4).astype(np.uint8)
        rle = coco_mask.encode(np.asfortranarray(mask))
        segmentations.append({"size": [height, width], "counts": rle["counts"].decode("ascii")})
    record = {
        "video_id": 5,
        "category_id": 1,
        "score": float(generator.random()),
        "segmentations": segmentations,
    }
    with tempfile.TemporaryDirectory() as folder:
        good = Path(folder) / "good.json"
        good.write_text(json.dumps([record]))
        assert validate_results(good, dataset).problems == ()
        if height != width:
            for segmentation in record["segmentations"]:
                segmentation["size"] = [width, height]
            bad = Path(folder) / "bad.json"
            bad.write_text(json.dumps([record]))
            problems = validate_results(bad, dataset).problems
            assert len(problems) == 1
            assert f"a size other than the video's [{height}, {width}]" in problems[0].message
