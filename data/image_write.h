// Writing figures: 8-bit PNG files (grey, RGB or RGBA) through stb_image_write, written
// to a temporary file and renamed so a reader never sees half a picture, plus helpers
// that turn float maps into colour images (a perceptual colour map) and tile images
// side by side into one canvas with a gap.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears::data {

// An 8-bit interleaved image: height x width x channels (1, 3 or 4).
struct Image8 {
  int64_t height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // row-major, interleaved
  Image8() = default;
  Image8(int64_t h, int64_t w, int64_t c, uint8_t fill = 0) : height(h), width(w), channels(c), pixels(h * w * c, fill) {}
  uint8_t* at(int64_t y, int64_t x) { return pixels.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t y, int64_t x) const { return pixels.data() + (y * width + x) * channels; }
};

// Writes `image` as PNG; throws std::runtime_error naming `path` on failure.
void write_png(const std::string& path, const Image8& image);

// Maps values (row-major h x w) to RGB with a viridis-like colour map; values are scaled
// linearly from [lo, hi] (lo == hi: min/max of the data) and clamped.
Image8 colorize(const std::vector<float>& values, int64_t height, int64_t width, float lo = 0.f, float hi = 0.f);

// Float image in [0, 1] (h x w x c, c = 1 or 3, row-major interleaved) to 8 bits, clamped.
Image8 to_image8(const std::vector<float>& values, int64_t height, int64_t width, int64_t channels);

// Nearest-neighbour enlargement by an integer factor (pixel art stays crisp).
Image8 upscale(const Image8& image, int64_t factor);

// Converts to 3 channels (grey is replicated, alpha dropped).
Image8 to_rgb(const Image8& image);

// Tiles images (converted to RGB) on a grid of `columns` columns, row by row, with `gap`
// background pixels between cells; cells are as large as the largest image.
Image8 tile(const std::vector<Image8>& images, int64_t columns, int64_t gap = 2, uint8_t background = 255);

}  // namespace shears::data
