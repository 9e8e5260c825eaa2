// Fashion-MNIST: a reader for the IDX format (gzipped or raw, through zlib) and the
// loader for the train/test splits of Debian's dataset-fashion-mnist package.
// Images come back as f32 (N, 1, rows, cols) in [0, 1], labels as i64 (N).
#pragma once
#include <array>
#include <string>

#include "tensor/tensor.h"

namespace shears::data {

// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kFashionMnistClasses = 10;
inline constexpr int64_t kFashionMnistSide = 28;  // images are 28 x 28, one channel

// Class names in label order (0 = T-shirt/top ... 9 = Ankle boot).
const std::array<const char*, 10>& fashion_mnist_class_names();

// Reads an IDX3 unsigned-byte image file (magic 0x00000803), gzipped or raw.
// Returns f32 (N, 1, rows, cols), pixel / 255. Throws shears::Error naming the file on
// a missing file, a wrong magic number or a truncated payload. Memory follows the data present,
// not the header's dims: a raw file's size is checked first, gzip is read incrementally, and a
// payload above 16 GiB (or dims whose product overflows) is refused before reading.
Tensor read_idx_images(const std::string& path);

// Reads an IDX1 unsigned-byte label file (magic 0x00000801), gzipped or raw.
// Returns i64 (N).
Tensor read_idx_labels(const std::string& path);

struct FashionMnist {
  Tensor images;  // (N, 1, 28, 28) f32 in [0, 1]
  Tensor labels;  // (N,) i64 in [0, 10)
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// The path of one split's file in `dir`: "<dir>/<train|t10k>-<images-idx3|labels-idx1>-ubyte"
// plus ".gz" when the gzipped file exists (else the raw name, whether it exists or not).
std::string fashion_mnist_file(const std::string& dir, bool train, bool images);

// Loads the train (60000) or test (10000) split from `dir`, preferring the .gz files and
// falling back to raw ones. Checks 28 x 28 images, labels < 10 and matching counts.
FashionMnist load_fashion_mnist(const std::string& dir = kFashionMnistDefaultDir, bool train = true);

}  // namespace shears::data
