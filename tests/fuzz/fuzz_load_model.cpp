// Fuzz target: loading a checkpoint (nn::load_model through pruning::load_model, which also
// restores token pruning): config JSON in the metadata, the check of the config against the
// tensor table, the prune log, the extensions and the strict weight load. A few-KB input must
// never allocate a big model (libFuzzer's -rss_limit_mb / -malloc_limit_mb catch that).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  const std::string path = fuzz::write_temp_file(data, size, ".safetensors");
  fuzz::expect_shears_errors_only("fuzz_load_model", [&] {
    auto model = pruning::load_model(path);
    fuzz::require(model != nullptr, "fuzz_load_model", "load_model returned null");
    // A loaded model's config is valid and describes it (parameter_shapes validates first).
    const nn::ModelConfig cfg = model->config();
    cfg.validate();
    nn::parameter_shapes(cfg);
  });
  fuzz::expect_shears_errors_only("fuzz_load_model", [&] { nn::read_model_config(path); });
  fuzz::expect_shears_errors_only("fuzz_load_model", [&] { nn::read_prune_log(path); });
  return 0;
}
