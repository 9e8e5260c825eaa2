// Hostile Hugging Face VideoMAE names (found by tests/fuzz/fuzz_hf_videomae): a layer index too
// long for int64 ("encoder.layer.99999999999999999999.x") overflowed while it was parsed (UB);
// it is not a layer name and passes through unchanged, so a strict load reports it by name.
#include <catch2/catch.hpp>

#include "nn/io/hf_videomae.h"
#include "tensor/creation.h"

using namespace shears;

TEST_CASE("hf_videomae: overlong layer indices pass through unchanged", "[nn][hf_videomae][hostile]") {
  const std::string huge = "videomae.encoder.layer.99999999999999999999.layernorm_before.weight";
  const std::string huge_decoder = "decoder.decoder_layers.123456789012.output.dense.bias";
  const std::vector<std::pair<std::string, Tensor>> hf = {
      {huge, zeros({4})},
      {huge_decoder, zeros({4})},
      {"videomae.encoder.layer.123456789.layernorm_before.weight", zeros({4})},  // 9 digits: a layer
  };
  const auto ours = nn::hf_videomae_to_shears(hf);
  REQUIRE(ours.size() == 3);
  CHECK(ours[0].first == huge);
  CHECK(ours[1].first == huge_decoder);
  CHECK(ours[2].first == "blocks.123456789.norm1.weight");
  // The reverse map leaves an overlong shears block index alone too.
  const auto back = nn::shears_to_hf_videomae({{"blocks.12345678901234567890.norm1.weight", zeros({4})}});
  REQUIRE(back.size() == 1);
  CHECK(back[0].first == "blocks.12345678901234567890.norm1.weight");
}
