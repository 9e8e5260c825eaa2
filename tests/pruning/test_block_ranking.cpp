// Block rankings: each criterion's direction on constructed statistics, ties by block index,
// Random (seeded) and Sensitivity orders, k-block removal sets, criterion names, and the rank
// correlations, incl. the paper's Table 2 (entropy vs sensitivity ranks: Spearman 0.755,
// Kendall 0.667) rebuilt from the printed per-block entropies and single-removal accuracies.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "pruning/block_ranking.h"
#include "pruning/rank_correlation.h"

using namespace shears;
using namespace shears::pruning;

using Order = std::vector<int64_t>;
using V = std::vector<double>;

TEST_CASE("each data-free criterion ranks by its statistic in its direction", "[pruning][ranking]") {
  // four blocks whose statistics are ordered differently per field
  std::vector<BlockStats> s(4);
  const double entropy[] = {3, 1, 2, 4}, mean[] = {4, 3, 2, 1}, var[] = {1, 2, 3, 4}, stdv[] = {2, 1, 4, 3},
               l1[] = {1, 4, 2, 3}, l2[] = {3, 4, 1, 2}, kurt[] = {1, 3, 2, 0}, mi[] = {0.5, 0.1, 0.9, 0.3};
  for (int b = 0; b < 4; ++b) {
    s[b].entropy = entropy[b];
    s[b].mean_abs = mean[b];
    s[b].var_abs = var[b];
    s[b].std_abs = stdv[b];
    s[b].l1 = l1[b];
    s[b].l2 = l2[b];
    s[b].kurtosis = kurt[b];
    s[b].mutual_information = mi[b];
  }
  CHECK(removal_order(s, Criterion::Entropy) == Order{1, 2, 0, 3});  // lowest entropy first
  CHECK(removal_order(s, Criterion::Mean) == Order{3, 2, 1, 0});
  CHECK(removal_order(s, Criterion::Variance) == Order{0, 1, 2, 3});
  CHECK(removal_order(s, Criterion::Std) == Order{1, 0, 3, 2});
  CHECK(removal_order(s, Criterion::L1) == Order{0, 2, 3, 1});
  CHECK(removal_order(s, Criterion::L2) == Order{2, 3, 0, 1});
  CHECK(removal_order(s, Criterion::Kurtosis) == Order{1, 2, 0, 3});  // highest kurtosis first
  CHECK(removal_order(s, Criterion::MutualInformation) == Order{2, 0, 3, 1});  // highest MI first
  REQUIRE_THROWS_WITH(removal_order(s, Criterion::Random), Catch::Contains("random_removal_order"));
  REQUIRE_THROWS_WITH(removal_order(s, Criterion::Sensitivity), Catch::Contains("sensitivity_removal_order"));
  s[2].kurtosis = NAN;
  REQUIRE_THROWS_WITH(removal_order(s, Criterion::Kurtosis), Catch::Contains("kurtosis") && Catch::Contains("block 2 is NaN"));
}

TEST_CASE("ties are broken by block index in both directions", "[pruning][ranking]") {
  CHECK(removal_order({1, 0, 1, 0}, false) == Order{1, 3, 0, 2});
  CHECK(removal_order({1, 0, 1, 0}, true) == Order{0, 2, 1, 3});
  CHECK(removal_order({}, false).empty());
}

