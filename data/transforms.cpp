// Image/clip transforms: separable resampling (bilinear, bicubic a = -0.75) with PyTorch's
// align_corners=false coordinates, zero-padded crops, flips, normalization, and the
// torchvision random-parameter rules. Each runs single-threaded: the DataLoader already
// runs one sample per oneTBB task.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/kernels.h"

namespace shears::data {
namespace {

// The f32, at-least-2-d input of a low-level op, as a contiguous tensor.
Tensor checked_image(const Tensor& x, const char* op) {
  SHEARS_CHECK(x.defined(), op, "undefined input");
  SHEARS_CHECK(x.dtype() == DType::F32, op, "expects f32 input, got ", dtype_name(x.dtype()));
  SHEARS_CHECK(x.dim() >= 2, op, "expects (..., H, W), got ", shape_str(x.shape()));
  return kernels::contiguous(x);
}

// Transform inputs: (C, H, W) images or (C, T, H, W) clips.
void check_sample(const Tensor& x, const char* op) {
  SHEARS_CHECK(x.defined(), op, "undefined input");
  SHEARS_CHECK(x.dim() == 3 || x.dim() == 4, op, "expects (C, H, W) or (C, T, H, W), got ",
               shape_str(x.shape()));
}

// One output coordinate's taps along one axis: k source indices and weights each.
struct Taps {
  int64_t k = 0;
  std::vector<int64_t> index;
  std::vector<float> weight;
};

// Keys' cubic convolution kernel, a = -0.75 (PyTorch's upsample_bicubic2d).
constexpr double kCubicA = -0.75;
double cubic_near(double x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; }             // |x| <= 1
double cubic_far(double x) { return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA; }  // 1 < |x| < 2

Taps make_taps(int64_t in, int64_t out, Interpolation interp) {
  Taps taps;
  taps.k = interp == Interpolation::Bilinear ? 2 : 4;
  taps.index.resize(out * taps.k);
  taps.weight.resize(out * taps.k);
  const double scale = double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    double src = scale * (double(o) + 0.5) - 0.5;
    int64_t* idx = &taps.index[o * taps.k];
    float* w = &taps.weight[o * taps.k];
    if (interp == Interpolation::Bilinear) {
      src = std::max(src, 0.0);
      int64_t i0 = std::min(int64_t(std::floor(src)), in - 1);
      double l1 = std::min(std::max(src - double(i0), 0.0), 1.0);
      idx[0] = i0;
      idx[1] = std::min(i0 + 1, in - 1);
      w[0] = float(1.0 - l1);
      w[1] = float(l1);
    } else {
      double f = std::floor(src);
      double t = src - f;
      const double ws[4] = {cubic_far(t + 1), cubic_near(t), cubic_near(1 - t), cubic_far(2 - t)};
      for (int j = 0; j < 4; ++j) {
        idx[j] = std::min(std::max(int64_t(f) - 1 + j, int64_t(0)), in - 1);
        w[j] = float(ws[j]);
      }
    }
  }
  return taps;
}

// dst (rows x out_w) <- src (rows x in_w) resampled along the row.
void resample_rows(const float* src, float* dst, int64_t rows, int64_t in_w, int64_t out_w, const Taps& taps) {
  const int64_t k = taps.k;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * in_w;
    float* d = dst + r * out_w;
    for (int64_t o = 0; o < out_w; ++o) {
      const int64_t* idx = &taps.index[o * k];
      const float* w = &taps.weight[o * k];
      float acc = 0.f;
      for (int64_t j = 0; j < k; ++j) acc += w[j] * s[idx[j]];
      d[o] = acc;
    }
  }
}

// dst (out_h x cols) <- src (in_h x cols) resampled down the columns (row combinations).
void resample_cols(const float* src, float* dst, int64_t cols, int64_t out_h, const Taps& taps) {
  const int64_t k = taps.k;
  for (int64_t o = 0; o < out_h; ++o) {
    const int64_t* idx = &taps.index[o * k];
    const float* w = &taps.weight[o * k];
    float* d = dst + o * cols;
    const float* s0 = src + idx[0] * cols;
    for (int64_t c = 0; c < cols; ++c) d[c] = w[0] * s0[c];
    for (int64_t j = 1; j < k; ++j) {
      const float* s = src + idx[j] * cols;
      const float wj = w[j];
      for (int64_t c = 0; c < cols; ++c) d[c] += wj * s[c];
    }
  }
}

Shape with_hw(const Shape& shape, int64_t h, int64_t w) {
  Shape out = shape;
  out[out.size() - 2] = h;
  out[out.size() - 1] = w;
  return out;
}

}  // namespace

