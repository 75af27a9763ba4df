"""Gradients of the compiled CPU kernel: gradcheck and agreement with the reference's autograd."""

from __future__ import annotations

import pytest
import torch

from instanceformer.ops import ms_deform_attn, ms_deform_attn_reference
from tests.support.attention_inputs import border_inputs, gradients, random_inputs


def assert_gradients_close(actual, expected, tolerance: float) -> None:
    for name, left, right in zip(("value", "locations", "weights"), actual, expected, strict=True):
        scale = max(right.abs().max().item(), 1e-30)
        assert (left - right).abs().max().item() / scale < tolerance, name


def test_gradcheck_for_value_locations_and_weights() -> None:
    inputs = random_inputs([(3, 4), (1, 3), (2, 1)], batch=2, num_queries=3, num_heads=2, head_channels=3)
    leaves = inputs.requiring_grad()

    def function(value, locations, weights):
        return ms_deform_attn(value, inputs.spatial_shapes, inputs.level_start_index, locations, weights)

    assert torch.autograd.gradcheck(
        function, (leaves.value, leaves.sampling_locations, leaves.attention_weights), eps=1e-6, atol=1e-7
    )


def test_gradcheck_with_the_specialised_head_size() -> None:
    inputs = random_inputs([(3, 3), (2, 2)], batch=1, num_queries=2, num_heads=2, head_channels=32)
    leaves = inputs.requiring_grad()

    def function(value, locations, weights):
        return ms_deform_attn(value, inputs.spatial_shapes, inputs.level_start_index, locations, weights)

    assert torch.autograd.gradcheck(
        function, (leaves.value, leaves.sampling_locations, leaves.attention_weights), eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("head_channels", [5, 32])
def test_backward_matches_reference_backward(
    dtype: torch.dtype, tolerance: float, head_channels: int
) -> None:
    inputs = random_inputs(
        [(5, 7), (1, 6), (4, 1), (2, 3)],
        batch=3,
        num_queries=11,
        num_heads=3,
        head_channels=head_channels,
        num_points=4,
        dtype=dtype,
    )
    grad_output = torch.randn(3, 11, 3 * head_channels, dtype=dtype)
    assert_gradients_close(
        gradients(ms_deform_attn, inputs, grad_output),
        gradients(ms_deform_attn_reference, inputs, grad_output),
        tolerance,
    )


def test_backward_matches_reference_on_and_around_borders() -> None:
    # Dyadic border positions: both implementations compute the same pixel coordinates exactly, so even
    # the one-sided location gradients on cell edges (pixel centres, x = -1 pixel) must agree.
    inputs = border_inputs([(4, 8), (2, 2), (1, 4)], head_channels=5, seed=3)
    num_queries = inputs.sampling_locations.shape[1]
    generator = torch.Generator().manual_seed(4)
    grad_output = torch.randn(2, num_queries, 2 * 5, generator=generator, dtype=torch.float64)
    actual = gradients(ms_deform_attn, inputs, grad_output)
    expected = gradients(ms_deform_attn_reference, inputs, grad_output)
    for actual_gradient, expected_gradient in zip(actual, expected, strict=True):
        torch.testing.assert_close(actual_gradient, expected_gradient, rtol=1e-12, atol=1e-12)
    assert actual[1].abs().sum() > 0


def test_backward_with_levels_that_share_value_rows() -> None:
    inputs = random_inputs([(2, 3), (2, 3), (1, 2)], head_channels=4, num_queries=6)
    shared = inputs._replace(
        level_start_index=torch.tensor([0, 0, 3]), value=inputs.value[:, :6].contiguous()
    )
    grad_output = torch.randn(2, 6, 3 * 4, dtype=torch.float64)
    assert_gradients_close(
        gradients(ms_deform_attn, shared, grad_output),
        gradients(ms_deform_attn_reference, shared, grad_output),
        1e-10,
    )


def test_only_the_inputs_that_require_grad_get_gradients() -> None:
    inputs = random_inputs([(3, 3)], head_channels=4)
    locations = inputs.sampling_locations.clone().requires_grad_()
    output = ms_deform_attn(
        inputs.value, inputs.spatial_shapes, inputs.level_start_index, locations, inputs.attention_weights
    )
    output.square().sum().backward()
    reference_locations = inputs.sampling_locations.clone().requires_grad_()
    ms_deform_attn_reference(
        inputs.value,
        inputs.spatial_shapes,
        inputs.level_start_index,
        reference_locations,
        inputs.attention_weights,
    ).square().sum().backward()
    assert inputs.value.grad is None and inputs.attention_weights.grad is None
    torch.testing.assert_close(locations.grad, reference_locations.grad, rtol=1e-10, atol=1e-12)


def test_inputs_without_grad_give_an_output_without_grad() -> None:
    inputs = random_inputs([(2, 2)])
    output = ms_deform_attn(*inputs)
    assert not output.requires_grad


def test_no_queries_backward_gives_a_zero_value_gradient() -> None:
    inputs = random_inputs([(2, 2)], num_queries=0)
    grad_value, grad_locations, grad_weights = gradients(
        ms_deform_attn, inputs, torch.zeros(2, 0, 15, dtype=torch.float64)
    )
    assert torch.equal(grad_value, torch.zeros_like(inputs.value))
    assert grad_locations.shape == inputs.sampling_locations.shape
    assert grad_weights.shape == inputs.attention_weights.shape
