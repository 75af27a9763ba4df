"""Forward of the compiled CPU kernel against the grid_sample reference, on odd shapes and borders."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.ops import kernel_available, ms_deform_attn, ms_deform_attn_reference
from tests.support.attention_inputs import AttentionInputs, border_inputs, packed_levels, random_inputs

ODD_LEVELS = {
    "rows-and-columns": [(3, 5), (1, 4), (6, 1), (2, 2)],
    "single-pixel": [(1, 1)],
    "one-level": [(4, 7)],
}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (0 when both are zero)."""
    scale = expected.abs().max().item()
    difference = (actual - expected).abs().max().item()
    return difference / scale if scale > 0 else difference


def kernel_forward(inputs: AttentionInputs) -> torch.Tensor:
    return torch.ops.instanceformer.ms_deform_attn(*inputs)


def test_the_cpu_kernel_is_built() -> None:
    assert kernel_available("cpu")
    assert torch._C._dispatch_has_kernel_for_dispatch_key("instanceformer::ms_deform_attn", "CPU")
    assert torch._C._dispatch_has_kernel_for_dispatch_key("instanceformer::ms_deform_attn_backward", "CPU")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("head_channels", [1, 5, 12, 32, 40])
@pytest.mark.parametrize("levels_name", sorted(ODD_LEVELS))
def test_forward_matches_reference_on_odd_shapes(
    levels_name: str, head_channels: int, dtype: torch.dtype
) -> None:
    inputs = random_inputs(
        ODD_LEVELS[levels_name],
        batch=3,
        num_queries=7,
        num_heads=2,
        head_channels=head_channels,
        num_points=3,
        dtype=dtype,
    )
    output = ms_deform_attn(*inputs)
    expected = ms_deform_attn_reference(*inputs)
    assert output.shape == (3, 7, 2 * head_channels)
    assert output.dtype == dtype
    assert relative_error(output, expected) < TOLERANCE[dtype]


@pytest.mark.parametrize("head_channels", [3, 32])
def test_forward_matches_reference_on_and_around_borders(head_channels: int) -> None:
    # Every level gets its own border locations; one query per location, one point per level.
    inputs = border_inputs([(4, 8), (2, 1), (1, 2)], head_channels=head_channels, seed=1)
    assert relative_error(kernel_forward(inputs), ms_deform_attn_reference(*inputs)) < 1e-12


def test_a_pixel_centre_reads_that_pixel_and_far_outside_reads_zero() -> None:
    height, width, head_channels = 4, 8, 6
    spatial_shapes, level_start_index, num_values = packed_levels([(height, width)])
    value = torch.randn(1, num_values, 1, head_channels, dtype=torch.float64)
    rows, columns = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    centres = torch.stack([(columns.flatten() + 0.5) / width, (rows.flatten() + 0.5) / height], dim=-1)
    outside = torch.tensor([[-0.2, 0.5], [0.5, 1.3], [1.2, -0.4]], dtype=torch.float64)
    points = torch.cat([centres.to(torch.float64), outside])
    num_queries = points.shape[0]
    locations = points.view(1, num_queries, 1, 1, 1, 2)
    weights = torch.ones(1, num_queries, 1, 1, 1, dtype=torch.float64)
    output = kernel_forward(AttentionInputs(value, spatial_shapes, level_start_index, locations, weights))
    assert torch.equal(output[0, : height * width], value[0, :, 0])
    assert torch.equal(output[0, height * width :], torch.zeros(3, head_channels, dtype=torch.float64))


def test_halfway_between_two_centres_is_their_mean() -> None:
    spatial_shapes, level_start_index, num_values = packed_levels([(2, 4)])
    value = torch.randn(1, num_values, 1, 3, dtype=torch.float64)
    # x = 2/4 lies between the centres of columns 1 and 2 of row 0 (y = 0.5 / 2 = 0.25).
    locations = torch.tensor([0.5, 0.25], dtype=torch.float64).view(1, 1, 1, 1, 1, 2)
    weights = torch.full((1, 1, 1, 1, 1), 2.0, dtype=torch.float64)
    output = kernel_forward(AttentionInputs(value, spatial_shapes, level_start_index, locations, weights))
    torch.testing.assert_close(output[0, 0], value[0, 1, 0] + value[0, 2, 0], rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=1, max_size=3),
    batch=st.integers(1, 2),
    num_queries=st.integers(1, 4),
    num_heads=st.integers(1, 3),
    head_channels=st.integers(1, 9),
    num_points=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_forward_matches_reference_on_random_shapes(
    levels: list[tuple[int, int]],
    batch: int,
    num_queries: int,
    num_heads: int,
    head_channels: int,
    num_points: int,
    seed: int,
) -> None:
    inputs = random_inputs(
        levels,
        batch=batch,
        num_queries=num_queries,
        num_heads=num_heads,
        head_channels=head_channels,
        num_points=num_points,
        seed=seed,
        location_low=-0.4,
        location_high=1.4,
    )
    assert relative_error(kernel_forward(inputs), ms_deform_attn_reference(*inputs)) < 1e-10


def test_levels_that_share_value_rows() -> None:
    inputs = random_inputs([(2, 3), (2, 3)], head_channels=4)
    shared = inputs._replace(level_start_index=torch.tensor([0, 0]), value=inputs.value[:, :6].contiguous())
    assert relative_error(kernel_forward(shared), ms_deform_attn_reference(*shared)) < 1e-10


def test_non_contiguous_inputs_give_the_contiguous_result() -> None:
    inputs = random_inputs([(3, 4), (2, 2)], head_channels=6, num_queries=4)
    strided = AttentionInputs(
        inputs.value.transpose(1, 2).contiguous().transpose(1, 2),
        inputs.spatial_shapes,
        inputs.level_start_index,
        torch.cat([inputs.sampling_locations, inputs.sampling_locations], dim=-1)[..., :2],
        inputs.attention_weights.transpose(0, 1).contiguous().transpose(0, 1),
    )
    assert not strided.value.is_contiguous()
    assert not strided.sampling_locations.is_contiguous()
    assert torch.equal(kernel_forward(strided), kernel_forward(inputs))


def test_results_do_not_depend_on_the_thread_count() -> None:
    inputs = random_inputs([(5, 6), (3, 3), (1, 2)], batch=2, num_queries=9, num_heads=4, head_channels=32)
    grad_output = torch.randn(2, 9, 4 * 32, dtype=torch.float64)
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            output = kernel_forward(inputs)
            gradients = torch.ops.instanceformer.ms_deform_attn_backward(grad_output, *inputs)
            results.append((output, *gradients))
    finally:
        torch.set_num_threads(previous)
    for single, double in zip(*results, strict=True):
        assert torch.equal(single, double)


def test_no_queries_gives_an_empty_output() -> None:
    inputs = random_inputs([(2, 2)], num_queries=0)
    output = ms_deform_attn(*inputs)
    assert output.shape == (2, 0, 3 * 5)