const char* interpolation_name(Interpolation interp) {
  return interp == Interpolation::Bilinear ? "bilinear" : "bicubic";
}

Tensor resize_image(const Tensor& x_in, int64_t height, int64_t width, Interpolation interp) {
  const char* op = "resize_image";
  SHEARS_CHECK(height > 0 && width > 0, op, "target size must be positive, got ", height, " x ", width);
  const Tensor x = checked_image(x_in, op);
  const int64_t in_h = x.size(-2), in_w = x.size(-1);
  SHEARS_CHECK(in_h > 0 && in_w > 0, op, "empty input ", shape_str(x.shape()));
  if (in_h == height && in_w == width) return x_in;
  const int64_t planes = x.numel() / (in_h * in_w);
  const Taps th = make_taps(in_h, height, interp), tw = make_taps(in_w, width, interp);
  Tensor out = Tensor::empty(with_hw(x.shape(), height, width));
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  // Whichever order touches fewer intermediate values (depends only on the sizes).
  const bool rows_first = in_h * width <= height * in_w;
  std::vector<float> tmp(rows_first ? in_h * width : height * in_w);
  for (int64_t p = 0; p < planes; ++p) {
    const float* s = src + p * in_h * in_w;
    float* d = dst + p * height * width;
    if (rows_first) {
      resample_rows(s, tmp.data(), in_h, in_w, width, tw);
      resample_cols(tmp.data(), d, width, height, th);
    } else {
      resample_cols(s, tmp.data(), in_w, height, th);
      resample_rows(tmp.data(), d, height, in_w, width, tw);
    }
  }
  return out;
}

Tensor crop_image(const Tensor& x_in, int64_t top, int64_t left, int64_t height, int64_t width) {
  const char* op = "crop_image";
  SHEARS_CHECK(height > 0 && width > 0, op, "crop size must be positive, got ", height, " x ", width);
  const Tensor x = checked_image(x_in, op);
  const int64_t in_h = x.size(-2), in_w = x.size(-1);
  const int64_t planes = x.numel() / std::max<int64_t>(in_h * in_w, 1);
  Tensor out = Tensor::empty(with_hw(x.shape(), height, width));
  float* dst = out.data<float>();
  const float* src = x.data<float>();
  // The window's intersection with the image, in output coordinates.
  const int64_t y0 = std::max<int64_t>(0, -top), y1 = std::min(height, in_h - top);
  const int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(width, in_w - left);
  const bool inside = y0 == 0 && x0 == 0 && y1 == height && x1 == width;
  if (!inside) std::fill(dst, dst + out.numel(), 0.f);
  if (y1 <= y0 || x1 <= x0) return out;
  for (int64_t p = 0; p < planes; ++p) {
    const float* s = src + p * in_h * in_w;
    float* d = dst + p * height * width;
    for (int64_t y = y0; y < y1; ++y)
      std::memcpy(d + y * width + x0, s + (y + top) * in_w + (x0 + left), sizeof(float) * (x1 - x0));
  }
  return out;
}

Tensor flip_horizontal(const Tensor& x_in) {
  const Tensor x = checked_image(x_in, "flip_horizontal");
  const int64_t w = x.size(-1), rows = x.numel() / std::max<int64_t>(w, 1);
  Tensor out = Tensor::empty(x.shape());
  const float* s = x.data<float>();
  float* d = out.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    std::reverse_copy(s + r * w, s + (r + 1) * w, d + r * w);
  return out;
}

