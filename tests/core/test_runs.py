"""Tests of the run-folder contract: creation rules, checkpoints, metrics and manifests."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from instanceformer.core.config import config_hash, load_config
from instanceformer.core.engine.checkpoints import (
    CHECKPOINT_KEYS,
    capture_rng_state,
    checkpoint_payload,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.runs import RunFolder, read_metrics


@pytest.fixture
def config():
    return load_config("tiny-cpu")


def _payload(config, step: int, epoch: int = 0) -> dict:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return checkpoint_payload(
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=None,
        step=step,
        epoch=epoch,
        config=config,
    )


def test_create_writes_config_and_manifest(tmp_path, config) -> None:
    dataset_manifest = tmp_path / "manifest.json"
    dataset_manifest.write_text(json.dumps({"kind": "synth", "videos": 3}))
    run = RunFolder.create(tmp_path / "run", config, dataset_manifests=[dataset_manifest], command=["x"])
    assert run.load_config() == config
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["config_hash"] == config_hash(config)
    assert manifest["preset"] == "tiny-cpu"
    assert manifest["packages"]["instanceformer-core"] == "0.1.0"
    assert manifest["packages"]["torch"].startswith("2.")
    assert manifest["datasets"][0]["manifest"] == {"kind": "synth", "videos": 3}
    assert manifest["command"] == ["x"]
    assert run.checkpoint_dir.is_dir()


def test_existing_run_is_refused_without_resume_or_force(tmp_path, config) -> None:
    root = tmp_path / "run"
    RunFolder.create(root, config)
    with pytest.raises(UserError, match="--resume"):
        RunFolder.create(root, config)
    RunFolder.create(root, config, resume=True)
    longer = load_config("tiny-cpu", ["train.max_steps=500"])
    RunFolder.create(root, longer, resume=True)
    other = load_config("tiny-cpu", ["train.lr=0.5"])
    with pytest.raises(UserError, match="train.lr"):
        RunFolder.create(root, other, resume=True)
    (root / "checkpoints" / "0000-000000001.pt").write_bytes(b"x")
    RunFolder.create(root, other, force=True)
    assert RunFolder.open(root).load_config() == other
    assert not (root / "checkpoints" / "0000-000000001.pt").exists()


def test_non_run_folder_is_never_overwritten(tmp_path, config) -> None:
    root = tmp_path / "precious"
    root.mkdir()
    (root / "thesis.tex").write_text("x")
    with pytest.raises(UserError, match="not a run folder"):
        RunFolder.create(root, config, force=True)
    assert (root / "thesis.tex").read_text() == "x"
    with pytest.raises(UserError, match="not a run folder"):
        RunFolder.open(root)


def test_checkpoints_rotate_and_last_points_to_newest(tmp_path, config) -> None:
    run = RunFolder.create(tmp_path / "run", config)
    for step in (10, 20, 30, 40):
        save_checkpoint(run, _payload(config, step), keep=2)
    assert [info.step for info in run.checkpoints()] == [30, 40]
    last = load_checkpoint(run.last_checkpoint_path)
    assert last["step"] == 40
    assert set(CHECKPOINT_KEYS) <= set(last)
    newest = load_checkpoint(run.checkpoints()[-1].path)
    for key, value in newest["model"].items():
        assert torch.equal(value, last["model"][key])
    leftovers = [path.name for path in run.checkpoint_dir.iterdir() if path.name.endswith(".tmp")]
    assert leftovers == []


def test_checkpoint_loads_with_weights_only(tmp_path, config) -> None:
    run = RunFolder.create(tmp_path / "run", config)
    path = save_checkpoint(run, _payload(config, 5, epoch=1), keep=3)
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 1
    assert raw["config"]["model"]["num_classes"] == config.model.num_classes


def test_incomplete_payload_and_bad_files_are_rejected(tmp_path, config) -> None:
    run = RunFolder.create(tmp_path / "run", config)
    with pytest.raises(ValueError, match="lacks"):
        save_checkpoint(run, {"model": {}}, keep=1)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="garbage.pt"):
        load_checkpoint(garbage)
    partial = tmp_path / "partial.pt"
    torch.save({"model": {}}, partial)
    with pytest.raises(FormatError, match="field 'optimizer'"):
        load_checkpoint(partial)
    with pytest.raises(UserError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_metrics_append_and_truncated_last_line(tmp_path, config) -> None:
    run = RunFolder.create(tmp_path / "run", config)
    run.append_metrics({"step": 1, "loss": 2.5})
    run.append_metrics({"step": 2, "loss": 2.0, "lr": 1e-4})
    with open(run.metrics_path, "a") as stream:
        stream.write('{"step": 3, "lo')
    assert run.read_metrics() == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.0, "lr": 1e-4}]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(FormatError, match="line 2"):
        read_metrics(broken)


def test_rng_state_round_trip_through_a_checkpoint(tmp_path, config) -> None:
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    state = capture_rng_state()
    path = tmp_path / "rng.pt"
    torch.save({"rng": state}, path)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(torch.load(path, weights_only=True)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
