// Per-sample image and clip transforms with torchvision semantics: resize (bilinear and
// bicubic, PyTorch align_corners=false, no antialias), random resized crop, random crop
// with zero padding, center crop, horizontal flip, normalize. Every transform takes
// (C, H, W) images or (C, T, H, W) clips; a clip gets the same crop/flip on every frame.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "data/dataset.h"

namespace shears::data {

enum class Interpolation { Bilinear, Bicubic };
const char* interpolation_name(Interpolation interp);

// Resamples the last two dims of x (f32, (..., H, W), any strides) to (height, width),
// separably, like torch.nn.functional.interpolate(mode, align_corners=False,
// antialias=False): source coordinate (dst + 0.5) * in / out - 0.5; bilinear clamps it
// at 0 and the upper tap at the border; bicubic uses Keys' kernel with a = -0.75 and
// clamps the four taps to the image. Bicubic may overshoot [0, 1] (as in PyTorch; no
// clamping). Returns a fresh contiguous tensor (x itself, unchanged, when the size
// already matches).
Tensor resize_image(const Tensor& x, int64_t height, int64_t width,
                    Interpolation interp = Interpolation::Bilinear);

// A copy of the window [top, top + height) x [left, left + width) of the last two dims;
// parts of the window outside the image are 0 (so negative offsets pad).
Tensor crop_image(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width);

// The mirror image along the last (width) dim.
Tensor flip_horizontal(const Tensor& x);

// torchvision RandomResizedCrop.get_params on an (height x width) image: up to 10 tries of
// area ~ U(scale) * H * W and log-uniform aspect w/h in ratio, w = round(sqrt(area * r)),
// h = round(sqrt(area / r)), accepted when 0 < w <= W and 0 < h <= H, at a uniform
// position; else a center crop clamped to the ratio range.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};
CropBox random_resized_crop_box(int64_t height, int64_t width, std::pair<double, double> scale,
                                std::pair<double, double> ratio, Generator& gen);

// ---- transforms (std::function values to compose) ----

// Crops a random box (see random_resized_crop_box) and resizes it to size x size.
Transform random_resized_crop(int64_t size, std::pair<double, double> scale = {0.08, 1.0},
                              std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0},
                              Interpolation interp = Interpolation::Bilinear);
// Zero-pads `padding` pixels on every side, then crops size x size at a uniform position.
Transform random_crop(int64_t size, int64_t padding = 0);
// Mirrors left-right with probability p (one uniform is drawn either way).
Transform horizontal_flip(double p = 0.5);
// Resizes to exactly (height, width).
Transform resize(int64_t height, int64_t width, Interpolation interp = Interpolation::Bilinear);
// Resizes the shorter side to `size`, the longer to int(size * long / short) (torchvision Resize(int)).
Transform resize_shorter(int64_t size, Interpolation interp = Interpolation::Bilinear);
// Crops size x size from the center (offset round((H - size) / 2), half to even, as
// torchvision); an image smaller than size is zero-padded around it first.
Transform center_crop(int64_t size);
// (x - mean[c]) / std[c] per channel (dim 0); mean/std have C entries or one entry for all.
Transform normalize(std::vector<double> mean, std::vector<double> std);

// ImageNet statistics, the usual normalize() arguments for pretrained models.
inline const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
inline const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};

}  // namespace shears::data
