// Bootstrap percentile intervals of Spearman/Kendall (pruning/rank_correlation.h): perfectly
// (anti-)correlated pairs give [1, 1] ([-1, -1]), a seed fixes the result, resampling is uniform
// with replacement (checked against the exact 27-outcome distribution of n = 3), undefined
// resamples are counted, and the paper's Table 2 ranks give an interval around rho 0.755.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "pruning/rank_correlation.h"
#include "tensor/error.h"

using namespace shears;
using namespace shears::pruning;

using V = std::vector<double>;

TEST_CASE("bootstrap of a perfectly correlated sample is [1, 1]", "[pruning][ranking][bootstrap]") {
  V a, b, c;
  for (int i = 0; i < 12; ++i) a.push_back(i * 0.5), b.push_back(3 + 2.0 * i * i), c.push_back(-i);
  const BootstrapInterval rho = bootstrap_spearman(a, b, 10000, 7), tau = bootstrap_kendall(a, b, 10000, 7);
  CHECK(rho.estimate == 1.0);
  CHECK(rho.low == 1.0);
  CHECK(rho.high == 1.0);
  CHECK(tau.estimate == 1.0);
  CHECK(tau.low == 1.0);
  CHECK(tau.high == 1.0);
  CHECK(rho.resamples == 10000);
  CHECK(rho.undefined <= 1);  // all 12 draws on one block: probability 12^-11
  const BootstrapInterval anti = bootstrap_spearman(a, c, 2000, 1), anti_tau = bootstrap_kendall(a, c, 2000, 1);
  CHECK(anti.low == -1.0);
  CHECK(anti.high == -1.0);
  CHECK(anti_tau.low == -1.0);
  CHECK(anti_tau.high == -1.0);
}

TEST_CASE("bootstrap intervals are deterministic for a seed", "[pruning][ranking][bootstrap]") {
  const V a = {1, 4, 2, 8, 5, 7, 3, 6}, b = {2, 3, 1, 7, 8, 6, 5, 4};
  const BootstrapInterval x = bootstrap_spearman(a, b, 3000, 42), y = bootstrap_spearman(a, b, 3000, 42);
  CHECK(x.low == y.low);
  CHECK(x.high == y.high);
  CHECK(x.undefined == y.undefined);
  CHECK(x.estimate == spearman_rho(a, b));
  // another seed draws other resamples: the sorted bootstrap values differ somewhere
  std::vector<double> first, second;
  bootstrap_interval(a, b, [&](const V& p, const V& q) { first.push_back(spearman_rho(p, q)); return 0.0; }, 200, 1);
  bootstrap_interval(a, b, [&](const V& p, const V& q) { second.push_back(spearman_rho(p, q)); return 0.0; }, 200, 2);
  first.erase(first.begin());  // the first call is the estimate on the original sample
  second.erase(second.begin());
  CHECK(first != second);
  CHECK(x.low < x.estimate);
  CHECK(x.estimate < x.high);
}

TEST_CASE("bootstrap resamples uniformly with replacement (n = 3, all 27 outcomes)", "[pruning][ranking][bootstrap]") {
  // Pairs tagged by their index: the statistic decodes which indices were drawn.
  const V a = {0, 1, 2}, b = {0, 1, 2};
  std::map<int, int64_t> counts;  // multiset of drawn indices: its histogram as a base-4 code
  const int64_t draws = 27000;
  bool first_call = true;
  auto record = [&](const V& p, const V&) {
    if (first_call) {  // the estimate on the original sample
      first_call = false;
      return 0.0;
    }
    int hist[3] = {0, 0, 0};
    for (double v : p) ++hist[int(v)];
    ++counts[hist[0] * 16 + hist[1] * 4 + hist[2]];
    return 0.0;
  };
  bootstrap_interval(a, b, record, draws, 3);
  // multiset {i,i,i}: 1 of 27 ordered outcomes; {i,i,j}: 3; {0,1,2}: 6
  REQUIRE(counts.size() == 10);
  for (auto [code, n] : counts) {
    const int h0 = code / 16, h1 = (code / 4) % 4, h2 = code % 4;
    REQUIRE(h0 + h1 + h2 == 3);
    const int ways = (h0 == 3 || h1 == 3 || h2 == 3) ? 1 : (h0 == 1 && h1 == 1 && h2 == 1) ? 6 : 3;
    const double p = ways / 27.0, expected = p * double(draws), sd = std::sqrt(double(draws) * p * (1 - p));
    INFO("drawn multiset code " << code);
    CHECK(std::abs(double(n) - expected) < 4.5 * sd);
  }
}

TEST_CASE("bootstrap on hand cases: undefined resamples and the paper's Table 2", "[pruning][ranking][bootstrap]") {
  // n = 2: a resample is defined only when both pairs are drawn (probability 1/2), and then rho = 1.
  const BootstrapInterval two = bootstrap_spearman(V{1, 2}, V{5, 9}, 10000, 0);
  CHECK(two.low == 1.0);
  CHECK(two.high == 1.0);
  CHECK(std::abs(double(two.undefined) - 5000) < 4.5 * 50);  // binomial sd sqrt(10000/4) = 50
  // Paper Table 2 ranks (entropy vs sensitivity; rho 0.755, tau 0.667 on 12 blocks)
  const V entropy_rank = {1, 2, 5, 3, 6, 4, 8, 7, 9, 11, 10, 12}, sensitivity_rank = {1, 9, 3, 2, 6, 4, 7, 5, 10, 8, 11, 12};
  const BootstrapInterval rho = bootstrap_spearman(entropy_rank, sensitivity_rank, 10000, 0);
  const BootstrapInterval tau = bootstrap_kendall(entropy_rank, sensitivity_rank, 10000, 0);
  CHECK(std::round(rho.estimate * 1000) == 755);
  CHECK(std::round(tau.estimate * 1000) == 667);
  for (const BootstrapInterval& r : {rho, tau}) {
    CHECK(r.low < r.estimate);
    CHECK(r.estimate < r.high);
    CHECK(r.low > 0.0);    // 12 blocks with one far-off block (block 2): clearly positive, not certain
    CHECK(r.low < 0.6);
    CHECK(r.high <= 1.0);
    CHECK(r.high > 0.85);
  }
}

TEST_CASE("bootstrap refuses bad arguments", "[pruning][ranking][bootstrap]") {
  CHECK_THROWS_AS(bootstrap_spearman(V{1, 2, 3}, V{1, 2}), Error);
  CHECK_THROWS_AS(bootstrap_spearman(V{1, 2, 3}, V{1, 2, 3}, 0), Error);
  CHECK_THROWS_AS(bootstrap_spearman(V{1, 2, 3}, V{1, 2, 3}, 100, 0, 1.0), Error);
  CHECK_THROWS_WITH(bootstrap_kendall(V{1, 1, 1}, V{1, 2, 3}, 100), Catch::Contains("undefined on all"));
}