TEST_CASE("random, sensitivity and k-block removal sets", "[pruning][ranking]") {
  const Order r = random_removal_order(12, 3);
  CHECK(r == random_removal_order(12, 3));
  Order sorted = r;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == Order{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const auto draws = random_removal_orders(12, 3, 4);
  REQUIRE(draws.size() == 4);
  CHECK(draws[0] == r);
  CHECK(draws[1] == random_removal_order(12, 4));
  CHECK(std::count(draws.begin() + 1, draws.end(), r) == 0);  // other seeds, other orders

  CHECK(sensitivity_removal_order({5.0, 0.5, 2.0, -0.1}) == Order{3, 1, 2, 0});  // smallest drop first
  CHECK(blocks_to_remove({11, 9, 10, 8}, 3) == Order{9, 10, 11});
  CHECK(blocks_to_remove({11, 9, 10, 8}, 0).empty());
  REQUIRE_THROWS_WITH(blocks_to_remove({1, 0}, 3), Catch::Contains("k = 3") && Catch::Contains("2 blocks"));
  CHECK(importance_ranks({2, 0, 1}) == Order{2, 1, 3});  // removed last = rank 1
  REQUIRE_THROWS_WITH(importance_ranks({0, 0, 1}), Catch::Contains("not a permutation"));
}

TEST_CASE("criterion names parse, with aliases, and unknown names are refused", "[pruning][ranking]") {
  for (Criterion c : all_criteria()) CHECK(parse_criterion(criterion_name(c)) == c);
  CHECK(all_criteria().size() == 10);
  CHECK(parse_criterion("Gardener") == Criterion::Entropy);
  CHECK(parse_criterion("mutual-information") == Criterion::MutualInformation);
  CHECK(parse_criterion("standard_deviation") == Criterion::Std);
  CHECK(parse_criterion("L1") == Criterion::L1);
  CHECK(std::string(criterion_title(Criterion::Entropy)) == "Information Entropy");
  CHECK(removes_highest_first(Criterion::Kurtosis));
  CHECK(removes_highest_first(Criterion::MutualInformation));
  CHECK_FALSE(removes_highest_first(Criterion::Entropy));
  CHECK_FALSE(uses_block_stats(Criterion::Random));
  REQUIRE_THROWS_WITH(parse_criterion("entropyy"), Catch::Contains("unknown criterion 'entropyy'") &&
                                                       Catch::Contains("kurtosis") && Catch::Contains("sensitivity"));
}

TEST_CASE("the paper's Table 2: entropy vs sensitivity ranks, Spearman 0.755 and Kendall 0.667",
          "[pruning][ranking]") {
  // METHODS.md §1.2: per-block H of the K400-finetuned VideoMAE-B (paper blocks 1..12)
  const std::vector<double> entropy = {9.5484, 9.4170, 9.3856, 9.3946, 9.3830, 9.3894,
                                       9.3775, 9.3787, 9.3612, 9.3514, 9.3539, 9.3487};
  // Table 1: WAR after removing each single block and finetuning; original 91.78
  const std::vector<double> war = {46.73, 90.58, 86.14, 74.65, 88.32, 87.43, 88.51, 88.02, 90.79, 90.30, 91.09, 91.29};
  std::vector<double> drop;
  for (double w : war) drop.push_back(91.78 - w);

  std::vector<BlockStats> stats(12);
  for (size_t b = 0; b < 12; ++b) stats[b].entropy = entropy[b];
  const Order gardener = removal_order(stats, Criterion::Entropy);
  CHECK(gardener == Order{11, 9, 10, 8, 6, 7, 4, 2, 5, 3, 1, 0});  // paper: 12, 10, 11, 9, 7, 8, 5, 3, 6, 4, 2, 1
  // Tables 7-12: Information Entropy removes {12}, {10,11,12}, {7,9,10,11,12}, ...
  CHECK(blocks_to_remove(gardener, 1) == Order{11});
  CHECK(blocks_to_remove(gardener, 3) == Order{9, 10, 11});
  CHECK(blocks_to_remove(gardener, 5) == Order{6, 8, 9, 10, 11});
  CHECK(blocks_to_remove(gardener, 7) == Order{4, 6, 7, 8, 9, 10, 11});
  CHECK(blocks_to_remove(gardener, 9) == Order{2, 4, 5, 6, 7, 8, 9, 10, 11});
  // §1.5: the Sensitivity baseline's sets
  const Order sensitivity = sensitivity_removal_order(drop);
  CHECK(blocks_to_remove(sensitivity, 3) == Order{8, 10, 11});
  CHECK(blocks_to_remove(sensitivity, 5) == Order{1, 8, 9, 10, 11});
  CHECK(blocks_to_remove(sensitivity, 7) == Order{1, 4, 6, 8, 9, 10, 11});
  CHECK(blocks_to_remove(sensitivity, 9) == Order{1, 4, 5, 6, 7, 8, 9, 10, 11});

  // Table 2's columns, by block 1..12
  const Order entropy_rank = importance_ranks(gardener), sensitivity_rank = importance_ranks(sensitivity);
  CHECK(entropy_rank == Order{1, 2, 5, 3, 6, 4, 8, 7, 9, 11, 10, 12});
  CHECK(sensitivity_rank == Order{1, 9, 3, 2, 6, 4, 7, 5, 10, 8, 11, 12});
  CHECK(spearman_rho(entropy_rank, sensitivity_rank) == Approx(1 - 6.0 * 70 / (12 * 143)).epsilon(1e-14));
  CHECK(std::round(spearman_rho(entropy_rank, sensitivity_rank) * 1000) == 755);
  CHECK(kendall_tau_b(entropy_rank, sensitivity_rank) == Approx(44.0 / 66).epsilon(1e-14));
  CHECK(std::round(kendall_tau_b(entropy_rank, sensitivity_rank) * 1000) == 667);
  // the same from the raw scores (ranks are monotone in them)
  CHECK(spearman_rho(entropy, drop) == Approx(0.755).margin(5e-4));  // both: high = important
}

TEST_CASE("rank correlations with ties and degenerate inputs", "[pruning][ranking]") {
  CHECK(average_ranks({10, 20, 20, 5}) == std::vector<double>{2, 3.5, 3.5, 1});
  // scipy.stats.spearmanr([1,2,2,3], [1,2,3,4]) = 0.9486833, kendalltau (tau-b) = 0.9128709
  CHECK(spearman_rho(V{1, 2, 2, 3}, V{1, 2, 3, 4}) == Approx(4.5 / std::sqrt(22.5)).epsilon(1e-14));
  CHECK(kendall_tau_b(V{1, 2, 2, 3}, V{1, 2, 3, 4}) == Approx(5 / std::sqrt(30.0)).epsilon(1e-14));
  CHECK(spearman_rho(V{1, 2, 3}, V{3, 2, 1}) == Approx(-1.0));
  CHECK(kendall_tau_b(V{1, 2, 3}, V{3, 2, 1}) == Approx(-1.0));
  CHECK(std::isnan(spearman_rho(V{1, 1, 1}, V{1, 2, 3})));
  CHECK(std::isnan(kendall_tau_b(V{1, 1, 1}, V{1, 2, 3})));
  REQUIRE_THROWS_WITH(spearman_rho(V{1, 2}, V{1, 2, 3}), Catch::Contains("differ in length"));
  REQUIRE_THROWS_WITH(kendall_tau_b(V{1}, V{1}), Catch::Contains("at least 2"));
}
