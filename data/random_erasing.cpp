// RandomErasing (timm random_erasing.py, VideoMAE cube mode): the box draw as a pure
// function of the generator, and the transform that copies the input once and fills the
// box on every channel (and every frame of a clip).
#include "data/random_erasing.h"

#include "tensor/kernels.h"

namespace shears::data {

EraseBox erase_box(int64_t height, int64_t width, double area_min, double area_max, double log_ratio_min,
                   double log_ratio_max, int64_t count, Generator& gen) {
  const double area = static_cast<double>(height * width);
  EraseBox box;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = (area_min + (area_max - area_min) * gen.uniform()) * area / count;
    const double aspect = std::exp(log_ratio_min + (log_ratio_max - log_ratio_min) * gen.uniform());
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w < width && h < height) {
      box.valid = true;
      box.height = h;
      box.width = w;
      box.top = gen.randint(0, height - h + 1);  // Python random.randint is inclusive
      box.left = gen.randint(0, width - w + 1);
      return box;
    }
  }
  return box;
}

namespace {

enum class Fill { Pixel, Rand, Const };

// x: contiguous (planes_per_channel · C planes of H x W); fills the box of every plane.
template <typename T>
void fill_box(const Tensor& x, const EraseBox& b, int64_t channels, Fill fill, Generator& gen) {
  const int64_t h = x.size(-2), w = x.size(-1);
  const int64_t planes = x.numel() / (h * w), per_channel = planes / channels;
  T* p = x.data<T>();
  // Noise comes from consecutive counters of gen, in (plane, row, column) order.
  const uint64_t n = fill == Fill::Pixel ? static_cast<uint64_t>(planes * b.height * b.width)
                     : fill == Fill::Rand ? static_cast<uint64_t>(channels)
                                          : 0;
  const uint64_t base = gen.advance(n);
  uint64_t k = 0;
  for (int64_t q = 0; q < planes; ++q) {
    const int64_t c = q / per_channel;
    for (int64_t y = b.top; y < b.top + b.height; ++y) {
      T* row = p + (q * h + y) * w;
      for (int64_t xx = b.left; xx < b.left + b.width; ++xx) {
        double v = 0.0;
        if (fill == Fill::Pixel) v = normal_at(gen.seed(), gen.stream(), base + k++);
        else if (fill == Fill::Rand) v = normal_at(gen.seed(), gen.stream(), base + static_cast<uint64_t>(c));
        row[xx] = static_cast<T>(v);
      }
    }
  }
}

}  // namespace

Transform random_erasing(double p, std::string mode, double area_min, double area_max, double log_ratio_min,
                         double log_ratio_max, int64_t count) {
  SHEARS_CHECK(p >= 0.0 && p <= 1.0, "random_erasing", "p must be in [0, 1], got ", p);
  SHEARS_CHECK(area_min > 0.0 && area_min <= area_max && area_max <= 1.0, "random_erasing",
               "need 0 < area_min <= area_max <= 1, got ", area_min, ", ", area_max);
  SHEARS_CHECK(log_ratio_min <= log_ratio_max, "random_erasing", "log_ratio_min ", log_ratio_min,
               " > log_ratio_max ", log_ratio_max);
  SHEARS_CHECK(count >= 1, "random_erasing", "count must be >= 1, got ", count);
  Fill fill;
  if (mode == "pixel") fill = Fill::Pixel;
  else if (mode == "rand") fill = Fill::Rand;
  else if (mode == "const") fill = Fill::Const;
  else fail("random_erasing", "mode must be pixel, rand or const, got '", mode, "'");

  return [=](const Tensor& input, Generator& gen) -> Tensor {
    SHEARS_CHECK(input.dim() == 3 || input.dim() == 4, "random_erasing",
                 "expected (C, H, W) or (C, T, H, W), got ", shape_str(input.shape()));
    SHEARS_CHECK(is_floating(input.dtype()), "random_erasing", "expected f32 or f64, got ",
                 dtype_name(input.dtype()));
    if (gen.uniform() >= p) return input;  // erase with probability p (p = 0: never)
    const int64_t h = input.size(-2), w = input.size(-1), channels = input.size(0);
    Tensor out = kernels::clone(input);
    for (int64_t i = 0; i < count; ++i) {
      const EraseBox box = erase_box(h, w, area_min, area_max, log_ratio_min, log_ratio_max, count, gen);
      if (!box.valid) continue;
      if (out.dtype() == DType::F32) fill_box<float>(out, box, channels, fill, gen);
      else fill_box<double>(out, box, channels, fill, gen);
    }
    return out;
  };
}

}  // namespace shears::data
