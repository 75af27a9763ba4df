// CPU kernels of multi-scale deformable attention.
//
// Forward: the (batch, query, head) rows are split among threads; a row accumulates, for every level
// and point, the bilinear combination of the four neighbouring pixels' D contiguous channels.
// Backward: the work is split into tasks of (batch, head, level); the task owning a slice writes the
// gradient of value for it and the gradients of the locations and weights of the samples it serves,
// so there are no atomics and no per-thread copies. When the levels of value overlap (unusual inputs)
// the tasks are (batch, head) instead.
// The channel loops are vectorised. With GCC on x86-64 Linux the kernels are also compiled for
// x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) and the loader picks the best one the CPU supports,
// so the binary still runs on any x86-64 CPU.

#include "ms_deform_attn_cpu.h"

#include "ms_deform_attn_checks.h"
#include "ms_deform_attn_sampling.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define IFM_CPU_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IFM_CPU_TARGET_CLONES
#endif

namespace instanceformer {
namespace ops {
namespace {

// Head size with a specialised kernel (the published models use 256 channels over 8 heads).
constexpr int kSpecialisedChannels = 32;
// Multiply-adds a forward chunk should hold before it is worth a thread of its own.
constexpr int64_t kForwardGrainMultiplyAdds = 32768;
// How many queries ahead the backward prefetches the strided per-query inputs and outputs.
constexpr int64_t kPrefetchQueries = 8;

// Hints the CPU to fetch the cache line holding `address` (for writing when `for_write`).
C10_ALWAYS_INLINE void prefetch(const void* address, bool for_write) {
#if defined(__GNUC__) || defined(__clang__)
  if (for_write) {
    __builtin_prefetch(address, 1);
  } else {
    __builtin_prefetch(address, 0);
  }
#else
  (void)address;
  (void)for_write;
#endif
}

// Prefetches the cache lines of one row of `channels` contiguous elements.
template <typename scalar_t>
C10_ALWAYS_INLINE void prefetch_row(const scalar_t* row, int64_t channels, bool for_write) {
  constexpr int64_t kCacheLine = 64;
  const int64_t bytes = channels * static_cast<int64_t>(sizeof(scalar_t));
  const char* start = reinterpret_cast<const char*>(row);
  for (int64_t offset = 0; offset < bytes; offset += kCacheLine) {
    prefetch(start + offset, for_write);
  }
}

template <typename scalar_t>
struct KernelInputs {
  const scalar_t* value;               // [N, S, M, D]
  const int64_t* spatial_shapes;       // [L, 2] (height, width)
  const int64_t* level_start_index;    // [L]
  const scalar_t* sampling_locations;  // [N, Q, M, L, P, 2]
  const scalar_t* attention_weights;   // [N, Q, M, L, P]
  AttentionSizes sizes;
};

template <typename scalar_t>
struct BackwardBuffers {
  const scalar_t* grad_output;  // [N, Q, M, D]
  scalar_t* grad_value;         // [N, S, M, D], zero on entry
  scalar_t* grad_locations;     // [N, Q, M, L, P, 2]
  scalar_t* grad_weights;       // [N, Q, M, L, P]
};

// accumulator[c] += sum over the four corners of weight[k] * corner_k[c], for the channels of one head.
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE void accumulate_four_corners(
    scalar_t* C10_RESTRICT accumulator,
    const scalar_t* const (&corners)[4],
    const scalar_t (&weights)[4],
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
  const scalar_t* C10_RESTRICT corner_0 = corners[0];
  const scalar_t* C10_RESTRICT corner_1 = corners[1];
  const scalar_t* C10_RESTRICT corner_2 = corners[2];
  const scalar_t* C10_RESTRICT corner_3 = corners[3];
  const scalar_t weight_0 = weights[0];
  const scalar_t weight_1 = weights[1];
  const scalar_t weight_2 = weights[2];
  const scalar_t weight_3 = weights[3];
#pragma omp simd
  for (int64_t channel = 0; channel < channels; ++channel) {
    accumulator[channel] += weight_0 * corner_0[channel] + weight_1 * corner_1[channel] +
        weight_2 * corner_2[channel] + weight_3 * corner_3[channel];
  }
}

// accumulator[c] += weight * corner[c], for the channels of one head.
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE void accumulate_one_corner(
    scalar_t* C10_RESTRICT accumulator,
    const scalar_t* C10_RESTRICT corner,
    scalar_t weight,
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
#pragma omp simd
  for (int64_t channel = 0; channel < channels; ++channel) {
    accumulator[channel] += weight * corner[channel];
  }
}

// For the four corners of one sample: dot[k] = <grad, corner_k> and grad_corner_k[c] += scale[k] * grad[c].
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE void backpropagate_four_corners(
    const scalar_t* C10_RESTRICT grad,
    const scalar_t* const (&corners)[4],
    scalar_t* const (&grad_corners)[4],
    const scalar_t (&scales)[4],
    scalar_t (&dots)[4],
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
  const scalar_t* C10_RESTRICT corner_0 = corners[0];
  const scalar_t* C10_RESTRICT corner_1 = corners[1];
  const scalar_t* C10_RESTRICT corner_2 = corners[2];
  const scalar_t* C10_RESTRICT corner_3 = corners[3];
  scalar_t* C10_RESTRICT grad_corner_0 = grad_corners[0];
  scalar_t* C10_RESTRICT grad_corner_1 = grad_corners[1];
  scalar_t* C10_RESTRICT grad_corner_2 = grad_corners[2];
  scalar_t* C10_RESTRICT grad_corner_3 = grad_corners[3];
  const scalar_t scale_0 = scales[0];
  const scalar_t scale_1 = scales[1];
  const scalar_t scale_2 = scales[2];
  const scalar_t scale_3 = scales[3];
  scalar_t dot_0 = 0;
  scalar_t dot_1 = 0;
  scalar_t dot_2 = 0;
  scalar_t dot_3 = 0;
#pragma omp simd reduction(+ : dot_0, dot_1, dot_2, dot_3)
  for (int64_t channel = 0; channel < channels; ++channel) {
    const scalar_t grad_channel = grad[channel];
    dot_0 += grad_channel * corner_0[channel];
    dot_1 += grad_channel * corner_1[channel];
    dot_2 += grad_channel * corner_2[channel];
    dot_3 += grad_channel * corner_3[channel];
    grad_corner_0[channel] += scale_0 * grad_channel;
    grad_corner_1[channel] += scale_1 * grad_channel;
    grad_corner_2[channel] += scale_2 * grad_channel;
    grad_corner_3[channel] += scale_3 * grad_channel;
  }
  dots[0] = dot_0;
  dots[1] = dot_1;
  dots[2] = dot_2;
  dots[3] = dot_3;
}

// Returns <grad, corner> and adds scale * grad to grad_corner, for the channels of one head.
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE scalar_t backpropagate_one_corner(
    const scalar_t* C10_RESTRICT grad,
    const scalar_t* C10_RESTRICT corner,
    scalar_t* C10_RESTRICT grad_corner,
    scalar_t scale,
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
  scalar_t dot = 0;
#pragma omp simd reduction(+ : dot)
  for (int64_t channel = 0; channel < channels; ++channel) {
    const scalar_t grad_channel = grad[channel];
    dot += grad_channel * corner[channel];
    grad_corner[channel] += scale * grad_channel;
  }
  return dot;
}

// Forward for the rows [row_begin, row_end) of the flattened (batch, query, head) index.
// output: [N, Q, M, D].
template <typename scalar_t, int kChannels>
IFM_CPU_TARGET_CLONES void forward_rows(
    const KernelInputs<scalar_t>& inputs,
    scalar_t* output,
    int64_t row_begin,
    int64_t row_end) {
  const AttentionSizes& sizes = inputs.sizes;
  const int64_t channels = kChannels > 0 ? kChannels : sizes.head_channels;
  const int64_t pixel_stride = sizes.num_heads * channels;
  const int64_t samples_per_row = sizes.num_levels * sizes.num_points;
  scalar_t local_accumulator[kChannels > 0 ? kChannels : 1];
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t head = row % sizes.num_heads;
    const int64_t batch = row / (sizes.num_queries * sizes.num_heads);
    scalar_t* output_row = output + row * channels;
    scalar_t* accumulator = kChannels > 0 ? local_accumulator : output_row;
    for (int64_t channel = 0; channel < channels; ++channel) {
      accumulator[channel] = 0;
    }
    // value rows of this (batch, head): pixel s of the whole pyramid starts at value_head + s * pixel_stride.
    const scalar_t* value_head = inputs.value + (batch * sizes.num_values * sizes.num_heads + head) * channels;
    const scalar_t* locations = inputs.sampling_locations + row * samples_per_row * 2;
    const scalar_t* weights = inputs.attention_weights + row * samples_per_row;
    for (int64_t level = 0; level < sizes.num_levels; ++level) {
      const int64_t height = inputs.spatial_shapes[2 * level];
      const int64_t width = inputs.spatial_shapes[2 * level + 1];
      const scalar_t* value_level = value_head + inputs.level_start_index[level] * pixel_stride;
      for (int64_t point = 0; point < sizes.num_points; ++point) {
        const int64_t sample = level * sizes.num_points + point;
        const BilinearFootprint<scalar_t> footprint =
            bilinear_footprint<scalar_t>(locations[2 * sample], locations[2 * sample + 1], height, width);
        if (!footprint.touches_level) {
          continue;
        }
        const scalar_t attention = weights[sample];
        if (all_corners_inside(footprint)) {
          const scalar_t* const corners[4] = {
              value_level + footprint.corner_pixel[0] * pixel_stride,
              value_level + footprint.corner_pixel[1] * pixel_stride,
              value_level + footprint.corner_pixel[2] * pixel_stride,
              value_level + footprint.corner_pixel[3] * pixel_stride,
          };
          const scalar_t corner_weights[4] = {
              attention * footprint.corner_weight[0],
              attention * footprint.corner_weight[1],
              attention * footprint.corner_weight[2],
              attention * footprint.corner_weight[3],
          };
          accumulate_four_corners<scalar_t, kChannels>(accumulator, corners, corner_weights, channels);
        } else {
          for (int corner = 0; corner < 4; ++corner) {
            if (footprint.corner_inside[corner]) {
              accumulate_one_corner<scalar_t, kChannels>(
                  accumulator,
                  value_level + footprint.corner_pixel[corner] * pixel_stride,
                  attention * footprint.corner_weight[corner],
                  channels);
            }
          }
        }
      }
    }
    if constexpr (kChannels > 0) {
      for (int64_t channel = 0; channel < channels; ++channel) {
        output_row[channel] = local_accumulator[channel];
      }
    }
  }
}

// Backward for the tasks [task_begin, task_end); task = (batch * M + head) * level_groups + level_group,
// where a level group is one level (levels_per_task == 1) or all levels (levels_per_task == L).
template <typename scalar_t, int kChannels>
IFM_CPU_TARGET_CLONES void backward_tasks(
    const KernelInputs<scalar_t>& inputs,
    const BackwardBuffers<scalar_t>& buffers,
    int64_t levels_per_task,
    int64_t task_begin,
    int64_t task_end) {
  const AttentionSizes& sizes = inputs.sizes;
  const int64_t channels = kChannels > 0 ? kChannels : sizes.head_channels;
  const int64_t pixel_stride = sizes.num_heads * channels;
  const int64_t level_groups = sizes.num_levels / levels_per_task;
  for (int64_t task = task_begin; task < task_end; ++task) {
    const int64_t level_begin = (task % level_groups) * levels_per_task;
    const int64_t level_end = level_begin + levels_per_task;
    const int64_t head = (task / level_groups) % sizes.num_heads;
    const int64_t batch = task / (level_groups * sizes.num_heads);
    const int64_t head_offset = (batch * sizes.num_values * sizes.num_heads + head) * channels;
    for (int64_t query = 0; query < sizes.num_queries; ++query) {
      const int64_t row = (batch * sizes.num_queries + query) * sizes.num_heads + head;
      const scalar_t* grad_row = buffers.grad_output + row * channels;
      if (query + kPrefetchQueries < sizes.num_queries) {
        const int64_t ahead_row = row + kPrefetchQueries * sizes.num_heads;
        const int64_t ahead_sample = (ahead_row * sizes.num_levels + level_begin) * sizes.num_points;
        prefetch(inputs.sampling_locations + 2 * ahead_sample, false);
        prefetch(inputs.attention_weights + ahead_sample, false);
        prefetch_row(buffers.grad_output + ahead_row * channels, channels, false);
        prefetch(buffers.grad_locations + 2 * ahead_sample, true);
        prefetch(buffers.grad_weights + ahead_sample, true);
      }
      for (int64_t level = level_begin; level < level_end; ++level) {
        const int64_t height = inputs.spatial_shapes[2 * level];
        const int64_t width = inputs.spatial_shapes[2 * level + 1];
        const int64_t level_offset = head_offset + inputs.level_start_index[level] * pixel_stride;
        const scalar_t* value_level = inputs.value + level_offset;
        scalar_t* grad_value_level = buffers.grad_value + level_offset;
        for (int64_t point = 0; point < sizes.num_points; ++point) {
          const int64_t sample = (row * sizes.num_levels + level) * sizes.num_points + point;
          const BilinearFootprint<scalar_t> footprint = bilinear_footprint<scalar_t>(
              inputs.sampling_locations[2 * sample], inputs.sampling_locations[2 * sample + 1], height, width);
          if (!footprint.touches_level) {
            buffers.grad_weights[sample] = 0;
            buffers.grad_locations[2 * sample] = 0;
            buffers.grad_locations[2 * sample + 1] = 0;
            continue;
          }
          const scalar_t attention = inputs.attention_weights[sample];
          scalar_t dots[4] = {0, 0, 0, 0};
          if (all_corners_inside(footprint)) {
            const scalar_t* const corners[4] = {
                value_level + footprint.corner_pixel[0] * pixel_stride,
                value_level + footprint.corner_pixel[1] * pixel_stride,
                value_level + footprint.corner_pixel[2] * pixel_stride,
                value_level + footprint.corner_pixel[3] * pixel_stride,
            };
            scalar_t* const grad_corners[4] = {
                grad_value_level + footprint.corner_pixel[0] * pixel_stride,
                grad_value_level + footprint.corner_pixel[1] * pixel_stride,
                grad_value_level + footprint.corner_pixel[2] * pixel_stride,
                grad_value_level + footprint.corner_pixel[3] * pixel_stride,
            };
            const scalar_t scales[4] = {
                attention * footprint.corner_weight[0],
                attention * footprint.corner_weight[1],
                attention * footprint.corner_weight[2],
                attention * footprint.corner_weight[3],
            };
            backpropagate_four_corners<scalar_t, kChannels>(
                grad_row, corners, grad_corners, scales, dots, channels);
          } else {
            for (int corner = 0; corner < 4; ++corner) {
              if (footprint.corner_inside[corner]) {
                const int64_t offset = footprint.corner_pixel[corner] * pixel_stride;
                dots[corner] = backpropagate_one_corner<scalar_t, kChannels>(
                    grad_row,
                    value_level + offset,
                    grad_value_level + offset,
                    attention * footprint.corner_weight[corner],
                    channels);
              }
            }
          }
          const SampleGradients<scalar_t> gradients =
              sample_gradients<scalar_t>(footprint, dots, attention, height, width);
          buffers.grad_weights[sample] = gradients.attention_weight;
          buffers.grad_locations[2 * sample] = gradients.location_x;
          buffers.grad_locations[2 * sample + 1] = gradients.location_y;
        }
      }
    }
  }
}

// Checks that every level lies inside value and returns true when no two levels share a pixel row.
bool check_level_layout(
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const AttentionSizes& sizes) {
  const int64_t* shapes = spatial_shapes.data_ptr<int64_t>();
  const int64_t* starts = level_start_index.data_ptr<int64_t>();
  std::vector<std::pair<int64_t, int64_t>> ranges;
  ranges.reserve(sizes.num_levels);
  for (int64_t level = 0; level < sizes.num_levels; ++level) {
    const int64_t height = shapes[2 * level];
    const int64_t width = shapes[2 * level + 1];
    const int64_t start = starts[level];
    TORCH_CHECK(
        height >= 0 && width >= 0 && start >= 0 && start + height * width <= sizes.num_values,
        "ms_deform_attn: level ",
        level,
        " (spatial_shapes ",
        height,
        "x",
        width,
        ", level_start_index ",
        start,
        ") must lie inside value's S = ",
        sizes.num_values,
        " rows");
    if (height * width > 0) {
      ranges.emplace_back(start, start + height * width);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t index = 1; index < ranges.size(); ++index) {
    if (ranges[index].first < ranges[index - 1].second) {
      return false;
    }
  }
  return true;
}

void check_cpu_dtype(const at::Tensor& value) {
  TORCH_CHECK(
      value.scalar_type() == at::kFloat || value.scalar_type() == at::kDouble,
      "ms_deform_attn: the CPU kernel supports float32 and float64, got ",
      value.scalar_type());
}

template <typename scalar_t>
KernelInputs<scalar_t> kernel_inputs(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights,
    const AttentionSizes& sizes) {
  return KernelInputs<scalar_t>{
      value.data_ptr<scalar_t>(),
      spatial_shapes.data_ptr<int64_t>(),
      level_start_index.data_ptr<int64_t>(),
      sampling_locations.data_ptr<scalar_t>(),
      attention_weights.data_ptr<scalar_t>(),
      sizes,
  };
}

}  // namespace

at::Tensor ms_deform_attn_forward_cpu(
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights) {
  const AttentionSizes sizes =
      check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_cpu_dtype(value);
  const at::Tensor value_contiguous = value.contiguous();
  const at::Tensor shapes_contiguous = spatial_shapes.contiguous();
  const at::Tensor starts_contiguous = level_start_index.contiguous();
  const at::Tensor locations_contiguous = sampling_locations.contiguous();
  const at::Tensor weights_contiguous = attention_weights.contiguous();
  check_level_layout(shapes_contiguous, starts_contiguous, sizes);

  at::Tensor output =
      at::empty({sizes.batch, sizes.num_queries, sizes.num_heads * sizes.head_channels}, value.options());
  const int64_t rows = sizes.batch * sizes.num_queries * sizes.num_heads;
  const int64_t multiply_adds_per_row = std::max<int64_t>(
      1, sizes.num_levels * sizes.num_points * 4 * std::max<int64_t>(sizes.head_channels, 1));
  const int64_t grain = std::max<int64_t>(1, kForwardGrainMultiplyAdds / multiply_adds_per_row);
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_forward_cpu", [&] {
    const KernelInputs<scalar_t> inputs = kernel_inputs<scalar_t>(
        value_contiguous, shapes_contiguous, starts_contiguous, locations_contiguous, weights_contiguous, sizes);
    scalar_t* output_data = output.data_ptr<scalar_t>();
    if (sizes.head_channels == kSpecialisedChannels) {
      at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
        forward_rows<scalar_t, kSpecialisedChannels>(inputs, output_data, begin, end);
      });
    } else {
      at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
        forward_rows<scalar_t, 0>(inputs, output_data, begin, end);
      });
    }
  });
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ms_deform_attn_backward_cpu(
    const at::Tensor& grad_output,
    const at::Tensor& value,
    const at::Tensor& spatial_shapes,
    const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations,
    const at::Tensor& attention_weights) {
  const AttentionSizes sizes =
      check_attention_arguments(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_grad_output(grad_output, value, sizes);
  check_cpu_dtype(value);
  const at::Tensor grad_output_contiguous = grad_output.contiguous();
  const at::Tensor value_contiguous = value.contiguous();
  const at::Tensor shapes_contiguous = spatial_shapes.contiguous();
  const at::Tensor starts_contiguous = level_start_index.contiguous();
  const at::Tensor locations_contiguous = sampling_locations.contiguous();
  const at::Tensor weights_contiguous = attention_weights.contiguous();
  const bool levels_disjoint = check_level_layout(shapes_contiguous, starts_contiguous, sizes);

  at::Tensor grad_value = at::zeros_like(value_contiguous);
  at::Tensor grad_locations = at::empty_like(locations_contiguous);
  at::Tensor grad_weights = at::empty_like(weights_contiguous);
  if (sizes.num_levels == 0) {
    return std::make_tuple(grad_value, grad_locations, grad_weights);
  }
  // Disjoint levels: one task per (batch, head, level); otherwise one per (batch, head).
  const int64_t levels_per_task = levels_disjoint ? 1 : sizes.num_levels;
  const int64_t tasks = sizes.batch * sizes.num_heads * (sizes.num_levels / levels_per_task);
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_backward_cpu", [&] {
    const KernelInputs<scalar_t> inputs = kernel_inputs<scalar_t>(
        value_contiguous, shapes_contiguous, starts_contiguous, locations_contiguous, weights_contiguous, sizes);
    const BackwardBuffers<scalar_t> buffers{
        grad_output_contiguous.data_ptr<scalar_t>(),
        grad_value.data_ptr<scalar_t>(),
        grad_locations.data_ptr<scalar_t>(),
        grad_weights.data_ptr<scalar_t>(),
    };
    if (sizes.head_channels == kSpecialisedChannels) {
      at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
        backward_tasks<scalar_t, kSpecialisedChannels>(inputs, buffers, levels_per_task, begin, end);
      });
    } else {
      at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
        backward_tasks<scalar_t, 0>(inputs, buffers, levels_per_task, begin, end);
      });
    }
  });
  return std::make_tuple(grad_value, grad_locations, grad_weights);
}

}  // namespace ops
}  // namespace instanceformer
