// CPU kernels of multi-scale deformable attention.
//
// Forward: the (batch, query, head) rows are split among threads; a row accumulates, for every level
// and point, the bilinear combination of the four neighbouring pixels' D contiguous channels.
// Backward: the work is split into tasks of (batch, head, level); the task owning a slice writes the
// gradient of value for it and the gradients of the locations and weights of the samples it serves,
// so there are no atomics and no per-thread copies, and the results do not depend on the thread
// count. When the levels of value overlap (unusual inputs) the tasks are (batch, head) instead. A task
// with many samples per pixel gathers from and scatters to dense copies of its head's rows.
// Per sample, the common case (the whole 2x2 cell inside the level) is computed directly; other samples
// go through the footprint of ms_deform_attn_sampling.h, with a row of zeros (and a scratch row for the
// gradient) standing in for the corners outside, so the channel loops never branch per corner.
// The channel loops work on fixed-width vectors (GCC/Clang vector extensions, a portable fallback
// otherwise); the backward's corner dot products add their lanes in a fixed order. With GCC on x86-64
// Linux the kernels are also compiled for x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) and the loader
// picks the best one the CPU supports, so the binary still runs on any x86-64 CPU.

#include "ms_deform_attn_cpu.h"

#include "ms_deform_attn_checks.h"
#include "ms_deform_attn_sampling.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
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
  scalar_t* grad_value;         // [N, S, M, D]; each task writes all rows of its head and levels
  scalar_t* grad_locations;     // [N, Q, M, L, P, 2]
  scalar_t* grad_weights;       // [N, Q, M, L, P]
};

// Channels the backward's loops handle together. It keeps kLanes partial sums per corner dot product and
// adds them in a fixed order (see corner_dots), so its results do not depend on the instruction set the
// loader picks.
constexpr int64_t kLanes = 8;
// Channels the forward's loops handle together (one AVX-512 register of float32); the forward has no
// sums across channels, so its width does not change results.
constexpr int64_t kWideLanes = 16;

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define IFM_CPU_VECTOR_EXTENSIONS 1
#endif
#endif

#if defined(IFM_CPU_VECTOR_EXTENSIONS)
#if defined(__GNUC__) && !defined(__clang__)
// The vector helpers are always inlined, so no vector crosses a call boundary whose ABI could differ
// between the target clones.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
// kCount scalars as one GCC/Clang vector: + and * are element-wise and compile to the SIMD instructions
// of each target clone (split into several registers where the clone's registers are narrower).
template <typename scalar_t, int64_t kCount>
struct LaneVector {
  typedef scalar_t type __attribute__((vector_size(kCount * sizeof(scalar_t))));
};
template <typename scalar_t, int64_t kCount = kLanes>
using Lanes = typename LaneVector<scalar_t, kCount>::type;

template <int64_t kCount = kLanes, typename scalar_t>
C10_ALWAYS_INLINE Lanes<scalar_t, kCount> broadcast(scalar_t value) {
  return Lanes<scalar_t, kCount>{} + value;
}
#else
// Portable stand-in for compilers without vector extensions: the same arithmetic, lane by lane.
template <typename scalar_t, int64_t kCount>
struct LaneArray {
  scalar_t lane[kCount];
  C10_ALWAYS_INLINE scalar_t operator[](int64_t index) const {
    return lane[index];
  }
};
template <typename scalar_t, int64_t kCount = kLanes>
using Lanes = LaneArray<scalar_t, kCount>;

template <typename scalar_t, int64_t kCount>
C10_ALWAYS_INLINE LaneArray<scalar_t, kCount> operator+(
    const LaneArray<scalar_t, kCount>& left,
    const LaneArray<scalar_t, kCount>& right) {
  LaneArray<scalar_t, kCount> sum;
  for (int64_t index = 0; index < kCount; ++index) {
    sum.lane[index] = left.lane[index] + right.lane[index];
  }
  return sum;
}

