"""Output shapes, parameter counts and the online API of the InstanceFormer model."""

from __future__ import annotations

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.model import FrameOutputs, build_model

# The paper's figure reads about 44 M parameters for the R50 model. Ours adds a class-prior projection
# (C x d), an instance-embedding head (2 layers, d x d) and counts the memory projection; together
# about 0.2 M, so the count must land within 3 % of 44 M.
PAPER_R50_PARAMETERS = 44.0e6
PARAMETER_TOLERANCE = 0.03
# the R50 presets freeze pretrained layers, so they need a weights file; these tests build the
# architecture only (pretrained_backbone=False) and never open it
R50_WEIGHTS = "model.backbone.weights=resnet50-0676ba61.pth"


def _count(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.fixture(scope="module")
def r50_model():
    torch.manual_seed(0)
    return build_model(load_config("r50-ytvis21", [R50_WEIGHTS]).model, pretrained_backbone=False).eval()


def test_r50_parameter_count_matches_the_paper(r50_model) -> None:
    count = _count(r50_model)
    print(f"r50-ytvis21 parameters: {count / 1e6:.2f} M (paper: about 44 M)")
    assert abs(count - PAPER_R50_PARAMETERS) / PAPER_R50_PARAMETERS < PARAMETER_TOLERANCE


def test_r50_frame_outputs_have_the_documented_shapes(r50_model) -> None:
    images = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        outputs, state = r50_model.step(images, r50_model.init_state(1), collect_analysis=True)
    num_queries, num_classes = 300, 40
    assert outputs.logits.shape == (1, num_queries, num_classes)
    assert outputs.boxes.shape == (1, num_queries, 4)
    assert outputs.masks.shape == (1, num_queries, 16, 24)  # stride 4
    assert outputs.embeddings.shape == (1, num_queries, 256)
    assert outputs.aux == ()  # evaluation mode
    analysis = outputs.analysis
    assert analysis.sampling_locations.shape == (1, num_queries, 6, 8, 4, 4, 2)
    assert analysis.attention_weights.shape == (1, num_queries, 6, 8, 4, 4)
    assert analysis.reference_points.shape == (1, num_queries, 6, 2)
    torch.testing.assert_close(analysis.attention_weights.sum(dim=(-1, -2)), torch.ones(1, num_queries, 6, 8))
    assert ((outputs.boxes > 0) & (outputs.boxes < 1)).all()
    assert state.frame_index == 1


def test_tiny_clip_shapes_in_training_and_evaluation() -> None:
    torch.manual_seed(0)
    config = load_config("tiny-cpu").model
    model = build_model(config)
    images = torch.randn(2, 3, 3, 64, 96)
    padding = torch.zeros(2, 64, 96, dtype=torch.bool)
    padding[1, :, 72:] = True
    model.train()
    frames = model(images, padding)
    groups = config.transformer.num_query_groups  # training decodes every query group of each clip
    assert len(frames) == 3
    for frame in frames:
        assert isinstance(frame, FrameOutputs)
        assert frame.logits.shape == (2 * groups, 20, 6)
        assert frame.masks is None  # training computes masks only for matched queries
        assert len(frame.aux) == config.transformer.num_decoder_layers - 1
        assert frame.mask_features.shape == (2 * groups, 8, 8, 12)
        assert frame.memory_queries.shape == (2 * groups, config.temporal.memory_top_k)
    torch.testing.assert_close(frames[0].valid_ratios[groups], torch.tensor([0.75, 1.0]))
    model.eval()
    with torch.no_grad():
        outputs, _ = model.step(images[:, 0], model.init_state(2), padding)
    assert outputs.masks.shape == (2, 20, 16, 24)
    assert torch.isfinite(outputs.masks).all()


def test_inputs_not_divisible_by_the_stride_round_up() -> None:
    torch.manual_seed(0)
    model = build_model(load_config("tiny-cpu").model).eval()
    with torch.no_grad():
        outputs, _ = model.step(torch.randn(1, 3, 70, 100), model.init_state(1))
    assert outputs.masks.shape == (1, 20, 18, 26)  # 2 * ceil(70 / 8), 2 * ceil(100 / 8)


def test_a_state_of_another_batch_size_is_refused() -> None:
    model = build_model(load_config("tiny-cpu").model).eval()
    with pytest.raises(ValueError, match="state holds 2 query sets but images hold 1 videos"):
        model.step(torch.randn(1, 3, 64, 64), model.init_state(2))


def test_parameter_groups_cover_every_trainable_parameter() -> None:
    model = build_model(load_config("tiny-cpu").model)
    groups = model.parameter_groups()
    grouped = sum(len(group) for group in groups.values())
    assert grouped == sum(1 for parameter in model.parameters() if parameter.requires_grad)
    assert groups["linear_projection"] and groups["backbone"] and groups["other"]
    projection_ids = {id(parameter) for parameter in groups["linear_projection"]}
    assert id(model.reference_points.weight) in projection_ids
    assert id(model.decoder.layers[0].cross_attention.sampling_offsets.weight) in projection_ids
