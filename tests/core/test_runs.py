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
    RunFolder.check_target(root)
    assert not root.exists(), "checking a target writes nothing"
    RunFolder.create(root, config)
    with pytest.raises(UserError, match="--resume"):
        RunFolder.check_target(root)
    with pytest.raises(UserError, match="--resume"):
        RunFolder.create(root, config)
    run = RunFolder.open(root)
    assert run.check_resumable(config) == []
    longer = load_config("tiny-cpu", ["train.max_steps=500"])
    assert [change.describe() for change in run.check_resumable(longer)] == ["train.max_steps 2100 -> 500"]
    other = load_config("tiny-cpu", ["train.lr=0.5"])
    with pytest.raises(UserError, match="train.lr"):
        run.check_resumable(other)
    (root / "checkpoints" / "0000-000000001.pt").write_bytes(b"x")
    RunFolder.check_target(root, force=True)
    assert (root / "checkpoints" / "0000-000000001.pt").exists(), "checking a target deletes nothing"
    RunFolder.create(root, other, force=True)
    assert RunFolder.open(root).load_config() == other
    assert not (root / "checkpoints" / "0000-000000001.pt").exists()


def test_a_resumed_config_keeps_the_runs_settings_unless_set(tmp_path) -> None:
    stored = load_config("tiny-cpu", ["train.max_steps=6", "train.lr=2e-3"])
    run = RunFolder.create(tmp_path / "run", stored)
    assert run.resumed_config([]) == stored
    assert run.resumed_config(["train.lr=2e-3"]) == stored
    longer = run.resumed_config(["train.max_steps=9"])
    assert longer.train.max_steps == 9 and longer.train.lr == 2e-3
    with pytest.raises(UserError, match="'train.lr' \\(run has 0.002, asked 0.5\\)"):
        run.resumed_config(["train.lr=0.5"])
    with pytest.raises(UserError, match="train.lr"):
        run.resumed_config([], requested=load_config("tiny-cpu"))
    matching = load_config("tiny-cpu", ["train.lr=2e-3"])
    assert run.resumed_config([], requested=matching).train.max_steps == 6


def test_record_resume_updates_config_and_appends_to_the_manifest(tmp_path) -> None:
    stored = load_config("tiny-cpu", ["train.max_steps=6"])
    run = RunFolder.create(tmp_path / "run", stored, command=["first"])
    same = run.record_resume(stored, checkpoint=run.last_checkpoint_path, step=3, command=["again"])
    assert same == [] and run.load_config() == stored
    longer = load_config("tiny-cpu", ["train.max_steps=9"])
    changes = run.record_resume(longer, checkpoint=run.last_checkpoint_path, step=6, command=["longer"])
    assert [change.key for change in changes] == ["train.max_steps"]
    assert run.load_config() == longer
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["command"] == ["first"] and manifest["config_hash"] == config_hash(longer)
    assert [entry["step"] for entry in manifest["resumes"]] == [3, 6]
    assert manifest["resumes"][0]["checkpoint"] == "checkpoints/last.pt"
    assert manifest["resumes"][1]["changes"] == {"train.max_steps": [6, 9]}
    with pytest.raises(UserError, match="train.lr"):
        run.record_resume(load_config("tiny-cpu", ["train.lr=0.5"]), checkpoint=run.root, step=6)


def test_superseded_metrics_lines_move_to_their_own_file(tmp_path, config) -> None:
    run = RunFolder.create(tmp_path / "run", config)
    assert run.supersede_metrics(2) is None
    for step in (1, 2, 3, 4):
        run.append_metrics({"kind": "train", "step": step})
    run.append_metrics({"kind": "epoch", "step": 4})
    with open(run.metrics_path, "a", encoding="utf-8") as stream:
        stream.write('{"kind":"train","st')
    moved = run.supersede_metrics(2)
    assert moved is not None and moved.steps == (3, 4, 4) and moved.incomplete_line
    assert "3 line(s) of steps 3-4" in moved.describe() and "incomplete last line" in moved.describe()
    assert [record["step"] for record in run.read_metrics()] == [1, 2]
    assert run.metrics_path.read_text(encoding="utf-8").endswith("\n")
    superseded = read_metrics(run.superseded_metrics_path)
    assert [item["record"]["step"] for item in superseded[:3]] == [3, 4, 4]
    assert superseded[3] == {"resumed_from_step": 2, "incomplete_line": '{"kind":"train","st'}
    assert all(item["resumed_from_step"] == 2 for item in superseded)
    assert run.supersede_metrics(2) is None
    run.append_metrics({"kind": "train", "step": 3})
    assert run.supersede_metrics(1) is not None
    assert len(read_metrics(run.superseded_metrics_path)) == 6, "earlier superseded lines are kept"


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
