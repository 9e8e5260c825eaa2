// P3B keep ratios (pruning/p3b_keep_ratio.h) against hand-computed values: the benefit transform (zero,
// negative and all-negative benefits, count 0, PyTorch's softplus threshold), the EMA and α-mix, the
// water-filling with a disabled and a dense block and its budget, the ramp and τ at their boundaries.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "pruning/p3b_keep_ratio.h"
#include "tensor/error.h"

using namespace shears;
using namespace shears::pruning;
using V = std::vector<double>;
using I = std::vector<int64_t>;

namespace {
// softplus(1.4 x) - softplus(1.4 x - 10), the soft clamp with S = 10
double clamp10(double x) { return torch_softplus(1.4 * x) - torch_softplus(1.4 * x - 10); }

void check_close(const V& got, const V& want, double rel = 1e-9) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("entry " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(rel).margin(1e-300));
  }
}
}  // namespace

TEST_CASE("torch_softplus is log(1+e^x) up to 20 and linear above (PyTorch threshold)", "[pruning][p3b]") {
  CHECK(torch_softplus(0) == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(torch_softplus(19) == std::log1p(std::exp(19.0)));
  CHECK(torch_softplus(20) == std::log1p(std::exp(20.0)));  // 20 is not above the threshold
  CHECK(torch_softplus(25) == 25.0);                        // log1p(e^25) would be 25 + 1.4e-11
  CHECK(torch_softplus(-10) == Approx(4.539889921686465e-05).epsilon(1e-12));
}

TEST_CASE("transform_benefit: means, scale to S, soft clamp, per parameter, mean 1", "[pruning][p3b]") {
  KeepRatioOptions opt;
  // sums {4, 0, 2} over 2 steps -> means {2, 0, 1}; max 2 -> x = {10, 0, 5}
  //   c0 = softplus(14) - softplus(4)  = 14.0000008315 - 4.0181499279 = 9.98185090361
  //   c1 = softplus(0)  - softplus(-10) = 0.6931471806 - 0.0000453989 = 0.693101781661  (zero benefit: ≈ 0.69, kept)
  //   c2 = softplus(7)  - softplus(-3)  = 7.0009114665 - 0.0485873516 = 6.95232411488
  // remaining params {2, 1, 4}: p = {4.99092545, 0.69310178, 1.73808103} (/(W + 1e-6)), mean 2.47403609
  //   -> {2.01732117736, 0.280150087716, 0.702528734926}
  CHECK(clamp10(10) == Approx(9.98185090361).epsilon(1e-11));
  CHECK(clamp10(0) == Approx(0.693101781661).epsilon(1e-11));
  CHECK(clamp10(5) == Approx(6.95232411488).epsilon(1e-11));
  const V out = transform_benefit({4, 0, 2}, {2, 2, 2}, {2, 1, 4}, opt);
  check_close(out, {2.01732117736, 0.280150087716, 0.702528734926});
  CHECK(std::accumulate(out.begin(), out.end(), 0.0) / 3 == Approx(1.0).epsilon(1e-12));
  // the zero-benefit block before normalising: out1 * mean(p) = c1 / 1
  const double mean_p = (9.98185090361 / 2 + 0.693101781661 + 6.95232411488 / 4) / 3;
  CHECK(out[1] * mean_p == Approx(0.693101781661).epsilon(1e-6));
}

TEST_CASE("transform_benefit: negative benefits and float32 underflow disable only strong harm", "[pruning][p3b]") {
  KeepRatioOptions opt;
  // means {2, -1, -100}, max 2 -> x = {10, -5, -500}
  //   c0 = 9.98185090361, c1 = softplus(-7) - softplus(-17) = 9.11425054398e-4, c2 = e^-700 ≈ 9.86e-305
  //   c2 is below float32's smallest value -> 0; mean (c0 + c1)/3 -> {2.99972610034, 2.73899655543e-4, 0}
  const V out = transform_benefit({2, -1, -100}, {1, 1, 1}, {1, 1, 1}, opt);
  check_close(out, {2.99972610034, 2.73899655543e-4, 0.0});
  CHECK(out[2] == 0.0);
  // without the flush the block keeps a tiny positive importance (pure double arithmetic)
  opt.underflow_floor = 0;
  const V raw = transform_benefit({2, -1, -100}, {1, 1, 1}, {1, 1, 1}, opt);
  CHECK(raw[2] > 0.0);
  CHECK(raw[2] < 1e-300);
}

TEST_CASE("transform_benefit: all-negative benefits keep their order unless the authors' inversion is asked",
          "[pruning][p3b]") {
  KeepRatioOptions opt;
  // means {-1, -2, -4}: our rule scales by S / max|b| = 10/4 -> x = {-2.5, -5, -10}
  //   c = {softplus(-3.5) - softplus(-13.5), softplus(-7) - softplus(-17), softplus(-14) - softplus(-24)}
  //     = {0.0297490473145, 9.11425054398e-4, 8.31490622038e-7}; mean 0.0102203882 -> order kept
  check_close(transform_benefit({-1, -2, -4}, {1, 1, 1}, {1, 1, 1}, opt),
              {2.91074190297, 0.0891767413325, 8.13557009038e-05});
  // the authors divide by the negative max (-1): x = {10, 20, 40}
  //   c = {9.98185090361, softplus(28) - softplus(18) = 28 - 18.0000000152 = 9.99999998477, 56 - 46 = 10}
  //   -> inverted order: the most harmful block gets the most
  opt.invert_all_negative = true;
  const V inv = transform_benefit({-1, -2, -4}, {1, 1, 1}, {1, 1, 1}, opt);
  check_close(inv, {0.998789328328, 1.00060533507, 1.0006053366});
  CHECK(inv[2] > inv[1]);
  CHECK(inv[1] > inv[0]);
}

TEST_CASE("transform_benefit: count 0 is zero benefit, max 0 and all-zero are guarded", "[pruning][p3b]") {
  KeepRatioOptions opt;
  // sums {3, 5, 0}, counts {1, 0, 0}: means {3, 0 (no data), 0} -> x = {10, 0, 0}
  //   c = {9.98185090361, 0.693101781661, 0.693101781661}, mean 3.78935149 -> {2.63418448583, 0.182907757086, ...}
  check_close(transform_benefit({3, 5, 0}, {1, 0, 0}, {1, 1, 1}, opt), {2.63418448583, 0.182907757086, 0.182907757086});
  // max == 0 (means {0, -1, 0}): scale by max|b| = 1 -> x = {0, -10, 0}
  //   c = {0.693101781661, softplus(-14) - softplus(-24) = 8.31490622038e-7, 0.693101781661}
  check_close(transform_benefit({0, -1, 0}, {1, 1, 1}, {1, 1, 1}, opt),
              {1.49999910025, 1.79949787741e-06, 1.49999910025});
  // every benefit 0 (or no data at all): every block gets ln 2 - softplus(-10), equal params -> all 1
  check_close(transform_benefit({0, 0}, {4, 0}, {5, 5}, opt), {1.0, 1.0}, 1e-12);
}

TEST_CASE("transform_benefit: bad inputs name the problem", "[pruning][p3b]") {
  KeepRatioOptions opt;
  CHECK_THROWS_WITH(transform_benefit({1, 2}, {1}, {1, 1}, opt), Catch::Contains("one count"));
  CHECK_THROWS_WITH(transform_benefit({1, 2}, {1, -1}, {1, 1}, opt), Catch::Contains("negative"));
  CHECK_THROWS_WITH(transform_benefit({1, NAN}, {1, 1}, {1, 1}, opt), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(transform_benefit({1, 2}, {1, 1}, {1, -3}, opt), Catch::Contains("remaining parameters"));
  CHECK_THROWS_AS(transform_benefit({}, {}, {}, opt), Error);
  opt.scale = 0;
  CHECK_THROWS_WITH(transform_benefit({1}, {1}, {1}, opt), Catch::Contains("pr-block-imp-scale"));
}

TEST_CASE("BlockImportance: first update without EMA, later gamma*new + (1-gamma)*stored, alpha mix",
          "[pruning][p3b]") {
  KeepRatioOptions opt;  // gamma 0.2, alpha 0.5
  BlockImportance imp;
  CHECK(imp.empty());
  // first: stored as given; mix 0.5*{1,3} + 0.5*{2,2} = {1.5, 2.5}
  check_close(imp.update({1, 3}, {2, 2}, opt), {1.5, 2.5}, 1e-15);
  CHECK(!imp.empty());
  check_close(imp.cls(), {1, 3}, 1e-15);
  check_close(imp.patch(), {2, 2}, 1e-15);
  // second: cls 0.2*{3,1} + 0.8*{1,3} = {1.4, 2.6}; patch 0.2*{4,0} + 0.8*{2,2} = {2.4, 1.6}; mix {1.9, 2.1}
  check_close(imp.update({3, 1}, {4, 0}, opt), {1.9, 2.1}, 1e-14);
  check_close(imp.cls(), {1.4, 2.6}, 1e-14);
  check_close(imp.patch(), {2.4, 1.6}, 1e-14);
  // third, with alpha 0.25: the stored values are post-EMA: cls 0.8*{1.4,2.6} = {1.12, 2.08},
  // patch 0.8*{2.4,1.6} = {1.92, 1.28}; mix 0.25*cls + 0.75*patch = {1.72, 1.48}
  opt.alpha = 0.25;
  check_close(imp.update({0, 0}, {0, 0}, opt), {1.72, 1.48}, 1e-14);
  CHECK_THROWS_WITH(imp.update({1, 2, 3}, {1, 2, 3}, opt), Catch::Contains("previous update"));
  CHECK_THROWS_WITH(imp.update({1, 2}, {1}, opt), Catch::Contains("same"));
  imp.reset();
  CHECK(imp.empty());
  check_close(imp.update({1, 2, 3}, {1, 2, 3}, opt), {1, 2, 3}, 1e-15);  // after reset: first update again
}

TEST_CASE("water_fill_keep_ratios: a disabled and a dense block, the budget met", "[pruning][p3b]") {
  // W = {100, 100, 200, 100} (500), non-block 100, kr_model 0.5: P* = 0.5*600 - 100 = 200
  // pass 0: block 0 (importance 0) disabled; free {3, 1, 0.5}: sum imp*W = 300 + 200 + 50 = 550,
  //         s = 200/550 -> kr = {0, 1.0909, 0.3636, 0.1818}
  // pass 1: block 1 >= 1 -> dense; budget 200 - 100 = 100; free sum 0.3636*200 + 0.1818*100 = 90.909,
  //         s = 1.1 -> kr2 = 0.4, kr3 = 0.2. Check: 0*100 + 1*100 + 0.4*200 + 0.2*100 = 200
  const V w = {100, 100, 200, 100};
  const V kr = water_fill_keep_ratios({0, 3, 1, 0.5}, w, 100, 0.5);
  check_close(kr, {0.0, 1.0, 0.4, 0.2}, 1e-12);
  CHECK(kr[0] == 0.0);
  CHECK(kr[1] == 1.0);
  double kept = 0;
  for (size_t b = 0; b < w.size(); ++b) kept += kr[b] * w[b];
  CHECK(std::abs(kept - 200.0) < 1e-9);
}

TEST_CASE("water_fill_keep_ratios: two passes, the pass limit, and the ends", "[pruning][p3b]") {
  // W = 100 each, no non-block params, kr_model 0.6: P* = 240; importance {10, 6, 1, 1}
  // pass 0: s = 240/1800 -> {1.333, 0.8, 0.1333, 0.1333}
  // pass 1: block 0 dense, budget 140, free sum 80 + 13.33 + 13.33 = 106.67, s = 1.3125 -> {1, 1.05, 0.175, 0.175}
  // pass 2: block 1 dense, budget 40, free sum 35, s = 8/7 -> {1, 1, 0.2, 0.2}; kept 100+100+20+20 = 240
  const V w = {100, 100, 100, 100};
  check_close(water_fill_keep_ratios({10, 6, 1, 1}, w, 0, 0.6), {1, 1, 0.2, 0.2}, 1e-12);
  check_close(water_fill_keep_ratios({10, 6, 1, 1}, w, 0, 0.6, 2), {1, 1, 0.2, 0.2}, 1e-12);
  CHECK_THROWS_WITH(water_fill_keep_ratios({10, 6, 1, 1}, w, 0, 0.6, 1), Catch::Contains("1 passes"));
  // keep everything: every block dense
  check_close(water_fill_keep_ratios({1, 2}, {100, 100}, 50, 1.0), {1, 1}, 1e-12);
  // keep nothing of the blocks: P* = 0 -> all 0
  check_close(water_fill_keep_ratios({1, 2}, {100, 100}, 0, 0.0), {0, 0}, 1e-12);
  // no bound hit: kr proportional to importance, sum kr*W = P* = 0.5*(300+100) - 100 = 100
  check_close(water_fill_keep_ratios({1, 2}, {100, 200}, 100, 0.5), {0.2, 0.4}, 1e-12);
}

TEST_CASE("water_fill_keep_ratios: impossible budgets and bad inputs throw clearly", "[pruning][p3b]") {
  // non-block params 1000, blocks 500, kr 0.5: P* = 750 - 1000 < 0
  CHECK_THROWS_WITH(water_fill_keep_ratios({1, 1}, {250, 250}, 1000, 0.5),
                    Catch::Contains("cannot be met by pruning blocks only"));
  CHECK_THROWS_WITH(water_fill_keep_ratios({0, -1}, {250, 250}, 0, 0.5), Catch::Contains("importance <= 0"));
  CHECK_THROWS_WITH(water_fill_keep_ratios({1, 1}, {250, 250}, 0, 1.5), Catch::Contains("in [0, 1]"));
  CHECK_THROWS_WITH(water_fill_keep_ratios({1, 1}, {250, 0}, 0, 0.5), Catch::Contains("> 0"));
  CHECK_THROWS_WITH(water_fill_keep_ratios({1, 1}, {250}, 0, 0.5), Catch::Contains("one parameter count"));
}

TEST_CASE("keep_ratio_ramp and ramped_keep_ratio at their boundaries", "[pruning][p3b]") {
  // start 10, sparse 20: r = clip((it + 1 - 10)/10, 0, 1)
  CHECK(keep_ratio_ramp(0, 10, 20) == 0.0);
  CHECK(keep_ratio_ramp(8, 10, 20) == 0.0);  // -1/10 -> 0
  CHECK(keep_ratio_ramp(9, 10, 20) == 0.0);  // 0/10
  CHECK(keep_ratio_ramp(10, 10, 20) == Approx(0.1).epsilon(1e-15));
  CHECK(keep_ratio_ramp(14, 10, 20) == Approx(0.5).epsilon(1e-15));
  CHECK(keep_ratio_ramp(18, 10, 20) == Approx(0.9).epsilon(1e-15));
  CHECK(keep_ratio_ramp(19, 10, 20) == 1.0);
  CHECK(keep_ratio_ramp(500, 10, 20) == 1.0);
  // sparse == start: the full goal from `start` on
  CHECK(keep_ratio_ramp(4, 5, 5) == 0.0);
  CHECK(keep_ratio_ramp(5, 5, 5) == 1.0);
  CHECK_THROWS_WITH(keep_ratio_ramp(0, 10, 5), Catch::Contains("sparse >= start"));
  // kr = 1 - (1 - goal) r: goal 0.4 at r 0.5 -> 0.7
  CHECK(ramped_keep_ratio(0.4, 0.5) == Approx(0.7).epsilon(1e-15));
  CHECK(ramped_keep_ratio(0.4, 0.0) == 1.0);
  CHECK(ramped_keep_ratio(0.4, 1.0) == Approx(0.4).epsilon(1e-15));
  CHECK_THROWS_AS(ramped_keep_ratio(1.2, 0.5), Error);
}

TEST_CASE("mask_temperature: tau_max up to sparse, linear to tau_min at finalize", "[pruning][p3b]") {
  // sparse 20, finalize 30, 0.1 -> 0
  CHECK(mask_temperature(0, 20, 30) == Approx(0.1).epsilon(1e-15));
  CHECK(mask_temperature(20, 20, 30) == Approx(0.1).epsilon(1e-15));
  CHECK(mask_temperature(25, 20, 30) == Approx(0.05).epsilon(1e-15));            // half way
  CHECK(mask_temperature(28, 20, 30, 0.3, 0.1) == Approx(0.14).epsilon(1e-14));  // 0.8*0.1 + 0.2*0.3
  CHECK(mask_temperature(30, 20, 30) == 0.0);
  CHECK(mask_temperature(99, 20, 30) == 0.0);
  // finalize == sparse: tau_min at every iteration (the authors' sharp ratio 1)
  CHECK(mask_temperature(0, 20, 20, 0.1, 0.02) == Approx(0.02).epsilon(1e-15));
  CHECK_THROWS_WITH(mask_temperature(0, 20, 10), Catch::Contains("finalize >= sparse"));
  CHECK_THROWS_WITH(mask_temperature(0, 20, 30, -0.1, 0), Catch::Contains("tau"));
}
