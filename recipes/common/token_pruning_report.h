// The tables of the token-pruning study (shears_token_pruning): the paper's Table 1 layout (top-1 ±
// binomial SE per method x keep rate, with and without fine-tuning, best entropy order, 2-SE notes)
// and Table 3 layout (tokens, GFLOPs, measured images/s, accuracy), plus the labels they share.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/line_plot.h"
#include "common/report.h"
#include "common/token_pruning_cell.h"
#include "nn/config.h"

namespace shears::recipes {

// What the tables quote besides the cells.
struct TokenPruningSummary {
  std::string model_name, dataset_name;
  std::string fusion;                          // "--fuse auto (EViT fused, ...)"
  std::vector<pruning::TokenPolicySpec> policies;
  std::vector<bool> policy_fused;              // per policy
  std::vector<double> keep_rates;
  int64_t test_images = 0;                     // n of the binomial SEs
  int64_t train_images = 0, epochs = 0;        // of each fine-tune
  double lr = 0;                               // peak lr of each fine-tune
  int64_t depth = 0;                           // blocks of the base (the pruning locations follow it)
  bool finetune_dense = true, exclude_cls_key = false, fresh_head = false;
  double acc_base = 0, acc_dense_ft = 0;       // dense model as trained / after the same fine-tune
  std::string dense_note;                      // dense_control_note, or "" without the control
  double dense_gflops = 0;
  int64_t dense_tokens = 0;
  int64_t timing_batch = 0;
  double throughput_time = 0;
  int threads = 0;
};

bool is_entropy_policy(const pruning::TokenPolicySpec& p);
// Row label as in the paper's tables: EViT, Random, Shannon, Rényi α=2.
std::string token_policy_label(const pruning::TokenPolicySpec& p);
// "0.7", "0.25".
std::string keep_rate_str(double k);
// "84.12 ± 0.37" (percent, binomial SE sqrt(p (1 - p) / n)).
std::string accuracy_se_cell(double p, int64_t n);
// "DeiT-S", "DeiT-B" or "ViT p4 d64 x6".
std::string token_pruning_model_name(const nn::ModelConfig& cfg);
// How far the same fine-tune moved the dense model, against the bound (and a NOTE past it).
std::string dense_control_note(double acc_base, double acc_dense_ft, int64_t n_test, double bound);

// Table 1 layout after fine-tuning ("table1") or as installed ("table1_no_finetune").
Table token_pruning_table1(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum, bool finetuned);
// Table 1 as a picture: top-1 (%) ± SE against the keep rate (1.0 at the left), one line per method, the dense
// model(s) at keep 1.0. write_line_plot(out + "/" + table.name, ...) puts it beside the table's CSV.
LinePlot token_pruning_plot1(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum, bool finetuned);
// Table 3 layout: tokens, GFLOPs, images/s next to the dense model's, speedup, FLOP ratio, top-1.
Table token_pruning_table3(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum);

}  // namespace shears::recipes
