"""``ifm-prep`` under faults: occupied output folders, full disks, interrupts, truncated frames."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from instanceformer.core.cli import run_app
from instanceformer.dataprep.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SMALL_SYNTH = ["--videos", "2", "--valid-videos", "1", "--frames", "2", "--size", "48x32"]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "Traceback" not in error, error
    return error.strip()


def _entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_synth_writes_width_by_height_frames(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    assert run_app(app, ["synth", "--out", str(out), *SMALL_SYNTH]) == 0
    document = json.loads((out / "annotations" / "instances_train.json").read_text())
    assert (document["videos"][0]["width"], document["videos"][0]["height"]) == (48, 32)
    with Image.open(out / "train" / "JPEGImages" / "train_0000" / "00000.jpg") as image:
        assert image.size == (48, 32)
    assert _entries(tmp_path) == ["synth"]


def test_synth_takes_the_former_categories_option_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "synth"
    assert run_app(app, ["synth", "--out", str(out), *SMALL_SYNTH, "--categories", "3"]) == 0
    assert capsys.readouterr().err == "warning: --categories is deprecated; use --num-categories\n"
    document = json.loads((out / "annotations" / "instances_valid.json").read_text())
    assert len(document["categories"]) == 3


def test_synth_refuses_a_folder_holding_other_files_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("[]")
    assert run_app(app, ["synth", "--out", str(out), *SMALL_SYNTH]) == 2
    error = _one_line_error(capsys)
    assert str(out) in error and "--out: expected a new or empty folder" in error and "--force" in error
    assert _entries(out) == ["results.json"]

    (out / "train").mkdir()
    (out / "train" / "stale.jpg").write_bytes(b"old")
    assert run_app(app, ["synth", "--out", str(out), *SMALL_SYNTH, "--force"]) == 0
    assert _entries(out) == ["annotations", "results.json", "train", "valid"]
    assert not (out / "train" / "stale.jpg").exists()  # train/ is replaced as a whole
    assert (out / "results.json").read_text() == "[]"
    assert [name for name in _entries(tmp_path) if name.startswith(".")] == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_synth_on_a_failing_disk_leaves_no_partial_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    calls = {"files": 0}
    real_fsync = os.fsync

    def failing_fsync(descriptor: int) -> None:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            calls["files"] += 1
            if calls["files"] == 2:  # the second frame file
                raise OSError(code, os.strerror(code))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    out = tmp_path / "data" / "synth"
    assert run_app(app, ["synth", "--out", str(out), *SMALL_SYNTH]) == 2
    error = _one_line_error(capsys)
    assert (
        error.startswith(f"error: {out}{os.sep}train{os.sep}JPEGImages{os.sep}")
        and os.strerror(code) in error
    )
    assert _entries(tmp_path) == []  # neither the folder nor its staging nor the parents made for it


def test_synth_interrupted_prints_one_line_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ifm-prep")
    out = tmp_path / "synth"
    command = [str(script), "synth", "--out", str(out), "--videos", "400", "--frames", "24", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        staged = [path for path in tmp_path.iterdir() if path.name.endswith(".partial")]
        if staged and any(staged[0].rglob("*.jpg")):
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("ifm-prep synth wrote no frame within two minutes")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr == "error: interrupted\n"
    assert "Traceback" not in stdout
    assert _entries(tmp_path) == []


def test_check_full_decodes_frames_and_finds_a_truncated_jpeg(
    dataset_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = dataset_copy / "annotations" / "instances_train.json"
    frames = dataset_copy / "train" / "JPEGImages"
    payload = json.loads(annotations.read_text())
    truncated = frames / payload["videos"][1]["file_names"][3]
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with Image.open(truncated) as image:  # the header is intact: a header check passes it
        assert image.size == (96, 64)
    arguments = ["check", str(annotations), "--frames", str(frames)]
    assert run_app(app, [*arguments, "--sample", "0"]) == 0
    capsys.readouterr()
    assert run_app(app, [*arguments, "--full"]) == 2
    error = _one_line_error(capsys)
    assert str(truncated) in error and "file_names[3]" in error and "truncated" in error


def test_check_says_what_is_missing_and_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations = tmp_path / "ytvis21" / "annotations" / "instances_train.json"
    frames = tmp_path / "ytvis21" / "train" / "JPEGImages"
    assert run_app(app, ["check", str(annotations), "--frames", str(frames)]) == 2
    error = _one_line_error(capsys)
    assert error.startswith(f"error: {annotations}: no such annotation file; expected the dataset's")
    assert "'Where data and runs go'" in error
    annotations.parent.mkdir(parents=True)
    annotations.write_text("{}")
    assert run_app(app, ["check", str(annotations), "--frames", str(frames)]) == 2
    error = _one_line_error(capsys)
    assert error.startswith(f"error: {frames}: --frames: no such folder; expected the folder that holds")


def test_import_video_adds_to_its_own_dataset_but_refuses_other_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    for index in range(3):
        Image.new("RGB", (32, 24), (index * 40, 0, 0)).save(clip / f"{index}.png")
    out = tmp_path / "dataset"
    assert run_app(app, ["import-video", str(clip), "--out", str(out)]) == 0
    assert run_app(app, ["import-video", str(clip), "--out", str(out), "--name", "again"]) == 0
    assert _entries(out / "JPEGImages") == ["again", "clip"]
    assert run_app(app, ["import-video", str(clip), "--out", str(out)]) == 2
    assert "already holds a video named 'clip'; add --force" in _one_line_error(capsys)
    assert run_app(app, ["import-video", str(clip), "--out", str(out), "--force", "--every", "2"]) == 0
    assert len(list((out / "JPEGImages" / "clip").iterdir())) == 2

    (out / "results.json").write_text("[]")
    assert run_app(app, ["import-video", str(clip), "--out", str(out), "--name", "third"]) == 2
    assert "found 1 entries of an earlier run or another tool (results.json)" in _one_line_error(capsys)
    assert not (out / "JPEGImages" / "third").exists()


def test_import_video_of_a_broken_file_is_a_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(os.urandom(4096))
    assert run_app(app, ["import-video", str(broken), "--out", str(tmp_path / "out")]) == 2
    error = _one_line_error(capsys)
    assert error.startswith(f"error: {broken}: expected a video file ffmpeg can read (")
    assert len(error) < 400 and "configuration:" not in error and "ffmpeg version" not in error
    assert not (tmp_path / "out").exists()


def test_stats_refuses_a_folder_of_other_files(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = synthetic_root / "annotations" / "instances_train.json"
    out = tmp_path / "stats"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run_app(app, ["stats", str(annotations), "--out", str(out)]) == 2
    assert "--force" in _one_line_error(capsys)
    assert run_app(app, ["stats", str(annotations), "--out", str(out), "--force"]) == 0
    assert "stats.json" in _entries(out) and (out / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_as_output_file_is_refused(synthetic_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations = synthetic_root / "annotations" / "instances_train.json"
    assert run_app(app, ["coco-keep", str(annotations), "--target", "ytvis21", "--out", "/dev/full"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
