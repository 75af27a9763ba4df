"""The run folder's life: a failed start leaves nothing, and --resume says what it does or refuses."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
import torch

from instanceformer.core.cli import run_app
from instanceformer.core.config import load_config
from instanceformer.core.engine.checkpoints import checkpoint_payload, load_checkpoint
from instanceformer.core.model import build_model
from instanceformer.core.runs import RunFolder
from instanceformer.train.cli import app
from instanceformer.train.initialisation import initialise_from
from instanceformer.train.interruption import StopRequest

from .helpers import run_arguments


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error, error
    return error


def _broken_copy(data_root: Path, tmp_path: Path, problem: str) -> tuple[Path, tuple[str, ...]]:
    """A data root with one problem, and extra ``ifm-train`` arguments."""
    if problem == "missing data":
        return tmp_path / "nowhere", ()
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    synth = root / "synth"
    if problem == "bad annotations":
        (synth / "annotations" / "instances_train.json").write_text('{"videos": [', encoding="utf-8")
    elif problem == "truncated frames":
        for frame in (synth / "train").rglob("*.jpg"):
            frame.write_bytes(frame.read_bytes()[:300])
    elif problem == "empty preset":
        empty = tmp_path / "empty.yaml"
        empty.write_text("", encoding="utf-8")
        return root, ("--preset", str(empty))
    return root, ()


@pytest.mark.parametrize("problem", ["missing data", "bad annotations", "truncated frames", "empty preset"])
def test_a_run_that_fails_to_start_leaves_no_run_folder(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    root, extra = _broken_copy(data_root, tmp_path, problem)
    out = tmp_path / "run"
    arguments = [*run_arguments(root, out, "train.max_steps=2"), *extra]
    assert run_app(app, arguments) == 2
    first = _one_line_error(capsys)
    assert not out.exists()
    assert run_app(app, arguments) == 2, "the retry meets the same problem"
    assert _one_line_error(capsys) == first and "already exists" not in first


def test_a_failed_start_keeps_what_it_did_not_create(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "nowhere"
    assert run_app(app, run_arguments(missing, empty, "train.max_steps=1")) == 2
    assert empty.is_dir() and not any(empty.iterdir())
    previous = tmp_path / "previous"
    assert run_app(app, run_arguments(data_root, previous, "train.max_steps=1")) == 0
    before = {path.name: path.read_bytes() for path in previous.iterdir() if path.is_file()}
    capsys.readouterr()
    assert run_app(app, [*run_arguments(missing, previous, "train.max_steps=1"), "--force"]) == 2
    _one_line_error(capsys)
    assert {path.name: path.read_bytes() for path in previous.iterdir() if path.is_file()} == before
    assert load_checkpoint(previous / "checkpoints" / "last.pt")["step"] == 1


def test_resume_without_a_readable_checkpoint_is_refused_naming_each_file(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    arguments = run_arguments(data_root, out, "train.max_steps=2", "train.checkpoint_every=1")
    assert run_app(app, arguments) == 0
    run = RunFolder(out)
    run.last_checkpoint_path.unlink()
    run.last_checkpoint_path.write_bytes(b"")
    newest, oldest = run.checkpoints()[1].path, run.checkpoints()[0].path
    newest.write_bytes(newest.read_bytes()[:1000])
    oldest.write_text("not a checkpoint", encoding="utf-8")
    metrics = run.metrics_path.read_bytes()
    capsys.readouterr()
    assert run_app(app, [*arguments, "--resume"]) == 2
    error = _one_line_error(capsys)
    assert "no readable checkpoint" in error and "--force" in error
    assert "checkpoints/last.pt: not a loadable checkpoint (empty file)" in error
    for path in (newest, oldest):
        assert f"checkpoints/{path.name}: not a loadable checkpoint (truncated or damaged" in error
    assert run.metrics_path.read_bytes() == metrics

    for path in run.checkpoint_dir.iterdir():
        path.unlink()
    assert run_app(app, [*arguments, "--resume"]) == 2
    error = _one_line_error(capsys)
    assert "no checkpoint to resume from" in error and "--force" in error


def test_resume_skips_corrupt_checkpoints_and_moves_the_superseded_metrics(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    arguments = run_arguments(data_root, out, "train.max_steps=3", "train.checkpoint_every=1")
    assert run_app(app, arguments) == 0
    run = RunFolder(out)
    first_losses = [record["loss"]["total"] for record in run.read_metrics()]
    with open(run.last_checkpoint_path, "r+b") as stream:  # last.pt and 0000-000000003.pt: one file
        stream.truncate(1000)
    capsys.readouterr()
    assert run_app(app, [*arguments, "--resume"]) == 0
    output = capsys.readouterr().out
    assert "from checkpoints/0000-000000002.pt (step 2 of 3)" in output
    assert "skipped checkpoints/last.pt: not a loadable checkpoint (truncated or damaged" in output
    assert "checkpoints/0000-000000003.pt: not a loadable checkpoint (truncated or damaged" in output
    assert "moved 1 line(s) of step 3" in output and "metrics.superseded.jsonl" in output
    records = run.read_metrics()
    assert [record["step"] for record in records] == [1, 2, 3]
    superseded = [json.loads(line) for line in run.superseded_metrics_path.read_text().splitlines()]
    assert [(item["resumed_from_step"], item["record"]["step"]) for item in superseded] == [(2, 3)]
    assert superseded[0]["record"]["loss"]["total"] == first_losses[2]
    assert [record["loss"]["total"] for record in records] == first_losses, "the redone step is equal"
    assert load_checkpoint(run.last_checkpoint_path)["step"] == 3


def test_resume_keeps_the_runs_stopping_point_unless_set(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_app(app, run_arguments(data_root, out, "train.max_steps=2")) == 0
    run = RunFolder(out)
    config_text = run.config_path.read_text()
    capsys.readouterr()
    assert run_app(app, [*run_arguments(data_root, out), "--resume"]) == 0
    assert "already at step 2 of 2; nothing to train" in capsys.readouterr().out
    assert run.config_path.read_text() == config_text
    assert load_checkpoint(run.last_checkpoint_path)["step"] == 2
    assert run_app(app, [*run_arguments(data_root, out, "train.max_steps=3"), "--resume"]) == 0
    output = capsys.readouterr().out
    assert "train.max_steps 2 -> 3" in output and "config.yaml" in output
    assert run.load_config().train.max_steps == 3
    assert load_checkpoint(run.last_checkpoint_path)["step"] == 3
    manifest = json.loads(run.manifest_path.read_text())
    assert [entry["changes"] for entry in manifest["resumes"]] == [{"train.max_steps": [2, 3]}]


def test_contradictory_resume_flags_are_refused(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_app(app, run_arguments(data_root, out, "train.max_steps=2")) == 0
    files = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    capsys.readouterr()
    assert run_app(app, [*run_arguments(data_root, out), "--resume", "--force"]) == 2
    assert "--resume and --force" in _one_line_error(capsys)
    assert run_app(app, [*run_arguments(data_root, out, "train.max_steps=1"), "--resume"]) == 2
    error = _one_line_error(capsys)
    assert "train.max_steps=1" in error and "step 2" in error and "cannot go back" in error
    assert run_app(app, [*run_arguments(data_root, out, "train.lr=0.5"), "--resume"]) == 2
    assert "train.lr" in _one_line_error(capsys)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == files


def test_resume_and_init_from_never_open_the_backbone_weights_file(data_root: Path, tmp_path: Path) -> None:
    weights = tmp_path / "backbone.pt"
    torch.save(build_model(load_config("tiny-cpu").model).backbone.body.state_dict(), weights)
    first = tmp_path / "first"
    setting = f"model.backbone.weights={weights}"
    assert run_app(app, run_arguments(data_root, first, "train.max_steps=1", setting)) == 0
    weights.rename(tmp_path / "moved.pt")
    assert run_app(app, [*run_arguments(data_root, first, "train.max_steps=2", setting), "--resume"]) == 0
    assert load_checkpoint(first / "checkpoints" / "last.pt")["step"] == 2
    second = tmp_path / "second"
    arguments = [*run_arguments(data_root, second, "train.max_steps=1", setting), "--init-from", str(first)]
    assert run_app(app, arguments) == 0


def test_resume_on_a_folder_without_a_run_starts_one(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_app(app, [*run_arguments(data_root, out, "train.max_steps=1"), "--resume"]) == 0
    assert "holds no run yet; starting a new one" in capsys.readouterr().out
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 1


def test_the_first_sigint_asks_for_a_stop_and_the_second_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_init_from_reads_the_backbone_weights_only_for_tensors_its_source_lacks(tmp_path: Path) -> None:
    config = load_config("tiny-cpu")
    torch.manual_seed(1)
    body = build_model(config.model).backbone.body.state_dict()
    weights = tmp_path / "backbone.pt"
    torch.save(body, weights)
    torch.manual_seed(2)
    source_model = build_model(config.model).state_dict()
    without_backbone = {
        name: value for name, value in source_model.items() if not name.startswith("backbone.")
    }
    source = tmp_path / "source.pt"
    torch.save(
        checkpoint_payload(
            model=without_backbone, optimizer=None, scheduler=None, step=1, epoch=0, config=config
        ),
        source,
    )
    model = build_model(config.model, pretrained_backbone=False)
    report = initialise_from(model, source, backbone_weights=weights)
    assert report.backbone_weights == weights and str(weights) in report.summary()
    assert not [name for name in report.missing if name.startswith("backbone.body.")]
    state = model.state_dict()
    assert torch.equal(state["backbone.body.conv1.weight"], body["conv1.weight"])
    assert torch.equal(state["class_heads.0.weight"], source_model["class_heads.0.weight"])
    full = tmp_path / "full.pt"
    torch.save(
        checkpoint_payload(
            model=source_model, optimizer=None, scheduler=None, step=1, epoch=0, config=config
        ),
        full,
    )
    report = initialise_from(
        build_model(config.model, pretrained_backbone=False), full, backbone_weights=tmp_path / "moved.pt"
    )
    assert report.backbone_weights is None, "a source with the whole backbone never reads the file"
