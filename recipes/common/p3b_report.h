// The tables and the picture of the P3B study (shears_p3b): P1 top-1 per method x pruning ratio with
// the paper's figures beside it, P2 per sub-block benefits / keep ratios / kept parameters of one run,
// P3 cost and accuracy of every run, and the ΔΨ-per-sub-block-over-mask-updates heatmap (CSV always,
// PNG through gnuplot when it is installed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/evaluate.h"
#include "common/line_plot.h"
#include "common/p3b_training.h"
#include "common/report.h"

namespace shears::recipes {

// One trained model of the study: "dense" (fine-tune only) or a P3B variant at a ratio.
struct P3bStudyRow {
  std::string method;     // "dense", "p3b", "uniform", "no-react"
  double ratio = 0;       // pruning ratio asked for (0 for dense)
  uint64_t seed = 0;
  int64_t params = 0;     // of the saved model (real shapes)
  double gflops = 0;      // fvcore convention, per image
  double images_per_second = 0, dense_images_per_second = 0;  // interleaved medians, same run
  bool has_pruned = false;
  Accuracy pruned, finetuned;  // after the pruning run (sliced, before fine-tune) / after fine-tune
  int64_t test_samples = 0;
  int64_t reactivated = 0;
  double prune_seconds = 0, heads_seconds = 0, finetune_seconds = 0;
  std::string checkpoint;  // saved model (reloadable from the file alone)
  P3bRunResult run;        // the pruning run's trace (empty for dense)
};

// Standard error of an accuracy p over n samples, in percentage points.
double accuracy_se_points(double p, int64_t n);
// "87.61 ± 0.46" from a fraction and the sample count.
std::string accuracy_cell(double p, int64_t n);

// P1: method x ratio -> top-1 after fine-tune (mean over seeds ± SE; SE from the test-set size and,
// with several seeds, the seed spread, whichever is larger), with the paper's README figures quoted.
Table p3b_table_p1(const std::vector<P3bStudyRow>& rows, const std::vector<double>& ratios,
                   const std::vector<std::string>& methods, const std::string& setting);
// P1 as a picture (write it as "<out>/p3b_table_p1"): top-1 (%) ± SE after fine-tune against the pruning ratio
// (%), one line per method, the dense fine-tune at 0; the same means and SEs as the table.
LinePlot p3b_plot_p1(const std::vector<P3bStudyRow>& rows, const std::vector<double>& ratios,
                     const std::vector<std::string>& methods, const std::string& setting);
// P2: one run's last update per sub-block: ΔΨ cls, ΔΨ patch (window means), importance, goal keep
// ratio, kept / unpruned params.
Table p3b_table_p2(const P3bStudyRow& row);
// P3: every run: method, ratio, seed, params (M), GFLOPs, img/s (and dense img/s, speedup, FLOP ratio),
// top-1 after the pruning run and after fine-tune, elements reactivated, seconds.
Table p3b_table_p3(const std::vector<P3bStudyRow>& rows, double dense_gflops);

// Writes <stem>.csv (iteration, sub-block, ΔΨ cls, ΔΨ patch) and, when gnuplot is on PATH, <stem>.png
// (two heatmaps: sub-block vs mask update, colour = ΔΨ) via <stem>.gp. Returns the PNG path, or ""
// with `note` saying why there is none.
std::string write_benefit_heatmap(const P3bStudyRow& row, const std::string& stem, std::string& note);

}  // namespace shears::recipes
