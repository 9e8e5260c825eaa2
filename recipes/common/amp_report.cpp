// Tables of the AMP study (see amp_report.h).
#include "common/amp_report.h"

#include "common/sample_stats.h"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace shears::recipes {

namespace {

// A single seed contributes no spread term to the standard errors below.
double sd_of(const std::vector<double>& v) { return v.size() < 2 ? 0.0 : sample_sd(v); }

}  // namespace

std::string amp_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

double amp_binomial_se(double p, int64_t n) { return std::sqrt(std::max(0.0, p * (1 - p)) / double(n)); }

std::string amp_accuracy_cell(double p, int64_t n) {
  return fmt_percent(p) + " ± " + fmt_percent(amp_binomial_se(p, n));
}

std::string amp_widths_str(const std::vector<int64_t>& w) {
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) s += (i ? "/" : "") + std::to_string(w[i]);
  return s;
}


Table amp_table_a1(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum) {
  const double original_ips = [&] {
    std::vector<double> v;
    for (const AmpDeltaRun& r : runs) v.push_back(r.original_images_per_s);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }();
  const int gd = sum.original_cost.gflops < 0.1 ? 5 : 3;
  Table a1;
  a1.name = "amp_a1";
  a1.title = "A1: AMP on " + sum.model_name + " (" + sum.dataset_name + ", " + std::to_string(sum.test_images) +
             " test images): original / pruned / recovered";
  a1.columns = {"Model", "State", "δ", "Params", "GFLOPs (fvcore)", "GFLOPs (2×MAC)", "Images/s", "Original images/s",
                "Speedup", "FLOP ratio", "Top-1 (%)"};
  a1.add_row({sum.model_name, "original", "-", std::to_string(sum.original_cost.params), fmt(sum.original_cost.gflops, gd),
              fmt(2 * sum.original_cost.gflops, gd), fmt(original_ips, 0), fmt(original_ips, 0), "1.00",
              "1.00", amp_accuracy_cell(sum.original_top1, sum.test_images)});
  for (const AmpDeltaRun& r : runs) {
    const std::vector<std::string> common = {
        std::to_string(r.cost.params), fmt(r.cost.gflops, gd), fmt(2 * r.cost.gflops, gd),
        fmt(r.images_per_s, 0), fmt(r.original_images_per_s, 0),
        fmt(r.images_per_s / r.original_images_per_s, 2), fmt(sum.original_cost.gflops / r.cost.gflops, 2)};
    std::vector<std::string> row = {sum.model_name, "pruned (AMP)", amp_number(r.delta)};
    row.insert(row.end(), common.begin(), common.end());
    row.push_back(amp_accuracy_cell(r.acc_pruned, sum.test_images));
    a1.add_row(row);
    if (sum.recovered) {
      row = {sum.model_name, "recovered (distill)", amp_number(r.delta)};
      row.insert(row.end(), common.begin(), common.end());
      row.push_back(amp_accuracy_cell(r.acc_recovered, sum.test_images));
      a1.add_row(row);
    }
  }
  a1.notes.push_back("Top-1 ± binomial SE sqrt(p(1-p)/n), n = " + std::to_string(sum.test_images) +
                     ", with the original head. GFLOPs per image: fvcore convention (1 multiply-add = 1 flop) and "
                     "2×MAC (the convention of AMP's tables, METHODS.md §5.6).");
  a1.notes.push_back("Images/s: no-grad inference on a batch of " + std::to_string(sum.timing_batch) +
                     " test images, median of 5 samples of >= " + fmt(sum.throughput_time, 2) +
                     " s, interleaved with the original model (its column, measured next to each pruned model; the "
                     "original row shows the median of those). A recovered model has the pruned model's shapes and "
                     "speed. " + std::to_string(sum.threads) + " threads on a shared machine: compare ratios.");
  for (const AmpDeltaRun& r : runs) {
    const double speedup = r.images_per_s / r.original_images_per_s, ratio = sum.original_cost.gflops / r.cost.gflops;
    a1.notes.push_back("δ " + amp_number(r.delta) + ": params −" +
                       fmt(100.0 * (1 - double(r.cost.params) / double(sum.original_cost.params)), 1) + "%, FLOPs −" +
                       fmt(100.0 * (1 - r.cost.gflops / sum.original_cost.gflops), 1) + "% (MLP widths " +
                       amp_widths_str(r.result.widths) + " of " + std::to_string(sum.original_mlp_hidden) +
                       "); measured speedup " + fmt(speedup, 2) + "x = " + fmt(speedup / ratio, 3) +
                       " of the FLOP ratio " + fmt(ratio, 2) + (speedup >= 0.9 * ratio ? " (>= 0.9: yes)" : " (>= 0.9: NO)") +
                       "; top-1 " + fmt(100 * (r.acc_pruned - sum.original_top1), 2) + " points pruned" +
                       (sum.recovered ? ", " + fmt(100 * (r.acc_recovered - sum.original_top1), 2) + " points recovered"
                                             : std::string()) + ".");
  }
  a1.notes.push_back(
      "The paper (METHODS.md §5.6, zero-shot ImageNet-1k, A6000, batch 1000): OpenCLIP-g 1.01B params, 0.52 TFLOPs "
      "(2×MAC), 150.8 img/s, 78.5% -> AMP pruned 0.62B (−39%), 0.32T (−38%), 222.3 img/s (1.47x), 65.0% (−13.5) -> "
      "distilled 78.4% (−0.1); OpenCLIP-G 1.84B/0.95T/90.6 img/s -> 1.17B/0.60T/135.8 img/s, 80.1 -> 70.2 -> 80.1; "
      "EVA-CLIP-E 4.35B/2.23T -> 2.50B/1.28T, 82.0 -> 59.2 -> 82.0 (δ 1e-2 at τ_inv 15 for OpenCLIP-g).");
  return a1;
}

