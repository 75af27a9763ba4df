"""``ifm-infer dataset`` under torchrun: two CPU processes (gloo) give the single-process output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instanceformer.core.formats import decode_segmentations, load_annotations, load_results

pytestmark = pytest.mark.slow

_TIMEOUT_SECONDS = 240


def _dataset_arguments(run: Path, synth: Path, out: Path) -> list[str]:
    """``-m instanceformer.infer dataset`` on the validation split of the synthetic set, on the CPU."""
    return [
        "-m",
        "instanceformer.infer",
        "dataset",
        "--run-folder",
        str(run),
        "--gt",
        str(synth / "annotations" / "instances_valid.json"),
        "--frames",
        str(synth / "valid" / "JPEGImages"),
        "--out",
        str(out),
        "--device",
        "cpu",
    ]


def _run(command: list[str], workdir: Path) -> None:
    """Run ``command`` with one intra-op thread per process (as torchrun sets it) and check its exit."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        command,
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]


@pytest.fixture(scope="module")
def output_folders(
    tiny_run: Path, synth_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The output folders of one process and of ``torchrun --standalone --nproc-per-node 2``."""
    workdir = tmp_path_factory.mktemp("torchrun")
    single, distributed = workdir / "single", workdir / "distributed"
    _run([sys.executable, *_dataset_arguments(tiny_run, synth_root, single)], workdir)
    # torchrun (torch.distributed.run), each rank's output kept in its own log folder
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    logs = ["--log-dir", str(workdir / "logs"), "--redirects", "3"]
    _run([*torchrun, *logs, *_dataset_arguments(tiny_run, synth_root, distributed)], workdir)
    return single, distributed


def test_two_ranks_write_the_single_process_results(
    output_folders: tuple[Path, Path], synth_root: Path
) -> None:
    single, distributed = output_folders
    dataset = load_annotations(synth_root / "annotations" / "instances_valid.json")
    expected, merged = load_results(single / "results.json"), load_results(distributed / "results.json")
    # every video of the file, in the file's order, with the same tracks
    assert [track.video_id for track in merged] == [track.video_id for track in expected]
    assert {track.video_id for track in merged} == {video.id for video in dataset.videos}
    assert [track.category_id for track in merged] == [track.category_id for track in expected]
    np.testing.assert_allclose(
        [track.score for track in merged], [track.score for track in expected], rtol=0, atol=1e-5
    )
    for found, reference in zip(merged, expected, strict=True):
        video = dataset.video(reference.video_id)
        np.testing.assert_array_equal(
            decode_segmentations(found.segmentations, video.height, video.width),
            decode_segmentations(reference.segmentations, video.height, video.width),
        )
    assert not (distributed / "shard.json").exists()


def test_both_ranks_ran_and_only_rank_zero_reported(output_folders: tuple[Path, Path]) -> None:
    logs = output_folders[1].parent / "logs"
    outputs = {path.parent.name: path.read_text() for path in logs.rglob("stdout.log")}
    assert sorted(outputs) == ["0", "1"]
    assert "3 videos" in outputs["0"] and outputs["1"] == ""


def test_rank_zero_writes_the_zip_and_the_metrics(output_folders: tuple[Path, Path]) -> None:
    single, distributed = output_folders
    assert (distributed / "results.zip").is_file()
    metrics = json.loads((distributed / "metrics.json").read_text())
    expected = json.loads((single / "metrics.json").read_text())
    assert metrics.keys() == expected.keys() and "AP" in metrics
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name
