// Fuzz target: ModelConfig::from_json (nn/config.h), the JSON that travels in every checkpoint.
// Accepted configs must be valid, have parameter shapes computable without overflow, and round-
// trip: to_json(from_json(to_json(c))) == to_json(c).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "nn/checkpoint.h"
#include "nn/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  const std::string json(reinterpret_cast<const char*>(data), size);
  fuzz::expect_shears_errors_only("fuzz_model_config", [&] {
    const nn::ModelConfig cfg = nn::ModelConfig::from_json(json);
    const std::string text = cfg.to_json();
    const nn::ModelConfig again = nn::ModelConfig::from_json(text);
    fuzz::require(again.to_json() == text, "fuzz_model_config", "to_json/from_json round trip: " + text);
    cfg.validate();  // from_json either validates or the caller does; both must agree it is fine
    const auto shapes = nn::parameter_shapes(cfg);
    fuzz::require(!shapes.empty(), "fuzz_model_config", "a valid config has parameters");
  });
  return 0;
}
