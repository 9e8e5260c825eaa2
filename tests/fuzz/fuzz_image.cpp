// Fuzz target: image decoding (data::load_image_rgb: stb_image's JPEG/PNG/BMP under the size
// caps and the file-length check of data/datasets.h). Decoded images are (3, H, W) f32 in
// [0, 1] with H, W within the caps.
#include <cstddef>
#include <cstdint>

#include "data/datasets.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  const std::string path = fuzz::write_temp_file(data, size, ".img");
  fuzz::expect_shears_errors_only("fuzz_image", [&] {
    const Tensor img = data::load_image_rgb(path);
    fuzz::require(img.dim() == 3 && img.size(0) == 3, "fuzz_image", "shape (3, H, W)");
    fuzz::require(img.size(1) >= 1 && img.size(1) <= data::kMaxImageSide && img.size(2) >= 1 &&
                      img.size(2) <= data::kMaxImageSide && img.size(1) * img.size(2) <= data::kMaxImagePixels,
                  "fuzz_image", "size within the caps");
    const float* p = img.data<float>();
    for (int64_t i = 0; i < img.numel(); ++i)
      fuzz::require(p[i] >= 0.f && p[i] <= 1.f, "fuzz_image", "pixel outside [0, 1]");
  });
  return 0;
}
