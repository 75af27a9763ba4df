"""The CUDA kernel (float32, float64, float16, bfloat16) against the reference; needs a GPU and ops-cuda."""

from __future__ import annotations

import pytest
import torch

from instanceformer.ops import kernel_available, ms_deform_attn, ms_deform_attn_reference
from tests.support.attention_inputs import border_inputs, gradients, random_inputs

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

FORWARD_TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
BACKWARD_TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}
LEVELS = [(5, 7), (1, 6), (4, 1), (2, 3)]


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected|, computed in float64 on the CPU."""
    actual = actual.detach().to("cpu", torch.float64)
    expected = expected.detach().to("cpu", torch.float64)
    return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item()


def test_the_cuda_kernel_is_built() -> None:
    assert kernel_available("cuda")
    assert torch._C._dispatch_has_kernel_for_dispatch_key("instanceformer::ms_deform_attn", "CUDA")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("head_channels", [5, 12, 32, 64])
def test_forward_matches_reference(dtype: torch.dtype, head_channels: int) -> None:
    inputs = random_inputs(
        LEVELS, batch=3, num_queries=9, num_heads=3, head_channels=head_channels, num_points=4
    )
    device_inputs = inputs.to("cuda", dtype)
    # The reference sees exactly the rounded inputs the kernel sees, in float64.
    expected = ms_deform_attn_reference(*device_inputs.to("cpu", torch.float64))
    output = ms_deform_attn(*device_inputs)
    assert output.dtype == dtype and output.device.type == "cuda"
    assert relative_error(output, expected) < FORWARD_TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("head_channels", [5, 32, 64])
def test_backward_matches_reference(dtype: torch.dtype, head_channels: int) -> None:
    inputs = random_inputs(
        LEVELS, batch=2, num_queries=7, num_heads=2, head_channels=head_channels, num_points=3
    )
    device_inputs = inputs.to("cuda", dtype)
    grad_output = torch.randn(2, 7, 2 * head_channels, dtype=torch.float64).to("cuda", dtype)
    actual = gradients(ms_deform_attn, device_inputs, grad_output)
    expected = gradients(
        ms_deform_attn_reference, device_inputs.to("cpu", torch.float64), grad_output.to("cpu", torch.float64)
    )
    for name, left, right in zip(("value", "locations", "weights"), actual, expected, strict=True):
        assert left.dtype == dtype, name
        assert relative_error(left, right) < BACKWARD_TOLERANCE[dtype], name


def test_borders_match_the_cpu_kernel() -> None:
    inputs = border_inputs([(4, 8), (2, 2), (1, 4)], head_channels=5, seed=5)
    num_queries = inputs.sampling_locations.shape[1]
    generator = torch.Generator().manual_seed(6)
    grad_output = torch.randn(2, num_queries, 10, generator=generator, dtype=torch.float64)
    cpu = gradients(ms_deform_attn, inputs, grad_output)
    cuda = gradients(ms_deform_attn, inputs.to("cuda"), grad_output.cuda())
    for left, right in zip(cuda, cpu, strict=True):
        torch.testing.assert_close(left.cpu(), right, rtol=1e-12, atol=1e-12)


def test_gradcheck_on_cuda() -> None:
    inputs = random_inputs([(3, 4), (1, 3), (2, 1)], batch=2, num_queries=3, num_heads=2, head_channels=3)
    leaves = inputs.to("cuda").requiring_grad()

    def function(value, locations, weights):
        return ms_deform_attn(value, leaves.spatial_shapes, leaves.level_start_index, locations, weights)

    assert torch.autograd.gradcheck(
        function, (leaves.value, leaves.sampling_locations, leaves.attention_weights), eps=1e-6, atol=1e-7
    )


# float32/float64 only: opcheck compares repeated backward runs, and the atomics of the value gradient
# may round a 16-bit result differently from run to run.
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_opcheck_on_cuda(dtype: torch.dtype) -> None:
    inputs = random_inputs([(3, 4), (1, 2)], head_channels=8).to("cuda", dtype).requiring_grad()
    torch.library.opcheck(torch.ops.instanceformer.ms_deform_attn.default, list(inputs))


def test_large_head_and_many_queries_match_the_cpu_kernel() -> None:
    inputs = random_inputs([(12, 20), (6, 10)], batch=2, num_queries=500, num_heads=8, head_channels=96)
    grad_output = torch.randn(2, 500, 8 * 96, dtype=torch.float64)
    cpu_output = ms_deform_attn(*inputs)
    cuda_output = ms_deform_attn(*inputs.to("cuda"))
    assert relative_error(cuda_output, cpu_output) < 1e-12
    cpu = gradients(ms_deform_attn, inputs, grad_output)
    cuda = gradients(ms_deform_attn, inputs.to("cuda"), grad_output.cuda())
    for left, right in zip(cuda, cpu, strict=True):
        assert relative_error(left, right) < 1e-10
