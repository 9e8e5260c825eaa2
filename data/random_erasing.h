// RandomErasing as in timm (specs/METHODS.md §7.3): with probability p, erase `count`
// rectangles of random area and log-uniform aspect, filled with noise ('pixel'), a random
// colour ('rand') or zeros ('const'). Clips (C, T, H, W) get one box for all frames.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace shears::data {

// A box on the last two dims: rows [top, top + height), columns [left, left + width).
struct EraseBox {
  bool valid = false;  // false when all 10 attempts failed (nothing erased)
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// One box as timm draws it: up to 10 attempts of target_area = U(area_min, area_max)·H·W/count,
// aspect = exp(U(log_ratio_min, log_ratio_max)), h = round(sqrt(area·aspect)),
// w = round(sqrt(area/aspect)), accepted when w < W and h < H; then top ~ U{0..H−h},
// left ~ U{0..W−w}. Rounding is half-to-even like Python's round().
EraseBox erase_box(int64_t height, int64_t width, double area_min, double area_max, double log_ratio_min,
                   double log_ratio_max, int64_t count, Generator& gen);

// The per-sample transform; apply after normalization. input: (C, H, W) or (C, T, H, W)
// f32/f64; returns a fresh tensor when erasing (the input is never written), else the
// input itself. mode: "pixel" (i.i.d. N(0,1) per pixel, channel and frame), "rand" (one
// N(0,1) value per channel, shared by the box's pixels and frames) or "const" (0).
Transform random_erasing(double p = 0.25, std::string mode = "pixel", double area_min = 0.02,
                         double area_max = 1.0 / 3, double log_ratio_min = std::log(0.3),
                         double log_ratio_max = std::log(1 / 0.3), int64_t count = 1);

}  // namespace shears::data
