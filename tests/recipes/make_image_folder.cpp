// Writes a tiny ImageFolder (root/<class>/<i>.png) for the paper-scale recipe tests: `classes`
// folders of `per_class` RGB images of size x size; class c has a brighter band at row c (so the
// task is learnable) plus fixed noise. Deterministic.
// Usage: make_image_folder <root> <classes> <per_class> <size>
#include <cstdio>
#include <filesystem>
#include <string>

#include "data/image_write.h"

using namespace shears;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <root> <classes> <per_class> <size>\n", argv[0]);
    return 2;
  }
  try {
    const std::string root = argv[1];
    const int classes = std::stoi(argv[2]), per_class = std::stoi(argv[3]), size = std::stoi(argv[4]);
    if (classes < 1 || classes > 100 || per_class < 1 || per_class > 1000 || size < 8 || size > 1024) {
      std::fprintf(stderr, "error: classes 1..100, per_class 1..1000, size 8..1024\n");
      return 2;
    }
    uint32_t state = 12345;
    for (int c = 0; c < classes; ++c) {
      const std::string dir = root + "/class_" + std::to_string(c);
      std::filesystem::create_directories(dir);
      for (int i = 0; i < per_class; ++i) {
        data::Image8 img;
        img.height = img.width = size;
        img.channels = 3;
        img.pixels.resize(size_t(size) * size * 3);
        const int band = (c * size) / classes, band_h = std::max(1, size / classes);
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x)
            for (int ch = 0; ch < 3; ++ch) {
              state = state * 1664525u + 1013904223u;
              const int noise = int(state >> 26);  // 0..63
              const bool in_band = y >= band && y < band + band_h;
              img.pixels[(size_t(y) * size + x) * 3 + ch] = uint8_t((in_band ? 160 : 40) + noise);
            }
        data::write_png(dir + "/" + std::to_string(i) + ".png", img);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
