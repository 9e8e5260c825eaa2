// Tables of the token-pruning study (see token_pruning_report.h).
#include "common/token_pruning_report.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "common/block_removal.h"
#include "pruning/token_pruning.h"
#include "tensor/error.h"

namespace shears::recipes {

namespace {

// A number in its shortest form (0.5, 2, 5e-05).
std::string general_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The Rényi order as the tables write it: 0.5, 1, 2, ∞.
std::string order_str(double alpha) { return std::isinf(alpha) ? "∞" : general_str(alpha); }

// Binomial standard error of an accuracy p measured on n images: sqrt(p (1 - p) / n).
double binomial_se(double p, int64_t n) { return std::sqrt(std::max(0.0, p * (1 - p)) / double(n)); }

}  // namespace

bool is_entropy_policy(const pruning::TokenPolicySpec& p) { return p.kind == pruning::TokenPolicyKind::Entropy; }

// Row label as in the paper's tables.
std::string token_policy_label(const pruning::TokenPolicySpec& p) {
  switch (p.kind) {
    case pruning::TokenPolicyKind::EViT: return "EViT";
    case pruning::TokenPolicyKind::Random: return "Random";
    case pruning::TokenPolicyKind::Entropy: break;
  }
  if (p.renyi_order == 1.0) return "Shannon";
  return "Rényi α=" + order_str(p.renyi_order);
}

std::string keep_rate_str(double k) { return fmt(k, k * 10 == std::round(k * 10) ? 1 : 2); }

// "84.12 ± 0.37" (percent).
std::string accuracy_se_cell(double p, int64_t n) {
  return fmt_percent(p) + " ± " + fmt_percent(binomial_se(p, n));
}

std::string token_pruning_model_name(const nn::ModelConfig& cfg) {
  return cfg.dim == 384 && cfg.patch_size == 16   ? "DeiT-S"
         : cfg.dim == 768 && cfg.patch_size == 16 ? "DeiT-B"
                                                  : "ViT p" + std::to_string(cfg.patch_size) + " d" +
                                                        std::to_string(cfg.dim) + " x" + std::to_string(cfg.depth());
}

std::string dense_control_note(double acc_base, double acc_dense_ft, int64_t n_test, double bound) {
  const double moved = 100 * (acc_dense_ft - acc_base);
  std::string note = "Dense control: base " + accuracy_se_cell(acc_base, n_test) + " as trained, " +
                     accuracy_se_cell(acc_dense_ft, n_test) +
                     " after the same fine-tune (" + fmt(moved, 2) + " points; bound ±" + fmt(bound, 2) + ": " +
                     (std::fabs(moved) <= bound ? "within)." : "EXCEEDED).");
  if (std::fabs(moved) > bound)
    note += " NOTE: the recovery fine-tune moves the dense model by more than " + fmt(bound, 2) +
            " points, so the pruned cells are compared with a changed control; lower --lr or --train-limit.";
  return note;
}

namespace {

// Two standard errors of the difference of two accuracies on independent samples of n images each
// (the test set is shared, so this overstates the noise of a paired comparison: conservative).
double two_se_diff(double a, double b, int64_t n) {
  return 2 * std::sqrt(binomial_se(a, n) * binomial_se(a, n) + binomial_se(b, n) * binomial_se(b, n));
}

// The notes under a Table 1: for each keep rate, which differences from the best method exceed two
// standard errors of a difference, and EViT against the best entropy order.
std::vector<std::string> significance_notes(const std::vector<pruning::TokenPolicySpec>& policies,
                                            const std::vector<double>& keep_rates, int64_t n,
                                            const std::function<double(const pruning::TokenPolicySpec&, double)>& acc) {
  std::vector<std::string> notes;
  notes.push_back("± = binomial standard error sqrt(p(1-p)/n) on n = " + std::to_string(n) +
                  " test images. A difference counts as beyond noise when it exceeds 2·sqrt(SE_a² + SE_b²) "
                  "(two SE of a difference; conservative, since all cells share the test set).");
  for (double k : keep_rates) {
    const pruning::TokenPolicySpec* best = &policies.front();
    for (const auto& p : policies)
      if (acc(p, k) > acc(*best, k)) best = &p;
    std::string beyond, within;
    for (const auto& p : policies) {
      if (&p == best) continue;
      const double d = acc(p, k) - acc(*best, k);
      const std::string item = token_policy_label(p) + " " + fmt(100 * d, 2);
      std::string& list = std::fabs(d) > two_se_diff(acc(p, k), acc(*best, k), n) ? beyond : within;
      list += (list.empty() ? "" : ", ") + item;
    }
    std::string line = "keep " + keep_rate_str(k) + ": best " + token_policy_label(*best) + " " + fmt_percent(acc(*best, k)) +
                       "; below it by more than 2 SE: " + (beyond.empty() ? "none" : beyond) +
                       "; within 2 SE: " + (within.empty() ? "none" : within) + ".";
    // EViT against the best entropy order (the paper's comparison)
    const pruning::TokenPolicySpec* evit = nullptr;
    const pruning::TokenPolicySpec* best_entropy = nullptr;
    for (const auto& p : policies) {
      if (p.kind == pruning::TokenPolicyKind::EViT) evit = &p;
      if (is_entropy_policy(p) && (!best_entropy || acc(p, k) > acc(*best_entropy, k))) best_entropy = &p;
    }
    if (evit && best_entropy) {
      const double d = acc(*best_entropy, k) - acc(*evit, k), bound = two_se_diff(acc(*best_entropy, k), acc(*evit, k), n);
      line += " Best entropy order (" + token_policy_label(*best_entropy) + ") − EViT = " + fmt(100 * d, 2) +
              " points (2 SE " + fmt(100 * bound, 2) + (std::fabs(d) > bound ? ": beyond noise)." : ": within noise).");
    }
    notes.push_back(line);
  }
  return notes;
}

const TokenPruningCell& cell_of(const std::vector<TokenPruningCell>& cells, const pruning::TokenPolicySpec& p,
                                double keep) {
  for (const TokenPruningCell& c : cells)
    if (c.policy.name() == p.name() && c.keep_rate == keep) return c;
  fail("token_pruning_report", "internal: no result for ", p.name(), " at keep ", keep);
}

}  // namespace

Table token_pruning_table1(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum, bool finetuned) {
  const bool ft = finetuned;
  const int64_t n_test = sum.test_images;
  int entropy_policies = 0;
  for (const auto& p : sum.policies) entropy_policies += is_entropy_policy(p) ? 1 : 0;
  auto acc = [&](const pruning::TokenPolicySpec& p, double k) {
    const TokenPruningCell& c = cell_of(cells, p, k);
    return ft ? c.acc_finetuned : c.acc_installed;
  };
  Table t;
  t.name = ft ? "table1" : "table1_no_finetune";
  t.title = std::string("Table 1 layout: top-1 (%) ± SE on ") + sum.dataset_name + " (" + std::to_string(n_test) +
            " test images) by keep rate, " +
            (ft ? "after fine-tuning with the policy installed" : "policy installed on the base model, no fine-tuning");
  t.columns = {"Method", "Fuse", "1.0"};
  for (double k : sum.keep_rates) t.columns.push_back(keep_rate_str(k));
  auto dense_row = [&](const std::string& label, double a) {
    std::vector<std::string> row = {label, "-", accuracy_se_cell(a, n_test)};
    for (size_t i = 0; i < sum.keep_rates.size(); ++i) row.push_back("-");
    t.add_row(row);
  };
  dense_row(sum.model_name + " (dense, as trained)", sum.acc_base);
  if (ft && sum.finetune_dense) dense_row(sum.model_name + " (dense control, same fine-tune)", sum.acc_dense_ft);
  for (size_t i = 0; i < sum.policies.size(); ++i) {
    const pruning::TokenPolicySpec& p = sum.policies[i];
    std::vector<std::string> row = {token_policy_label(p), sum.policy_fused[i] ? "yes" : "no", "-"};
    for (double k : sum.keep_rates) row.push_back(accuracy_se_cell(acc(p, k), n_test));
    t.add_row(row);
  }
  if (entropy_policies >= 2) {  // the best Rényi/Shannon order at each keep rate, named
    std::vector<std::string> row = {"Best entropy order", "", "-"};
    for (double k : sum.keep_rates) {
      const pruning::TokenPolicySpec* best = nullptr;
      for (const auto& p : sum.policies)
        if (is_entropy_policy(p) && (!best || acc(p, k) > acc(*best, k))) best = &p;
      row.push_back(accuracy_se_cell(acc(*best, k), n_test) + " (α=" + order_str(best->renyi_order) + ")");
    }
    t.add_row(row);
  }
  if (ft) {
    t.notes = {"Each cell: the base model with the policy installed at keep rate ρ (left = ceil(ρ·(N−1)) tokens "
               "after each pruning block), fine-tuned " + std::to_string(sum.epochs) + " epoch(s) on " +
                   std::to_string(sum.train_images) + " images (peak lr " + general_str(sum.lr) +
                   "), then evaluated with pruning on." +
                   (sum.finetune_dense ? " The dense control got the same fine-tune (keep 1.0)." : ""),
               std::string("Pruning after blocks ") + blocks_str(pruning::default_pruning_locations(sum.depth)) +
                   " (1-based); " + sum.fusion + "; entropy policies keep the lowest head-mean Rényi entropy of each "
                   "query row" + (sum.exclude_cls_key ? " (CLS key excluded)" : " (all keys)") + "."};
    if (!sum.dense_note.empty()) t.notes.push_back(sum.dense_note);
  } else {
    t.notes = {"Dense row: the base model as loaded." +
               std::string(sum.fresh_head ? " With a fresh head these accuracies are near chance." : "")};
  }
  for (const std::string& n : significance_notes(sum.policies, sum.keep_rates, n_test, acc)) t.notes.push_back(n);
  return t;
}

LinePlot token_pruning_plot1(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum, bool finetuned) {
  const int64_t n = sum.test_images;
  auto se = [&](double p) { return 100 * std::sqrt(std::max(0.0, p * (1 - p)) / double(n)); };
  LinePlot plot;
  plot.title = std::string("top-1 vs keep rate, ") + sum.model_name + ", " +
               (finetuned ? "after fine-tuning with the policy installed" : "policy installed, no fine-tuning");
  plot.subtitle = sum.dataset_name + ", " + std::to_string(n) + " test images; bars: ± binomial SE";
  plot.xlabel = "keep rate (tokens kept after each pruning block)";
  plot.ylabel = "test top-1 (%)";
  plot.x_reversed = true;
  for (const auto& p : sum.policies) {
    PlotSeries s{token_policy_label(p), {}, {}, {}, true};
    for (double k : sum.keep_rates) {
      const TokenPruningCell& c = cell_of(cells, p, k);
      const double a = finetuned ? c.acc_finetuned : c.acc_installed;
      s.x.push_back(k), s.y.push_back(100 * a), s.err.push_back(se(a));
    }
    plot.series.push_back(s);
  }
  plot.series.push_back({sum.model_name + " (dense, as trained)", {1.0}, {100 * sum.acc_base}, {se(sum.acc_base)}, false});
  if (finetuned && sum.finetune_dense)
    plot.series.push_back({sum.model_name + " (dense control, same fine-tune)", {1.0}, {100 * sum.acc_dense_ft},
                           {se(sum.acc_dense_ft)}, false});
  return plot;
}

Table token_pruning_table3(const std::vector<TokenPruningCell>& cells, const TokenPruningSummary& sum) {
  const int64_t n_test = sum.test_images;
  const int gflop_decimals = sum.dense_gflops < 0.1 ? 5 : 3;
  Table t3;
  t3.name = "table3";
  t3.title = "Table 3 layout: accuracy, GFLOPs and measured images/s per keep rate and method (" + sum.dataset_name + ")";
  t3.columns = {"Keep rate", "Method", "Fuse", "Tokens", "GFLOPs", "Images/s", "Dense images/s", "Speedup", "FLOP ratio",
                "Top-1 installed (%)", "Top-1 fine-tuned (%)"};
  std::vector<double> dense_rates;
  for (const TokenPruningCell& c : cells) dense_rates.push_back(c.dense_images_per_s);
  std::sort(dense_rates.begin(), dense_rates.end());
  const double dense_ips = dense_rates.empty() ? 0 : dense_rates[dense_rates.size() / 2];
  t3.add_row({"1.0", sum.model_name + " (dense)", "-", std::to_string(sum.dense_tokens),
              fmt(sum.dense_gflops, gflop_decimals), fmt(dense_ips, 0), fmt(dense_ips, 0), "1.00", "1.00",
              accuracy_se_cell(sum.acc_base, n_test), sum.finetune_dense ? accuracy_se_cell(sum.acc_dense_ft, n_test) : "-"});
  for (double k : sum.keep_rates)
    for (const auto& p : sum.policies) {
      const TokenPruningCell& c = cell_of(cells, p, k);
      t3.add_row({keep_rate_str(k), token_policy_label(p), c.fuse ? "yes" : "no", c.tokens, fmt(c.gflops, gflop_decimals),
                  fmt(c.images_per_s, 0), fmt(c.dense_images_per_s, 0), fmt(c.images_per_s / c.dense_images_per_s, 2),
                  fmt(sum.dense_gflops / c.gflops, 2), accuracy_se_cell(c.acc_installed, n_test),
                  accuracy_se_cell(c.acc_finetuned, n_test)});
    }
  t3.notes = {"GFLOPs: fvcore convention (1 multiply-add = 1 flop) with the token counts of the actual forward "
              "(attention of a pruning block on its input tokens, its MLP on the kept ones; a fused method carries "
              "one extra token, which is why EViT's count is slightly above the unfused entropy rows, as in the "
              "Rényi paper's Table 3).",
              "Images/s: no-grad inference on a batch of " + std::to_string(sum.timing_batch) + " test images, median of 5 samples "
              "of >= " + fmt(sum.throughput_time, 2) + " s, interleaved with the dense model (its column); "
              "Speedup = the two measured side by side. The dense row shows the median of the dense samples. " +
              std::to_string(sum.threads) + " threads on a shared machine: compare ratios, not absolute values."};
  return t3;
}

}  // namespace shears::recipes
