// The tables of the AMP study (shears_amp): A1 cost / speed / top-1 of the original, pruned and
// recovered models, A2 the per-layer binary-search trace, A3 neuron criteria at AMP's widths; plus the
// per-δ results they are built from and the number formats the recipe's progress lines share.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/line_plot.h"
#include "common/model_cost.h"
#include "common/report.h"
#include "pruning/amp.h"

namespace shears::recipes {

// One neuron criterion pruned to AMP's widths (A3), no recovery.
struct AmpAblation {
  std::string criterion, label;
  std::vector<double> top1;  // one per seed (one for deterministic criteria)
  bool same_neurons_as_amp = false;
};

// Everything measured for one δ.
struct AmpDeltaRun {
  double delta = 0;
  pruning::AmpResult result;
  ModelCost cost;
  double acc_pruned = 0, acc_recovered = std::nan("");
  double images_per_s = 0, original_images_per_s = 0;
  double distill_loss = std::nan(""), distill_seconds = 0, search_seconds = 0;
  std::vector<AmpAblation> ablations;
  std::string pruned_path, recovered_path;
};

// What the tables quote besides the runs.
struct AmpStudySummary {
  std::string model_name, dataset_name, scoring_desc, validation_desc;
  int64_t test_images = 0;       // n of the binomial SEs
  ModelCost original_cost;
  double original_top1 = 0;
  int64_t original_mlp_hidden = 0;  // H of the first block
  int64_t validation_batch = 0;
  bool recovered = false;        // distillation ran (--distill-epochs > 0)
  int64_t timing_batch = 0;
  double throughput_time = 0;
  int threads = 0;
};

// A number in its shortest form (1e-3 -> "0.001", 15 -> "15").
std::string amp_number(double v);
// Binomial standard error sqrt(p (1 - p) / n) of an accuracy p on n images.
double amp_binomial_se(double p, int64_t n);
// "84.12 ± 0.37" (percent, binomial SE).
std::string amp_accuracy_cell(double p, int64_t n);
// Per-block widths as "64/48/32".
std::string amp_widths_str(const std::vector<int64_t>& widths);

// A1: params, GFLOPs (fvcore and 2×MAC), img/s, speedup, FLOP ratio and top-1 per δ and state.
Table amp_table_a1(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum);
// A1 as a picture (write it as "<out>/amp_a1"): top-1 (%) ± binomial SE against GFLOPs per image, one point per
// δ (labelled) for the pruned models and, with recovery, the recovered ones; the original model alone.
LinePlot amp_plot_a1(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum);
// A2: the per-layer search trace of every δ.
Table amp_table_a2(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum);
// A3: every criterion at AMP's widths against entropy-Taylor, with 2-SE significance notes.
Table amp_table_a3(const std::vector<AmpDeltaRun>& runs, const AmpStudySummary& sum);

}  // namespace shears::recipes
