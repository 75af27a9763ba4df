// CPU kernels of multi-scale deformable attention (float32 and float64).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

namespace instanceformer {
namespace ops {

// Forward: value [N, S, M, D], spatial_shapes [L, 2] int64 (height, width), level_start_index [L] int64,
// sampling_locations [N, Q, M, L, P, 2] (x, y normalised to [0, 1]), attention_weights [N, Q, M, L, P].
// Returns the attended values [N, Q, M * D].
at::Tensor ms_deform_attn_forward_cpu(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights);

// Backward: grad_output [N, Q, M * D] and the forward inputs; returns the gradients of value [N, S, M, D],
// sampling_locations [N, Q, M, L, P, 2] and attention_weights [N, Q, M, L, P].
std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward_cpu(
    const at::Tensor& grad_output,
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights);

}  // namespace ops
}  // namespace instanceformer
