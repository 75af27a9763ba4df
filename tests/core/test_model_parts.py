"""The model's building blocks, checked against independent computations."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import FrozenBatchNorm2d

from instanceformer.core.config import load_config
from instanceformer.core.errors import ConfigError, FormatError, UserError
from instanceformer.core.model import build_model
from instanceformer.core.model.backbone import Backbone, load_backbone_weights
from instanceformer.core.model.deformable_attention import MultiScaleDeformableAttention
from instanceformer.core.model.encoder import encoder_reference_points
from instanceformer.core.model.mask_head import (
    ImageFractionCoordinates,
    MaskBranch,
    PixelCoordinates,
    aligned_bilinear,
    dynamic_mask_logits,
    dynamic_parameter_sizes,
)
from instanceformer.core.model.multiscale import InputProjections
from instanceformer.core.model.position_encoding import frame_offset_encoding, sine_position_encoding
from instanceformer.ops import ms_deform_attn_reference

# the R50 presets freeze pretrained layers, so they need a weights file; a Backbone never reads it
R50_WEIGHTS = "model.backbone.weights=resnet50-0676ba61.pth"


def _grouped_conv_logits(features, parameters, relative_x, relative_y, channels):
    """An independent dynamic mask head at the feature stride: per-instance inputs ``[N, h, w]`` relative
    coordinates and a grouped 1x1 convolution."""
    num_instances = parameters.shape[0]
    inputs = torch.cat(
        [torch.cat((relative_x[n, None], relative_y[n, None], features), dim=0) for n in range(num_instances)]
    )[None]  # [1, N * (C + 2), h, w]
    weight_sizes, bias_sizes = dynamic_parameter_sizes(channels, 3)
    pieces = parameters.split(weight_sizes + bias_sizes, dim=1)
    hidden = inputs
    for index in range(3):
        out_channels = bias_sizes[index]
        weight = pieces[index].reshape(num_instances * out_channels, -1, 1, 1)
        bias = pieces[3 + index].reshape(-1)
        hidden = F.conv2d(hidden, weight, bias, groups=num_instances)
        if index < 2:
            hidden = F.relu(hidden)
    return hidden


def _grouped_conv_masks(features, parameters, centres, valid_size, stride, channels, scale=1.0):
    """The toolkit's head, independently: offsets in units of the image size, bilinear upsampling."""
    num_instances = parameters.shape[0]
    height, width = features.shape[-2:]
    ys = (torch.arange(height, dtype=torch.float64) * stride + stride / 2) / valid_size[1]
    xs = (torch.arange(width, dtype=torch.float64) * stride + stride / 2) / valid_size[0]
    relative_x = centres[:, 0, None, None] - xs[None, None, :].expand(num_instances, height, width)
    relative_y = centres[:, 1, None, None] - ys[None, :, None].expand(num_instances, height, width)
    hidden = _grouped_conv_logits(features, parameters, relative_x * scale, relative_y * scale, channels)
    return F.interpolate(hidden, scale_factor=2, mode="bilinear", align_corners=False)[0]


@settings(max_examples=15, deadline=None)
@given(
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    num_instances=st.integers(1, 4),
    valid_width=st.floats(0.3, 1.0),
    seed=st.integers(0, 1000),
    scale=st.sampled_from([1.0, 8.0]),
)
def test_dynamic_mask_head_matches_a_grouped_convolution(
    height, width, num_instances, valid_width, seed, scale
):
    generator = torch.Generator().manual_seed(seed)
    channels = 8
    num_parameters = sum(sum(part) for part in dynamic_parameter_sizes(channels, 3))
    assert num_parameters == 169
    features = torch.randn(1, channels, height, width, generator=generator, dtype=torch.float64)
    parameters = torch.randn(1, num_instances, num_parameters, generator=generator, dtype=torch.float64)
    centres = torch.rand(1, num_instances, 2, generator=generator, dtype=torch.float64)
    valid_size = (valid_width * width * 8, height * 8.0)
    image_sizes = torch.tensor([valid_size], dtype=torch.float64)
    ours = dynamic_mask_logits(
        features, parameters, centres, image_sizes, 8, 4, ImageFractionCoordinates(scale)
    )
    expected = _grouped_conv_masks(features[0], parameters[0], centres[0], valid_size, 8, channels, scale)
    torch.testing.assert_close(ours[0], expected)


