// Gardener's data-free analysis (METHODS.md §1.2-1.5): reads any safetensors checkpoint (timm
// ViT/DeiT, Hugging Face VideoMAE/ViT, or a shears checkpoint), computes per-block statistics of
// the pooled kernel matrices straight from the file's tensors (no model is built, no data is
// read), and prints Table 5/6-style statistics, Gardener's removal order and every baseline's,
// the blocks each removes at each pruning ratio and, given measured accuracy drops, the rank
// agreement with the sensitivity oracle.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include <cxxopts.hpp>

#include "common/recipe_main.h"
#include "common/report.h"
#include "nn/config.h"
#include "nn/flop_count.h"
#include "nn/io/safetensors.h"
#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/rank_correlation.h"
#include "train/progress.h"

using namespace shears;
using namespace shears::pruning;

namespace {

struct Args {
  std::string checkpoint, out, sensitivity, ratios;
  std::optional<std::string> prefix;
  int64_t bins = 0;
  uint64_t seed = 0;
};

using train::now_s;

std::string sig(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string join(const std::vector<int64_t>& v, const char* sep = " ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

std::vector<double> parse_doubles(const std::string& text, const char* flag) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("gardener_analyze", "--", flag, ": '", item, "' is not a number (expected a comma-separated list)");
    }
  }
  return out;
}