LinePlot amp_plot_a1(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum) {
  const int64_t n = sum.test_images;
  LinePlot plot;
  plot.title = "AMP A1: top-1 vs GFLOPs per image, " + sum.model_name + " on " + sum.dataset_name;
  plot.subtitle = std::to_string(n) + " test images; bars: ± binomial SE; points labelled with δ";
  plot.xlabel = "GFLOPs per image (fvcore: 1 multiply-add = 1 flop)";
  plot.ylabel = "test top-1 (%)";
  PlotSeries pruned{"pruned (AMP), no recovery", {}, {}, {}, true, {}};
  PlotSeries recovered{"recovered (distillation)", {}, {}, {}, true, {}};
  for (const AmpDeltaRun& r : runs) {
    pruned.x.push_back(r.cost.gflops), pruned.y.push_back(100 * r.acc_pruned);
    pruned.err.push_back(100 * amp_binomial_se(r.acc_pruned, n));
    pruned.point_labels.push_back("δ=" + amp_number(r.delta));
    if (sum.recovered) {
      recovered.x.push_back(r.cost.gflops), recovered.y.push_back(100 * r.acc_recovered);
      recovered.err.push_back(100 * amp_binomial_se(r.acc_recovered, n));
    }
  }
  if (!runs.empty()) plot.series.push_back(pruned);
  if (sum.recovered && !runs.empty()) plot.series.push_back(recovered);
  plot.series.push_back({sum.model_name + " (original)", {sum.original_cost.gflops}, {100 * sum.original_top1},
                         {100 * amp_binomial_se(sum.original_top1, n)}, false, {}});
  return plot;
}

Table amp_table_a2(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum) {
  Table a2;
  a2.name = "amp_a2";
  a2.title = "A2: AMP's per-layer binary search (last block first; validation batch " + std::to_string(sum.validation_batch) +
             ", E <= ln " + std::to_string(sum.validation_batch) + " = " + fmt(std::log(double(sum.validation_batch)), 4) + ")";
  a2.columns = {"δ", "Block", "Kept / H", "E_prev", "E accepted", "ΔE", "Widths tried (width: E)"};
  for (const AmpDeltaRun& r : runs)
    for (const pruning::AmpLayerTrace& l : r.result.layers) {
      std::string tried;
      for (const auto& [w, e] : l.tried)
        tried += (tried.empty() ? "" : ", ") + std::to_string(w) + ": " + (std::isfinite(e) ? fmt(e, 5) : "-");
      a2.add_row({amp_number(r.delta), std::to_string(l.block), std::to_string(l.kept) + " / " + std::to_string(l.hidden),
                  fmt(l.e_prev, 5), fmt(l.e_accepted, 5), fmt(l.e_accepted - l.e_prev, 5),
                  tried});
    }
  for (const AmpDeltaRun& r : runs)
    a2.notes.push_back("δ " + amp_number(r.delta) + ": E dense " + fmt(r.result.e_dense, 5) + " -> final " +
                       fmt(r.result.e_final, 5) + "; widths by block " + amp_widths_str(r.result.widths) +
                       "; search " + fmt(r.search_seconds, 0) + " s (scores included).");
  a2.notes.push_back("Scores: entropy-Taylor mean_b |Σ_t a·∂E/∂a| (a = fc2 input) over the scoring set (" +
                     sum.scoring_desc + "), one pass on the unpruned model; the search runs on " + sum.validation_desc +
                     "; a layer that accepts no width keeps H and E_prev is recomputed on it (§5.7).");
  return a2;
}

