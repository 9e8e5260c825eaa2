// Fuzz target: the prune log and the extension list of a checkpoint's metadata
// (nn/prune_log.h, nn/model_extension.h) and re-installing an extension on a tiny model
// (pruning::restore_extension: the token-pruning JSON). The first byte picks which one.
// Parsed logs must round-trip through prune_log_to_json.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nn/config.h"
#include "nn/model_extension.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"
#include "pruning/provenance.h"

namespace {

shears::nn::ModelConfig tiny_config() {
  shears::nn::ModelConfig cfg;
  cfg.image_size = 8;
  cfg.in_chans = 1;
  cfg.patch_size = 4;
  cfg.dim = 8;
  cfg.blocks = shears::nn::uniform_blocks(3, 2, 4, 16);
  cfg.num_classes = 3;
  cfg.mean = {0.5};
  cfg.std = {0.5};
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  fuzz::ByteReader in(data, size);
  const uint8_t mode = in.byte() % 3;
  const std::string json = in.rest();
  fuzz::expect_shears_errors_only("fuzz_prune_log", [&] {
    if (mode == 0) {
      const auto log = nn::prune_log_from_json(json, "fuzz");
      const std::string text = nn::prune_log_to_json(log);
      const auto again = nn::prune_log_from_json(text, "fuzz round trip");
      fuzz::require(again == log, "fuzz_prune_log", "prune log round trip: " + text);
    } else if (mode == 1) {
      nn::extensions_from_json(json, "fuzz");
    } else {
      nn::VisionTransformer model(tiny_config());
      for (const auto& ext : nn::extensions_from_json(json, "fuzz"))
        if (pruning::restore_extension(model, ext.kind, ext.json)) {
          // A restored extension serialises again (save_model would write it).
          for (const auto& e : model.extensions) e->to_json();
        }
    }
  });
  return 0;
}
