// Argument checks of multi-scale deformable attention, shared by the CPU and CUDA entry points.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>

namespace instanceformer {
namespace ops {

// Sizes of one call: value [batch, num_values, num_heads, head_channels], spatial_shapes
// [num_levels, 2], sampling_locations [batch, num_queries, num_heads, num_levels, num_points, 2].
struct AttentionSizes {
  int64_t batch;
  int64_t num_values;
  int64_t num_heads;
  int64_t head_channels;
  int64_t num_queries;
  int64_t num_levels;
  int64_t num_points;
};

// Checks the ranks, shapes, dtypes and devices of the five inputs of the forward op and returns the sizes.
// Fails with a one-line message naming the argument and the expected shape.
inline AttentionSizes check_attention_arguments(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights) {
  TORCH_CHECK(
      value.dim() == 4,
      "ms_deform_attn: value must have shape [N, S, M, D], got ",
      value.sizes());
  AttentionSizes sizes;
  sizes.batch = value.size(0);
  sizes.num_values = value.size(1);
  sizes.num_heads = value.size(2);
  sizes.head_channels = value.size(3);
  TORCH_CHECK(
      spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2,
      "ms_deform_attn: spatial_shapes must have shape [L, 2], got ",
      spatial_shapes.sizes());
  sizes.num_levels = spatial_shapes.size(0);
  TORCH_CHECK(
      level_start_index.dim() == 1 && level_start_index.size(0) == sizes.num_levels,
      "ms_deform_attn: level_start_index must have shape [L] = [",
      sizes.num_levels,
      "], got ",
      level_start_index.sizes());
  TORCH_CHECK(
      sampling_locations.dim() == 6 && sampling_locations.size(0) == sizes.batch &&
          sampling_locations.size(2) == sizes.num_heads && sampling_locations.size(3) == sizes.num_levels &&
          sampling_locations.size(5) == 2,
      "ms_deform_attn: sampling_locations must have shape [N, Q, M, L, P, 2] with N = ",
      sizes.batch,
      ", M = ",
      sizes.num_heads,
      ", L = ",
      sizes.num_levels,
      ", got ",
      sampling_locations.sizes());
  sizes.num_queries = sampling_locations.size(1);
  sizes.num_points = sampling_locations.size(4);
  TORCH_CHECK(
      attention_weights.dim() == 5 && attention_weights.size(0) == sizes.batch &&
          attention_weights.size(1) == sizes.num_queries && attention_weights.size(2) == sizes.num_heads &&
          attention_weights.size(3) == sizes.num_levels && attention_weights.size(4) == sizes.num_points,
      "ms_deform_attn: attention_weights must have shape [N, Q, M, L, P] = [",
      sizes.batch,
      ", ",
      sizes.num_queries,
      ", ",
      sizes.num_heads,
      ", ",
      sizes.num_levels,
      ", ",
      sizes.num_points,
      "], got ",
      attention_weights.sizes());
  TORCH_CHECK(
      spatial_shapes.scalar_type() == at::kLong && level_start_index.scalar_type() == at::kLong,
      "ms_deform_attn: spatial_shapes and level_start_index must be int64, got ",
      spatial_shapes.scalar_type(),
      " and ",
      level_start_index.scalar_type());
  TORCH_CHECK(
      sampling_locations.scalar_type() == value.scalar_type() &&
          attention_weights.scalar_type() == value.scalar_type(),
      "ms_deform_attn: value, sampling_locations and attention_weights must share one dtype, got ",
      value.scalar_type(),
      ", ",
      sampling_locations.scalar_type(),
      " and ",
      attention_weights.scalar_type());
  const auto device = value.device();
  TORCH_CHECK(
      spatial_shapes.device() == device && level_start_index.device() == device &&
          sampling_locations.device() == device && attention_weights.device() == device,
      "ms_deform_attn: all inputs must be on the device of value (",
      device,
      "), got spatial_shapes on ",
      spatial_shapes.device(),
      ", level_start_index on ",
      level_start_index.device(),
      ", sampling_locations on ",
      sampling_locations.device(),
      ", attention_weights on ",
      attention_weights.device());
  return sizes;
}

// Checks grad_output of the backward op against the forward sizes: [N, Q, M * D], same dtype and device.
inline void check_grad_output(const at::Tensor& grad_output, const at::Tensor& value, const AttentionSizes& sizes) {
  TORCH_CHECK(
      grad_output.dim() == 3 && grad_output.size(0) == sizes.batch && grad_output.size(1) == sizes.num_queries &&
          grad_output.size(2) == sizes.num_heads * sizes.head_channels,
      "ms_deform_attn_backward: grad_output must have shape [N, Q, M * D] = [",
      sizes.batch,
      ", ",
      sizes.num_queries,
      ", ",
      sizes.num_heads * sizes.head_channels,
      "], got ",
      grad_output.sizes());
  TORCH_CHECK(
      grad_output.scalar_type() == value.scalar_type() && grad_output.device() == value.device(),
      "ms_deform_attn_backward: grad_output must have the dtype and device of value (",
      value.scalar_type(),
      " on ",
      value.device(),
      "), got ",
      grad_output.scalar_type(),
      " on ",
      grad_output.device());
}

}  // namespace ops
}  // namespace instanceformer