template <typename scalar_t, int64_t kCount>
C10_ALWAYS_INLINE LaneArray<scalar_t, kCount> operator*(
    const LaneArray<scalar_t, kCount>& left,
    const LaneArray<scalar_t, kCount>& right) {
  LaneArray<scalar_t, kCount> product;
  for (int64_t index = 0; index < kCount; ++index) {
    product.lane[index] = left.lane[index] * right.lane[index];
  }
  return product;
}

template <int64_t kCount = kLanes, typename scalar_t>
C10_ALWAYS_INLINE LaneArray<scalar_t, kCount> broadcast(scalar_t value) {
  LaneArray<scalar_t, kCount> lanes;
  for (int64_t index = 0; index < kCount; ++index) {
    lanes.lane[index] = value;
  }
  return lanes;
}
#endif

template <int64_t kCount = kLanes, typename scalar_t>
C10_ALWAYS_INLINE Lanes<scalar_t, kCount> load_lanes(const scalar_t* source) {
  Lanes<scalar_t, kCount> lanes;
  std::memcpy(&lanes, source, sizeof(lanes));
  return lanes;
}

template <typename scalar_t, typename lanes_t>
C10_ALWAYS_INLINE void store_lanes(scalar_t* destination, const lanes_t& lanes) {
  std::memcpy(destination, &lanes, sizeof(lanes));
}

// The four dot products whose lane-wise partial sums are partial[k]: each adds its lanes as
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). With vector extensions the four reductions share
// their shuffles.
template <typename scalar_t>
C10_ALWAYS_INLINE void corner_dots(const Lanes<scalar_t> (&partial)[4], scalar_t (&dots)[4]) {
  static_assert(kLanes == 8, "corner_dots adds eight lanes");
#if defined(IFM_CPU_VECTOR_EXTENSIONS)
  // [halves of 0 added | halves of 1 added] and [halves of 2 added | halves of 3 added]
  const Lanes<scalar_t> folded_01 = __builtin_shufflevector(partial[0], partial[1], 0, 1, 2, 3, 8, 9, 10, 11) +
      __builtin_shufflevector(partial[0], partial[1], 4, 5, 6, 7, 12, 13, 14, 15);
  const Lanes<scalar_t> folded_23 = __builtin_shufflevector(partial[2], partial[3], 0, 1, 2, 3, 8, 9, 10, 11) +
      __builtin_shufflevector(partial[2], partial[3], 4, 5, 6, 7, 12, 13, 14, 15);
  // two sums each, in the order of corners 0, 2, 1, 3
  const Lanes<scalar_t> pairs = __builtin_shufflevector(folded_01, folded_23, 0, 1, 8, 9, 4, 5, 12, 13) +
      __builtin_shufflevector(folded_01, folded_23, 2, 3, 10, 11, 6, 7, 14, 15);
  dots[0] = pairs[0] + pairs[1];
  dots[2] = pairs[2] + pairs[3];
  dots[1] = pairs[4] + pairs[5];
  dots[3] = pairs[6] + pairs[7];
#else
  for (int corner = 0; corner < 4; ++corner) {
    const Lanes<scalar_t>& lanes = partial[corner];
    dots[corner] =
        ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
  }
#endif
}

// A level as the sampling loops see it: its size, the strides between the rows of neighbouring pixels
// (in elements), and the bounds of the pixel coordinates whose 2x2 cell lies inside it.
template <typename scalar_t>
struct LevelGeometry {
  LevelGeometry(int64_t height, int64_t width, int64_t pixel_stride)
      : height(height),
        width(width),
        pixel_stride(pixel_stride),
        row_stride(width * pixel_stride),
        size_x(static_cast<scalar_t>(width)),
        size_y(static_cast<scalar_t>(height)),
        last_x(static_cast<scalar_t>(width - 1)),
        last_y(static_cast<scalar_t>(height - 1)) {}

  int64_t height;
  int64_t width;
  int64_t pixel_stride;
  int64_t row_stride;
  scalar_t size_x;
  scalar_t size_y;
  scalar_t last_x;
  scalar_t last_y;
};

