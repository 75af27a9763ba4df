"""Packing results into the server zip: deterministic bytes, one root member, validation first."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.errors import UserError
from instanceformer.core.formats import load_results
from instanceformer.submit.cli import app
from instanceformer.submit.ground_truth import load_ground_truth
from instanceformer.submit.packing import pack_results
from instanceformer.submit.validation import InvalidResultsError


def test_pack_is_deterministic_with_one_root_member(tmp_path, results_path) -> None:
    first = pack_results(results_path, tmp_path / "a.zip")
    second = pack_results(results_path, tmp_path / "b.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.size_bytes == first.path.stat().st_size
    with zipfile.ZipFile(first.path) as archive:
        assert archive.namelist() == ["results.json"]
        member = json.loads(archive.read("results.json"))
    original = json.loads(results_path.read_text())
    assert member == original
    assert load_results(first.path) == load_results(results_path)
    assert first.num_tracks == 3


def test_pack_command_validates_first_and_writes_nothing_on_problems(
    tmp_path, annotations_path, kit, capsys, home
) -> None:
    broken = kit.write_json(tmp_path / "broken.json", [dict(kit.track(1), category_id=12)])
    out = tmp_path / "results.zip"
    assert run_app(app, ["pack", str(broken), "--out", str(out), "--gt", str(annotations_path)]) == 2
    captured = capsys.readouterr()
    assert "category_id 12 is not a category of the dataset" in captured.out
    assert captured.err.strip() == f"error: {broken}: 1 problem found; the server would reject these results"
    assert not out.exists()
    assert list(tmp_path.glob("*.zip")) == []
    assert list(tmp_path.glob(".*")) == []


def test_pack_command_with_ground_truth_prints_the_digest(
    tmp_path, results_path, annotations_path, capsys, home
) -> None:
    out = tmp_path / "results.zip"
    assert run_app(app, ["pack", str(results_path), "--out", str(out), "--gt", str(annotations_path)]) == 0
    output = capsys.readouterr().out
    assert f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}" in output
    assert "3 tracks" in output
    assert "1 of 3 videos have no result" in output


def test_pack_library_raises_with_the_report(tmp_path, annotations_path, kit) -> None:
    broken = kit.write_json(
        tmp_path / "broken.json", [dict(kit.track(2), score=3.0), dict(kit.track(1), video_id=8)]
    )
    dataset = load_ground_truth(annotations_path).dataset
    with pytest.raises(InvalidResultsError) as failure:
        pack_results(broken, tmp_path / "out.zip", dataset)
    assert [problem.record for problem in failure.value.report.problems] == ["results[0]", "results[1]"]


@pytest.mark.parametrize("name", ["results.json.gz", "results"])
def test_pack_wants_a_zip_path_and_not_the_input(tmp_path, results_path, name) -> None:
    with pytest.raises(UserError, match="expected a path ending in .zip"):
        pack_results(results_path, tmp_path / name)


def test_pack_refuses_to_overwrite_its_input(tmp_path, results_path) -> None:
    packed = pack_results(results_path, tmp_path / "results.zip")
    with pytest.raises(UserError, match="is the input file"):
        pack_results(packed.path, packed.path)


def test_pack_of_structurally_broken_json_is_one_line(tmp_path, capsys, home) -> None:
    path = tmp_path / "truncated.json"
    path.write_text('[{"video_id": 1, "category_id": 1, "score": 0.5, "segmentations": [')
    assert run_app(app, ["pack", str(path), "--out", str(tmp_path / "r.zip")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {path}: line 1")
    assert "the file ends too early" in error
