"""Locating a video's frames: annotation file names, the video's own folder, a video file."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from instanceformer.analysis.frames import locate_frames
from instanceformer.core.errors import UserError
from instanceformer.core.formats import load_annotations


def test_annotation_file_names_are_relative_to_the_frame_root(synth_data) -> None:
    dataset = load_annotations(synth_data.annotations)
    frames = locate_frames(synth_data.frames, 2, dataset)
    assert [path.relative_to(synth_data.frames).as_posix() for path in frames.paths] == list(
        dataset.videos[1].file_names
    )
    own_folder = locate_frames(synth_data.frames / "valid_0001", 2, dataset)  # the video's own folder
    assert own_folder.paths == frames.paths
    images = list(frames.iterate([3, 1]))
    assert [index for index, _ in images] == [1, 3] and images[0][1].shape == (48, 64, 3)


def test_without_annotations_the_folder_or_its_id_subfolder_holds_the_frames(
    synth_data, tmp_path: Path
) -> None:
    folder = locate_frames(synth_data.frames / "valid_0000", 1)
    assert [path.name for path in folder.paths] == [f"{index:05d}.jpg" for index in range(4)]
    (tmp_path / "7").mkdir()
    for path in folder.paths[:2]:
        (tmp_path / "7" / path.name).write_bytes(path.read_bytes())
    assert len(locate_frames(tmp_path, 7)) == 2
    with pytest.raises(UserError, match="pass --gt"):
        locate_frames(synth_data.frames, 1)  # only sub-folders, no images


def test_a_video_file_is_read_every_k_frames(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    writer = imageio.get_writer(path, format="FFMPEG", fps=5, codec="libx264", macro_block_size=2)
    for index in range(7):
        writer.append_data(np.full((32, 48, 3), 30 * index, dtype=np.uint8))
    writer.close()
    frames = locate_frames(path, 1, every=3)
    assert len(frames) == 3  # source frames 0, 3, 6
    levels = [int(image.mean()) for _, image in frames.iterate()]
    assert [round(level / 30) for level in levels] == [0, 3, 6]
    with pytest.raises(UserError, match="no frame 3"):
        list(frames.iterate([3]))


def test_missing_frames_are_one_line_errors(synth_data, tmp_path: Path) -> None:
    dataset = load_annotations(synth_data.annotations)
    with pytest.raises(UserError, match="video 5 is not in the annotation file"):
        locate_frames(synth_data.frames, 5, dataset)
    with pytest.raises(UserError, match="frame file not found"):
        locate_frames(tmp_path, 1, dataset)
    with pytest.raises(UserError, match="no such frame folder"):
        locate_frames(tmp_path / "absent", 1)
    text = tmp_path / "frames.txt"
    text.write_text("x")
    with pytest.raises(UserError, match="expected a frame folder or a video file"):
        locate_frames(text, 1)
