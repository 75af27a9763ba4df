"""``ifm-analysis refpoints`` and ``sampling`` on real dumps, and their input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from instanceformer.analysis.cli import app
from instanceformer.analysis.dumps import load_dump
from instanceformer.analysis.sampling_plot import image_locations
from instanceformer.core.cli import run_app

from .conftest import InferenceOutput
from .helpers import decoded_png


def _run(*arguments: str) -> int:
    return run_app(app, list(arguments))


def test_refpoints_writes_one_figure_per_frame_and_the_paths(
    inference: InferenceOutput, synth_data, tmp_path: Path
) -> None:
    out = tmp_path / "refpoints"
    dump = load_dump(inference.reference_points, "reference_points").for_video(1)
    cutoff = float(dump["scores"].unique().sort().values[-3])  # the three best tracks
    arguments = ["refpoints", str(inference.reference_points), "--frames", str(synth_data.frames)]
    arguments += ["--gt", str(synth_data.annotations), "--video", "1", "--out", str(out)]
    assert _run(*arguments, "--min-score", str(cutoff)) == 0
    frame_figures = sorted(out.glob("frame_*.png"))
    assert [path.name for path in frame_figures] == [f"frame_{index:05d}.png" for index in range(4)]
    shapes = {decoded_png(path).shape for path in [*frame_figures, out / "paths.png"]}
    assert shapes == {(660, 800, 3)}  # 8 x 6.6 inches for a 4:3 frame


def test_refpoints_rejects_results_of_another_run(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys
) -> None:
    results = json.loads(inference.results.read_text())
    other = tmp_path / "results.json"
    other.write_text(json.dumps(results[:2]))
    arguments = ["refpoints", str(inference.reference_points), "--frames", str(synth_data.frames)]
    arguments += [
        "--gt",
        str(synth_data.annotations),
        "--video",
        "2",
        "--out",
        str(tmp_path / "out"),
    ]
    assert _run(*arguments, "--results", str(other)) == 2
    error = capsys.readouterr().err
    assert "is not a track of video 2" in error and str(other) in error


def test_sampling_writes_a_layer_by_head_grid_per_frame(
    inference: InferenceOutput, synth_data, tmp_path: Path
) -> None:
    dump = load_dump(inference.sampling_locations, "sampling_locations").for_video(2)
    track = dump.track_ids()[0]
    out = tmp_path / "sampling"
    video_folder = synth_data.frames / "valid_0001"  # the frames of video 2, no annotation file
    arguments = ["sampling", str(inference.sampling_locations), "--frames", str(video_folder)]
    arguments += ["--video", "2", "--track", str(track), "--out", str(out), "--frame", "1", "--frame", "3"]
    assert _run(*arguments) == 0
    figures = sorted(out.glob("*.png"))
    assert [path.name for path in figures] == [
        f"track{track}_frame_00001.png",
        f"track{track}_frame_00003.png",
    ]
    for path in figures:
        pixels = decoded_png(path)
        assert pixels.shape[1] == 960  # 4 heads x 2.4 inches at 100 dpi


def test_sampling_locations_map_to_pixels_through_the_valid_ratios() -> None:
    locations = np.array([[0.5, 0.25], [0.8, 0.75]])  # (x, y) of the padded map
    pixels = image_locations(locations, np.array([0.8, 0.5]), height=100, width=200)
    np.testing.assert_allclose(pixels, [[125.0, 50.0], [200.0, 150.0]])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--track", "999"], "no rows for track 999"),
        (["--track", "{track}", "--frame", "9"], "has no rows on frames [9]"),
        (["--track", "{track}", "--video", "5"], "video 5 is not in the annotation file"),
    ],
)
def test_sampling_input_errors_are_one_line(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys, arguments: list[str], message: str
) -> None:
    track = str(load_dump(inference.sampling_locations, "sampling_locations").for_video(1).track_ids()[0])
    base = ["sampling", str(inference.sampling_locations), "--frames", str(synth_data.frames)]
    base += ["--gt", str(synth_data.annotations), "--out", str(tmp_path / "out")]
    arguments = [argument.replace("{track}", track) for argument in arguments]
    if "--video" not in arguments:
        arguments += ["--video", "1"]
    assert _run(*base, *arguments) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def test_refpoints_with_too_few_frames_names_the_folder(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys
) -> None:
    short = tmp_path / "short"
    short.mkdir()
    (short / "00000.jpg").write_bytes((synth_data.frames / "valid_0000" / "00000.jpg").read_bytes())
    arguments = ["refpoints", str(inference.reference_points), "--frames", str(short), "--video", "1"]
    assert _run(*arguments, "--out", str(tmp_path / "out")) == 2
    error = capsys.readouterr().err
    assert "has 1 frames" in error and str(short) in error
