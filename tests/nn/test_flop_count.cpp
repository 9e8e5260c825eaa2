// Tests for nn/flop_count: fvcore-convention FLOPs and timm/HF parameter counts against the published
// figures (DeiT-T/S/B, VideoMAE-B, the small-image configs, EViT keep-rate tables) and the closed-form
// effect of structural pruning (removed blocks, narrower MLPs, head count vs attention width).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "nn/config.h"
#include "nn/flop_count.h"
#include "tensor/error.h"

using namespace shears;
using namespace shears::nn;

namespace {
// Rounds x / unit to `digits` decimals (compare "to the digits given").
double rounded(double x, double unit, int digits) {
  const double s = std::pow(10.0, digits);
  return std::round(x / unit * s) / s;
}
constexpr double G = 1e9;
}  // namespace

TEST_CASE("flops: dense DeiT reproduces the fvcore figures", "[nn][flops]") {
  const FlopReport s = count_flops(deit_small_patch16_224());
  CHECK(rounded(s.total, G, 3) == 4.608);
  CHECK(s.total == 4608338304.0);  // every term is an exact integer
  CHECK(s.embed == 196.0 * 384 * 768);
  CHECK(s.final_norm == 5.0 * 197 * 384);
  CHECK(s.head == 384.0 * 1000);
  REQUIRE(s.per_block.size() == 12);
  const double n = 197, d = 384, m = 1536;
  const double block = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * m + 10 * n * d;  // METHODS.md §8
  for (double b : s.per_block) CHECK(b == block);
  CHECK(s.blocks[0].attn == 2 * n * n * d);
  CHECK(s.blocks[0].tokens_in == 197);

  CHECK(rounded(count_flops(deit_base_patch16_224()).total, G, 2) == 17.58);
  CHECK(rounded(count_flops(deit_tiny_patch16_224()).total, G, 3) == 1.258);
}

TEST_CASE("flops: VideoMAE-B 16x224 is 180.49 G, 14.887 G per block", "[nn][flops]") {
  const FlopReport v = count_flops(videomae_base_patch16_224(400));
  CHECK(rounded(v.total, G, 2) == 180.49);
  for (double b : v.per_block) CHECK(rounded(b, G, 3) == 14.887);
  CHECK(v.embed == 1568.0 * 768 * 1536);
  CHECK(v.final_norm == 5.0 * 768);  // fc_norm on the mean-pooled vector
  CHECK(v.head == 768.0 * 400);
  // Gardener (METHODS.md §1.8): 180.49 - 14.887 k after removing k blocks.
  ModelConfig c = videomae_base_patch16_224(400);
  c.blocks.resize(11);
  CHECK(rounded(count_flops(c).total, G, 1) == 165.6);
  c.blocks.resize(1);
  CHECK(rounded(count_flops(c).total, G, 1) == 16.7);
}

TEST_CASE("flops: small-image and small-video configs (PERFORMANCE.md)", "[nn][flops]") {
  CHECK(rounded(count_flops(vit_tiny_patch4_28(10)).total, G, 3) == 0.278);  // (a)
  CHECK(rounded(count_flops(vit_tiny_patch4_32(10)).total, G, 3) == 0.367);  // (b)
  ModelConfig d = videomae_small_patch16_224(400);                         // (d) 16x112x112
  d.image_size = 112;
  CHECK(d.num_tokens() == 392);
  CHECK(rounded(count_flops(d).total, G, 2) == 9.99);
}

TEST_CASE("flops: EViT token pruning of DeiT-S", "[nn][flops]") {
  const ModelConfig s = deit_small_patch16_224();
  const std::vector<int64_t> locs = {3, 6, 9};  // 1-based blocks 4, 7, 10

  SECTION("keep 0.7 without fusion: 197 -> 139 -> 98 -> 69, 3.003 G") {
    const TokenCounts t = keep_rate_token_counts(s, 0.7, locs, false);
    REQUIRE(t.size() == 12);
    CHECK(t[2] == std::make_pair<int64_t, int64_t>(197, 197));
    CHECK(t[3] == std::make_pair<int64_t, int64_t>(197, 139));  // ceil(0.7*196)=138 + CLS
    CHECK(t[6] == std::make_pair<int64_t, int64_t>(139, 98));   // ceil(0.7*138)=97 + CLS
    CHECK(t[9] == std::make_pair<int64_t, int64_t>(98, 69));    // ceil(0.7*97)=68 + CLS
    CHECK(t[11] == std::make_pair<int64_t, int64_t>(69, 69));
    const FlopReport r = count_flops(s, t);
    CHECK(rounded(r.total, G, 3) == 3.003);
    CHECK(r.final_norm == 5.0 * 69 * 384);
    // The pruning block: attention on N_in, MLP on N_out.
    CHECK(r.per_block[3] == count_block_flops(s, s.blocks[3], 197, 139).total());
    CHECK(r.blocks[3].attn == 2.0 * 197 * 197 * 384);
    CHECK(r.blocks[3].mlp == 2.0 * 139 * 384 * 1536);
  }
  SECTION("with fusion: the EViT table 4.0/3.5/3.0/2.6/2.3 G") {
    const double keep[] = {0.9, 0.8, 0.7, 0.6, 0.5};
    const double paper[] = {4.0, 3.5, 3.0, 2.6, 2.3};
    const double derived[] = {4.03, 3.48, 3.04, 2.64, 2.31};  // METHODS.md §4.3
    for (int i = 0; i < 5; ++i) {
      INFO("keep " << keep[i]);
      const double total = count_flops(s, keep_rate_token_counts(s, keep[i], locs, true)).total;
      CHECK(rounded(total, G, 1) == paper[i]);
      CHECK(rounded(total, G, 2) == derived[i]);
    }
    const TokenCounts t = keep_rate_token_counts(s, 0.7, locs, true);
    CHECK(t[3].second == 138 + 1 + 1);
    CHECK(t[6].second == 98 + 1 + 1);
    CHECK(t[9].second == 70 + 1 + 1);
    const ModelConfig b = deit_base_patch16_224();
    CHECK(rounded(count_flops(b, keep_rate_token_counts(b, 0.7, locs, true)).total, G, 2) == 11.62);
  }
  SECTION("keep rate 1 changes nothing") {
    CHECK(count_flops(s, keep_rate_token_counts(s, 1.0, locs, true)).total == count_flops(s).total);
  }
}

