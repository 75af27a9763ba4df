"""``ifm-infer evaluate`` end to end: files in, table and JSON out, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.formats import (
    TrackResult,
    VideoDataset,
    write_annotations,
    write_results_json,
    write_results_zip,
)
from instanceformer.core.formats.association_file import ASSOCIATION_FORMAT_VERSION, TOTAL_KEYS
from instanceformer.core.metrics import association_document, association_reports, evaluate_results
from instanceformer.infer.cli import app
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case


@pytest.fixture(scope="module")
def case() -> tuple[VideoDataset, list[TrackResult]]:
    return synthetic_evaluation_case(
        21, EvaluationCaseSpec(num_videos=5, num_frames=5, unknown_category_probability=0.0)
    )


def test_evaluate_prints_a_table_and_writes_json(case, tmp_path: Path, capsys) -> None:
    dataset, results = case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    output = tmp_path / "out" / "metrics.json"
    assert run_app(app, ["evaluate", str(results_path), "--gt", str(annotations), "--json", str(output)]) == 0
    printed = capsys.readouterr().out
    expected = evaluate_results(results, dataset)
    assert json.loads(output.read_text()) == expected
    assert f"{100 * expected['AP']:.2f}" in printed
    for name in ("AP50", "AR100", "APheavy"):
        assert name in printed
    assert not list(output.parent.glob(".*.tmp"))


def test_zip_input_gives_the_same_metrics(case, tmp_path: Path) -> None:
    dataset, results = case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    json_path, zip_path = tmp_path / "from_json.json", tmp_path / "from_zip.json"
    plain = write_results_json(results, tmp_path / "results.json")
    zipped = write_results_zip(results, tmp_path / "results.zip")
    assert run_app(app, ["evaluate", str(plain), "--gt", str(annotations), "--json", str(json_path)]) == 0
    assert run_app(app, ["evaluate", str(zipped), "--gt", str(annotations), "--json", str(zip_path)]) == 0
    assert json_path.read_text() == zip_path.read_text()


def _error_line(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ")
    assert "\n" not in error
    return error


def test_missing_results_file_is_a_one_line_error(case, tmp_path: Path, capsys) -> None:
    annotations = write_annotations(case[0], tmp_path / "instances.json")
    missing = tmp_path / "absent.json"
    assert run_app(app, ["evaluate", str(missing), "--gt", str(annotations)]) == 2
    assert str(missing) in _error_line(capsys)


def test_missing_ground_truth_file_is_a_one_line_error(case, tmp_path: Path, capsys) -> None:
    results_path = write_results_json(case[1], tmp_path / "results.json")
    assert run_app(app, ["evaluate", str(results_path), "--gt", str(tmp_path / "none.json")]) == 2
    assert "none.json" in _error_line(capsys)


def test_results_for_an_unknown_video_are_refused(case, tmp_path: Path, capsys) -> None:
    dataset, results = case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    stray = TrackResult(999, results[0].category_id, 0.5, results[0].segmentations)
    results_path = write_results_json([*results, stray], tmp_path / "results.json")
    output = tmp_path / "metrics.json"
    arguments = ["evaluate", str(results_path), "--gt", str(annotations), "--json", str(output)]
    assert run_app(app, arguments) == 2
    error = _error_line(capsys)
    assert f"results[{len(results)}]" in error
    assert "video_id" in error and "999" in error
    assert not output.exists()


def test_ground_truth_without_annotations_is_refused(case, tmp_path: Path, capsys) -> None:
    dataset, results = case
    unannotated = VideoDataset(dataset.videos, None, dataset.categories)
    annotations = write_annotations(unannotated, tmp_path / "valid.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    assert run_app(app, ["evaluate", str(results_path), "--gt", str(annotations)]) == 2
    assert "no annotations" in _error_line(capsys)


def test_metrics_option_adds_the_association_metrics(case, tmp_path: Path, capsys) -> None:
    dataset, results = case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    output = tmp_path / "metrics.json"
    arguments = ["evaluate", str(results_path), "--gt", str(annotations), "--json", str(output)]
    assert run_app(app, [*arguments, "--metrics", "ap,hota,identity"]) == 0
    written = json.loads(output.read_text())
    assert written == evaluate_results(results, dataset, metrics=("ap", "hota", "identity"))
    assert {"AP", "HOTA", "DetA", "AssA", "IDF1", "IDSW"} <= set(written)
    assert "HOTA" in capsys.readouterr().out


def test_an_unknown_metric_set_is_a_one_line_error(case, tmp_path: Path, capsys) -> None:
    dataset, results = case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    arguments = ["evaluate", str(results_path), "--gt", str(annotations), "--metrics", "ap,mota"]
    assert run_app(app, arguments) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "mota" in error and "\n" not in error


@pytest.fixture(scope="module")
def switching_case() -> tuple[VideoDataset, list[TrackResult]]:
    """Five videos; video 3 has 3 ID switches and 2 mostly lost tracks, video 4 one ID switch."""
    return synthetic_evaluation_case(
        25, EvaluationCaseSpec(num_videos=5, num_frames=5, unknown_category_probability=0.0)
    )


def test_association_option_writes_the_per_video_report(
    switching_case, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    dataset, results = switching_case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    metrics_path, report_path = tmp_path / "metrics.json", tmp_path / "reports" / "association.json"
    arguments = ["evaluate", str(results_path), "--gt", str(annotations), "--json", str(metrics_path)]
    assert run_app(app, [*arguments, "--metrics", "ap,identity", "--association", str(report_path)]) == 0
    printed = capsys.readouterr().out
    document = json.loads(report_path.read_text())
    assert document == association_document(results, dataset)
    assert document["format_version"] == ASSOCIATION_FORMAT_VERSION and document["kind"] == "association"
    assert [video["video_id"] for video in document["videos"]] == [1, 2, 3, 4, 5]
    assert [video["name"] for video in document["videos"]] == [f"video_{index:05d}" for index in range(1, 6)]
    reports = association_reports(results, dataset)
    assert [video["IDSW"] for video in document["videos"]] == [report["IDSW"] for report in reports]
    metrics = json.loads(metrics_path.read_text())
    assert metrics == evaluate_results(results, dataset, metrics=("ap", "identity"))
    assert document["totals"] == {key: metrics[key] for key in TOTAL_KEYS}
    assert document["totals"]["IDSW"] > 0
    assert printed.index("3 (video_00003)") < printed.index("4 (video_00004)")
    assert all(f"{index} (video_0000{index})" not in printed for index in (1, 2, 5))
    assert f"-> {report_path}" in printed


def test_association_option_into_a_folder_is_refused_before_evaluating(
    switching_case, tmp_path: Path, capsys
) -> None:
    dataset, results = switching_case
    annotations = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    metrics_path, folder = tmp_path / "metrics.json", tmp_path / "folder"
    folder.mkdir()
    arguments = ["evaluate", str(results_path), "--gt", str(annotations), "--json", str(metrics_path)]
    assert run_app(app, [*arguments, "--association", str(folder)]) == 2
    assert "refusing to write" in _error_line(capsys)
    assert not metrics_path.exists() and list(folder.iterdir()) == []


def test_association_option_without_ground_truth_writes_nothing(
    switching_case, tmp_path: Path, capsys
) -> None:
    results_path = write_results_json(switching_case[1], tmp_path / "results.json")
    report_path = tmp_path / "association.json"
    assert run_app(app, ["evaluate", str(results_path), "--association", str(report_path)]) == 2
    assert "--gt" in capsys.readouterr().err
    assert not report_path.exists()
