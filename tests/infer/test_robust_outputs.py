"""``ifm-infer`` output folders and inputs: occupied folders, faults, the --gt vocabulary, validation."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.formats import (
    TrackResult,
    check_results_against,
    load_annotations,
    write_annotations,
    write_results_json,
)
from instanceformer.infer.cli import app
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The error line, the last line on standard error (progress lines and warnings may come before)."""
    error = capsys.readouterr().err
    errors = [line for line in error.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and error.endswith(errors[0] + "\n") and "Traceback" not in error, error
    return errors[0]


def _entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _dataset_arguments(run: Path, synth: Path, out: Path, gt: Path | None = None) -> list[str]:
    annotations = gt or synth / "annotations" / "instances_valid.json"
    frames = synth / "valid" / "JPEGImages"
    return [
        "dataset",
        "--run",
        str(run),
        "--gt",
        str(annotations),
        "--frames",
        str(frames),
        "--out",
        str(out),
    ]


def test_dataset_refuses_a_folder_of_another_run_before_loading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    arguments = _dataset_arguments(tmp_path / "no-run", tmp_path / "no-data", out)
    assert run_app(app, arguments) == 2
    error = _one_line_error(capsys)
    assert "--out: expected a new or empty folder" in error and "(metrics.json)" in error
    assert run_app(app, ["video", str(tmp_path), "--run", str(tmp_path / "no-run"), "--out", str(out)]) == 2
    assert "--out: expected a new or empty folder" in _one_line_error(capsys)
    assert _entries(out) == ["metrics.json"]


def test_dataset_with_force_drops_the_outputs_of_an_earlier_run(
    tiny_run: Path, synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without_truth = json.loads((synth_root / "annotations" / "instances_valid.json").read_text())
    without_truth.pop("annotations")
    gt = tmp_path / "instances_test.json"
    gt.write_text(json.dumps(without_truth))
    out = tmp_path / "results"
    out.mkdir()
    (out / "metrics.json").write_text('{"AP": 0.9}')
    (out / "association.json").write_text('{"videos": []}')
    (out / "notes.txt").write_text("the user's")
    assert run_app(app, [*_dataset_arguments(tiny_run, synth_root, out, gt), "--force"]) == 0
    assert _entries(out) == ["notes.txt", "results.json", "results.zip"]
    assert [name for name in _entries(tmp_path) if name.startswith(".")] == []


def test_the_former_annotations_option_still_works_with_a_warning(
    tiny_run: Path, synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = str(synth_root / "annotations" / "instances_valid.json")
    common = ["dataset", "--run", str(tiny_run), "--frames", str(synth_root / "valid" / "JPEGImages")]
    assert run_app(app, [*common, "--annotations", gt, "--out", str(tmp_path / "out")]) == 0
    assert "warning: --annotations is deprecated; use --gt" in capsys.readouterr().err
    assert (tmp_path / "out" / "metrics.json").is_file()
    assert run_app(app, [*common, "--annotations", gt, "--gt", gt, "--out", str(tmp_path / "both")]) == 2
    assert "--gt and --annotations: give one" in _one_line_error(capsys)
    assert run_app(app, [*common, "--out", str(tmp_path / "neither")]) == 2
    assert _one_line_error(capsys) == "error: --gt: missing option; expected the annotation file"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_a_full_disk_during_inference_leaves_no_output_folder(
    tiny_run: Path,
    synth_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_fsync = os.fsync
    written = {"files": 0}

    def full_disk(descriptor: int) -> None:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            written["files"] += 1
            if written["files"] == 3:  # results.json and results.zip are written, metrics.json is not
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", full_disk)
    out = tmp_path / "eval" / "results"
    assert run_app(app, _dataset_arguments(tiny_run, synth_root, out)) == 2
    assert _one_line_error(capsys) == f"error: {out / 'metrics.json'}: No space left on device"
    assert _entries(tmp_path) == []


@pytest.fixture(scope="module")
def evaluation_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TrackResult]]:
    spec = EvaluationCaseSpec(num_videos=3, num_frames=3, unknown_category_probability=0.0)
    dataset, results = synthetic_evaluation_case(11, spec)
    return write_annotations(dataset, tmp_path_factory.mktemp("gt") / "instances.json"), results


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"score": 1.5}, "score 1.5 is outside [0, 1]"),
        ({"score": -0.25}, "score -0.25 is outside [0, 1]"),
        ({"category_id": 999}, "category_id 999 is not a category of the dataset"),
    ],
)
def test_evaluate_refuses_what_submit_validate_refuses(
    evaluation_case, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, expected: str
) -> None:
    gt, results = evaluation_case
    broken = [*results[:1], TrackResult(**{**results[1].__dict__, **change}), *results[2:]]
    problems = check_results_against(broken, load_annotations(gt))
    assert problems == [f"results[1] (video_id {results[1].video_id}): {expected}"]
    path = write_results_json(broken, tmp_path / "results.json")
    json_path = tmp_path / "metrics.json"
    assert run_app(app, ["evaluate", str(path), "--gt", str(gt), "--json", str(json_path)]) == 2
    error = _one_line_error(capsys)
    assert error.startswith(f"error: {path}: {problems[0]} (1 problem in all, as 'ifm-submit validate'")
    assert not json_path.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_evaluate_refuses_a_device_as_its_json_output(evaluation_case, tmp_path: Path, capsys) -> None:
    gt, results = evaluation_case
    path = write_results_json(results, tmp_path / "results.json")
    assert run_app(app, ["evaluate", str(path), "--gt", str(gt), "--json", "/dev/full"]) == 2
    assert "/dev/full: refusing to write" in _one_line_error(capsys)
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)
