"""Same seed, same numbers on CPU at 2 threads: repeated runs, resumed runs, and a resume after Ctrl-C."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.runs import RunFolder
from instanceformer.train.cli import app

from .helpers import DETERMINISM_OVERRIDES, assert_same_training, run_arguments


def _train(data_root: Path, out: Path, *overrides: str, extra: tuple[str, ...] = ()) -> None:
    arguments = [*run_arguments(data_root, out, *DETERMINISM_OVERRIDES, *overrides), *extra]
    assert run_app(app, arguments) == 0


@pytest.mark.usefixtures("two_threads")
def test_two_runs_with_the_same_seed_are_bitwise_equal(data_root: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _train(data_root, first, "train.max_steps=4")
    _train(data_root, second, "train.max_steps=4")
    assert_same_training(first, second)


@pytest.mark.usefixtures("two_threads")
def test_a_resumed_run_is_bitwise_equal_to_an_uninterrupted_one(data_root: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(data_root, straight, "train.max_steps=4")
    _train(data_root, resumed, "train.max_steps=2")
    _train(data_root, resumed, "train.max_steps=4", extra=("--resume",))
    assert_same_training(straight, resumed)


@pytest.mark.usefixtures("two_threads")
def test_ctrl_c_saves_a_checkpoint_and_the_printed_command_resumes_bitwise(
    data_root: Path, tmp_path: Path
) -> None:
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    _train(data_root, straight, "train.max_steps=4")
    arguments = run_arguments(data_root, interrupted, *DETERMINISM_OVERRIDES, "train.max_steps=4")
    process = subprocess.Popen(
        [sys.executable, "-m", "instanceformer.train", *arguments],
        env={**os.environ, "OMP_NUM_THREADS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = interrupted / "metrics.jsonl"
    try:
        deadline = time.monotonic() + 240
        while not (metrics.is_file() and metrics.read_text(encoding="utf-8").strip()):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "training never logged its first step"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, error
    line = error.strip()
    assert "\n" not in line and "Traceback" not in line, line
    saved = load_checkpoint(RunFolder(interrupted).last_checkpoint_path)["step"]
    assert 1 <= saved < 4
    assert f"interrupted after step {saved}: saved the checkpoint" in line
    assert "resume with: ifm-train run " in line
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert "--resume" in command
    assert run_app(app, command[1:]) == 0
    assert_same_training(straight, interrupted)
