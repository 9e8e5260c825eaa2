// Which blocks to remove: the removal order (first = least important) and the k-block removal
// set for Gardener and each baseline of METHODS.md §1.4, from the block statistics
// (block_stats.h), a seed (Random) or per-block accuracy drops measured elsewhere (Sensitivity).
//   lowest first:  entropy (Gardener), mean|w|, var|w|, std|w|, L1, L2, sensitivity (drop Δ_l)
//   highest first: kurtosis, mutual information
// Ties are broken by block index: among equal scores the lower index is removed first, in both
// directions (a stable sort). Indices are 0-based throughout. The Criterion enum names the rows of
// the Gardener tables; new code ranks through the open registry of criterion.h (BlockRemoval).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pruning/block_stats.h"

namespace shears::pruning {

enum class Criterion { Entropy, Mean, Variance, Std, L1, L2, Kurtosis, MutualInformation, Random, Sensitivity };

// Every criterion in the row order of the paper's Tables 7-12 (Random, Mean, Variance, L1,
// Sensitivity, L2, Std, Kurtosis, Entropy, MI).
const std::vector<Criterion>& all_criteria();
// Short name used on command lines: "entropy", "mean", "variance", "std", "l1", "l2", "kurtosis",
// "mi", "random", "sensitivity".
const char* criterion_name(Criterion c);
// Name in the paper's tables: "Information Entropy", "Mean", ..., "Mutual Information".
const char* criterion_title(Criterion c);
// Parses a short name (case-insensitive; also "gardener", "var", "standard_deviation",
// "mutual_information"); throws shears::Error listing the known names.
Criterion parse_criterion(const std::string& name);
// True for kurtosis and mutual information (their highest-scoring blocks go first).
bool removes_highest_first(Criterion c);
// True when the criterion reads the block statistics (all but Random and Sensitivity).
bool uses_block_stats(Criterion c);

// The statistic a data-free criterion ranks by (throws for Random / Sensitivity).
double criterion_score(const BlockStats& stats, Criterion c);
std::vector<double> criterion_scores(const std::vector<BlockStats>& stats, Criterion c);

// Block indices sorted so the first is removed first: ascending scores, or descending when
// `highest_first`; ties by lower index. Throws when a score is NaN (naming the block).
std::vector<int64_t> removal_order(const std::vector<double>& scores, bool highest_first);
// The removal order of a data-free criterion (throws for Random / Sensitivity).
std::vector<int64_t> removal_order(const std::vector<BlockStats>& stats, Criterion c);
// Sensitivity: the one-shot ranking from single-block removals, smallest accuracy drop first.
std::vector<int64_t> sensitivity_removal_order(const std::vector<double>& accuracy_drops);
// Random: a permutation of 0..depth-1 drawn from Generator(seed) (Philox; same on every machine).
std::vector<int64_t> random_removal_order(int64_t depth, uint64_t seed);
// `draws` random orders with seeds first_seed, first_seed + 1, ... (to average the Random baseline).
std::vector<std::vector<int64_t>> random_removal_orders(int64_t depth, uint64_t first_seed, int64_t draws);

// The first k blocks of a removal order, sorted ascending (what drop_blocks takes). Throws when
// k is outside [0, order.size()].
std::vector<int64_t> blocks_to_remove(const std::vector<int64_t>& order, int64_t k);

// Importance rank of each block from a removal order: rank 1 = removed last (most important),
// rank L = removed first, as in the paper's Table 2 ("Entropy Rank" 1 = highest entropy).
std::vector<int64_t> importance_ranks(const std::vector<int64_t>& order);

}  // namespace shears::pruning
