"""``ifm-prep import-video``: a real video clip and folders of frames as unannotated datasets."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from instanceformer.core.cli import run_app
from instanceformer.core.errors import UserError
from instanceformer.core.formats import load_annotations
from instanceformer.dataprep.cli import app
from instanceformer.dataprep.import_video import import_video

BIKES_FRAMES, BIKES_HEIGHT, BIKES_WIDTH = 250, 272, 640


def _source_frames(video: Path, indices: list[int]) -> dict[int, np.ndarray]:
    wanted, frames = set(indices), {}
    with imageio.get_reader(video, format="FFMPEG") as reader:
        for index, frame in enumerate(reader):
            if index in wanted:
                frames[index] = np.asarray(frame)
            if index >= max(wanted):
                break
    return frames


def test_real_video_every_fifth_frame(
    bikes_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    assert run_app(app, ["import-video", str(bikes_video), "--out", str(out), "--every", "5"]) == 0
    assert "Imported video" in capsys.readouterr().out
    payload = json.loads((out / "annotations" / "instances.json").read_text())
    assert payload["annotations"] == []
    assert payload["categories"] == []
    (video,) = payload["videos"]
    assert (video["id"], video["height"], video["width"]) == (1, BIKES_HEIGHT, BIKES_WIDTH)
    assert video["length"] == BIKES_FRAMES // 5
    assert video["file_names"] == [f"bikes/{index:05d}.jpg" for index in range(0, BIKES_FRAMES, 5)]
    dataset = load_annotations(out / "annotations" / "instances.json")
    assert dataset.has_ground_truth and dataset.annotations == ()

    source = _source_frames(bikes_video, [0, 45, 245])
    for index, expected in source.items():
        written = np.asarray(Image.open(out / "JPEGImages" / f"bikes/{index:05d}.jpg"))
        assert written.shape == (BIKES_HEIGHT, BIKES_WIDTH, 3)
        assert np.abs(written.astype(int) - expected.astype(int)).mean() < 3.0  # JPEG quality 95
    assert not np.array_equal(source[0], source[245])

    status = run_app(
        app, ["check", str(out / "annotations" / "instances.json"), "--frames", str(out / "JPEGImages")]
    )
    assert status == 0


def test_max_frames_name_and_progress(bikes_video: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    summary = import_video(
        bikes_video, tmp_path, every=3, max_frames=7, name="cyclist", progress=lambda *c: calls.append(c)
    )
    assert (summary.name, summary.num_frames, summary.video_id) == ("cyclist", 7, 1)
    assert calls == [(done, 7) for done in range(1, 8)]
    files = sorted(path.name for path in (tmp_path / "JPEGImages" / "cyclist").iterdir())
    assert files == [f"{index:05d}.jpg" for index in range(0, 21, 3)]


def _write_frames(
    folder: Path, names: list[str], size: tuple[int, int] = (24, 32)
) -> list[tuple[int, int, int]]:
    folder.mkdir(parents=True)
    colours = []
    for position, name in enumerate(names):
        colour = (10 * position, 200 - 10 * position, 77)
        Image.new("RGB", (size[1], size[0]), colour).save(folder / name)
        colours.append(colour)
    return colours


def test_frame_folder_in_natural_order_and_a_second_video(tmp_path: Path) -> None:
    names = ["frame1.png", "frame2.png", "frame10.png", "frame3.png"]
    colours = _write_frames(tmp_path / "clip", names)
    out = tmp_path / "dataset"
    first = import_video(tmp_path / "clip", out, categories="ovis")
    assert first.num_frames == 4
    order = [names.index(name) for name in ["frame1.png", "frame2.png", "frame3.png", "frame10.png"]]
    for slot, position in enumerate(order):
        pixel = np.asarray(Image.open(out / "JPEGImages" / "clip" / f"{slot:05d}.jpg"))[12, 16]
        assert np.abs(pixel.astype(int) - np.array(colours[position])).max() <= 3

    _write_frames(tmp_path / "other", ["a.jpg", "b.jpg"], size=(16, 16))
    second = import_video(tmp_path / "other", out)
    dataset = load_annotations(out / "annotations" / "instances.json")
    assert [video.id for video in dataset.videos] == [1, 2]
    assert second.video_id == 2
    assert len(dataset.categories) == 25  # kept from the first import

    with pytest.raises(UserError, match="already holds a video named 'clip'; add --force"):
        import_video(tmp_path / "clip", out, every=2)
    again = import_video(tmp_path / "clip", out, every=2, force=True)
    dataset = load_annotations(out / "annotations" / "instances.json")
    assert again.video_id == 1
    assert [video.length for video in dataset.videos] == [2, 2]


@pytest.mark.parametrize(
    ("setup", "arguments", "fragment"),
    [
        (lambda root: None, ["--every", "1"], "no such video file"),
        (lambda root: (root / "input").mkdir(), [], "expected image files"),
        (lambda root: (root / "input").write_text("plain text"), [], "ffmpeg"),
        (lambda root: _write_frames(root / "input", ["a.png"]), ["--every", "0"], "--every"),
        (lambda root: _write_frames(root / "input", ["a.png"]), ["--name", "a/b"], "--name"),
    ],
    ids=["missing", "empty-folder", "not-a-video", "every-0", "bad-name"],
)
def test_bad_inputs_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, arguments: list[str], fragment: str
) -> None:
    setup(tmp_path)
    status = run_app(
        app, ["import-video", str(tmp_path / "input"), "--out", str(tmp_path / "out"), *arguments]
    )
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert fragment in error and "\n" not in error
    assert not (tmp_path / "out" / "annotations" / "instances.json").exists()


def test_frames_of_different_sizes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_frames(tmp_path / "input", ["a.png", "b.png"])
    Image.new("RGB", (30, 24)).save(tmp_path / "input" / "c.png")
    status = run_app(app, ["import-video", str(tmp_path / "input"), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "frame 2" in error and "32x24" in error and "30x24" in error
    assert not (tmp_path / "out" / "annotations" / "instances.json").exists()
