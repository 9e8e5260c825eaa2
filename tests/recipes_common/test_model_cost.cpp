// recipes/common/model_cost: the GFLOPs by kind of work (Linear layers, attention matmuls, layer norms) add up to
// the fvcore total and have DeiT-S's hand-computed values; flop_reconciliation_markdown sets a hand-made profile's
// per-category speedups beside those FLOP ratios ("-" where a side has no time or no FLOPs) and refuses bad steps;
// with GEMM shapes in both profiles, the Linear-layer rates and the forward at the original's rate (by hand).
#include <catch2/catch.hpp>

#include <string>

#include "common/model_cost.h"
#include "nn/config.h"
#include "nn/flop_count.h"

using namespace shears;
using Catch::Matchers::Contains;

TEST_CASE("cost_from_flops splits DeiT-S's fvcore GFLOPs into Linear, attention and norm work",
          "[recipes_common][model_cost]") {
  const nn::ModelConfig cfg = nn::deit_small_patch16_224(1000);
  const recipes::ModelCost c = recipes::cost_from_flops(nn::count_parameters(cfg), nn::count_flops(cfg));
  const double N = 197, D = 384, L = 12;
  // QK^T + AV: 2 N^2 D per block; norms: 5 N D for norm1, norm2 of every block and the final norm
  CHECK(c.gflops_attention == Approx(L * 2 * N * N * D / 1e9));
  CHECK(c.gflops_norm == Approx((2 * L + 1) * 5 * N * D / 1e9));
  // qkv, proj, fc1, fc2 (N D (3D + D + 2 * 4D)), the patch embedding (196 * 768 * D) and the head (D * 1000)
  CHECK(c.gflops_linear == Approx((L * N * D * 12 * D + 196.0 * 768 * D + D * 1000) / 1e9));
  CHECK(c.gflops_linear + c.gflops_attention + c.gflops_norm == Approx(c.gflops).epsilon(1e-12));
  CHECK(c.gflops == Approx(4.608).margin(5e-4));
  CHECK(c.params == nn::count_parameters(cfg));
}

TEST_CASE("flop_reconciliation_markdown: measured speedup per category over its FLOP ratio",
          "[recipes_common][model_cost]") {
  recipes::ModelCost base, pruned;
  base.gflops = 4.0, base.gflops_linear = 3.0, base.gflops_attention = 0.8, base.gflops_norm = 0.2;
  pruned.gflops = 1.0, pruned.gflops_linear = 0.6, pruned.gflops_attention = 0.2, pruned.gflops_norm = 0.2;
  profile::Report b, p;
  b.seconds[size_t(profile::Category::Gemm)] = 6.0;       // 2 steps: 3 s each
  b.seconds[size_t(profile::Category::Attention)] = 2.0;  // 1 s each
  b.wall_seconds = 9.0;
  p.seconds[size_t(profile::Category::Gemm)] = 2.0;       // 4 steps: 0.5 s each -> 6x over a FLOP ratio of 5
  p.seconds[size_t(profile::Category::Attention)] = 2.0;  // 0.5 s each -> 2x over 4
  p.seconds[size_t(profile::Category::Norm)] = 0.4;       // the original has no norm time: "-"
  p.wall_seconds = 6.0;                                   // 1.5 s each -> 3x over 4
  const std::string t = recipes::flop_reconciliation_markdown(base, b, 2, pruned, p, 4);
  CHECK_THAT(t, Contains("(GEMM; the GELU epilogue is not counted) | 5.00 | 6.00x | 1.200 |"));
  CHECK_THAT(t, Contains("(attention core; its softmax is not counted) | 4.00 | 2.00x | 0.500 |"));
  CHECK_THAT(t, Contains("layer norms (layer norm) | 1.00 | - | - |"));
  CHECK_THAT(t, Contains("whole forward (wall) | 4.00 | 3.00x | 0.750 |"));
  CHECK(t.find("Linear layers' rate") == std::string::npos);  // no GEMM shapes recorded: no paragraph
  REQUIRE_THROWS_WITH(recipes::flop_reconciliation_markdown(base, b, 0, pruned, p, 4), Contains("steps must be >= 1"));
}

TEST_CASE("flop_reconciliation_markdown: the pruned forward were its Linear layers at the original's rate",
          "[recipes_common][model_cost]") {
  recipes::ModelCost base, pruned;
  base.gflops = 4.0, pruned.gflops = 1.0;  // FLOP ratio 4
  profile::Report b, p;
  // original: 2 steps, 3 s of Linear layers for 600 GFLOP (200 GFLOP/s over both shapes), 8 s of wall: 4 s a step
  b.gemm_shapes.push_back({"linear", 64, 32, 16, 2.0, 2, 500e9});
  b.gemm_shapes.push_back({"linear_gelu", 64, 16, 32, 1.0, 2, 100e9});
  b.wall_seconds = 8.0;
  // pruned: 4 steps, 2 s for 200 GFLOP (100 GFLOP/s), 6 s of wall: 1.5 s a step, 0.5 s of it Linear layers
  p.gemm_shapes.push_back({"linear", 64, 8, 16, 2.0, 4, 200e9});
  p.wall_seconds = 6.0;
  const std::string t = recipes::flop_reconciliation_markdown(base, b, 2, pruned, p, 4);
  // at 200 GFLOP/s its 50 GFLOP a step take 250 ms instead of 500: the step 1250 ms instead of 1500, so 3.2x
  // faster than the original's 4000 ms instead of 2.67x: 0.8 and 0.667 of the FLOP ratio 4
  CHECK_THAT(t, Contains("original 200.0 GFLOP/s, pruned 100.0 GFLOP/s (0.500 of the original's)"));
  CHECK_THAT(t, Contains("would take 250.0 ms per forward instead of 500.0 ms, and the forward 1250.0 ms instead of "
                         "1500.0: 3.20x faster than the original instead of 2.67x (0.800 of the FLOP ratio instead "
                         "of 0.667)."));
}
