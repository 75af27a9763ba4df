"""``ifm-analysis`` output folders and the --gt vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from instanceformer.analysis.cli import app
from instanceformer.core.cli import run_app

from .conftest import InferenceOutput


def _refpoints(inference: InferenceOutput, synth_data, out: Path, *extra: str) -> list[str]:
    arguments = ["refpoints", str(inference.reference_points), "--frames", str(synth_data.frames)]
    return [*arguments, "--video", "1", "--out", str(out), *extra]


def test_refpoints_refuses_a_folder_of_other_files_unless_forced(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    gt = ["--gt", str(synth_data.annotations)]
    assert run_app(app, _refpoints(inference, synth_data, out, *gt)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--out: expected a new or empty folder" in error
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]
    assert run_app(app, _refpoints(inference, synth_data, out, *gt, "--force")) == 0
    names = sorted(path.name for path in out.iterdir())
    assert "notes.txt" in names and "paths.png" in names and "frame_00000.png" in names
    assert [path.name for path in tmp_path.iterdir()] == ["figures"]


def test_refpoints_takes_the_former_annotations_option_with_a_warning(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures"
    former = ["--annotations", str(synth_data.annotations)]
    assert run_app(app, _refpoints(inference, synth_data, out, *former)) == 0
    assert "warning: --annotations is deprecated; use --gt" in capsys.readouterr().err
    assert (out / "paths.png").is_file()
