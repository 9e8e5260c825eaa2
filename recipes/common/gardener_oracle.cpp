// Oracle drops and Table 1 of the Gardener study (see gardener_oracle.h).
#include "common/gardener_oracle.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "common/sample_stats.h"
#include "nn/flop_count.h"
#include "pruning/rank_correlation.h"
#include "tensor/error.h"

namespace shears::recipes {

namespace {

std::string interval_str(const pruning::BootstrapInterval& b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.3f [%.3f, %.3f]", b.estimate, b.low, b.high);
  return buf;
}

}  // namespace

OracleSummary summarize_oracle(const std::vector<double>& dense_war, const std::vector<std::vector<double>>& block_war) {
  OracleSummary out;
  const size_t seeds = dense_war.size();
  out.dense_mean = mean_of(dense_war), out.dense_sd = sample_sd(dense_war);
  std::vector<double> within_sd_sq;  // per-block seed variance of a single run's WAR
  for (const std::vector<double>& war : block_war) {
    OracleDrop o;
    o.war = war;
    o.mean_war = mean_of(o.war);
    std::vector<double> diff;
    for (size_t i = 0; i < seeds; ++i) diff.push_back(dense_war[i] - o.war[i]);
    o.drop = mean_of(diff);
    o.se = sample_sd(diff) / std::sqrt(double(seeds));
    out.drops.push_back(o.drop);
    if (seeds >= 2) within_sd_sq.push_back(sample_sd(o.war) * sample_sd(o.war));
    out.blocks.push_back(o);
  }
  if (seeds >= 2) within_sd_sq.push_back(out.dense_sd * out.dense_sd);
  out.run_sd = within_sd_sq.empty() ? std::nan("") : std::sqrt(mean_of(within_sd_sq));  // pooled
  return out;
}

Table gardener_table1(const OracleSummary& o, const nn::ModelConfig& cfg, const std::vector<RemovalResult>& single,
                      int64_t test_clips) {
  const size_t seeds = o.blocks.empty() ? 0 : o.blocks[0].war.size();
  const int64_t depth = int64_t(o.blocks.size());
  const std::string seeds_str = std::to_string(seeds) + " seed" + (seeds > 1 ? "s" : "");
  auto pm = [](double sd) { return std::isnan(sd) ? std::string("-") : fmt_percent(sd); };
  Table t1;
  t1.name = "table1";
  t1.title = "Table 1: block-wise pruning (pretrained model, remove one block, one fine-tune; mean of " + seeds_str +
             "). RB: Remove Block";
  t1.columns = {"Model State", "Params (M)", "GFLOPs", "WAR (%)", "seed sd (%)", "Δ (%)", "SE of Δ (%)", "Δ > SE"};
  t1.add_row({"Original", fmt(nn::count_parameters(cfg) / 1e6, 3), fmt(nn::count_flops(cfg).total / 1e9, 4),
              fmt_percent(o.dense_mean), pm(o.dense_sd), "-", "-", "-"});
  int64_t above = 0, above2 = 0;
  std::string below_list;
  for (int64_t l = 0; l < depth; ++l) {
    const OracleDrop& d = o.blocks[size_t(l)];
    const RemovalResult& r = single[size_t(l)];
    const bool defined = !std::isnan(d.se);
    const bool exceeds = defined && d.drop > d.se;
    above += exceeds;
    above2 += defined && d.drop > 2 * d.se;
    if (defined && !exceeds) below_list += (below_list.empty() ? "" : ", ") + std::to_string(l + 1);
    t1.add_row({"RB-" + std::to_string(l + 1), fmt(r.params / 1e6, 3), fmt(r.gflops, 4), fmt_percent(d.mean_war),
                pm(sample_sd(d.war)), fmt_percent(d.drop), pm(d.se),
                !defined ? "-" : exceeds ? (d.drop > 2 * d.se ? "yes (> 2 SE)" : "yes") : "NO"});
  }
  t1.notes.push_back("Every row is the pretrained model with that block removed and the same single fine-tune as "
                     "Original. Δ = mean over seeds of WAR(Original, seed) - WAR(RB-l, seed), paired by seed (same "
                     "data order and head draw); SE = sd of the paired differences / sqrt(" +
                     std::to_string(seeds) + ").");
  if (seeds >= 2) {
    t1.notes.push_back(std::to_string(above) + " of " + std::to_string(depth) + " single-block drops exceed their SE (" +
                       std::to_string(above2) + " exceed 2 SE)" +
                       (below_list.empty() ? std::string(".")
                                           : "; blocks whose drop does NOT exceed its SE: " + below_list +
                                                 " -- their order in Table 2 is not resolved by the oracle."));
    t1.notes.push_back("Pooled seed sd of one run's WAR: " + fmt_percent(o.run_sd) + " points (binomial SE of a "
                       "WAR on " + std::to_string(test_clips) + " held-out clips: " +
                       fmt(100 * std::sqrt(o.dense_mean * (1 - o.dense_mean) / double(test_clips)), 2) +
                       " points; the test set is shared by all rows).");
  } else {
    t1.notes.push_back("One seed: no standard error; use --oracle-seeds >= 2 to see which drops are resolved.");
  }
  return t1;
}

Table gardener_table2(const OracleSummary& o, const std::vector<double>& entropy, const std::vector<int64_t>& e_rank,
                      const std::vector<int64_t>& s_rank) {
  const int64_t depth = int64_t(o.blocks.size());
  auto pm = [](double sd) { return std::isnan(sd) ? std::string("-") : fmt_percent(sd); };
  Table t2;
  t2.name = "table2";
  t2.title = "Table 2: entropy-based (pretrained model) vs sensitivity-based (oracle) ranking (rank 1 = most important)";
  t2.columns = {"Block", "WAR (%)", "Δ (%)", "SE of Δ (%)", "Entropy (nats)", "Entropy Rank", "Sensitivity Rank"};
  std::vector<int64_t> by_sens(static_cast<size_t>(depth));
  for (int64_t l = 0; l < depth; ++l) by_sens[size_t(s_rank[size_t(l)] - 1)] = l;  // paper: rows in sensitivity-rank order
  for (int64_t l : by_sens)
    t2.add_row({std::to_string(l + 1), fmt_percent(o.blocks[size_t(l)].mean_war), fmt_percent(o.blocks[size_t(l)].drop),
                pm(o.blocks[size_t(l)].se), fmt(entropy[size_t(l)], 4), std::to_string(e_rank[size_t(l)]),
                std::to_string(s_rank[size_t(l)])});
  t2.notes.push_back("Paper's Table 2 (VideoMAE-B/UCF101): Spearman rho 0.755, Kendall tau 0.667.");
  return t2;
}

LinePlot gardener_entropy_plot(const OracleSummary& o, const std::vector<double>& entropy) {
  if (entropy.size() != o.blocks.size())
    fail("gardener_entropy_plot", "entropy of ", entropy.size(), " blocks for an oracle of ", o.blocks.size());
  const bool bars = !o.blocks.empty() && std::isfinite(o.blocks[0].se);
  LinePlot plot;
  plot.title = "Gardener: weight entropy vs the sensitivity oracle, per block";
  plot.subtitle = std::string("oracle drop = dense WAR - WAR with the block removed, same fine-tune") +
                  (bars ? ", mean over seeds; bars: ± SE" : ", one seed");
  plot.xlabel = "weight entropy of the block (nats, pretrained model)";
  plot.ylabel = "oracle drop (WAR points)";
  PlotSeries s{"blocks (numbered from 1)", {}, {}, {}, false, {}};
  for (size_t l = 0; l < entropy.size(); ++l) {
    s.x.push_back(entropy[l]), s.y.push_back(100 * o.blocks[l].drop);
    if (bars) s.err.push_back(100 * o.blocks[l].se);
    s.point_labels.push_back(std::to_string(l + 1));
  }
  plot.series.push_back(s);
  return plot;
}

LinePlot gardener_war_plot(const std::vector<int64_t>& ks, int64_t depth,
                           const std::vector<std::pair<std::string, std::vector<double>>>& war_by_order,
                           double dense_war, int64_t random_draws) {
  LinePlot plot;
  plot.title = "Gardener Table 3: WAR after removing k blocks and the same fine-tune, by removal order";
  plot.subtitle = "Random: mean of " + std::to_string(random_draws) + " draws; one fine-tune seed per point";
  plot.xlabel = "pruning ratio (% of blocks removed)";
  plot.ylabel = "WAR (%)";
  for (const auto& [title, war] : war_by_order) {
    if (war.size() != ks.size())
      fail("gardener_war_plot", "'", title, "' has ", war.size(), " WAR values for ", ks.size(), " block counts");
    PlotSeries s{title, {}, {}, {}, true, {}};
    for (size_t i = 0; i < ks.size(); ++i)
      s.x.push_back(100.0 * double(ks[i]) / double(depth)), s.y.push_back(100 * war[i]);
    plot.series.push_back(s);
  }
  plot.series.push_back({"Original (dense, same fine-tune)", {0.0}, {100 * dense_war}, {}, false, {}});
  return plot;
}

Table gardener_correlation_table(const std::vector<double>& entropy, const std::vector<double>& drops,
                                 const std::vector<int64_t>& e_rank, const std::vector<int64_t>& s_rank,
                                 int64_t resamples, uint64_t bootstrap_seed, std::string& line) {
  Table tc;
  tc.name = "table2_correlation";
  tc.title = "Entropy (pretrained) vs oracle drop: rank correlation with a bootstrap 95% interval";
  tc.columns = {"Statistic", "Estimate", "95% low", "95% high", "Resamples", "Undefined resamples"};
  const double rho = pruning::spearman_rho(entropy, drops), tau = pruning::kendall_tau_b(entropy, drops);
  if (std::isnan(rho) || std::isnan(tau)) {
    tc.add_row({"Spearman rho", "undefined", "-", "-", "0", "0"});
    tc.add_row({"Kendall tau-b", "undefined", "-", "-", "0", "0"});
    tc.notes.push_back("Undefined: the entropies or the drops are all equal.");
    line = "Spearman/Kendall undefined (constant entropies or drops)";
  } else {
    const auto brho = pruning::bootstrap_spearman(entropy, drops, resamples, bootstrap_seed);
    const auto btau = pruning::bootstrap_kendall(entropy, drops, resamples, bootstrap_seed);
    for (auto [name, b] : {std::pair<const char*, pruning::BootstrapInterval>{"Spearman rho", brho}, {"Kendall tau-b", btau}})
      tc.add_row({name, fmt(b.estimate, 3), fmt(b.low, 3), fmt(b.high, 3), std::to_string(b.resamples),
                  std::to_string(b.undefined)});
    tc.notes.push_back("Pairs (entropy of block l, mean oracle drop of block l), both high = important; ties get "
                       "average ranks. Interval: percentile bootstrap over blocks resampled with replacement (seed " +
                       std::to_string(bootstrap_seed) + "); resamples where a list is constant are left out.");
    tc.notes.push_back("Rank-based (ties broken by block index, as in Table 2's columns): rho " +
                       fmt(pruning::spearman_rho(e_rank, s_rank), 3) + ", tau " +
                       fmt(pruning::kendall_tau_b(e_rank, s_rank), 3) + ".");
    line = "Spearman rho " + interval_str(brho) + ", Kendall tau-b " + interval_str(btau);
  }
  return tc;
}

}  // namespace shears::recipes
