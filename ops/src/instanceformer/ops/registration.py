"""Fake kernels and the autograd formula of ``instanceformer::ms_deform_attn``.

The operator schema and the CPU kernels come from the compiled module ``instanceformer.ops._C``, whose
schema names this module; it is imported right after that module loads. The fake kernels let
``torch.compile`` trace the operator; the backward is the compiled ``ms_deform_attn_backward``.
"""

from __future__ import annotations

import torch

from instanceformer.ops.validation import check_attention_arguments

FORWARD_OP = "instanceformer::ms_deform_attn"
BACKWARD_OP = "instanceformer::ms_deform_attn_backward"


@torch.library.register_fake(FORWARD_OP)
def _forward_fake(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Output metadata of the forward: ``[N, Q, M * D]``, contiguous, value's dtype and device."""
    check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    batch, _, num_heads, head_channels = value.shape
    return value.new_empty((batch, sampling_locations.shape[1], num_heads * head_channels))


@torch.library.register_fake(BACKWARD_OP)
def _backward_fake(
    grad_output: torch.Tensor,
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradient metadata: contiguous tensors shaped like value, sampling_locations and attention_weights."""
    check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    return (
        value.new_empty(value.shape),
        sampling_locations.new_empty(sampling_locations.shape),
        attention_weights.new_empty(attention_weights.shape),
    )


def _setup_context(ctx, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    """Saves the five forward inputs for the backward."""
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """Gradients of value, sampling_locations, attention_weights (None if not needed) from [N, Q, M*D]."""
    value, spatial_shapes, level_start_index, sampling_locations, attention_weights = ctx.saved_tensors
    grad_value, grad_locations, grad_weights = torch.ops.instanceformer.ms_deform_attn_backward(
        grad_output.contiguous(),
        value,
        spatial_shapes,
        level_start_index,
        sampling_locations,
        attention_weights,
    )
    needs_value, _, _, needs_locations, needs_weights = ctx.needs_input_grad
    return (
        grad_value if needs_value else None,
        None,
        None,
        grad_locations if needs_locations else None,
        grad_weights if needs_weights else None,
    )


torch.library.register_autograd(FORWARD_OP, _backward, setup_context=_setup_context)
