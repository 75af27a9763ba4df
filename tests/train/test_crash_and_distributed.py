"""A kill -9 during a checkpoint write, a 2-process Gloo run, and starting a run from another's weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from instanceformer.core.cli import run_app
from instanceformer.core.config import load_config
from instanceformer.core.engine.checkpoints import checkpoint_payload, load_checkpoint
from instanceformer.core.errors import UserError
from instanceformer.core.model import build_model
from instanceformer.core.runs import RunFolder
from instanceformer.train.cli import app
from instanceformer.train.initialisation import initialise_from

from .helpers import final_weights, run_arguments

# Runs ifm-train with torch.save replaced by a writer that stops halfway through its second checkpoint:
# it writes half of the bytes into the temporary file, flushes them, signals the test, and waits.
_PAUSING_WRITER = """
import io, os, sys, time
import torch
original_save = torch.save
calls = []
def pausing_save(payload, destination, *args, **kwargs):
    calls.append(destination)
    if len(calls) < 2:
        return original_save(payload, destination, *args, **kwargs)
    buffer = io.BytesIO()
    original_save(payload, buffer, *args, **kwargs)
    data = buffer.getvalue()
    with open(destination, "wb") as stream:
        stream.write(data[: len(data) // 2])
        stream.flush()
        os.fsync(stream.fileno())
    open(os.environ["PAUSE_MARKER"], "w").close()
    time.sleep(600)
torch.save = pausing_save
from instanceformer.train.cli import main
sys.argv = ["ifm-train", *sys.argv[1:]]
main()
"""


def test_kill_during_a_checkpoint_write_leaves_a_loadable_last_checkpoint(
    data_root: Path, tmp_path: Path
) -> None:
    out, marker = tmp_path / "run", tmp_path / "paused"
    arguments = run_arguments(data_root, out, "train.max_steps=3", "train.checkpoint_every=1")
    process = subprocess.Popen(
        [sys.executable, "-c", _PAUSING_WRITER, *arguments],
        env={**os.environ, "PAUSE_MARKER": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "training never reached its second checkpoint write"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    run = RunFolder.open(out)
    partial = [path for path in run.checkpoint_dir.iterdir() if path.name.endswith(".tmp")]
    assert len(partial) == 1, "the kill should leave the half-written temporary file behind"
    assert load_checkpoint(run.last_checkpoint_path)["step"] == 1
    assert [info.step for info in run.checkpoints()] == [1]
    assert (
        run_app(
            app, [*run_arguments(data_root, out, "train.max_steps=3", "train.checkpoint_every=1"), "--resume"]
        )
        == 0
    )
    assert load_checkpoint(run.last_checkpoint_path)["step"] == 3
    assert not [path for path in run.checkpoint_dir.iterdir() if path.name.endswith(".tmp")]
    assert [record["step"] for record in run.read_metrics()] == [1, 2, 3]


@pytest.mark.parametrize("groups", [1, 3])
def test_two_gloo_processes_equal_one_process_with_the_doubled_batch(
    data_root: Path, tmp_path: Path, groups: int
) -> None:
    """2 processes x batch 1 == 1 process x batch 2 (weights within 1e-5 absolute, losses 1e-5 relative).

    GroupNorm in the backbone: training-mode BatchNorm statistics are per process on CPU (no
    SyncBatchNorm without CUDA), so only a batch-independent normalisation makes the two equal. With 3
    query groups the comparison stops after one step: the losses still agree, but Adam's second step
    turns rounding differences of the many near-zero gradients of the extra groups into weight changes of
    up to one learning rate.
    """
    single, pair = tmp_path / "single", tmp_path / "pair"
    common = (
        f"train.max_steps={2 if groups == 1 else 1}",
        "train.total_batch_size=2",
        "model.backbone.group_norm=true",
        "train.lr=2e-4",
    )
    common = (*common, "train.lr_backbone=2e-4", f"model.transformer.num_query_groups={groups}")
    assert run_app(app, run_arguments(data_root, single, *common, "train.batch_size=2")) == 0
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "instanceformer.train",
            *run_arguments(data_root, pair, *common, "train.batch_size=1"),
            "--nproc-per-node",
            "2",
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = load_checkpoint(pair / "checkpoints" / "last.pt")
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng_per_rank"]) == 2
    expected, actual = final_weights(single), final_weights(pair)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=1e-5, msg=name)
    losses = [record["loss"]["total"] for record in RunFolder(single).read_metrics()]
    pair_losses = [record["loss"]["total"] for record in RunFolder(pair).read_metrics()]
    assert pair_losses == pytest.approx(losses, rel=1e-5)


def _saved_model(tmp_path: Path, num_classes: int) -> tuple[Path, dict[str, torch.Tensor]]:
    config = load_config("tiny-cpu", [f"model.num_classes={num_classes}"])
    torch.manual_seed(7)
    weights = build_model(config.model).state_dict()
    path = tmp_path / "source.pt"
    torch.save(
        checkpoint_payload(model=weights, optimizer=None, scheduler=None, step=5, epoch=0, config=config),
        path,
    )
    return path, weights


def test_init_from_drops_the_class_head_when_the_classes_differ(tmp_path: Path) -> None:
    source, weights = _saved_model(tmp_path, num_classes=6)
    torch.manual_seed(8)
    model = build_model(load_config("tiny-cpu", ["model.num_classes=3"]).model)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    report = initialise_from(model, source)
    assert report.dropped and all(
        name.startswith(("class_heads.", "class_prior.", "memory.projection.")) for name in report.dropped
    )
    assert any(name.startswith("class_heads.") for name in report.dropped)
    assert set(report.missing) == set(report.dropped) and not report.unexpected
    state = model.state_dict()
    for name in report.loaded:
        assert torch.equal(state[name], weights[name]), name
    for name in report.dropped:
        assert torch.equal(state[name], before[name]), name
    assert "dropped" in report.summary()


def test_init_from_keeps_a_fitting_class_head_unless_asked(tmp_path: Path) -> None:
    source, weights = _saved_model(tmp_path, num_classes=6)
    model = build_model(load_config("tiny-cpu").model)
    assert not initialise_from(model, source).dropped
    assert torch.equal(model.state_dict()["class_heads.0.weight"], weights["class_heads.0.weight"])
    dropped = initialise_from(
        build_model(load_config("tiny-cpu").model), source, drop_class_head=True
    ).dropped
    assert "class_heads.0.weight" in dropped


def test_init_from_rejects_a_different_architecture(tmp_path: Path) -> None:
    source, _ = _saved_model(tmp_path, num_classes=6)
    model = build_model(
        load_config(
            "tiny-cpu",
            [
                "model.transformer.d_model=32",
                "model.mask_head.branch_channels=32",
                "model.temporal.embedding_dim=32",
            ],
        ).model
    )
    with pytest.raises(UserError, match="different architecture"):
        initialise_from(model, source)


def test_run_init_from_a_run_folder(data_root: Path, tmp_path: Path, capsys) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_app(app, run_arguments(data_root, first, "train.max_steps=1")) == 0
    arguments = [
        *run_arguments(data_root, second, "train.max_steps=1"),
        "--init-from",
        str(first),
        "--drop-class-head",
    ]
    assert run_app(app, [*arguments, "--resume"]) == 2
    assert "--init-from" in capsys.readouterr().err
    assert run_app(app, arguments) == 0
    output = capsys.readouterr().out
    assert "dropped" in output and "class_heads.0.weight" in output
