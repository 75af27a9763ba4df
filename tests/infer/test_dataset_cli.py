"""``ifm-infer dataset`` and ``ifm-infer merge`` end to end on the synthetic dataset."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from instanceformer.core.cli import run_app
from instanceformer.core.engine import load_analysis
from instanceformer.core.formats import check_results_against, load_annotations, load_results
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FILES
from instanceformer.core.formats.association_file import (
    ASSOCIATION_FILE,
    ASSOCIATION_FORMAT_VERSION,
    TOTAL_KEYS,
)
from instanceformer.core.metrics import association_reports, evaluate_results
from instanceformer.infer.cli import app


def _dataset_args(run: Path, synth: Path, out: Path, *extra: str) -> list[str]:
    return [
        "dataset",
        "--run",
        str(run),
        "--gt",
        str(synth / "annotations" / "instances_valid.json"),
        "--frames",
        str(synth / "valid" / "JPEGImages"),
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def full_run(tiny_run: Path, synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full")
    assert run_app(app, _dataset_args(tiny_run, synth_root, out, "--analysis")) == 0
    return out


def test_dataset_writes_valid_results_metrics_and_zip(full_run: Path, synth_root: Path) -> None:
    dataset = load_annotations(synth_root / "annotations" / "instances_valid.json")
    results = load_results(full_run / "results.json")
    assert check_results_against(results, dataset) == []
    assert {track.video_id for track in results} == {video.id for video in dataset.videos}
    for track in results:
        video = dataset.video(track.video_id)
        assert len(track.segmentations) == video.length
        assert any(segmentation is not None for segmentation in track.segmentations)
        for segmentation in track.segmentations:
            if segmentation is not None:
                assert segmentation["size"] == [video.height, video.width]
    with zipfile.ZipFile(full_run / "results.zip") as archive:
        assert archive.namelist() == ["results.json"]
        assert archive.read("results.json") == (full_run / "results.json").read_bytes()
    metrics = json.loads((full_run / "metrics.json").read_text())
    assert -1.0 <= metrics["AP"] <= 1.0 and "AR10" in metrics


def test_analysis_with_ground_truth_writes_the_association_report(full_run: Path, synth_root: Path) -> None:
    dataset = load_annotations(synth_root / "annotations" / "instances_valid.json")
    results = load_results(full_run / "results.json")
    document = json.loads((full_run / ASSOCIATION_FILE).read_text())
    assert document["format_version"] == ASSOCIATION_FORMAT_VERSION and document["kind"] == "association"
    assert [video["video_id"] for video in document["videos"]] == [video.id for video in dataset.videos]
    for video in document["videos"]:
        assert video["name"] == dataset.video(video["video_id"]).file_names[0].rsplit("/", 1)[0]
    reports = association_reports(results, dataset)
    unnamed = [{key: value for key, value in video.items() if key != "name"} for video in document["videos"]]
    assert unnamed == reports
    assert [video["IDSW"] for video in document["videos"]] == [report["IDSW"] for report in reports]
    identity = evaluate_results(results, dataset, metrics=("identity",))
    assert document["totals"] == {key: identity[key] for key in TOTAL_KEYS}
    assert sum(video["IDSW"] for video in document["videos"]) == identity["IDSW"]


def test_without_ground_truth_no_association_report_is_written(
    tiny_run: Path, synth_root: Path, tmp_path: Path
) -> None:
    payload = json.loads((synth_root / "annotations" / "instances_valid.json").read_text())
    payload["annotations"] = None
    annotations = tmp_path / "no_truth.json"
    annotations.write_text(json.dumps(payload))
    out = tmp_path / "out"
    args = _replace(_dataset_args(tiny_run, synth_root, out, "--analysis"), "--gt", str(annotations))
    assert run_app(app, args) == 0
    assert (out / ANALYSIS_FILES["embeddings"]).is_file()
    assert not (out / "metrics.json").exists() and not (out / ASSOCIATION_FILE).exists()


def test_sharded_runs_merge_to_the_unsharded_run(
    full_run: Path, tiny_run: Path, synth_root: Path, tmp_path: Path
) -> None:
    shards = [tmp_path / f"shard{index}" for index in range(2)]
    for index, shard in enumerate(shards):
        assert (
            run_app(app, _dataset_args(tiny_run, synth_root, shard, "--shard", f"{index}/2", "--analysis"))
            == 0
        )
        assert not (shard / "metrics.json").exists() and not (shard / ASSOCIATION_FILE).exists()
    first_shard = load_results(shards[0] / "results.json")
    assert {track.video_id for track in first_shard} == {1, 3}
    merged = tmp_path / "merged"
    assert run_app(app, ["merge", str(shards[1]), str(shards[0]), "--out", str(merged)]) == 0
    assert (merged / "results.json").read_bytes() == (full_run / "results.json").read_bytes()
    assert (merged / "results.zip").read_bytes() == (full_run / "results.zip").read_bytes()
    assert json.loads((merged / "metrics.json").read_text()) == json.loads(
        (full_run / "metrics.json").read_text()
    )
    assert (merged / ASSOCIATION_FILE).read_bytes() == (full_run / ASSOCIATION_FILE).read_bytes()
    for file_name in ANALYSIS_FILES.values():
        expected, found = load_analysis(full_run / file_name), load_analysis(merged / file_name)
        assert expected.keys() == found.keys()
        for key, value in expected.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, found[key]), (file_name, key)
            else:
                assert value == found[key]


def test_merge_refuses_incomplete_shards(tiny_run: Path, synth_root: Path, tmp_path: Path, capsys) -> None:
    shard = tmp_path / "shard0"
    assert run_app(app, _dataset_args(tiny_run, synth_root, shard, "--shard", "0/2")) == 0
    capsys.readouterr()
    assert run_app(app, ["merge", str(shard), "--out", str(tmp_path / "merged")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: merge: expected shards 0..1 once each") and "\n" not in error


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda args, root: [*args, "--shard", "2/2"], "--shard: expected i/n"),
        (lambda args, root: _replace(args, "--frames", str(root / "missing")), "check --frames"),
        (lambda args, root: _replace(args, "--run", str(root / "nowhere")), "not a run folder"),
        (lambda args, root: [*args, "--checkpoint", str(root / "none.pt")], "none.pt: no such checkpoint"),
        (
            lambda args, root: (
                [*args, "--device", "cuda:7"] if not torch.cuda.is_available() else [*args, "--device", "tpu"]
            ),
            "device",
        ),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    change, expected, tiny_run: Path, synth_root: Path, tmp_path: Path, capsys
) -> None:
    args = change(_dataset_args(tiny_run, synth_root, tmp_path / "out"), tmp_path)
    if expected == "check --frames":
        (tmp_path / "missing").mkdir()
    assert run_app(app, args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    assert expected in error


def test_class_count_mismatch_names_the_config_key(
    tiny_run: Path, synth_root: Path, tmp_path: Path, capsys
) -> None:
    payload = json.loads((synth_root / "annotations" / "instances_valid.json").read_text())
    payload["categories"] = payload["categories"][:4]
    payload["annotations"] = [record for record in payload["annotations"] if record["category_id"] <= 4]
    annotations = tmp_path / "four.json"
    annotations.write_text(json.dumps(payload))
    args = _replace(_dataset_args(tiny_run, synth_root, tmp_path / "out"), "--gt", str(annotations))
    assert run_app(app, args) == 2
    error = capsys.readouterr().err.strip()
    assert "model.num_classes" in error and "expected 4" in error and "\n" not in error


def _replace(args: list[str], option: str, value: str) -> list[str]:
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed
