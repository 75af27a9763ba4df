"""``ifm-analysis video``: mp4, GIF and contact sheet with the right size and frame count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from instanceformer.analysis.cli import app
from instanceformer.core.cli import run_app
from instanceformer.core.formats import decode_segmentation, encode_mask, load_annotations

from .conftest import InferenceOutput
from .helpers import decoded_png, decoded_video

FRAME_HEIGHT, FRAME_WIDTH, NUM_FRAMES = 48, 64, 4


def _video(*arguments: str) -> int:
    return run_app(app, ["video", *arguments])


def _ground_truth_as_results(annotations: Path, path: Path) -> Path:
    """A results.json holding the ground-truth tracks as predictions (score 0.9), compressed RLE."""
    dataset = load_annotations(annotations)
    records = []
    for track in dataset.annotations:
        segmentations = [
            None
            if segmentation is None
            else encode_mask(decode_segmentation(segmentation, FRAME_HEIGHT, FRAME_WIDTH))
            for segmentation in track.segmentations
        ]
        records.append(
            {
                "video_id": track.video_id,
                "category_id": track.category_id,
                "score": 0.9,
                "segmentations": segmentations,
            }
        )
    path.write_text(json.dumps(records, default=lambda counts: counts.decode()))
    return path


def test_video_beside_the_ground_truth_with_gif_and_sheet(
    inference: InferenceOutput, synth_data, tmp_path: Path
) -> None:
    out = tmp_path / "overlay.mp4"
    arguments = [
        str(inference.results),
        "--frames",
        str(synth_data.frames),
        "--video",
        "2",
        "--out",
        str(out),
    ]
    arguments += ["--gt", str(synth_data.annotations), "--gif", "--sheet-every", "2", "--min-score", "0"]
    assert _video(*arguments) == 0
    # prediction and ground truth side by side, each with a 14-pixel title strip, 4 pixels apart
    expected = (FRAME_HEIGHT + 14, 2 * FRAME_WIDTH + 4)
    for path in (out, out.with_suffix(".gif")):
        frames = decoded_video(path)
        assert len(frames) == NUM_FRAMES
        assert {frame.shape[:2] for frame in frames} == {expected}
    sheet = decoded_png(tmp_path / "overlay_sheet.png")
    assert sheet.shape[:2] == (expected[0] + 14, 2 * expected[1])  # frames 0 and 2, titled, in one row
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_masks_are_drawn_where_the_results_put_them(synth_data, tmp_path: Path) -> None:
    results = _ground_truth_as_results(synth_data.annotations, tmp_path / "results.json")
    out = tmp_path / "video1.mp4"
    video_folder = synth_data.frames / "valid_0000"  # video 1's frames, found without an annotation file
    assert (
        _video(str(results), "--frames", str(video_folder), "--video", "1", "--out", str(out), "--gif") == 0
    )
    drawn = decoded_video(out.with_suffix(".gif"))
    assert len(drawn) == NUM_FRAMES and drawn[0].shape[:2] == (FRAME_HEIGHT, FRAME_WIDTH)
    dataset = load_annotations(synth_data.annotations)
    for frame_index in range(NUM_FRAMES):
        original = np.asarray(Image.open(video_folder / f"{frame_index:05d}.jpg").convert("RGB")).astype(int)
        changed = np.abs(drawn[frame_index].astype(int) - original).sum(axis=2) > 40  # [height, width]
        union = np.zeros((FRAME_HEIGHT, FRAME_WIDTH), dtype=bool)
        for track in dataset.tracks_of(1):
            if track.segmentations[frame_index] is not None:
                union |= decode_segmentation(track.segmentations[frame_index], FRAME_HEIGHT, FRAME_WIDTH) > 0
        assert union.any()
        assert changed[union].mean() > 0.5  # tinted under the masks
        assert changed[union].mean() > 2 * changed[~union].mean()  # outside: only the labels


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--video", "9"], "no track of video 9"),
        (["--video", "1", "--fps", "0"], "--fps: expected a positive number"),
        (["--video", "1", "--sheet-every", "0"], "--sheet-every: expected an integer >= 1"),
        (["--video", "1", "--gt", "{gt}", "--annotations", "{gt}"], "--gt and --annotations: give one"),
    ],
)
def test_bad_video_arguments_exit_with_one_line(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    extra = [argument.replace("{gt}", str(synth_data.annotations)) for argument in extra]
    out = tmp_path / "bad.mp4"
    arguments = [str(inference.results), "--frames", str(synth_data.frames / "valid_0000"), "--out", str(out)]
    assert _video(*arguments, *extra) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error
    assert not out.exists()


def test_results_and_frames_of_different_lengths_are_rejected(
    inference: InferenceOutput, synth_data, tmp_path: Path, capsys
) -> None:
    three = tmp_path / "three"
    three.mkdir()
    for index in range(3):
        name = f"{index:05d}.jpg"
        (three / name).write_bytes((synth_data.frames / "valid_0000" / name).read_bytes())
    arguments = [str(inference.results), "--frames", str(three), "--video", "1", "--min-score", "0"]
    assert _video(*arguments, "--out", str(tmp_path / "x.mp4")) == 2
    error = capsys.readouterr().err
    assert "has 4 segmentations" in error and "3 frames" in error


def test_a_corrupt_results_file_is_a_format_error(synth_data, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "results.json"
    broken.write_text('[{"video_id": 1, "category_id": 1, "score": 0.5}]')
    arguments = [str(broken), "--frames", str(synth_data.frames / "valid_0000"), "--video", "1"]
    assert _video(*arguments, "--out", str(tmp_path / "x.mp4")) == 2
    error = capsys.readouterr().err
    assert str(broken) in error and "segmentations" in error
