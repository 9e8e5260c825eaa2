// ModelConfig::from_json refuses a number nlohmann cannot represent ("1e54775807": its
// out_of_range, not a parse_error) with shears::Error instead of letting the library's exception
// escape (found by tests/fuzz/fuzz_model_config; the input is that target's regression file).
#include <catch2/catch.hpp>

#include "nn/config.h"
#include "tensor/error.h"

using namespace shears;
using Catch::Matchers::Contains;

TEST_CASE("config: an overflowing number is a shears::Error naming the op", "[nn][config][hostile]") {
  std::string json = nn::vit_tiny_patch4_28().to_json();
  const size_t k = json.find("\"ln_eps\":");
  REQUIRE(k != std::string::npos);
  json.insert(k + 9, "1e54775807,\"x\":");  // "ln_eps":1e54775807,"x":<old value>
  REQUIRE_THROWS_AS(nn::ModelConfig::from_json(json), Error);
  REQUIRE_THROWS_WITH(nn::ModelConfig::from_json(json), Contains("[model_config]") && Contains("malformed JSON"));
}
