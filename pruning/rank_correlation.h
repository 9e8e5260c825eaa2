// Rank agreement between two block rankings (e.g. Gardener's entropy ranks vs the oracle
// sensitivity ranks, METHODS.md §1.5): Spearman's rho with average ranks for ties (Pearson
// correlation of the ranks, scipy.stats.spearmanr) and Kendall's tau-b (ties in either list
// corrected, scipy.stats.kendalltau default). Inputs are any paired values: scores or ranks.
// Bootstrap percentile intervals for either: resample the pairs (blocks) with replacement.
#pragma once
#include <cstdint>
#include <functional>
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

// A statistic on the full sample and its bootstrap percentile interval.
struct BootstrapInterval {
  double estimate = 0;        // the statistic on the original pairs
  double low = 0, high = 0;   // percentiles (1 - confidence)/2 and (1 + confidence)/2, linear interpolation
  int64_t resamples = 0;      // resamples drawn
  int64_t undefined = 0;      // resamples where the statistic was NaN (e.g. one block drawn n times): left out
};
using PairedStatistic = std::function<double(const std::vector<double>&, const std::vector<double>&)>;

// Draws `resamples` samples of n pairs (i uniform in [0, n), with replacement) from Generator(seed)
// and takes the percentile interval of `statistic` over the resamples where it is defined.
// Deterministic for a seed. Throws when the inputs are not valid pairs, confidence is not in
// (0, 1), resamples < 1, or no resample gives a defined value.
BootstrapInterval bootstrap_interval(const std::vector<double>& a, const std::vector<double>& b,
                                     const PairedStatistic& statistic, int64_t resamples = 10000, uint64_t seed = 0,
                                     double confidence = 0.95);
BootstrapInterval bootstrap_spearman(const std::vector<double>& a, const std::vector<double>& b,
                                     int64_t resamples = 10000, uint64_t seed = 0, double confidence = 0.95);
BootstrapInterval bootstrap_kendall(const std::vector<double>& a, const std::vector<double>& b,
                                    int64_t resamples = 10000, uint64_t seed = 0, double confidence = 0.95);

}  // namespace shears::pruning
