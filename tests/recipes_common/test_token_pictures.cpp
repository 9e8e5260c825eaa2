// recipes::kept_patches_per_pruning_block applies the policy through the transform API to a clone:
// the pruning blocks and the policy's default fusion are reported, the kept patch counts follow
// the EViT rule, and the input model (here carrying another token pruning) is left as it was.
#include <catch2/catch.hpp>

#include "autograd/ops.h"
#include "common/token_pictures.h"
#include "pruning/token_pruning.h"
#include "tiny_vit_task.h"

using namespace shears;

TEST_CASE("kept patches: per-policy fusion on a clone, the model keeps its own pruning",
          "[recipes_common][token_pictures]") {
  nn::ModelConfig cfg = test::tiny_vit_config(3);
  cfg.patch_size = 2;  // 16 patches
  cfg.blocks = nn::uniform_blocks(4, 2, 8, 32);
  nn::VisionTransformer model(cfg, 2);
  pruning::TokenPruningConfig own;
  own.policy = pruning::parse_token_policy("random");
  own.keep_rate = 0.9;
  own.locations = {0};
  pruning::install_token_pruning(model, own);
  Generator gen(3);
  const Tensor input = randn({1, 1, 8, 8}, DType::F32, &gen);

  for (const char* name : {"evit", "renyi:2"}) {
    INFO(name);
    pruning::TokenPruningConfig pc;
    pc.policy = pruning::parse_token_policy(name);
    pc.keep_rate = 0.5;
    const recipes::KeptPatches k = recipes::kept_patches_per_pruning_block(model, input, pc);
    CHECK(k.blocks == std::vector<int64_t>{1, 2, 3});
    CHECK(k.fused == (std::string(name) == "evit"));
    REQUIRE(k.kept.size() == 3);
    // 16 patches -> 8. Unfused: 8 -> 4 -> 2. Fused: the earlier fused token competes (and is not a
    // patch): ceil(0.5 * 9) = 5 tokens -> 4 or 5 patches, then ceil(0.5 * 6) = 3 -> 2 or 3 patches.
    CHECK(k.kept[0].size() == 8);
    if (k.fused) {
      CHECK((k.kept[1].size() == 4 || k.kept[1].size() == 5));
      CHECK((k.kept[2].size() == 2 || k.kept[2].size() == 3));
    } else {
      CHECK(k.kept[1].size() == 4);
      CHECK(k.kept[2].size() == 2);
    }
  }
  // the model still carries its own (random, 0.9, block 0) pruning and nothing else
  REQUIRE(model.extensions.size() == 1);
  auto tp = pruning::find_token_pruning(model);
  REQUIRE(tp);
  CHECK(tp->locations() == std::vector<int64_t>{0});
  CHECK(tp->keep_rate() == 0.9);
  CHECK(model.prune_log.empty());
}