Table amp_table_a3(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum) {
  Table a3;
  a3.name = "amp_a3";
  a3.title = "A3: neuron criteria at AMP's per-layer widths, no recovery (top-1 %, " + std::to_string(sum.test_images) +
             " test images)";
  a3.columns = {"δ", "Widths", "Criterion", "Top-1 (%)", "Δ vs entropy-Taylor (points)", "2 SE of Δ"};
  for (const AmpDeltaRun& r : runs) {
    const AmpAblation& et = r.ablations.front();
    const double a_et = et.top1.front(), se_et = amp_binomial_se(a_et, sum.test_images);
    for (const AmpAblation& a : r.ablations) {
      const double m = mean_of(a.top1);
      std::string cell = a.top1.size() > 1 ? fmt_percent(m) + " ± " + fmt_percent(sd_of(a.top1)) +
                                                 " (sd of " + std::to_string(a.top1.size()) + " seeds)"
                                           : amp_accuracy_cell(m, sum.test_images);
      if (&a == &et) cell += a.same_neurons_as_amp ? " (= AMP pruned)" : " (differs from AMP's neurons!)";
      // SE of a seed mean: binomial SE / sqrt(k) plus the seed spread / sqrt(k)
      const double k = double(a.top1.size());
      const double se_a = std::sqrt(amp_binomial_se(m, sum.test_images) * amp_binomial_se(m, sum.test_images) / k +
                                    sd_of(a.top1) * sd_of(a.top1) / k);
      a3.add_row({amp_number(r.delta), amp_widths_str(r.result.widths), a.label, cell,
                  &a == &et ? "-" : fmt(100 * (m - a_et), 2),
                  &a == &et ? "-" : fmt(200 * std::sqrt(se_et * se_et + se_a * se_a), 2)});
    }
  }
  a3.notes.push_back("Each row prunes the original model to the same per-layer widths with MlpNeuronPruning and "
                     "the named neuron criterion (pruning/criterion.h registry): entropy_taylor = AMP's label-free "
                     "score, ce_taylor = the same formula with cross-entropy on the labels of the scoring set, "
                     "magnitude = sqrt(|fc1 row|² + |fc2 column|²), random:<seed>.");
  a3.notes.push_back("Δ beyond noise when |Δ| > 2 SE of the difference (binomial SEs; random: SE of the seed mean incl. "
                     "the seed sd); conservative since all rows share the test set.");
  for (const AmpDeltaRun& r : runs) {
    const double a_et = r.ablations.front().top1.front();
    std::string line = "δ " + amp_number(r.delta) + ": entropy-Taylor " + fmt_percent(a_et) + "%, minus";
    for (size_t i = 1; i < r.ablations.size(); ++i) {
      const AmpAblation& a = r.ablations[i];
      const double m = mean_of(a.top1), k = double(a.top1.size());
      const double se = std::sqrt(amp_binomial_se(a_et, sum.test_images) * amp_binomial_se(a_et, sum.test_images) +
                                  (amp_binomial_se(m, sum.test_images) * amp_binomial_se(m, sum.test_images) +
                                   sd_of(a.top1) * sd_of(a.top1)) /
                                      k);
      const double d = a_et - m;
      line += std::string(i > 1 ? ";" : "") + " " + a.criterion + " " + (d >= 0 ? "+" : "") + fmt(100 * d, 2) +
              (std::fabs(d) > 2 * se ? (d > 0 ? " (entropy-Taylor better, beyond 2 SE " : " (entropy-Taylor worse, beyond 2 SE ")
                                     : " (within 2 SE ") + fmt(200 * se, 2) + ")";
    }
    a3.notes.push_back(line + ".");
  }
  return a3;
}

}  // namespace shears::recipes