// Where a sample reads on a level: the corner rows (relative to the level's first pixel of the head), the
// bilinear weights and the position in the cell. `all_inside` marks the common case (the whole 2x2 cell
// lies inside the level), computed without the footprint's per-corner bookkeeping; otherwise the
// footprint of ms_deform_attn_sampling.h says which corners are inside.
template <typename scalar_t>
struct SampleCell {
  bool all_inside;
  BilinearFootprint<scalar_t> footprint;  // set when !all_inside
  int64_t top_left;                       // set when all_inside: offset of corner 0's row
  scalar_t corner_weight[4];
  scalar_t fraction_x;
  scalar_t fraction_y;
};

template <typename scalar_t>
C10_ALWAYS_INLINE SampleCell<scalar_t> sample_cell(
    scalar_t location_x,
    scalar_t location_y,
    const LevelGeometry<scalar_t>& level) {
  SampleCell<scalar_t> cell;
  const scalar_t pixel_x = pixel_coordinate(location_x, level.size_x);
  const scalar_t pixel_y = pixel_coordinate(location_y, level.size_y);
  // 0 <= pixel < size - 1 on both axes (false for NaN): all four corners lie inside the level.
  cell.all_inside = pixel_x >= scalar_t(0) && pixel_x < level.last_x && pixel_y >= scalar_t(0) &&
      pixel_y < level.last_y;
  if (cell.all_inside) {
    const scalar_t floor_x = floor_of(pixel_x);
    const scalar_t floor_y = floor_of(pixel_y);
    cell.fraction_x = pixel_x - floor_x;
    cell.fraction_y = pixel_y - floor_y;
    corner_weights(cell.fraction_x, cell.fraction_y, cell.corner_weight);
    cell.top_left =
        (static_cast<int64_t>(floor_y) * level.width + static_cast<int64_t>(floor_x)) * level.pixel_stride;
  } else {
    cell.footprint = bilinear_footprint<scalar_t>(location_x, location_y, level.height, level.width);
    for (int corner = 0; corner < 4; ++corner) {
      cell.corner_weight[corner] = cell.footprint.corner_weight[corner];
    }
    cell.fraction_x = cell.footprint.fraction_x;
    cell.fraction_y = cell.footprint.fraction_y;
  }
  return cell;
}

// The rows of one head's channels that the four corners of a sample read (value) or update (its
// gradient), from the head's first pixel of the level. A corner outside the level gets `stand_in`: a row
// of zeros to read, or a scratch row to write with weight zero, so the channel loops have no per-corner
// branches.
template <typename pointer_t, typename scalar_t>
C10_ALWAYS_INLINE void corner_rows(
    const SampleCell<scalar_t>& cell,
    const LevelGeometry<scalar_t>& level,
    pointer_t level_rows,
    pointer_t stand_in,
    pointer_t (&rows)[4]) {
  if (cell.all_inside) {
    rows[0] = level_rows + cell.top_left;
    rows[1] = rows[0] + level.pixel_stride;
    rows[2] = rows[0] + level.row_stride;
    rows[3] = rows[2] + level.pixel_stride;
  } else {
    for (int corner = 0; corner < 4; ++corner) {
      rows[corner] = cell.footprint.corner_inside[corner]
          ? level_rows + cell.footprint.corner_pixel[corner] * level.pixel_stride
          : stand_in;
    }
  }
}

// Rows of zeros and a scratch row of one head's channels, standing in for corners outside a level.
template <typename scalar_t>
class OutsideRows {
 public:
  explicit OutsideRows(int64_t channels) : rows_(2 * channels, scalar_t(0)), channels_(channels) {}
  const scalar_t* zeros() const {
    return rows_.data();
  }
  scalar_t* scratch() {
    return rows_.data() + channels_;
  }

 private:
  std::vector<scalar_t> rows_;
  int64_t channels_;
};

