// CUDA kernels of multi-scale deformable attention: float32, float64, float16 and bfloat16 inputs, with
// float32 accumulation for the 16-bit types.
//
// Threads form lane groups of kLanes (a power of two, at most 32, never straddling a warp); a group
// serves one (batch, query, head) row and its lanes stride over the D channels.
// Forward: each lane accumulates its channels over every level and point.
// Backward: each lane scatters its channels of the value gradient with atomicAdd and accumulates its
// part of the four corner dot products <grad_output, value[corner]>; the group reduces those over the
// channels with warp shuffles and lane 0 writes the gradients of the sample's location and weight.

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ms_deform_attn_checks.h"
#include "ms_deform_attn_sampling.h"

namespace instanceformer {
namespace ops {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int kWarpSize = 32;

template <typename scalar_t>
struct DeviceInputs {
  const scalar_t* value;               // [N, S, M, D]
  const int64_t* spatial_shapes;       // [L, 2] (height, width)
  const int64_t* level_start_index;    // [L]
  const scalar_t* sampling_locations;  // [N, Q, M, L, P, 2]
  const scalar_t* attention_weights;   // [N, Q, M, L, P]
  AttentionSizes sizes;
};

// Lanes per (batch, query, head) row: the smallest power of two covering D, at most a warp.
int lanes_for_channels(int64_t head_channels) {
  int lanes = 1;
  while (lanes < kWarpSize && lanes < head_channels) {
    lanes *= 2;
  }
  return lanes;
}

// Calls body(std::integral_constant<int, lanes>) for the runtime lane count.
template <typename Body>
void dispatch_lanes(int lanes, Body&& body) {
  switch (lanes) {
    case 1:
      body(std::integral_constant<int, 1>());
      break;
    case 2:
      body(std::integral_constant<int, 2>());
      break;
    case 4:
      body(std::integral_constant<int, 4>());
      break;
    case 8:
      body(std::integral_constant<int, 8>());
      break;
    case 16:
      body(std::integral_constant<int, 16>());
      break;
    default:
      body(std::integral_constant<int, 32>());
      break;
  }
}

// Bit mask of the lanes of this thread's lane group within its warp.
template <int kLanes>
__device__ __forceinline__ unsigned lane_group_mask() {
  if constexpr (kLanes == kWarpSize) {
    return 0xffffffffu;
  } else {
    const unsigned group_first_lane = (threadIdx.x % kWarpSize) / kLanes * kLanes;
    return ((1u << kLanes) - 1u) << group_first_lane;
  }
}

// output: [N, Q, M, D]; one lane group per (batch, query, head) row.
template <typename scalar_t, int kLanes>
__global__ void __launch_bounds__(kThreadsPerBlock)
    forward_kernel(const DeviceInputs<scalar_t> inputs, scalar_t* __restrict__ output) {
  using acc_t = at::opmath_type<scalar_t>;
  const AttentionSizes sizes = inputs.sizes;
  const int64_t thread = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t row = thread / kLanes;
  const int lane = static_cast<int>(threadIdx.x % kLanes);
  if (row >= sizes.batch * sizes.num_queries * sizes.num_heads) {
    return;
  }
  const int64_t head = row % sizes.num_heads;
  const int64_t batch = row / (sizes.num_queries * sizes.num_heads);
  const int64_t channels = sizes.head_channels;
  const int64_t pixel_stride = sizes.num_heads * channels;
  const int64_t samples_per_row = sizes.num_levels * sizes.num_points;
  const scalar_t* value_head = inputs.value + (batch * sizes.num_values * sizes.num_heads + head) * channels;
  const scalar_t* locations = inputs.sampling_locations + row * samples_per_row * 2;
  const scalar_t* weights = inputs.attention_weights + row * samples_per_row;
  for (int64_t channel = lane; channel < channels; channel += kLanes) {
    acc_t accumulator = 0;
    for (int64_t level = 0; level < sizes.num_levels; ++level) {
      const int64_t height = inputs.spatial_shapes[2 * level];
      const int64_t width = inputs.spatial_shapes[2 * level + 1];
      const scalar_t* value_level = value_head + inputs.level_start_index[level] * pixel_stride + channel;
      for (int64_t point = 0; point < sizes.num_points; ++point) {
        const int64_t sample = level * sizes.num_points + point;
        const BilinearFootprint<acc_t> footprint = bilinear_footprint<acc_t>(
            static_cast<acc_t>(locations[2 * sample]),
            static_cast<acc_t>(locations[2 * sample + 1]),
            height,
            width);
        if (!footprint.touches_level) {
          continue;
        }
        acc_t sampled = 0;
#pragma unroll
        for (int corner = 0; corner < 4; ++corner) {
          if (footprint.corner_inside[corner]) {
            sampled += footprint.corner_weight[corner] *
                static_cast<acc_t>(value_level[footprint.corner_pixel[corner] * pixel_stride]);
          }
        }
        accumulator += static_cast<acc_t>(weights[sample]) * sampled;
      }
    }
    output[row * channels + channel] = static_cast<scalar_t>(accumulator);
  }
}

// grad_value: [N, S, M, D] accumulated with atomicAdd (in float32 for 16-bit inputs);
// grad_locations: [N, Q, M, L, P, 2]; grad_weights: [N, Q, M, L, P]. One lane group per row.
template <typename scalar_t, typename grad_value_t, int kLanes>
__global__ void __launch_bounds__(kThreadsPerBlock) backward_kernel(
    const DeviceInputs<scalar_t> inputs,
    const scalar_t* __restrict__ grad_output,
    grad_value_t* __restrict__ grad_value,
    scalar_t* __restrict__ grad_locations,
    scalar_t* __restrict__ grad_weights) {
  using acc_t = at::opmath_type<scalar_t>;
  const AttentionSizes sizes = inputs.sizes;
  const int64_t thread = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t row = thread / kLanes;
  const int lane = static_cast<int>(threadIdx.x % kLanes);
  // A lane group is entirely inside or entirely outside the rows, so the shuffles below stay complete.
  if (row >= sizes.batch * sizes.num_queries * sizes.num_heads) {
    return;
  }
  const unsigned group_mask = lane_group_mask<kLanes>();
  const int64_t head = row % sizes.num_heads;
  const int64_t batch = row / (sizes.num_queries * sizes.num_heads);
  const int64_t channels = sizes.head_channels;
  const int64_t pixel_stride = sizes.num_heads * channels;
  const int64_t head_offset = (batch * sizes.num_values * sizes.num_heads + head) * channels;
  const scalar_t* grad_row = grad_output + row * channels;
  for (int64_t level = 0; level < sizes.num_levels; ++level) {
    const int64_t height = inputs.spatial_shapes[2 * level];
    const int64_t width = inputs.spatial_shapes[2 * level + 1];
    const int64_t level_offset = head_offset + inputs.level_start_index[level] * pixel_stride;
    for (int64_t point = 0; point < sizes.num_points; ++point) {
      const int64_t sample = (row * sizes.num_levels + level) * sizes.num_points + point;
      const BilinearFootprint<acc_t> footprint = bilinear_footprint<acc_t>(
          static_cast<acc_t>(inputs.sampling_locations[2 * sample]),
          static_cast<acc_t>(inputs.sampling_locations[2 * sample + 1]),
          height,
          width);
      const acc_t attention = static_cast<acc_t>(inputs.attention_weights[sample]);
      acc_t dots[4] = {0, 0, 0, 0};
      if (footprint.touches_level) {
        acc_t scales[4];
#pragma unroll
        for (int corner = 0; corner < 4; ++corner) {
          scales[corner] = attention * footprint.corner_weight[corner];
        }
        for (int64_t channel = lane; channel < channels; channel += kLanes) {
          const acc_t grad_channel = static_cast<acc_t>(grad_row[channel]);
#pragma unroll
          for (int corner = 0; corner < 4; ++corner) {
            if (footprint.corner_inside[corner]) {
              const int64_t offset = level_offset + footprint.corner_pixel[corner] * pixel_stride + channel;
              dots[corner] += grad_channel * static_cast<acc_t>(inputs.value[offset]);
              atomicAdd(grad_value + offset, static_cast<grad_value_t>(scales[corner] * grad_channel));
            }
          }
        }
      }
#pragma unroll
      for (int offset = kLanes / 2; offset > 0; offset /= 2) {
#pragma unroll
        for (int corner = 0; corner < 4; ++corner) {
          dots[corner] += __shfl_xor_sync(group_mask, dots[corner], offset, kLanes);
        }
      }
      if (lane == 0) {
        const SampleGradients<acc_t> gradients =
            sample_gradients<acc_t>(footprint, dots, attention, height, width);
        grad_weights[sample] = static_cast<scalar_t>(footprint.touches_level ? gradients.attention_weight : 0);
        grad_locations[2 * sample] = static_cast<scalar_t>(footprint.touches_level ? gradients.location_x : 0);
        grad_locations[2 * sample + 1] =
            static_cast<scalar_t>(footprint.touches_level ? gradients.location_y : 0);
      }
    }
  }
}

void check_cuda_inputs(const at::Tensor& value) {
  TORCH_CHECK(value.is_cuda(), "ms_deform_attn: the CUDA kernel needs CUDA tensors, got ", value.device());
  const auto dtype = value.scalar_type();
  TORCH_CHECK(
      dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16,
      "ms_deform_attn: the CUDA kernel supports float32, float64, float16 and bfloat16, got ",
      dtype);
}

template <typename scalar_t>
DeviceInputs<scalar_t> device_inputs(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights,
    const AttentionSizes& sizes) {
  return DeviceInputs<scalar_t>{
      value.data_ptr<scalar_t>(),
      spatial_shapes.data_ptr<int64_t>(),
      level_start_index.data_ptr<int64_t>(),
      sampling_locations.data_ptr<scalar_t>(),
      attention_weights.data_ptr<scalar_t>(),
      sizes,
  };
}

int64_t blocks_for_rows(int64_t rows, int lanes) {
  return (rows * lanes + kThreadsPerBlock - 1) / kThreadsPerBlock;
}

at::Tensor ms_deform_attn_forward_cuda(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights) {
  const AttentionSizes sizes =
      check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_cuda_inputs(value);
  const c10::cuda::CUDAGuard device_guard(value.device());
  const at::Tensor value_contiguous = value.contiguous();
  const at::Tensor shapes_contiguous = spatial_shapes.contiguous();
  const at::Tensor starts_contiguous = level_start_index.contiguous();
  const at::Tensor locations_contiguous = sampling_locations.contiguous();
  const at::Tensor weights_contiguous = attention_weights.contiguous();
  at::Tensor output =
      at::empty({sizes.batch, sizes.num_queries, sizes.num_heads * sizes.head_channels}, value.options());
  if (output.numel() == 0) {
    return output;
  }
  const int64_t rows = sizes.batch * sizes.num_queries * sizes.num_heads;
  const int lanes = lanes_for_channels(sizes.head_channels);
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, value.scalar_type(), "ms_deform_attn_forward_cuda", [&] {
        const DeviceInputs<scalar_t> inputs = device_inputs<scalar_t>(
            value_contiguous, shapes_contiguous, starts_contiguous, locations_contiguous, weights_contiguous, sizes);
        scalar_t* output_data = output.data_ptr<scalar_t>();
        dispatch_lanes(lanes, [&](auto lanes_constant) {
          constexpr int kLanes = decltype(lanes_constant)::value;
          forward_kernel<scalar_t, kLanes>
              <<<blocks_for_rows(rows, kLanes), kThreadsPerBlock, 0, stream>>>(inputs, output_data);
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        });
      });
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward_cuda(
    const at::Tensor& grad_output,
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights) {
  const AttentionSizes sizes =
      check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_grad_output(grad_output, value, sizes);
  check_cuda_inputs(value);
  const c10::cuda::CUDAGuard device_guard(value.device());
  const at::Tensor grad_output_contiguous = grad_output.contiguous();
  const at::Tensor value_contiguous = value.contiguous();
  const at::Tensor shapes_contiguous = spatial_shapes.contiguous();
  const at::Tensor starts_contiguous = level_start_index.contiguous();
  const at::Tensor locations_contiguous = sampling_locations.contiguous();
  const at::Tensor weights_contiguous = attention_weights.contiguous();

  // 16-bit inputs accumulate the value gradient in float32 and round once at the end.
  const bool accumulate_in_float = value.scalar_type() == at::kHalf || value.scalar_type() == at::kBFloat16;
  at::Tensor grad_value_accumulator = accumulate_in_float
      ? at::zeros(value_contiguous.sizes(), value_contiguous.options().dtype(at::kFloat))
      : at::zeros_like(value_contiguous);
  at::Tensor grad_locations = at::empty_like(locations_contiguous);
  at::Tensor grad_weights = at::empty_like(weights_contiguous);
  const int64_t rows = sizes.batch * sizes.num_queries * sizes.num_heads;
  if (rows > 0 && sizes.num_levels * sizes.num_points > 0) {
    const int lanes = lanes_for_channels(sizes.head_channels);
    const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, value.scalar_type(), "ms_deform_attn_backward_cuda", [&] {
          using grad_value_t = std::conditional_t<std::is_same_v<at::opmath_type<scalar_t>, scalar_t>, scalar_t, float>;
          const DeviceInputs<scalar_t> inputs = device_inputs<scalar_t>(
              value_contiguous, shapes_contiguous, starts_contiguous, locations_contiguous, weights_contiguous, sizes);
          const scalar_t* grad_output_data = grad_output_contiguous.data_ptr<scalar_t>();
          grad_value_t* grad_value_data = grad_value_accumulator.data_ptr<grad_value_t>();
          scalar_t* grad_locations_data = grad_locations.data_ptr<scalar_t>();
          scalar_t* grad_weights_data = grad_weights.data_ptr<scalar_t>();
          dispatch_lanes(lanes, [&](auto lanes_constant) {
            constexpr int kLanes = decltype(lanes_constant)::value;
            backward_kernel<scalar_t, grad_value_t, kLanes>
                <<<blocks_for_rows(rows, kLanes), kThreadsPerBlock, 0, stream>>>(
                    inputs, grad_output_data, grad_value_data, grad_locations_data, grad_weights_data);
            C10_CUDA_KERNEL_LAUNCH_CHECK();
          });
        });
  }
  at::Tensor grad_value =
      accumulate_in_float ? grad_value_accumulator.to(value.scalar_type()) : grad_value_accumulator;
  return std::make_tuple(grad_value, grad_locations, grad_weights);
}

}  // namespace
}  // namespace ops
}  // namespace instanceformer

TORCH_LIBRARY_IMPL(instanceformer, CUDA, library) {
  library.impl("ms_deform_attn", &instanceformer::ops::ms_deform_attn_forward_cuda);
  library.impl("ms_deform_attn_backward", &instanceformer::ops::ms_deform_attn_backward_cuda);
}
