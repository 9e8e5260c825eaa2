// Fuzz target: the Hugging Face VideoMAE name map (nn/io/hf_videomae.h) and the strict state-dict
// load behind it. The input is lines "<name> <sizes>": each non-space character after the name is
// one size ((byte - '0') % 7, so '0'..'6' read as digits; at most 5 dims; none = shape (1));
// the first byte picks the encoder prefix ("" or "encoder."). After one trip HF -> shears, the
// names are canonical: shears -> HF -> shears gives the same list again (idempotent map).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_util.h"
#include "nn/config.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/state_dict.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"

namespace {

using Named = std::vector<std::pair<std::string, shears::Tensor>>;

// Names and shapes only (values are not part of the name map).
std::vector<std::pair<std::string, shears::Shape>> signature(const Named& tensors) {
  std::vector<std::pair<std::string, shears::Shape>> out;
  for (const auto& [n, t] : tensors) out.emplace_back(n, t.shape());
  return out;
}

shears::nn::ModelConfig tiny_videomae() {
  shears::nn::ModelConfig cfg;
  cfg.arch = "videomae";
  cfg.image_size = 4;
  cfg.in_chans = 1;
  cfg.patch_size = 2;
  cfg.frames = 2;
  cfg.tubelet = 2;
  cfg.dim = 4;
  cfg.blocks = shears::nn::uniform_blocks(2, 2, 2, 6);
  cfg.num_classes = 3;
  cfg.mean = {0.5};
  cfg.std = {0.5};
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  fuzz::ByteReader in(data, size);
  const uint8_t flags = in.byte();
  const std::string prefix = (flags & 1) ? "encoder." : "";
  Named tensors;
  std::vector<std::string> names;
  while (!in.empty() && tensors.size() < 64) {
    std::string line = in.until('\n');
    const size_t sp = line.find(' ');
    const std::string name = line.substr(0, sp);
    Shape shape;  // one size ((byte - '0') % 7) per non-space character after the name, at most 5
    for (size_t i = sp == std::string::npos ? line.size() : sp + 1; i < line.size() && shape.size() < 5; ++i)
      if (line[i] != ' ') shape.push_back(uint8_t(line[i] - '0') % 7);
    if (shape.empty()) shape.push_back(1);
    Tensor t = zeros(shape);
    tensors.emplace_back(name, t);
    names.push_back(name);
  }
  nn::looks_like_hf_videomae(names);
  fuzz::expect_shears_errors_only("fuzz_hf_videomae", [&] {
    const Named ours = nn::hf_videomae_to_shears(tensors, prefix);
    fuzz::expect_shears_errors_only("fuzz_hf_videomae", [&] {
      const Named once = nn::hf_videomae_to_shears(nn::shears_to_hf_videomae(ours, prefix), prefix);
      const Named twice = nn::hf_videomae_to_shears(nn::shears_to_hf_videomae(once, prefix), prefix);
      fuzz::require(signature(twice) == signature(once), "fuzz_hf_videomae", "shears -> HF -> shears not idempotent");
    });
    if (flags & 2) {  // strict load into a tiny VideoMAE classifier: refuses or loads, never crashes
      nn::VisionTransformer model(tiny_videomae());
      fuzz::expect_shears_errors_only("fuzz_hf_videomae", [&] { nn::load_state_dict(model, ours, /*strict=*/true); });
      fuzz::expect_shears_errors_only("fuzz_hf_videomae", [&] { nn::load_state_dict(model, ours, /*strict=*/false); });
    }
  });
  return 0;
}