bool parse_args(int argc, char** argv, Args& a) {
  cxxopts::Options options(
      "shears_gardener_analyze",
      "Gardener (arXiv 2602.03918), data-free: per-block weight statistics of a checkpoint and the order in which\n"
      "Gardener (lowest weight-number entropy first) and its baselines would remove blocks. Statistics pool the\n"
      "four kernel matrices of each block (qkv, attn.proj, mlp.fc1, mlp.fc2 weights; biases and norms excluded).\n"
      "Works on timm ViT/DeiT (blocks.N.attn.qkv.weight ...), Hugging Face VideoMAE/ViT\n"
      "(<prefix>encoder.layer.N.attention.attention.query.weight ...; query+key+value pooled as qkv) and shears\n"
      "checkpoints. Block indices are 0-based (the paper numbers blocks from 1). Takes seconds, needs no data.\n");
  options.add_options()
      ("checkpoint", "safetensors file to analyse", cxxopts::value<std::string>())
      ("bins", "entropy histogram: 0 = one bin per distinct fp16 value (weights rounded to IEEE half, nearest-even; "
               "the paper's code), K > 0 = K fixed-width bins over [min, max] of each block (ablation)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "seed of the Random baseline's removal order", cxxopts::value<uint64_t>()->default_value("0"))
      ("sensitivity", "optional accuracy drop of each single-block removal, comma-separated, one per block in "
                      "block order (e.g. WAR_orig - WAR_l from finetuning runs): adds the Sensitivity oracle "
                      "(smallest drop first) and each criterion's Spearman/Kendall agreement with it",
       cxxopts::value<std::string>()->default_value(""))
      ("ratios", "numbers of blocks to remove for the removal-set table, comma-separated "
                 "(default: 1, 3, 5, ... below the depth; the paper's 1,3,5,7,9,11 for 12 blocks)",
       cxxopts::value<std::string>()->default_value(""))
      ("prefix", "take the blocks under this name prefix (e.g. 'model_ema.'); default: the shortest prefix with "
                 "blocks (decoder blocks are always ignored)",
       cxxopts::value<std::string>())
      ("out", "folder for CSV/JSON copies of the tables (block_stats, removal_order, removed_blocks, "
              "rank_agreement); nothing is written when empty",
       cxxopts::value<std::string>()->default_value(""))
      ("h,help", "print this help");
  const auto parsed = recipes::parse_flags(options, argc, argv, "shears_gardener_analyze");
  if (!parsed) return false;
  const cxxopts::ParseResult& r = *parsed;
  SHEARS_CHECK(r.count("checkpoint"), "gardener_analyze", "--checkpoint is required (a .safetensors file); see --help");
  a.checkpoint = r["checkpoint"].as<std::string>();
  a.bins = r["bins"].as<int64_t>();
  SHEARS_CHECK(a.bins >= 0, "gardener_analyze", "--bins must be >= 0 (0 = fp16 values), got ", a.bins);
  a.seed = r["seed"].as<uint64_t>();
  a.sensitivity = r["sensitivity"].as<std::string>();
  a.ratios = r["ratios"].as<std::string>();
  a.out = r["out"].as<std::string>();
  if (!a.out.empty()) recipes::prepare_output_dir(a.out, "gardener_analyze");
  if (r.count("prefix")) a.prefix = r["prefix"].as<std::string>();
  return true;
}

std::vector<int64_t> removal_counts(const std::string& ratios, int64_t depth) {
  std::vector<int64_t> ks;
  if (ratios.empty()) {
    for (int64_t k = 1; k < depth; k += 2) ks.push_back(k);
    return ks;
  }
  for (double k : parse_doubles(ratios, "ratios")) {
    SHEARS_CHECK(k == double(int64_t(k)) && k >= 1 && k < double(depth), "gardener_analyze", "--ratios: ", k,
                 " is not a whole number of blocks in 1..", depth - 1);
    ks.push_back(int64_t(k));
  }
  return ks;
}

int run(const Args& a) {
  const double t0 = now_s();
  nn::SafetensorsFile file = nn::read_safetensors(a.checkpoint);
  BlockSource source;
  const std::vector<BlockWeights> blocks = block_weights(file, a.checkpoint, &source, a.prefix);
  const int64_t depth = int64_t(blocks.size());
  const double t1 = now_s();
  const std::vector<BlockStats> stats = block_statistics(blocks, {a.bins});
  const double t2 = now_s();

  std::vector<double> drops;
  if (!a.sensitivity.empty()) {
    drops = parse_doubles(a.sensitivity, "sensitivity");
    SHEARS_CHECK(int64_t(drops.size()) == depth, "gardener_analyze", "--sensitivity has ", drops.size(),
                 " values but ", a.checkpoint, " has ", depth, " blocks (one accuracy drop per block expected)");
  }
  const std::vector<int64_t> ks = removal_counts(a.ratios, depth);

  const std::string entropy_kind =
      a.bins == 0 ? "fp16 distinct values" : std::to_string(a.bins) + " fixed-width bins";
  std::printf("checkpoint: %s\nlayout: %s, %lld blocks (%s .. %s), %lld kernel weights per block (first block)\n",
              a.checkpoint.c_str(), block_layout_name(source.layout), (long long)depth, blocks.front().name.c_str(),
              blocks.back().name.c_str(), (long long)stats.front().count);
  if (!source.other_prefixes.empty()) {
    std::string others;
    for (const auto& p : source.other_prefixes) others += (others.empty() ? "'" : ", '") + p + "'";
    std::printf("blocks also found under %s: ignored (choose with --prefix)\n", others.c_str());
  }
  auto meta = file.metadata.find("shears.config");
  if (meta != file.metadata.end()) {
    const nn::ModelConfig cfg = nn::ModelConfig::from_json(meta->second);
    const nn::FlopReport fl = nn::count_flops(cfg);
    std::printf("shears config: arch %s, depth %lld, %.2f M params, %.3f GFLOPs (fvcore), %.3f GFLOPs per block\n",
                cfg.arch.c_str(), (long long)cfg.depth(), double(nn::count_parameters(cfg)) / 1e6, fl.total / 1e9,
                fl.per_block.empty() ? 0.0 : fl.per_block[0] / 1e9);
  }
  std::printf("entropy over %s; read %.2f s, statistics %.2f s\n\n", entropy_kind.c_str(), t1 - t0, t2 - t1);

  // Table 5/6-style statistics.
  std::vector<double> entropies;
  for (const auto& s : stats) entropies.push_back(s.entropy);
  const std::vector<double> entropy_n = min_max_normalize(entropies);
  recipes::Table st;
  st.name = "block_stats";
  st.title = "Per-block weight statistics (pooled kernel matrices; entropy over " + entropy_kind + ")";
  st.columns = {"Block", "N", "H (nats)", "Efficiency", "H_N", "Distinct", "Mean(abs)", "Var(abs)", "Std(abs)",
                "L1 Norm", "L2 Norm", "Kurtosis", "Entropy_V", "MI"};
  for (int64_t b = 0; b < depth; ++b) {
    const BlockStats& s = stats[size_t(b)];
    st.add_row({std::to_string(b), std::to_string(s.count), recipes::fmt(s.entropy, 4), recipes::fmt(s.efficiency, 4),
                recipes::fmt(entropy_n[size_t(b)], 4), std::to_string(s.distinct_values), sig(s.mean_abs),
                sig(s.var_abs), sig(s.std_abs), sig(s.l1), sig(s.l2), sig(s.kurtosis), recipes::fmt(s.value_entropy, 4),
                recipes::fmt(s.mutual_information, 4)});
  }
  st.notes = {"Block: 0-based index (paper block = index + 1). H: weight-number entropy; Efficiency = H / ln N; "
              "H_N: min-max normalised H (Table 5 Entropy_N). Mean/Var/Std of |w| (population); L1 = sum |w|, "
              "L2 = sqrt(sum w^2); Kurtosis: Fisher excess of w; Entropy_V: entropy of p_i = |w_i| / sum |w|; "
              "MI: mean over the other blocks of H(B_j) + H(B_k) - H(B_j, B_k concatenated), fp16 values."};
  st.emit(a.out);

  // Removal orders.
  struct Row {
    Criterion c;
    std::vector<int64_t> order;  // empty: not available
    std::string note;
  };
  std::vector<Row> rows;
  for (Criterion c : all_criteria()) {
    Row row{c, {}, ""};
    try {
      if (c == Criterion::Random) {
        row.order = random_removal_order(depth, a.seed);
        row.note = "seed " + std::to_string(a.seed);
      } else if (c == Criterion::Sensitivity) {
        if (drops.empty()) row.note = "needs --sensitivity (measured accuracy drops)";
        else row.order = sensitivity_removal_order(drops);
      } else {
        row.order = removal_order(stats, c);
      }
    } catch (const Error& e) {
      row.note = e.what();
    }
    if (c == Criterion::Entropy && row.note.empty()) row.note = "Gardener";
    rows.push_back(std::move(row));
  }
  recipes::Table ro;
  ro.name = "removal_order";
  ro.title = "Removal order (first = removed first; 0-based block indices)";
  ro.columns = {"Method", "Removes first", "Removal order", "Note"};
  for (const Row& r : rows) {
    const char* direction = r.c == Criterion::Random ? "random"
                            : r.c == Criterion::Sensitivity ? "smallest drop"
                            : removes_highest_first(r.c) ? "highest" : "lowest";
    ro.add_row({criterion_title(r.c), direction, r.order.empty() ? "n/a" : join(r.order), r.note});
  }
  ro.notes = {"Ties are broken by block index (lower index removed first)."};
  ro.emit(a.out);

  recipes::Table rb;
  rb.name = "removed_blocks";
  rb.title = "Blocks removed when removing k of " + std::to_string(depth) + " blocks (pruning ratio k/L)";
  rb.columns = {"Method"};
  for (int64_t k : ks) rb.columns.push_back("k=" + std::to_string(k) + " (" + recipes::fmt_percent(double(k) / double(depth), 1) + "%)");
  for (const Row& r : rows) {
    std::vector<std::string> cells = {criterion_title(r.c)};
    for (int64_t k : ks) cells.push_back(r.order.empty() ? "n/a" : join(blocks_to_remove(r.order, k)));
    rb.add_row(cells);
  }
  rb.emit(a.out);

  if (!drops.empty()) {
    const std::vector<int64_t> sens_ranks = importance_ranks(sensitivity_removal_order(drops));
    recipes::Table ra;
    ra.name = "rank_agreement";
    ra.title = "Agreement of each ranking with the sensitivity oracle (importance ranks)";
    ra.columns = {"Method", "Spearman rho", "Kendall tau-b"};
    for (const Row& r : rows) {
      if (r.c == Criterion::Sensitivity || r.order.empty()) continue;
      const std::vector<int64_t> ranks = importance_ranks(r.order);
      ra.add_row({criterion_title(r.c), recipes::fmt(spearman_rho(ranks, sens_ranks), 3),
                  recipes::fmt(kendall_tau_b(ranks, sens_ranks), 3)});
    }
    ra.notes = {"Ranks from the removal orders (rank 1 = removed last); ties in the scores were broken by block index."};
    ra.emit(a.out);
  }
  std::printf("total %.2f s\n", now_s() - t0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return shears::recipes::recipe_main([&]() -> int {
    Args a;
    if (!parse_args(argc, argv, a)) return 0;
    return run(a);
  });
}