// accumulator[c] += sum over the four corners of weight[k] * corner_k[c], for the channels of one head.
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE void accumulate_corners(
    scalar_t* accumulator,
    const scalar_t* const (&corners)[4],
    const scalar_t (&weights)[4],
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
  // The specialised head size takes the widest vectors; other head sizes kLanes.
  constexpr int64_t kCount = kChannels > 0 && kChannels % kWideLanes == 0 ? kWideLanes : kLanes;
  const Lanes<scalar_t, kCount> weight_0 = broadcast<kCount>(weights[0]);
  const Lanes<scalar_t, kCount> weight_1 = broadcast<kCount>(weights[1]);
  const Lanes<scalar_t, kCount> weight_2 = broadcast<kCount>(weights[2]);
  const Lanes<scalar_t, kCount> weight_3 = broadcast<kCount>(weights[3]);
  int64_t channel = 0;
  for (; channel + kCount <= channels; channel += kCount) {
    const Lanes<scalar_t, kCount> sum = load_lanes<kCount>(accumulator + channel) +
        (weight_0 * load_lanes<kCount>(corners[0] + channel) +
         weight_1 * load_lanes<kCount>(corners[1] + channel) +
         weight_2 * load_lanes<kCount>(corners[2] + channel) +
         weight_3 * load_lanes<kCount>(corners[3] + channel));
    store_lanes(accumulator + channel, sum);
  }
  for (; channel < channels; ++channel) {
    accumulator[channel] += weights[0] * corners[0][channel] + weights[1] * corners[1][channel] +
        weights[2] * corners[2][channel] + weights[3] * corners[3][channel];
  }
}

