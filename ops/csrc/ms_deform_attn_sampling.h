// Bilinear sampling math of multi-scale deformable attention, shared by the CPU and CUDA kernels.
//
// Conventions (those of grid_sample with align_corners=False and zero padding):
// a normalised location (x, y) in [0, 1] maps to the pixel coordinate (x * width - 0.5,
// y * height - 0.5), so pixel centres sit at (i + 0.5) / size. The four neighbouring pixels are
// weighted bilinearly; neighbours outside the level contribute zero.
#pragma once

#include <c10/macros/Macros.h>

#include <math.h>
#include <cstdint>

namespace instanceformer {
namespace ops {

// floor() for the accumulation types, usable in host and device code.
C10_HOST_DEVICE inline float floor_of(float value) {
  return floorf(value);
}
C10_HOST_DEVICE inline double floor_of(double value) {
  return ::floor(value);
}

// The up-to-four pixels a sampling point reads on one level, and their bilinear weights.
// Corner order: 0 top-left (x_low, y_low), 1 top-right (x_low + 1, y_low),
// 2 bottom-left (x_low, y_low + 1), 3 bottom-right (x_low + 1, y_low + 1).
template <typename acc_t>
struct BilinearFootprint {
  // True when at least one of the four neighbours lies inside the level.
  bool touches_level;
  // True for each corner that lies inside the level.
  bool corner_inside[4];
  // Pixel offsets of the corners inside the level, in pixels from the level's first pixel (row-major).
  int64_t corner_pixel[4];
  // Bilinear weights of the corners (zero for corners outside the level); they sum to at most 1.
  acc_t corner_weight[4];
  // Fractional position of the point inside its pixel cell, in [0, 1).
  acc_t fraction_x;
  acc_t fraction_y;
};

// Pixel coordinate of the normalised location along an axis of `size` pixels (pixel centres at i + 0.5).
template <typename acc_t>
C10_HOST_DEVICE inline acc_t pixel_coordinate(acc_t location, acc_t size) {
  return location * size - static_cast<acc_t>(0.5);
}

// Bilinear weights of the four corners (order of BilinearFootprint) of a point at the fractional
// position (fraction_x, fraction_y) of its pixel cell.
template <typename acc_t>
C10_HOST_DEVICE inline void corner_weights(acc_t fraction_x, acc_t fraction_y, acc_t (&weights)[4]) {
  const acc_t one = static_cast<acc_t>(1);
  weights[0] = (one - fraction_y) * (one - fraction_x);
  weights[1] = (one - fraction_y) * fraction_x;
  weights[2] = fraction_y * (one - fraction_x);
  weights[3] = fraction_y * fraction_x;
}

// Bilinear footprint of the normalised location (location_x, location_y) on a level of
// height x width pixels. Locations farther than one pixel outside the level touch nothing.
template <typename acc_t>
C10_HOST_DEVICE inline BilinearFootprint<acc_t> bilinear_footprint(
    acc_t location_x,
    acc_t location_y,
    int64_t height,
    int64_t width) {
  BilinearFootprint<acc_t> footprint;
  const acc_t pixel_x = pixel_coordinate(location_x, static_cast<acc_t>(width));
  const acc_t pixel_y = pixel_coordinate(location_y, static_cast<acc_t>(height));
  // Written so that NaN locations fail the test and touch nothing.
  footprint.touches_level = pixel_x >= static_cast<acc_t>(-1) && pixel_x < static_cast<acc_t>(width) &&
      pixel_y >= static_cast<acc_t>(-1) && pixel_y < static_cast<acc_t>(height);
  if (!footprint.touches_level) {
    for (int corner = 0; corner < 4; ++corner) {
      footprint.corner_inside[corner] = false;
      footprint.corner_pixel[corner] = 0;
      footprint.corner_weight[corner] = static_cast<acc_t>(0);
    }
    footprint.fraction_x = static_cast<acc_t>(0);
    footprint.fraction_y = static_cast<acc_t>(0);
    return footprint;
  }
  const acc_t floor_x = floor_of(pixel_x);
  const acc_t floor_y = floor_of(pixel_y);
  const int64_t x_low = static_cast<int64_t>(floor_x);
  const int64_t y_low = static_cast<int64_t>(floor_y);
  const acc_t fraction_x = pixel_x - floor_x;
  const acc_t fraction_y = pixel_y - floor_y;
  footprint.fraction_x = fraction_x;
  footprint.fraction_y = fraction_y;

  const bool x_low_inside = x_low >= 0;
  const bool x_high_inside = x_low + 1 < width;
  const bool y_low_inside = y_low >= 0;
  const bool y_high_inside = y_low + 1 < height;
  footprint.corner_inside[0] = y_low_inside && x_low_inside;
  footprint.corner_inside[1] = y_low_inside && x_high_inside;
  footprint.corner_inside[2] = y_high_inside && x_low_inside;
  footprint.corner_inside[3] = y_high_inside && x_high_inside;

  acc_t weights[4];
  corner_weights(fraction_x, fraction_y, weights);
  const int64_t pixels[4] = {
      y_low * width + x_low,
      y_low * width + x_low + 1,
      (y_low + 1) * width + x_low,
      (y_low + 1) * width + x_low + 1,
  };
  for (int corner = 0; corner < 4; ++corner) {
    const bool inside = footprint.corner_inside[corner];
    footprint.corner_pixel[corner] = inside ? pixels[corner] : 0;
    footprint.corner_weight[corner] = inside ? weights[corner] : static_cast<acc_t>(0);
  }
  return footprint;
}

// True when all four corners lie inside the level (the common case, served by the fast paths).
template <typename acc_t>
C10_HOST_DEVICE inline bool all_corners_inside(const BilinearFootprint<acc_t>& footprint) {
  return footprint.corner_inside[0] && footprint.corner_inside[1] && footprint.corner_inside[2] &&
      footprint.corner_inside[3];
}

// Gradients of one sample with respect to its attention weight and its normalised location.
template <typename acc_t>
struct SampleGradients {
  acc_t attention_weight;
  acc_t location_x;
  acc_t location_y;
};

// Turns the four corner dot products <grad_output, value[corner]> (over the channels of one head)
// into the gradients of the attention weight and of the location (x, y) of one sample at the fractional
// position (fraction_x, fraction_y) of its cell, whose corners have the bilinear weights `corner_weight`.
// `corner_dot` and `corner_weight` of corners outside the level must be zero; `height`/`width` are the
// level's size in pixels and scale d(pixel)/d(location).
template <typename acc_t>
C10_HOST_DEVICE inline SampleGradients<acc_t> cell_gradients(
    acc_t fraction_x,
    acc_t fraction_y,
    const acc_t corner_weight[4],
    const acc_t corner_dot[4],
    acc_t attention_weight,
    int64_t height,
    int64_t width) {
  const acc_t one = static_cast<acc_t>(1);
  SampleGradients<acc_t> gradients;
  gradients.attention_weight = corner_weight[0] * corner_dot[0] + corner_weight[1] * corner_dot[1] +
      corner_weight[2] * corner_dot[2] + corner_weight[3] * corner_dot[3];
  const acc_t along_x =
      (one - fraction_y) * (corner_dot[1] - corner_dot[0]) + fraction_y * (corner_dot[3] - corner_dot[2]);
  const acc_t along_y =
      (one - fraction_x) * (corner_dot[2] - corner_dot[0]) + fraction_x * (corner_dot[3] - corner_dot[1]);
  gradients.location_x = attention_weight * along_x * static_cast<acc_t>(width);
  gradients.location_y = attention_weight * along_y * static_cast<acc_t>(height);
  return gradients;
}

// cell_gradients for the sample of `footprint`; `corner_dot` of corners outside the level must be zero.
template <typename acc_t>
C10_HOST_DEVICE inline SampleGradients<acc_t> sample_gradients(
    const BilinearFootprint<acc_t>& footprint,
    const acc_t corner_dot[4],
    acc_t attention_weight,
    int64_t height,
    int64_t width) {
  return cell_gradients(
      footprint.fraction_x,
      footprint.fraction_y,
      footprint.corner_weight,
      corner_dot,
      attention_weight,
      height,
      width);
}

}  // namespace ops
}  // namespace instanceformer
