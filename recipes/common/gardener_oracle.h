// The sensitivity oracle of the Gardener study: each single-block drop's WAR over fine-tune seeds,
// paired by seed with the dense control's (mean drop and its standard error), the pooled seed sd of
// one run, the study's Tables 1 and 2 from them, and the entropy-vs-oracle rank correlation table.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/block_removal.h"
#include "common/line_plot.h"
#include "common/report.h"
#include "nn/config.h"

namespace shears::recipes {

// One single-block drop of the oracle over the seeds.
struct OracleDrop {
  std::vector<double> war;     // per seed
  double mean_war = 0;
  double drop = 0;             // mean over seeds of (dense WAR - WAR), paired by seed
  double se = std::nan("");    // standard error of `drop` (sd of the paired differences / sqrt(seeds))
};

struct OracleSummary {
  std::vector<OracleDrop> blocks;  // by block
  std::vector<double> drops;       // blocks[l].drop
  double dense_mean = 0, dense_sd = std::nan("");
  double run_sd = std::nan("");    // pooled seed sd of one run's WAR (blocks and dense); NaN for one seed
};

// `dense_war[i]` and `block_war[l][i]`: WAR of the dense control and of block l removed with seed i.
OracleSummary summarize_oracle(const std::vector<double>& dense_war, const std::vector<std::vector<double>>& block_war);

// Table 1 ("table1"): Original (`cfg`) and RB-l per block (`single[l]`: a run with block l removed, for its
// params and GFLOPs): mean WAR, seed sd, Δ, its SE and whether Δ exceeds it, with notes on the resolved
// drops and on the seed sd vs the binomial SE on `test_clips` held-out clips.
Table gardener_table1(const OracleSummary& o, const nn::ModelConfig& cfg, const std::vector<RemovalResult>& single,
                      int64_t test_clips);

// Table 2 ("table2"): per block in sensitivity-rank order (s_rank 1 first) its mean WAR, Δ and SE of Δ, the
// pretrained model's weight entropy `entropy[l]` and the two ranks (1 = most important), with the paper's values.
Table gardener_table2(const OracleSummary& o, const std::vector<double>& entropy, const std::vector<int64_t>& e_rank,
                      const std::vector<int64_t>& s_rank);

// Table 2 as a picture (write it as "<out>/table2"): each block's oracle drop Δ (WAR points, ± its SE with
// several seeds) against the pretrained model's weight entropy `entropy[l]`, every point labelled with its block
// (from 1): the relation the paper's entropy criterion assumes (high entropy = important = large drop).
LinePlot gardener_entropy_plot(const OracleSummary& o, const std::vector<double>& entropy);

// Table 3 as a picture (write it as "<out>/table3"): WAR (%) against the pruning ratio (% of the `depth` blocks,
// one point per k of `ks`) per removal order (`war_by_order`: title, WAR per k as fractions), the dense model at 0.
LinePlot gardener_war_plot(const std::vector<int64_t>& ks, int64_t depth,
                           const std::vector<std::pair<std::string, std::vector<double>>>& war_by_order,
                           double dense_war, int64_t random_draws);

// "table2_correlation": Spearman rho and Kendall tau-b of (entropy[l], drops[l]) with percentile-bootstrap
// 95% intervals (`resamples`, seed `bootstrap_seed`), or "undefined" rows when either list is constant, and
// the rank-based values of `e_rank`/`s_rank` (Table 2's columns) in a note. `line` gets a one-line summary.
Table gardener_correlation_table(const std::vector<double>& entropy, const std::vector<double>& drops,
                                 const std::vector<int64_t>& e_rank, const std::vector<int64_t>& s_rank,
                                 int64_t resamples, uint64_t bootstrap_seed, std::string& line);

}  // namespace shears::recipes