CropBox random_resized_crop_box(int64_t height, int64_t width, std::pair<double, double> scale,
                                std::pair<double, double> ratio, Generator& gen) {
  const char* op = "random_resized_crop";
  SHEARS_CHECK(scale.first > 0 && scale.first <= scale.second, op, "bad scale range (", scale.first, ", ",
               scale.second, ")");
  SHEARS_CHECK(ratio.first > 0 && ratio.first <= ratio.second, op, "bad ratio range (", ratio.first, ", ",
               ratio.second, ")");
  const double area = double(height) * double(width);
  const double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (scale.first + (scale.second - scale.first) * gen.uniform());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.uniform());
    // Python's round(): half to even, as std::nearbyint in the default rounding mode.
    const int64_t w = int64_t(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t h = int64_t(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = gen.randint(0, height - h + 1);
      const int64_t left = gen.randint(0, width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the largest center crop whose aspect lies in the ratio range.
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio.first) {
    h = int64_t(std::nearbyint(double(w) / ratio.first));
  } else if (in_ratio > ratio.second) {
    w = int64_t(std::nearbyint(double(h) * ratio.second));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Transform random_resized_crop(int64_t size, std::pair<double, double> scale, std::pair<double, double> ratio,
                              Interpolation interp) {
  SHEARS_CHECK(size > 0, "random_resized_crop", "size must be positive, got ", size);
  return [=](const Tensor& x, Generator& gen) {
    check_sample(x, "random_resized_crop");
    const CropBox b = random_resized_crop_box(x.size(-2), x.size(-1), scale, ratio, gen);
    const Tensor window = kernels::narrow(kernels::narrow(x, -2, b.top, b.height), -1, b.left, b.width);
    Tensor out = resize_image(window, size, size, interp);
    return out.is_same(window) ? kernels::contiguous(window) : out;
  };
}

Transform random_crop(int64_t size, int64_t padding) {
  SHEARS_CHECK(size > 0 && padding >= 0, "random_crop", "bad size ", size, " or padding ", padding);
  return [=](const Tensor& x, Generator& gen) {
    check_sample(x, "random_crop");
    const int64_t h = x.size(-2) + 2 * padding, w = x.size(-1) + 2 * padding;
    SHEARS_CHECK(h >= size && w >= size, "random_crop", "crop ", size, " x ", size,
                 " larger than the padded image ", h, " x ", w, " (input ", shape_str(x.shape()), ")");
    const int64_t top = gen.randint(0, h - size + 1), left = gen.randint(0, w - size + 1);
    return crop_image(x, top - padding, left - padding, size, size);
  };
}

Transform horizontal_flip(double p) {
  SHEARS_CHECK(p >= 0 && p <= 1, "horizontal_flip", "probability must be in [0, 1], got ", p);
  return [=](const Tensor& x, Generator& gen) {
    check_sample(x, "horizontal_flip");
    return gen.uniform() < p ? flip_horizontal(x) : x;
  };
}

Transform resize(int64_t height, int64_t width, Interpolation interp) {
  SHEARS_CHECK(height > 0 && width > 0, "resize", "size must be positive, got ", height, " x ", width);
  return [=](const Tensor& x, Generator&) {
    check_sample(x, "resize");
    return resize_image(x, height, width, interp);
  };
}

Transform resize_shorter(int64_t size, Interpolation interp) {
  SHEARS_CHECK(size > 0, "resize_shorter", "size must be positive, got ", size);
  return [=](const Tensor& x, Generator&) {
    check_sample(x, "resize_shorter");
    const int64_t h = x.size(-2), w = x.size(-1);
    int64_t oh = size, ow = size;
    if (w <= h) {
      oh = int64_t(double(size) * double(h) / double(w));  // int() truncation as torchvision
    } else {
      ow = int64_t(double(size) * double(w) / double(h));
    }
    return resize_image(x, oh, ow, interp);
  };
}

Transform center_crop(int64_t size) {
  SHEARS_CHECK(size > 0, "center_crop", "size must be positive, got ", size);
  return [=](const Tensor& x, Generator&) {
    check_sample(x, "center_crop");
    auto offset = [&](int64_t in) {
      // torchvision pads (size - in) // 2 before a smaller image, else rounds half to even.
      return in < size ? -((size - in) / 2) : int64_t(std::nearbyint(double(in - size) / 2.0));
    };
    return crop_image(x, offset(x.size(-2)), offset(x.size(-1)), size, size);
  };
}

Transform normalize(std::vector<double> mean, std::vector<double> std) {
  const char* op = "normalize";
  SHEARS_CHECK(!mean.empty() && mean.size() == std.size(), op, "mean and std need the same nonzero length, got ",
               mean.size(), " and ", std.size());
  for (double s : std) SHEARS_CHECK(s != 0.0, op, "std must be nonzero");
  return [mean = std::move(mean), std = std::move(std)](const Tensor& x_in, Generator&) {
    check_sample(x_in, "normalize");
    const Tensor x = checked_image(x_in, "normalize");
    const int64_t channels = x.size(0);
    const int64_t n = static_cast<int64_t>(mean.size());
    SHEARS_CHECK(n == 1 || n == channels, "normalize", "got ", n, " mean/std values for ", channels,
                 " channels (input ", shape_str(x.shape()), ")");
    const int64_t plane = x.numel() / std::max<int64_t>(channels, 1);
    Tensor out = Tensor::empty(x.shape());
    const float* s = x.data<float>();
    float* d = out.data<float>();
    for (int64_t c = 0; c < channels; ++c) {
      const float m = float(mean[n == 1 ? 0 : c]), sd = float(std[n == 1 ? 0 : c]);
      for (int64_t i = c * plane; i < (c + 1) * plane; ++i) d[i] = (s[i] - m) / sd;
    }
    return out;
  };
}

}  // namespace shears::data
