// Fuzz target: the IDX reader of data/fashion_mnist.h (raw or gzipped, through zlib). The first
// byte picks images or labels, the rest is the file. Accepted files give tensors whose element
// count the file's own bytes account for (memory follows the data present, not the header).
#include <cstddef>
#include <cstdint>

#include "data/fashion_mnist.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  if (size < 1) return 0;
  const bool images = data[0] & 1;
  const std::string path = fuzz::write_temp_file(data + 1, size - 1, images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte");
  fuzz::expect_shears_errors_only("fuzz_idx", [&] {
    const Tensor t = images ? data::read_idx_images(path) : data::read_idx_labels(path);
    fuzz::require(t.dim() == (images ? 4 : 1), "fuzz_idx", "rank of the result");
    // A raw file holds every element; gzip expands at most 1032:1.
    const int64_t n = t.numel();
    fuzz::require(uint64_t(n) <= uint64_t(size) * 1032, "fuzz_idx", "more elements than the bytes can hold");
  });
  return 0;
}
