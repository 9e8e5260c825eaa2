// recipes::token_pruning_rows on a tiny ViT (8x8 images, patch 2: 16 patches, 4 blocks, pruning
// after blocks 1, 2, 3) and a tiny data set: the EViT and Rényi rows cost fewer GFLOPs than dense,
// exactly count_flops of the token counts the EViT rule gives (fused for EViT, unfused for Rényi,
// each policy's default), carry their fusion into the table, and leave the input model unchanged.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "common/token_rows.h"
#include "nn/flop_count.h"
#include "pruning/token_pruning.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

nn::ModelConfig sixteen_patch_config() {
  nn::ModelConfig c = test::tiny_vit_config(3);
  c.patch_size = 2;  // 4x4 patches + CLS = 17 tokens
  c.blocks = nn::uniform_blocks(4, 2, 8, 32);
  return c;
}

std::vector<float> logits_of(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<float> v = model.forward(x).to_vector<float>();
  model.train();
  return v;
}

}  // namespace

TEST_CASE("token rows: per-policy fusion, GFLOPs from the tokens run, input model unchanged",
          "[recipes_common][token_rows]") {
  const nn::ModelConfig cfg = sixteen_patch_config();
  nn::VisionTransformer model(cfg, 3);
  auto data = std::make_shared<test::QuadrantDataset>(12, 3);
  const data::Transform tf = test::normalize_for(cfg);
  Generator gen(5);
  const Tensor probe = randn({3, 1, 8, 8}, DType::F32, &gen);
  const std::vector<float> before = logits_of(model, probe);

  const auto rows = recipes::token_pruning_rows(model, data, tf, {"evit", "renyi:2"}, 0.5, 8, 1);
  REQUIRE(rows.size() == 3);
  // hand counts: 16 non-CLS tokens; block 1 keeps ceil(0.5 * 16) = 8, block 2 ceil(0.5 * (N - 1)), ...
  const nn::TokenCounts fused = {{17, 17}, {17, 10}, {10, 7}, {7, 5}};    // + 1 fused token per pruning block
  const nn::TokenCounts unfused = {{17, 17}, {17, 9}, {9, 5}, {5, 3}};
  CHECK(nn::keep_rate_token_counts(cfg, 0.5, {1, 2, 3}, true) == fused);
  CHECK(nn::keep_rate_token_counts(cfg, 0.5, {1, 2, 3}, false) == unfused);

  CHECK(rows[0].method == "dense");
  CHECK(rows[0].gflops == nn::count_flops(cfg).total / 1e9);
  CHECK_FALSE(rows[0].fused);
  CHECK(rows[1].method == "evit");
  CHECK(rows[1].fused);
  CHECK(rows[1].gflops == nn::count_flops(cfg, fused).total / 1e9);
  CHECK(rows[2].method == pruning::parse_token_policy("renyi:2").name());
  CHECK_FALSE(rows[2].fused);
  CHECK(rows[2].gflops == nn::count_flops(cfg, unfused).total / 1e9);
  for (const auto& r : rows) {
    INFO(r.method);
    CHECK(r.gflops <= rows[0].gflops);
    CHECK(r.top1 >= 0.0);
    CHECK(r.top1 <= 1.0);
    CHECK(r.images_per_s > 0.0);
  }
  CHECK(rows[1].gflops < rows[0].gflops);
  CHECK(rows[2].gflops < rows[1].gflops);  // unfused runs fewer tokens
  CHECK(rows[1].keep_rate == 0.5);

  // the input model: same logits bit for bit, no extensions, no prune log, train mode
  const std::vector<float> after = logits_of(model, probe);
  REQUIRE(after.size() == before.size());
  CHECK(std::memcmp(after.data(), before.data(), after.size() * sizeof(float)) == 0);
  CHECK(model.extensions.empty());
  CHECK(model.prune_log.empty());
  CHECK_FALSE(pruning::find_token_pruning(model));
  CHECK(model.is_training());

  const recipes::Table t = recipes::token_rows_table(rows);
  CHECK(t.rows.size() == 3);
  CHECK_THAT(t.title, Catch::Contains("fused: evit;") && Catch::Contains("unfused: " + rows[2].method));
}

TEST_CASE("token rows refuse a model that already has token pruning", "[recipes_common][token_rows]") {
  const nn::ModelConfig cfg = sixteen_patch_config();
  nn::VisionTransformer model(cfg, 3);
  pruning::TokenPruningConfig pc;
  pc.policy = pruning::parse_token_policy("evit");
  pruning::install_token_pruning(model, pc);
  auto data = std::make_shared<test::QuadrantDataset>(6, 3);
  CHECK_THROWS_WITH(recipes::token_pruning_rows(model, data, test::normalize_for(cfg), {"evit"}, 0.5, 4, 1),
                    Catch::Contains("token_pruning_rows") && Catch::Contains("already has token pruning"));
}
