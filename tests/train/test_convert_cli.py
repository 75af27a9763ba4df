"""``ifm-train convert``: a published checkpoint becomes a run folder that ``ifm-infer`` loads."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from instanceformer.core.cli import run_app
from instanceformer.core.engine import load_run_model
from instanceformer.core.model.backbone import Backbone, load_backbone_weights
from instanceformer.train.cli import app
from tests.support.published_weights import seeded_published_state_dict


def _published_checkpoint(path: Path, num_logits: int, memory: bool) -> dict[str, torch.Tensor]:
    """A file laid out like a published checkpoint (model, training arguments, epoch); its weights."""
    weights = seeded_published_state_dict(num_logits, memory, seed=3)
    arguments = argparse.Namespace(dataset_file="jointovis", memory_token=10 if memory else 0)
    torch.save({"model": weights, "args": arguments, "epoch": 15}, path)
    return weights


@pytest.fixture(scope="module")
def ovis_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    path = tmp_path_factory.mktemp("published") / "r50_ovis.pth"
    return path, _published_checkpoint(path, 27, memory=True)


def test_published_variant_run_loads_with_the_raw_class_heads(
    ovis_checkpoint: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, weights = ovis_checkpoint
    out = tmp_path / "runs" / "published-ovis"
    assert run_app(app, ["convert", str(path), "--out", str(out), "--variant", "published"]) == 0
    printed = capsys.readouterr().out
    assert "mapped 615 tensors, skipped 48, unmapped 0, shape mismatches 0, not provided 0" in printed
    assert "published-r50-ovis" in printed
    loaded = load_run_model(out, device="cpu")
    config = loaded.config
    assert (config.preset, config.model.variant, config.data.dataset) == (
        "published-r50-ovis",
        "published",
        "ovis",
    )
    assert config.model.backbone.weights == str(path.resolve())
    state = loaded.model.state_dict()
    torch.testing.assert_close(state["class_heads.5.weight"], weights["detr.class_embed.5.weight"])
    torch.testing.assert_close(
        state["memory.projection.weight"], weights["detr.transformer.mem_token_proj.weight"]
    )
    # the run's backbone weights file is the published checkpoint, which holds the trained body
    backbone = Backbone(config.model.backbone)
    load_backbone_weights(backbone, path)
    torch.testing.assert_close(
        backbone.body.state_dict()["layer4.2.conv3.weight"],
        weights["detr.backbone.0.body.layer4.2.conv3.weight"],
    )


def test_toolkit_variant_cuts_the_class_heads_to_the_dataset(
    ovis_checkpoint: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, weights = ovis_checkpoint
    out = tmp_path / "toolkit-ovis"
    assert run_app(app, ["convert", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not provided" in printed and "fine-tune" in printed
    loaded = load_run_model(out, device="cpu")
    assert (loaded.config.preset, loaded.config.model.variant) == ("r50-ovis", "toolkit")
    torch.testing.assert_close(
        loaded.model.state_dict()["class_heads.0.weight"], weights["detr.class_embed.0.weight"][1:26]
    )


def test_youtube_vis_checkpoints_name_their_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r50_ytvis.pth"
    _published_checkpoint(path, 42, memory=False)
    assert run_app(app, ["convert", str(path), "--out", str(tmp_path / "a"), "--variant", "published"]) == 2
    assert "pass ytvis19 or ytvis21" in capsys.readouterr().err
    arguments = ["convert", str(path), "--out", str(tmp_path / "b"), "--variant", "published"]
    assert run_app(app, [*arguments, "--dataset", "ovis"]) == 2
    assert "27 class logits" in capsys.readouterr().err
    # the published YouTube-VIS presets have no memory; a checkpoint trained without tokens fits them
    assert run_app(app, [*arguments, "--dataset", "ytvis21"]) == 0
    assert "mapped 577 tensors" in capsys.readouterr().out
    assert load_run_model(tmp_path / "b", device="cpu").config.data.dataset == "ytvis21"
    # asking for memory the checkpoint does not have is refused
    with_memory = [*arguments[:3], str(tmp_path / "c"), "--variant", "published", "--dataset", "ytvis19"]
    assert run_app(app, [*with_memory, "--set", "model.temporal.memory=true"]) == 2
    assert "lacks" in capsys.readouterr().err


def test_unknown_variant_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.pth"
    assert run_app(app, ["convert", str(path), "--out", str(tmp_path / "x"), "--variant", "paper"]) == 2
    assert "--variant" in capsys.readouterr().err
