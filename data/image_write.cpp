// PNG output and small image helpers for figures (see image_write.h).
#include "data/image_write.h"

#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace shears::data {

void write_png(const std::string& path, const Image8& image) {
  if (image.channels < 1 || image.channels > 4 || image.height <= 0 || image.width <= 0 ||
      static_cast<int64_t>(image.pixels.size()) != image.height * image.width * image.channels)
    throw std::runtime_error("write_png: " + path + ": image has an invalid shape");
  const std::string tmp = path + ".tmp";
  if (stbi_write_png(tmp.c_str(), static_cast<int>(image.width), static_cast<int>(image.height),
                     static_cast<int>(image.channels), image.pixels.data(),
                     static_cast<int>(image.width * image.channels)) == 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("write_png: cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("write_png: cannot rename " + tmp + " to " + path);
  }
}

namespace {
// Viridis control points (every 1/8), interpolated linearly.
constexpr std::array<std::array<float, 3>, 9> kViridis = {{{68, 1, 84},
                                                           {71, 44, 122},
                                                           {59, 81, 139},
                                                           {44, 113, 142},
                                                           {33, 144, 141},
                                                           {39, 173, 129},
                                                           {92, 200, 99},
                                                           {170, 220, 50},
                                                           {253, 231, 37}}};
uint8_t to_u8(float v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 255.f))); }
}  // namespace

Image8 colorize(const std::vector<float>& values, int64_t height, int64_t width, float lo, float hi) {
  if (static_cast<int64_t>(values.size()) != height * width)
    throw std::invalid_argument("colorize: expected " + std::to_string(height * width) + " values");
  if (lo == hi && !values.empty()) {
    auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = *mn;
    hi = *mx;
  }
  Image8 out(height, width, 3);
  const float span = hi > lo ? hi - lo : 1.f;
  for (int64_t i = 0; i < height * width; ++i) {
    const float t = std::clamp((values[i] - lo) / span, 0.f, 1.f) * 8.f;
    const int64_t k = std::min<int64_t>(static_cast<int64_t>(t), 7);
    const float f = t - static_cast<float>(k);
    for (int c = 0; c < 3; ++c) out.pixels[i * 3 + c] = to_u8(kViridis[k][c] * (1 - f) + kViridis[k + 1][c] * f);
  }
  return out;
}

Image8 to_image8(const std::vector<float>& values, int64_t height, int64_t width, int64_t channels) {
  if (static_cast<int64_t>(values.size()) != height * width * channels)
    throw std::invalid_argument("to_image8: expected " + std::to_string(height * width * channels) + " values");
  Image8 out(height, width, channels);
  for (size_t i = 0; i < values.size(); ++i) out.pixels[i] = to_u8(values[i] * 255.f);
  return out;
}

Image8 upscale(const Image8& image, int64_t factor) {
  if (factor < 1) throw std::invalid_argument("upscale: factor must be >= 1");
  Image8 out(image.height * factor, image.width * factor, image.channels);
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x)
      std::copy_n(image.at(y / factor, x / factor), image.channels, out.at(y, x));
  return out;
}

Image8 to_rgb(const Image8& image) {
  if (image.channels == 3) return image;
  Image8 out(image.height, image.width, 3);
  for (int64_t i = 0; i < image.height * image.width; ++i)
    for (int c = 0; c < 3; ++c)
      out.pixels[i * 3 + c] = image.pixels[i * image.channels + (image.channels >= 3 ? c : 0)];
  return out;
}

Image8 tile(const std::vector<Image8>& images, int64_t columns, int64_t gap, uint8_t background) {
  if (images.empty() || columns < 1) throw std::invalid_argument("tile: need images and columns >= 1");
  int64_t cell_h = 0, cell_w = 0;
  for (const auto& im : images) {
    cell_h = std::max(cell_h, im.height);
    cell_w = std::max(cell_w, im.width);
  }
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t rows = (n + columns - 1) / columns, cols = std::min(columns, n);
  Image8 out(rows * cell_h + (rows - 1) * gap, cols * cell_w + (cols - 1) * gap, 3, background);
  for (int64_t i = 0; i < n; ++i) {
    const Image8 rgb = to_rgb(images[i]);
    const int64_t y0 = (i / columns) * (cell_h + gap), x0 = (i % columns) * (cell_w + gap);
    for (int64_t y = 0; y < rgb.height; ++y) std::copy_n(rgb.at(y, 0), rgb.width * 3, out.at(y0 + y, x0));
  }
  return out;
}

}  // namespace shears::data
