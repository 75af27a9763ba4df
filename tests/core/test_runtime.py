"""core.runtime: process ranks, device names, the track palette, mask drawing, video files, image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from instanceformer.core.errors import UserError
from instanceformer.core.runtime.device import resolve_device
from instanceformer.core.runtime.image_folder import image_files, read_rgb_image
from instanceformer.core.runtime.overlay import MASK_OPACITY, MaskLabel, draw_masks, mask_outline
from instanceformer.core.runtime.palette import track_colour, track_colour_unit
from instanceformer.core.runtime.process import ProcessInfo, launched_by_torchrun, process_info
from instanceformer.core.runtime.progress import progress_bar, spinner, timed_progress_bar
from instanceformer.core.runtime.video import VideoReader, mp4_writer


def test_process_info_reads_torchrun_variables() -> None:
    assert process_info({}) == ProcessInfo(rank=0, local_rank=0, world_size=1)
    assert process_info({"RANK": "3"}) == ProcessInfo()  # no WORLD_SIZE: a single process
    info = process_info({"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8"})
    assert (info.rank, info.local_rank, info.world_size) == (5, 1, 8)
    assert info.is_distributed and not info.is_main
    assert process_info({"RANK": "2", "WORLD_SIZE": "4"}).local_rank == 2  # no LOCAL_RANK: the rank
    assert launched_by_torchrun({"TORCHELASTIC_RUN_ID": "x"}) and not launched_by_torchrun({})


def test_device_names_resolve_or_fail_in_one_line() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert resolve_device("auto") == expected
    with pytest.raises(UserError, match=r"--device 'tpu': expected 'auto', 'cpu' or 'cuda\[:index\]'"):
        resolve_device("tpu", setting="--device")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="train.device 'cuda': expected a visible CUDA device"):
            resolve_device("cuda", 1, setting="train.device")


def test_track_colours_are_stable_bright_and_distinct() -> None:
    colours = [track_colour(key) for key in range(300)]
    assert colours == [track_colour(key) for key in range(300)]
    assert len(set(colours)) == 300
    assert all(max(colour) == 255 for colour in colours)
    assert track_colour(7) == tuple(round(channel * 255) for channel in track_colour_unit(7))


def test_masks_are_tinted_outlined_and_labelled_above() -> None:
    frame = np.full((40, 50, 3), 100, dtype=np.uint8)
    mask = np.zeros((40, 50), dtype=bool)
    mask[20:35, 10:30] = True
    drawn = draw_masks(frame, [MaskLabel(mask, 4, "#4")])
    colour = np.array(track_colour(4))
    np.testing.assert_array_equal(drawn[27, 15], np.round(100 * (1 - MASK_OPACITY) + colour * MASK_OPACITY))
    np.testing.assert_array_equal(drawn[34, 15], colour)  # the outline
    assert (drawn[:20, 10:20] != 100).any()  # the label sits above the mask
    np.testing.assert_array_equal(drawn[:, 35:], frame[:, 35:])
    assert mask_outline(mask).sum() == 2 * (15 + 20) - 4
    np.testing.assert_array_equal(draw_masks(frame, []), frame)


def test_progress_displays_count_and_can_be_disabled() -> None:
    assert len(progress_bar("work").columns) == 3
    assert len(timed_progress_bar("work").columns) == 4
    assert progress_bar("work", disable=True).disable
    assert len(spinner("work").columns) == 3


def test_an_mp4_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with mp4_writer(path, fps=5) as writer:
        for level in range(6):
            writer.append_data(np.full((32, 48, 3), 40 * level, dtype=np.uint8))
    assert [child.name for child in tmp_path.iterdir()] == ["clip.mp4"]
    with VideoReader(path) as video:
        assert video.fps == 5.0 and video.count_frames() == 6
    frames = list(VideoReader(path).frames())
    assert [frame.shape for frame in frames] == [(32, 48, 3)] * 6
    assert [round(int(frame.mean()) / 40) for frame in frames] == list(range(6))


def test_a_failed_write_leaves_nothing_and_a_bad_video_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="stop"), mp4_writer(path, fps=5) as writer:
        writer.append_data(np.zeros((16, 16, 3), dtype=np.uint8))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"not a video")
    with pytest.raises(UserError, match="expected a video file ffmpeg can read") as error:
        VideoReader(path)
    assert "\n" not in str(error.value)


def test_image_folders_are_read_in_natural_order(tmp_path: Path) -> None:
    for index in (10, 2, 1):
        Image.new("RGB", (4, 3), (index, 0, 0)).save(tmp_path / f"frame{index}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    files = image_files(tmp_path)
    assert [path.name for path in files] == ["frame1.png", "frame2.png", "frame10.png"]
    assert read_rgb_image(files[2]).shape == (3, 4, 3) and read_rgb_image(files[2])[0, 0, 0] == 10
    with pytest.raises(UserError, match="expected image files"):
        image_files(_empty(tmp_path))
    with pytest.raises(UserError, match="expected a readable image"):
        read_rgb_image(tmp_path / "notes.txt")


def _empty(root: Path) -> Path:
    folder = root / "empty"
    folder.mkdir()
    return folder
