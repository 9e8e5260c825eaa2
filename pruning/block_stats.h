// Gardener's data-free block statistics (METHODS.md §1.2, §1.4): every statistic is taken
// over ONE pooled vector per block, its kernel matrices flattened together (block_weights.h).
//  - entropy: weight-number entropy H = -sum_i (c_i/N) ln(c_i/N) in nats over the distinct fp16
//    values (each weight rounded to IEEE binary16, nearest-even; a 65,536-entry count table
//    indexed by the fp16 bit pattern, -0 counted as +0), or with `bins` = K > 0 over K
//    fixed-width bins on [min, max] of the f32 values (numpy.histogram's convention: an inner
//    edge belongs to the upper bin, max to the last bin). efficiency = H / ln N.
//  - mean/var/std of |w| (population, numpy defaults), L1 = sum |w|, L2 = sqrt(sum w^2),
//    kurtosis = Fisher excess m4/m2^2 - 3 of the signed w (biased; scipy.stats.kurtosis
//    default; NaN for a constant block), value entropy = -sum p_i ln p_i with
//    p_i = |w_i| / sum |w| (scipy.stats.entropy(|w|)).
//  - mutual information of block j: mean over the other blocks k of
//    H(B_j) + H(B_k) - H(concat(B_j, B_k)), always with the fp16 distinct-value entropy
//    (0 for a one-block model).
// Sums are accumulated in double per fixed-size chunk and combined in chunk order (oneTBB over
// the chunks of all blocks), so the results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "pruning/block_weights.h"

namespace shears::pruning {

// Counts of the fp16 bit patterns of a block's weights (65,536 entries; -0 folded into +0).
using Fp16Counts = std::vector<int64_t>;

struct BlockStats {
  int64_t count = 0;           // N, weights in the pooled vector
  double entropy = 0;          // nats (fp16 codes, or K bins when bins > 0)
  double efficiency = 0;       // entropy / ln N
  int64_t distinct_values = 0; // occupied fp16 codes (or occupied bins)
  double min = 0, max = 0;     // of the f32 weights
  double mean_abs = 0, var_abs = 0, std_abs = 0;
  double l1 = 0, l2 = 0;
  double kurtosis = 0;         // excess (Fisher), biased
  double value_entropy = 0;    // nats
  double mutual_information = 0;  // nats, mean over the other blocks
};

struct BlockStatsOptions {
  int64_t bins = 0;  // 0: entropy over fp16 codes; K in 1..2^24: K fixed-width bins over [min, max]
};

// Statistics of every block (mutual information included). Throws shears::Error naming the
// block and tensor when a block is empty or holds NaN/inf, or when bins is outside 0..2^24.
std::vector<BlockStats> block_statistics(const std::vector<BlockWeights>& blocks,
                                         const BlockStatsOptions& options = {});

// The fp16 code counts of each block (what the fp16 entropy and the mutual information use).
std::vector<Fp16Counts> fp16_counts(const std::vector<BlockWeights>& blocks);

// H = -sum (c/N) ln(c/N) over a table of counts (zero counts skipped), nats; 0 for N = 0.
double count_entropy(const std::vector<int64_t>& counts);

// H(a) + H(b) - H(a + b) for two fp16 count tables (the notebook's "mutual information" of two
// blocks). Equal to H(a) when both blocks have the same value distribution; for equally sized
// blocks with disjoint values it is (H(a) + H(b))/2 - ln 2.
double mutual_information(const Fp16Counts& a, const Fp16Counts& b);

// Per block: the mean of mutual_information(j, k) over k != j (0 when there is one block).
std::vector<double> mean_mutual_information(const std::vector<Fp16Counts>& counts);

// (v - min) / (max - min) per element (Table 5's Entropy_N); all 0 when max == min.
std::vector<double> min_max_normalize(const std::vector<double>& values);

}  // namespace shears::pruning
