"""Converting the published checkpoint layout, on a state dict built here with its names and shapes."""

from __future__ import annotations

import argparse

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.errors import FormatError
from instanceformer.core.model import build_model
from instanceformer.core.model.convert import (
    convert_published_state_dict,
    load_published_weights,
    read_published_checkpoint,
)
from tests.support.published_weights import published_layout as shared_published_layout

PUBLISHED_CLASSES = 42  # the published YouTube-VIS heads index logits by raw category id


def published_layout() -> dict[str, tuple[int, ...]]:
    """Key names and shapes of the published R50 model with memory and class propagation."""
    return shared_published_layout(PUBLISHED_CLASSES, memory=True)


def published_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {
        name: torch.randn(shape, generator=generator) * 0.02 for name, shape in published_layout().items()
    }
    for name in state:
        if name.endswith("running_var"):
            state[name] = state[name].abs() + 1.0
    return state


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    # the published checkpoint supplies the backbone, so the weights file the preset asks for is never read
    config = load_config("r50-ytvis21", ["model.backbone.weights=resnet50-0676ba61.pth"])
    return build_model(config.model, pretrained_backbone=False).eval()


def test_every_architecturally_shared_tensor_is_mapped(model) -> None:
    published = published_state_dict()
    class_indices = list(range(1, 41))
    state, report = convert_published_state_dict(published, model.state_dict(), class_indices)
    assert report.unmapped == ()
    assert report.mismatched == ()
    skipped = {key for key, _ in report.skipped}
    assert skipped == {
        key for key in published if ".temporal_class_embed." in key or ".decoder.bbox_embed." in key
    }
    assert len(report.mapped) + len(report.skipped) == len(published)
    assert all(key.startswith(("class_prior.", "embedding_head.")) for key in report.missing)
    assert {"class_prior.weight", "embedding_head.layers.0.weight"} <= set(report.missing)
    torch.testing.assert_close(state["class_heads.2.weight"], published["detr.class_embed.2.weight"][1:41])
    torch.testing.assert_close(state["query_embedding.weight"], published["detr.query_embed.weight"])
    torch.testing.assert_close(
        state["backbone.body.layer3.4.bn2.running_var"],
        published["detr.backbone.0.body.layer3.4.bn2.running_var"],
    )
    torch.testing.assert_close(
        state["decoder.layers.5.feedforward.linear1.weight"],
        published["detr.transformer.decoder.layers.5.linear1_box.weight"],
    )
    torch.testing.assert_close(
        state["decoder.layers.1.memory_attention.in_proj_weight"],
        published["detr.transformer.decoder.layers.1.cross_attn_mem.in_proj_weight"],
    )
    torch.testing.assert_close(state["mask_branch.fusion_convs.2.weight"], published["mask_head.dcn.weight"])
    projection = published["detr.transformer.mem_token_proj.weight"]
    torch.testing.assert_close(state["memory.projection.weight"][:, :256], projection[:, :256])
    torch.testing.assert_close(state["memory.projection.weight"][:, 256:296], projection[:, 257:297])
    torch.testing.assert_close(state["memory.projection.weight"][:, 296:], projection[:, -4:])
    model.load_state_dict(state)
    with torch.no_grad():
        outputs, _ = model.step(torch.randn(1, 3, 64, 64), model.init_state(1))
    assert torch.isfinite(outputs.masks).all()


def test_class_count_mismatch_is_reported_not_copied(model) -> None:
    published = published_state_dict()
    published["detr.transformer.time_references_weights.weight"] = torch.zeros(2, 256)
    before = model.state_dict()["class_heads.0.weight"].clone()
    state, report = convert_published_state_dict(published, model.state_dict())
    mismatched = {key for key, *_ in report.mismatched}
    assert (
        "detr.class_embed.0.weight" in mismatched and "detr.transformer.mem_token_proj.weight" in mismatched
    )
    assert report.unmapped == ("detr.transformer.time_references_weights.weight",)
    assert torch.equal(state["class_heads.0.weight"], before)
    assert "class_heads.0.weight" in report.missing
    assert "mismatch: detr.class_embed.0.weight (42, 256)" in report.summary()


def test_published_checkpoint_file_loads_with_weights_only(model, tmp_path) -> None:
    path = tmp_path / "checkpoint.pth"
    torch.save(
        {
            "model": published_state_dict(1),
            "args": argparse.Namespace(lr=1e-4, backbone="resnet50"),
            "epoch": 15,
        },
        path,
    )
    assert len(read_published_checkpoint(path)) == len(published_layout())
    report = load_published_weights(model, path, class_indices=list(range(1, 41)))
    assert report.unmapped == () and report.mismatched == ()
    torch.testing.assert_close(
        model.state_dict()["encoder.layers.3.attention.value_proj.bias"],
        published_state_dict(1)["detr.transformer.encoder.layers.3.self_attn.value_proj.bias"],
    )
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="broken.pth"):
        read_published_checkpoint(broken)