// For the four corners of one sample: dots[k] = <grad, corner_k> and grad_corner_k[c] += scale[k] * grad[c].
template <typename scalar_t, int kChannels>
C10_ALWAYS_INLINE void backpropagate_corners(
    const scalar_t* grad,
    const scalar_t* const (&corners)[4],
    scalar_t* const (&grad_corners)[4],
    const scalar_t (&scales)[4],
    scalar_t (&dots)[4],
    int64_t head_channels) {
  const int64_t channels = kChannels > 0 ? kChannels : head_channels;
  Lanes<scalar_t> partial[4] = {broadcast(scalar_t(0)), broadcast(scalar_t(0)), broadcast(scalar_t(0)),
                                broadcast(scalar_t(0))};
  const Lanes<scalar_t> scale[4] = {broadcast(scales[0]), broadcast(scales[1]), broadcast(scales[2]),
                                    broadcast(scales[3])};
  int64_t channel = 0;
  for (; channel + kLanes <= channels; channel += kLanes) {
    const Lanes<scalar_t> grad_lanes = load_lanes(grad + channel);
    for (int corner = 0; corner < 4; ++corner) {
      partial[corner] = partial[corner] + grad_lanes * load_lanes(corners[corner] + channel);
    }
    for (int corner = 0; corner < 4; ++corner) {
      scalar_t* grad_corner = grad_corners[corner] + channel;
      store_lanes(grad_corner, load_lanes(grad_corner) + scale[corner] * grad_lanes);
    }
  }
  corner_dots(partial, dots);
  for (; channel < channels; ++channel) {
    const scalar_t grad_channel = grad[channel];
    for (int corner = 0; corner < 4; ++corner) {
      dots[corner] += grad_channel * corners[corner][channel];
      grad_corners[corner][channel] += scales[corner] * grad_channel;
    }
  }
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
  OutsideRows<scalar_t> outside(channels);
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
      const LevelGeometry<scalar_t> geometry(
          inputs.spatial_shapes[2 * level], inputs.spatial_shapes[2 * level + 1], pixel_stride);
      const scalar_t* value_level = value_head + inputs.level_start_index[level] * pixel_stride;
      for (int64_t point = 0; point < sizes.num_points; ++point) {
        const int64_t sample = level * sizes.num_points + point;
        const SampleCell<scalar_t> cell =
            sample_cell<scalar_t>(locations[2 * sample], locations[2 * sample + 1], geometry);
        if (!cell.all_inside && !cell.footprint.touches_level) {
          continue;
        }
        const scalar_t attention = weights[sample];
        const scalar_t* corners[4];
        corner_rows(cell, geometry, value_level, outside.zeros(), corners);
        const scalar_t corner_weights[4] = {
            attention * cell.corner_weight[0],
            attention * cell.corner_weight[1],
            attention * cell.corner_weight[2],
            attention * cell.corner_weight[3],
        };
        accumulate_corners<scalar_t, kChannels>(accumulator, corners, corner_weights, channels);
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
// where a level group is one level (levels_per_task == 1), or all levels when levels share value rows
// (levels_per_task == L). A task owns the value-gradient rows of its head on the value rows of its
// levels (all S rows for a group of all levels) and writes every one of them, so grad_value needs no
// zero fill beforehand where the tasks cover all rows.
//
// In value's [N, S, M, D] layout the rows of one head lie M * D elements apart, so a task's gathers and
// scatters use only a sliver of each cache set. A task that serves at least as many samples as its
// levels have pixels therefore copies its head's value rows into a dense buffer, accumulates the
// gradient in a second one and copies that out at the end; a task with few samples (the decoder's
// 300 queries on the largest level) works on the tensors directly. Either way each gradient element
// receives the same additions in the same order, so results do not depend on the choice.
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
  OutsideRows<scalar_t> outside(channels);
  std::vector<scalar_t> dense_value;
  std::vector<scalar_t> dense_grad;
  for (int64_t task = task_begin; task < task_end; ++task) {
    const int64_t level_begin = (task % level_groups) * levels_per_task;
    const int64_t level_end = level_begin + levels_per_task;
    const int64_t head = (task / level_groups) % sizes.num_heads;
    const int64_t batch = task / (level_groups * sizes.num_heads);
    // The task's value rows [first_pixel, end_pixel) of this head.
    const int64_t first_pixel = levels_per_task == 1 ? inputs.level_start_index[level_begin] : 0;
    const int64_t end_pixel = levels_per_task == 1
        ? first_pixel + inputs.spatial_shapes[2 * level_begin] * inputs.spatial_shapes[2 * level_begin + 1]
        : sizes.num_values;
    const int64_t pixels = end_pixel - first_pixel;
    const int64_t head_offset = (batch * sizes.num_values * sizes.num_heads + head) * channels;
    const scalar_t* value_head = inputs.value + head_offset;
    scalar_t* grad_value_head = buffers.grad_value + head_offset;
    const bool dense = sizes.num_queries * sizes.num_points * levels_per_task >= pixels;
    // Where pixel p of the task's rows lies: value_rows + (p - first_pixel) * rows_stride (same for the gradient).
    const scalar_t* value_rows = value_head + first_pixel * pixel_stride;
    scalar_t* grad_rows = grad_value_head + first_pixel * pixel_stride;
    int64_t rows_stride = pixel_stride;
    if (dense) {
      dense_value.resize(pixels * channels);
      dense_grad.assign(pixels * channels, scalar_t(0));
      for (int64_t pixel = 0; pixel < pixels; ++pixel) {
        std::copy_n(value_rows + pixel * pixel_stride, channels, dense_value.data() + pixel * channels);
      }
      value_rows = dense_value.data();
      grad_rows = dense_grad.data();
      rows_stride = channels;
    } else {
      for (int64_t pixel = 0; pixel < pixels; ++pixel) {
        std::fill_n(grad_rows + pixel * pixel_stride, channels, scalar_t(0));
      }
    }
    for (int64_t level = level_begin; level < level_end; ++level) {
      const LevelGeometry<scalar_t> geometry(
          inputs.spatial_shapes[2 * level], inputs.spatial_shapes[2 * level + 1], rows_stride);
      const int64_t level_offset = (inputs.level_start_index[level] - first_pixel) * rows_stride;
      const scalar_t* value_level = value_rows + level_offset;
      scalar_t* grad_value_level = grad_rows + level_offset;
      for (int64_t query = 0; query < sizes.num_queries; ++query) {
        const int64_t row = (batch * sizes.num_queries + query) * sizes.num_heads + head;
        const int64_t first_sample = (row * sizes.num_levels + level) * sizes.num_points;
        const scalar_t* grad_row = buffers.grad_output + row * channels;
        if (query + kPrefetchQueries < sizes.num_queries) {
          const int64_t ahead_row = row + kPrefetchQueries * sizes.num_heads;
          const int64_t ahead_sample = (ahead_row * sizes.num_levels + level) * sizes.num_points;
          prefetch(inputs.sampling_locations + 2 * ahead_sample, false);
          prefetch(inputs.attention_weights + ahead_sample, false);
          prefetch_row(buffers.grad_output + ahead_row * channels, channels, false);
          prefetch(buffers.grad_locations + 2 * ahead_sample, true);
          prefetch(buffers.grad_weights + ahead_sample, true);
        }
        for (int64_t sample = first_sample; sample < first_sample + sizes.num_points; ++sample) {
          const SampleCell<scalar_t> cell = sample_cell<scalar_t>(
              inputs.sampling_locations[2 * sample], inputs.sampling_locations[2 * sample + 1], geometry);
          if (!cell.all_inside && !cell.footprint.touches_level) {
            buffers.grad_weights[sample] = 0;
            buffers.grad_locations[2 * sample] = 0;
            buffers.grad_locations[2 * sample + 1] = 0;
            continue;
          }
          const scalar_t attention = inputs.attention_weights[sample];
          const scalar_t* corners[4];
          scalar_t* grad_corners[4];
          corner_rows(cell, geometry, value_level, outside.zeros(), corners);
          corner_rows(cell, geometry, grad_value_level, outside.scratch(), grad_corners);
          const scalar_t scales[4] = {
              attention * cell.corner_weight[0],
              attention * cell.corner_weight[1],
              attention * cell.corner_weight[2],
              attention * cell.corner_weight[3],
          };
          scalar_t dots[4];
          backpropagate_corners<scalar_t, kChannels>(grad_row, corners, grad_corners, scales, dots, channels);
          if (!cell.all_inside) {
            // exactly zero, even where grad holds infinities or NaNs
            for (int corner = 0; corner < 4; ++corner) {
              dots[corner] = cell.footprint.corner_inside[corner] ? dots[corner] : scalar_t(0);
            }
          }
          const SampleGradients<scalar_t> gradients = cell_gradients<scalar_t>(
              cell.fraction_x,
              cell.fraction_y,
              cell.corner_weight,
              dots,
              attention,
              geometry.height,
              geometry.width);
          buffers.grad_weights[sample] = gradients.attention_weight;
          buffers.grad_locations[2 * sample] = gradients.location_x;
          buffers.grad_locations[2 * sample + 1] = gradients.location_y;
        }
      }
    }
    if (dense) {
      scalar_t* destination = grad_value_head + first_pixel * pixel_stride;
      for (int64_t pixel = 0; pixel < pixels; ++pixel) {
        std::copy_n(dense_grad.data() + pixel * channels, channels, destination + pixel * pixel_stride);
      }
    }
  }
}

// How the levels lie in value's S rows.
struct LevelLayout {
  bool disjoint;     // no two levels share a row
  bool covers_rows;  // every row belongs to a level
};

// Checks that every level lies inside value and says how the levels lie.
LevelLayout check_level_layout(
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
  LevelLayout layout{true, true};
  int64_t covered_until = 0;
  for (const auto& range : ranges) {
    layout.disjoint = layout.disjoint && range.first >= covered_until;
    layout.covers_rows = layout.covers_rows && range.first <= covered_until;
    covered_until = std::max(covered_until, range.second);
  }
  layout.covers_rows = layout.covers_rows && covered_until == sizes.num_values;
  return layout;
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
  const LevelLayout layout = check_level_layout(shapes_contiguous, starts_contiguous, sizes);

  // Disjoint levels: one task per (batch, head, level); otherwise one per (batch, head), over all S rows.
  const int64_t levels_per_task = layout.disjoint ? 1 : sizes.num_levels;
  // The tasks write every value-gradient row of their heads' levels; rows outside all levels stay zero.
  const bool tasks_cover_rows = sizes.num_levels > 0 && (!layout.disjoint || layout.covers_rows);
  at::Tensor grad_value = tasks_cover_rows ? at::empty_like(value_contiguous) : at::zeros_like(value_contiguous);
  at::Tensor grad_locations = at::empty_like(locations_contiguous);
  at::Tensor grad_weights = at::empty_like(weights_contiguous);
  if (sizes.num_levels == 0) {
    return std::make_tuple(grad_value, grad_locations, grad_weights);
  }
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
