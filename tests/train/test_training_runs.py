"""End-to-end training runs on the synthetic set: the run folder, accumulation, --set errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from instanceformer.core.cli import run_app
from instanceformer.core.config import load_config
from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.runs import RunFolder
from instanceformer.train.cli import app

from .helpers import final_weights, run_arguments


def _train(data_root: Path, out: Path, *overrides: str, extra: tuple[str, ...] = ()) -> None:
    status = run_app(app, [*run_arguments(data_root, out, *overrides), *extra])
    assert status == 0


def test_a_short_run_writes_a_complete_run_folder(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train(data_root, out, "train.max_steps=3", "train.checkpoint_every=2", "train.keep_checkpoints=1")
    run = RunFolder.open(out)
    assert run.load_config().train.max_steps == 3
    assert run.manifest_path.is_file()
    assert [info.step for info in run.checkpoints()] == [3]
    last = load_checkpoint(run.last_checkpoint_path)
    assert (last["step"], last["epoch"], last["epoch_step"]) == (3, 0, 3)
    assert set(last["optimizer"]["state"]) and last["scheduler"]["step"] == 3
    records = run.read_metrics()
    assert [record["step"] for record in records] == [1, 2, 3]
    for record in records:
        assert record["kind"] == "train" and record["epoch"] == 0
        assert {"class", "box_l1", "box_giou", "mask_focal", "mask_dice", "contrastive", "total"} <= set(
            record["loss"]
        )
        assert set(record["lr"]) == {"backbone", "linear_projection", "other"}
        assert record["lr"]["linear_projection"] == pytest.approx(0.1 * record["lr"]["other"])
        assert record["samples_per_s"] > 0 and record["grad_norm"] > 0
        parts = record["temporal_grad_norm"]
        assert set(parts) == {"class_prior", "memory_projection", "memory_attention", "embedding_head"}
        assert all(value >= 0.0 for value in parts.values())
    assert records[-1]["loss"]["total"] == pytest.approx(
        sum(value for name, value in records[-1]["loss"].items() if name != "total"), rel=1e-5
    )


@pytest.mark.slow
def test_accumulating_two_batches_of_one_equals_one_batch_of_two(data_root: Path, tmp_path: Path) -> None:
    """Gradient accumulation reproduces the larger batch (tolerance 1e-5 absolute after two steps)."""
    single, accumulated = tmp_path / "single", tmp_path / "accumulated"
    _train(data_root, single, "train.max_steps=2", "train.batch_size=2", "train.total_batch_size=2")
    _train(data_root, accumulated, "train.max_steps=2", "train.batch_size=1", "train.total_batch_size=2")
    expected, actual = final_weights(single), final_weights(accumulated)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=1e-5, msg=name)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.batch_size=zero", "train.batch_size"),
        ("train.no_such_key=1", "no_such_key"),
        ("train.total_batch_size=6", "train.total_batch_size"),
        ("train.precision=fp16", "train.precision"),
    ],
)
def test_invalid_overrides_exit_with_status_2(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    status = run_app(app, run_arguments(data_root, tmp_path / "run", override))
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_an_existing_run_is_not_overwritten(data_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    RunFolder.create(out, load_config("tiny-cpu"))
    assert run_app(app, run_arguments(data_root, out, "train.max_steps=1")) == 2
    assert "--resume" in capsys.readouterr().err


def test_periodic_validation_writes_held_out_metrics(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train(
        data_root,
        out,
        "train.max_steps=1",
        "train.validate_every=1",
        "infer.min_size=64",
        "infer.max_size=96",
    )
    validation = [record for record in RunFolder(out).read_metrics() if record["kind"] == "validation"]
    assert len(validation) == 1 and validation[0]["step"] == 1
    assert {"AP", "AP50", "AP75", "AR10"} <= set(validation[0])
    assert all(-1.0 <= validation[0][key] <= 1.0 for key in ("AP", "AP50", "AP75", "AR10"))