TEST_CASE("flops: bad token counts are rejected", "[nn][flops]") {
  const ModelConfig s = deit_small_patch16_224();
  CHECK_THROWS_WITH(count_flops(s, TokenCounts(11, {197, 197})), Catch::Contains("[flop_count]"));
  TokenCounts t(12, {197, 197});
  t[4] = {197, 100};
  CHECK_THROWS_WITH(count_flops(s, t), Catch::Contains("block 5"));  // block 5 gets 197 but 4 left 100
  t = TokenCounts(12, {197, 197});
  t[11] = {197, 198};
  CHECK_THROWS_WITH(count_flops(s, t), Catch::Contains("N_out"));
  CHECK_THROWS_AS(keep_rate_token_counts(s, 0.7, {12}, false), shears::Error);
}

TEST_CASE("params: timm DeiT and HF VideoMAE counts", "[nn][params]") {
  CHECK(count_parameters(deit_small_patch16_224()) == 22050664);
  CHECK(count_parameters(deit_base_patch16_224()) == 86567656);
  CHECK(std::round(count_parameters(deit_base_patch16_224()) / 1e4) / 100 == 86.57);
  CHECK(count_parameters(deit_tiny_patch16_224()) == 5717416);
  // VideoMAE-B: the sinusoidal position embedding is not a parameter; q_bias + v_bias only.
  const ModelConfig v = videomae_base_patch16_224(400);
  CHECK(count_block_parameters(v, v.blocks[0]) == 7087104);
  ModelConfig enc = v;
  enc.num_classes = 0;
  CHECK(count_parameters(enc) - 2 * 768 == 86225664);  // encoder 86.2 M (Gardener §1.8)
  CHECK(count_parameters(v) == 86225664 + 2 * 768 + 400 * 768 + 400);
  // Without a qkv bias only the qkv weight remains.
  ModelConfig nb = v;
  nb.qkv_bias = false;
  CHECK(count_block_parameters(nb, nb.blocks[0]) == 7087104 - 2 * 768);
}

TEST_CASE("structural pruning changes counts by the closed form", "[nn][flops][params]") {
  for (const ModelConfig& base : {deit_small_patch16_224(), videomae_base_patch16_224(400)}) {
    INFO(base.arch);
    const FlopReport dense = count_flops(base);
    const int64_t params = count_parameters(base);
    const int64_t n = base.num_tokens(), d = base.dim;
    {  // removing k blocks drops exactly k blocks' flops and params
      for (int k = 1; k <= 3; ++k) {
        ModelConfig c = base;
        c.blocks.erase(c.blocks.begin() + 2, c.blocks.begin() + 2 + k);
        CHECK(dense.total - count_flops(c).total == k * dense.per_block[0]);
        CHECK(params - count_parameters(c) == k * count_block_parameters(base, base.blocks[0]));
      }
    }
    {  // narrower MLP in one block
      ModelConfig c = base;
      const int64_t m = c.blocks[5].mlp_hidden, m2 = m / 3 + 1;
      c.blocks[5].mlp_hidden = m2;
      CHECK(dense.total - count_flops(c).total == 2.0 * n * d * (m - m2));
      CHECK(params - count_parameters(c) == (m - m2) * (2 * d + 1));  // fc1 rows + fc1 bias + fc2 cols
    }
    {  // head count does not change attention flops; attention width does
      ModelConfig c = base;
      c.blocks[1].heads *= 2;
      c.blocks[1].head_dim /= 2;
      CHECK(count_flops(c).total == dense.total);
      CHECK(count_parameters(c) == params);
      c.blocks[1].head_dim -= 8;  // attention width shrinks by 8 * heads
      const double aw = static_cast<double>(base.blocks[1].attn_width());
      const double aw2 = static_cast<double>(c.blocks[1].attn_width());
      CHECK(dense.total - count_flops(c).total == (aw - aw2) * (4.0 * n * d + 2.0 * n * n));
    }
  }
}

TEST_CASE("flops: Markdown breakdown table", "[nn][flops]") {
  const ModelConfig s = deit_small_patch16_224();
  const FlopReport r = count_flops(s, keep_rate_token_counts(s, 0.7, {3, 6, 9}, false));
  const std::string t = flop_table_markdown(s, r);
  CHECK(t.find("| block 4 | 197 -> 139 | 6 x 64 | 1536 |") != std::string::npos);
  CHECK(t.find("| embed | 196 |") != std::string::npos);
  CHECK(t.find("**3.003**") != std::string::npos);
  CHECK(t.find("(G)") != std::string::npos);
  const std::string small = flop_table_markdown(vit_tiny_patch4_28(), count_flops(vit_tiny_patch4_28()));
  CHECK(small.find("(M)") != std::string::npos);
  CHECK(small.find("**278.293**") != std::string::npos);
  CHECK(flop_table_markdown(videomae_base_patch16_224(), count_flops(videomae_base_patch16_224()))
            .find("| fc_norm |") != std::string::npos);
}
