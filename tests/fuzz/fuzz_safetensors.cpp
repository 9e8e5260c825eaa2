// Fuzz target: the safetensors reader (nn/io/safetensors.h). The input is a whole file: every
// entry point (full read, header table, metadata only) must refuse it with shears::Error or
// return tensors that agree with the table; nothing else may escape, crash or leak.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "nn/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  const std::string path = fuzz::write_temp_file(data, size, ".safetensors");
  fuzz::expect_shears_errors_only("fuzz_safetensors", [&] { nn::read_safetensors_metadata(path); });
  fuzz::expect_shears_errors_only("fuzz_safetensors", [&] {
    const nn::SafetensorsTable table = nn::read_safetensors_table(path);
    const nn::SafetensorsFile file = nn::read_safetensors(path);
    // The table and the full read agree on names, order and shapes.
    fuzz::require(table.tensors.size() == file.tensors.size(), "fuzz_safetensors", "table/file tensor count");
    for (size_t i = 0; i < file.tensors.size(); ++i) {
      fuzz::require(table.tensors[i].name == file.tensors[i].first, "fuzz_safetensors", "table/file name order");
      fuzz::require(table.tensors[i].shape == file.tensors[i].second.shape(), "fuzz_safetensors",
                    "table/file shape of " + file.tensors[i].first);
      fuzz::require(file.find(file.tensors[i].first) != nullptr, "fuzz_safetensors", "find() misses a tensor");
    }
    fuzz::require(table.metadata == file.metadata, "fuzz_safetensors", "table/file metadata");
  });
  return 0;
}
