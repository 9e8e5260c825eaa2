// Rank agreement between two block rankings (e.g. Gardener's entropy ranks vs the oracle
// sensitivity ranks, METHODS.md §1.5): Spearman's rho with average ranks for ties (Pearson
// correlation of the ranks, scipy.stats.spearmanr) and Kendall's tau-b (ties in either list
// corrected, scipy.stats.kendalltau default). Inputs are any paired values: scores or ranks.
#pragma once
#include <cstdint>
#include <vector>

namespace shears::pruning {

// 1-based ranks of the values, ascending, ties getting the average of their ranks.
std::vector<double> average_ranks(const std::vector<double>& values);

// Spearman's rho of two equally long lists (>= 2 entries). NaN when one list is constant.
double spearman_rho(const std::vector<double>& a, const std::vector<double>& b);

// Kendall's tau-b: (C - D) / sqrt((n0 - n1)(n0 - n2)), n0 = n(n-1)/2, n1/n2 = pairs tied in a/b.
// NaN when one list is constant.
double kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b);

// The same on integer ranks (e.g. importance_ranks() of two removal orders).
double spearman_rho(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
double kendall_tau_b(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace shears::pruning