@settings(max_examples=10, deadline=None)
@given(
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    num_instances=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_published_mask_head_reads_pixel_offsets_and_upsamples_aligned(height, width, num_instances, seed):
    """Published: offsets in input pixels from ``centre * (W, H)`` of the unpadded image to the cell centre
    ``8 j + 4``; the logits upsampled by aligned bilinear interpolation."""
    generator = torch.Generator().manual_seed(seed)
    channels = 8
    features = torch.randn(1, channels, height, width, generator=generator, dtype=torch.float64)
    parameters = torch.randn(1, num_instances, 169, generator=generator, dtype=torch.float64)
    centres = torch.rand(1, num_instances, 2, generator=generator, dtype=torch.float64)
    image_width, image_height = 8.0 * width - 3, 8.0 * height - 5  # sides that are no multiple of 8
    image_sizes = torch.tensor([[image_width, image_height]], dtype=torch.float64)
    ours = dynamic_mask_logits(
        features, parameters, centres, image_sizes, 8, 4, PixelCoordinates(), aligned_bilinear
    )
    xs = torch.arange(width, dtype=torch.float64) * 8 + 4
    ys = torch.arange(height, dtype=torch.float64) * 8 + 4
    relative_x = centres[0, :, 0, None, None] * image_width - xs[None, None, :].expand(-1, height, width)
    relative_y = centres[0, :, 1, None, None] * image_height - ys[None, :, None].expand(-1, height, width)
    expected = aligned_bilinear(
        _grouped_conv_logits(features[0], parameters[0], relative_x, relative_y, channels), 2
    )[0]
    torch.testing.assert_close(ours[0], expected)


def test_aligned_bilinear_samples_the_input_a_quarter_cell_off_bilinear_upsampling() -> None:
    """Output cell ``i`` of the aligned upsampling holds the input at ``(i - 1) / 2`` cells (edges
    replicated), bilinear upsampling at ``(i + 0.5) / 2 - 0.5``: a quarter of an input cell apart."""
    logits = torch.randn(1, 1, 5, 7, dtype=torch.float64)
    aligned = aligned_bilinear(logits, 2)
    assert aligned.shape == (1, 1, 10, 14)

    def sample(row: float, column: float) -> torch.Tensor:
        row, column = min(max(row, 0.0), 4.0), min(max(column, 0.0), 6.0)
        top, left = min(int(row), 3), min(int(column), 5)
        fraction_y, fraction_x = row - top, column - left
        patch = logits[0, 0, top : top + 2, left : left + 2]
        weights_y = torch.tensor([1 - fraction_y, fraction_y], dtype=torch.float64)
        weights_x = torch.tensor([1 - fraction_x, fraction_x], dtype=torch.float64)
        return weights_y @ patch @ weights_x

    expected = torch.tensor(
        [[float(sample((i - 1) / 2, (j - 1) / 2)) for j in range(14)] for i in range(10)], dtype=torch.float64
    )
    torch.testing.assert_close(aligned[0, 0], expected)


def test_a_single_dynamic_layer_reads_coordinates_and_features_into_one_channel() -> None:
    config = load_config("tiny-cpu", ["model.mask_head.num_dynamic_layers=1"])
    assert config.model.mask_head.num_dynamic_parameters == 11  # (8 + 2) weights and 1 bias
    torch.manual_seed(0)
    model = build_model(config.model).eval()
    with torch.no_grad():
        outputs, _ = model.step(torch.randn(1, 3, 64, 96), model.init_state(1))
    assert outputs.mask_parameters.shape[-1] == 11
    assert outputs.masks is not None and outputs.masks.shape == (1, 20, 16, 24)


def _sine_reference(valid_height: int, valid_width: int, num_features: int) -> np.ndarray:
    rows = (np.arange(valid_height) + 0.5) / (valid_height + 1e-6) * 2 * np.pi
    columns = (np.arange(valid_width) + 0.5) / (valid_width + 1e-6) * 2 * np.pi
    frequencies = 10000.0 ** (2 * (np.arange(num_features) // 2) / num_features)

    def encode(values: np.ndarray) -> np.ndarray:
        angles = values[:, None] / frequencies[None]
        return np.where(np.arange(num_features) % 2 == 0, np.sin(angles), np.cos(angles))

    row_features = encode(rows)[:, None, :].repeat(valid_width, axis=1)
    column_features = encode(columns)[None, :, :].repeat(valid_height, axis=0)
    return np.concatenate((row_features, column_features), axis=-1).transpose(2, 0, 1)


@settings(max_examples=25, deadline=None)
@given(
    valid_height=st.integers(1, 9),
    valid_width=st.integers(1, 9),
    pad_height=st.integers(0, 4),
    pad_width=st.integers(0, 4),
    half_features=st.sampled_from([2, 4, 16]),
)
def test_sine_encoding_of_the_valid_region_ignores_padding(
    valid_height, valid_width, pad_height, pad_width, half_features
):
    num_features = 2 * half_features
    mask = torch.zeros(1, valid_height + pad_height, valid_width + pad_width, dtype=torch.bool)
    mask[:, valid_height:] = True
    mask[:, :, valid_width:] = True
    encoding = sine_position_encoding(mask, num_features)
    assert encoding.shape == (1, 2 * num_features, valid_height + pad_height, valid_width + pad_width)
    valid_part = encoding[0, :, :valid_height, :valid_width].numpy()
    expected = _sine_reference(valid_height, valid_width, num_features)
    np.testing.assert_allclose(valid_part, expected, atol=1e-5)


def test_frame_offset_encoding_depends_only_on_the_offset() -> None:
    encoding = frame_offset_encoding(torch.tensor([[1, 2, 3], [3, 2, 1]]), 16)
    assert encoding.shape == (2, 3, 16)
    torch.testing.assert_close(encoding[0, 0], encoding[1, 2])
    assert not torch.allclose(encoding[0, 0], encoding[0, 1])
    torch.testing.assert_close(encoding[0, 0, 0], torch.tensor(math.sin(1.0)))


@pytest.mark.parametrize("reference_size", [2, 4])
def test_deformable_attention_samples_where_its_offsets_point(reference_size: int) -> None:
    torch.manual_seed(0)
    attention = MultiScaleDeformableAttention(d_model=16, num_levels=2, num_heads=2, num_points=3).double()
    torch.nn.init.normal_(attention.sampling_offsets.weight, std=0.1)
    torch.nn.init.normal_(attention.attention_weights.weight, std=0.1)
    shapes = torch.tensor([[4, 6], [2, 3]])
    starts = torch.tensor([0, 24])
    query = torch.randn(1, 5, 16, dtype=torch.float64)
    values = torch.randn(1, 30, 16, dtype=torch.float64)
    reference = torch.rand(1, 5, 2, reference_size, dtype=torch.float64) * 0.5 + 0.25
    result = attention(query, reference, values, shapes, starts)
    offsets = attention.sampling_offsets(query).view(1, 5, 2, 2, 3, 2)
    if reference_size == 2:
        scale = torch.tensor([[6.0, 4.0], [3.0, 2.0]], dtype=torch.float64)
        expected_locations = reference[:, :, None, :, None, :] + offsets / scale[None, None, None, :, None, :]
    else:
        expected_locations = (
            reference[:, :, None, :, None, :2] + offsets / 3 * reference[:, :, None, :, None, 2:] / 2
        )
    torch.testing.assert_close(result.sampling_locations, expected_locations)
    weights = attention.attention_weights(query).view(1, 5, 2, 6).softmax(-1).view(1, 5, 2, 2, 3)
    torch.testing.assert_close(result.attention_weights, weights)
    sampled = ms_deform_attn_reference(
        attention.value_proj(values).view(1, 30, 2, 8), shapes, starts, expected_locations, weights
    )
    torch.testing.assert_close(result.output, attention.output_proj(sampled))


def test_encoder_reference_points_are_pixel_centres() -> None:
    projections = InputProjections([8, 16], d_model=32, num_levels=3)
    padding = torch.zeros(1, 32, 48, dtype=torch.bool)
    features = projections([torch.randn(1, 8, 4, 6), torch.randn(1, 16, 2, 3)], padding)
    assert features.spatial_shapes.tolist() == [[4, 6], [2, 3], [1, 2]]  # extra level: stride 2x
    assert features.level_start_index.tolist() == [0, 24, 30]
    references = encoder_reference_points(features)
    assert references.shape == (1, 32, 3, 2)
    torch.testing.assert_close(references[0, 7, 0], torch.tensor([1.5 / 6, 1.5 / 4]))
    assert projections.levels[0][1].num_groups == 32


def test_input_projection_group_norm_divides_small_widths() -> None:
    projections = InputProjections([8], d_model=48, num_levels=1)
    assert projections.levels[0][1].num_groups == 16


def test_mask_branch_with_a_narrower_width_uses_laterals() -> None:
    branch = MaskBranch(d_model=32, branch_channels=16, dynamic_channels=8, num_levels=3)
    assert branch.laterals is not None
    output = branch([torch.randn(2, 32, 8, 12), torch.randn(2, 32, 4, 6), torch.randn(2, 32, 2, 3)])
    assert output.shape == (2, 8, 8, 12)
    assert (output >= 0).all()


def test_resnet50_backbone_freezes_the_stem_and_first_stage() -> None:
    backbone = Backbone(load_config("r50-ytvis21", [R50_WEIGHTS]).model.backbone)
    maps = backbone(torch.randn(1, 3, 64, 96))
    assert [tuple(m.shape[1:]) for m in maps] == [(512, 8, 12), (1024, 4, 6), (2048, 2, 3)]
    assert backbone.channels == (512, 1024, 2048)
    assert isinstance(backbone.body.bn1, FrozenBatchNorm2d)
    assert not any(p.requires_grad for p in backbone.body.layer1.parameters())
    assert not backbone.body.conv1.weight.requires_grad
    assert all(p.requires_grad for p in backbone.body.layer2.parameters())
    assert not hasattr(backbone.body, "fc")


def test_from_scratch_backbones_train_everything() -> None:
    config = load_config("tiny-cpu").model.backbone
    backbone = Backbone(config).train()
    assert all(p.requires_grad for p in backbone.parameters())
    assert isinstance(backbone.body.bn1, torch.nn.BatchNorm2d)
    assert backbone.body.bn1.training and not isinstance(backbone.body.bn1, FrozenBatchNorm2d)
    grouped = Backbone(replace(config, group_norm=True))
    assert isinstance(grouped.body.bn1, torch.nn.GroupNorm)


def test_basic_block_resnets_match_torchvision_layout_and_take_a_width() -> None:
    config = load_config("tiny-cpu").model.backbone
    full = Backbone(replace(config, name="resnet18", stage_width=64, group_norm=False))
    reference = torchvision.models.resnet18(weights=None).state_dict()
    ours = full.body.state_dict()
    assert {key: tuple(value.shape) for key, value in ours.items()} == {
        key: tuple(value.shape) for key, value in reference.items() if not key.startswith("fc.")
    }
    narrow = Backbone(replace(config, name="resnet10", stage_width=16, return_strides=(8, 16, 32)))
    maps = narrow(torch.randn(2, 3, 64, 96))
    assert [tuple(m.shape) for m in maps] == [(2, 32, 8, 12), (2, 64, 4, 6), (2, 128, 2, 3)]
    assert narrow.channels == (32, 64, 128)
    assert len(narrow.body.layer2) == 1 and len(full.body.layer2) == 2
    parameters = sum(p.numel() for p in narrow.parameters())
    assert parameters < sum(p.numel() for p in full.parameters()) / 20


def test_stage_width_is_only_for_basic_block_resnets() -> None:
    with pytest.raises(ConfigError, match="model.backbone.stage_width"):
        load_config("r50-ytvis21", ["model.backbone.stage_width=32"])
    with pytest.raises(ConfigError, match="model.backbone.stage_width"):
        load_config("tiny-cpu", ["model.backbone.stage_width=4"])


def test_backbone_loads_a_torchvision_state_dict(tmp_path) -> None:
    torch.manual_seed(3)
    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    tiny = replace(load_config("tiny-cpu").model.backbone, name="resnet18", stage_width=64)
    config = replace(tiny, weights=str(path), frozen_batchnorm=True, group_norm=False)
    backbone = Backbone(config)
    load_backbone_weights(backbone, path)
    assert torch.equal(backbone.body.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    assert torch.equal(backbone.body.bn1.running_var, source.bn1.running_var)
    with pytest.raises(FormatError, match="running_mean"):  # GroupNorm has no running statistics
        load_backbone_weights(Backbone(replace(tiny, group_norm=True)), path)
    with pytest.raises(FormatError, match="shape mismatches"):
        load_backbone_weights(Backbone(replace(tiny, stage_width=32)), path)


def test_backbone_weights_problems_name_the_file_and_keys(tmp_path) -> None:
    state = torchvision.models.resnet18(weights=None).state_dict()
    del state["layer4.1.conv2.weight"]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    tiny = replace(load_config("tiny-cpu").model.backbone, name="resnet18", stage_width=64)
    backbone = Backbone(replace(tiny, weights=str(path), frozen_batchnorm=True, group_norm=False))
    with pytest.raises(FormatError) as failure:
        load_backbone_weights(backbone, path)
    message = str(failure.value)
    assert "broken.pth" in message and "layer4.1.conv2.weight" in message and "extra.weight" in message
    wrong = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), wrong)
    with pytest.raises(FormatError, match="unexpected keys"):
        load_backbone_weights(backbone, wrong)
    with pytest.raises(UserError, match="no such backbone weights file"):
        load_backbone_weights(backbone, tmp_path / "absent.pth")


@pytest.mark.slow
def test_swin_large_backbone_shapes() -> None:
    config = replace(load_config("r50-ytvis21", [R50_WEIGHTS]).model.backbone, name="swin_l", frozen_stages=0)
    backbone = Backbone(config).eval()
    assert backbone.channels == (384, 768, 1536)
    with torch.no_grad():
        maps = backbone(torch.randn(1, 3, 96, 96))
    assert [tuple(m.shape[1:]) for m in maps] == [(384, 12, 12), (768, 6, 6), (1536, 3, 3)]
    parameters = sum(p.numel() for p in backbone.parameters())
    assert 190e6 < parameters < 200e6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet101", "resnext101_32x8d", "resnext101_64x4d", "resnet34"])
def test_other_resnet_backbones_run(name: str) -> None:
    config = replace(load_config("r50-ytvis21", [R50_WEIGHTS]).model.backbone, name=name)
    maps = Backbone(config).eval()(torch.randn(1, 3, 64, 64))
    assert [m.shape[-1] for m in maps] == [8, 4, 2]
