// Removal orders for Gardener and its baselines (see block_ranking.h).
#include "pruning/block_ranking.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include "tensor/random.h"

namespace shears::pruning {

namespace {

struct CriterionInfo {
  Criterion criterion;
  const char* name;
  const char* title;
  bool highest_first;
};

// In the row order of Tables 7-12.
const std::vector<CriterionInfo>& infos() {
  static const std::vector<CriterionInfo> v = {
      {Criterion::Random, "random", "Random", false},
      {Criterion::Mean, "mean", "Mean", false},
      {Criterion::Variance, "variance", "Variance", false},
      {Criterion::L1, "l1", "L1 Norm", false},
      {Criterion::Sensitivity, "sensitivity", "Sensitivity", false},
      {Criterion::L2, "l2", "L2 Norm", false},
      {Criterion::Std, "std", "Standard Deviation", false},
      {Criterion::Kurtosis, "kurtosis", "Kurtosis", true},
      {Criterion::Entropy, "entropy", "Information Entropy", false},
      {Criterion::MutualInformation, "mi", "Mutual Information", true},
  };
  return v;
}

const CriterionInfo& info(Criterion c) {
  for (const auto& i : infos())
    if (i.criterion == c) return i;
  fail("criterion", "unknown criterion value ", int(c));
}

}  // namespace

const std::vector<Criterion>& all_criteria() {
  static const std::vector<Criterion> v = [] {
    std::vector<Criterion> out;
    for (const auto& i : infos()) out.push_back(i.criterion);
    return out;
  }();
  return v;
}

const char* criterion_name(Criterion c) { return info(c).name; }
const char* criterion_title(Criterion c) { return info(c).title; }
bool removes_highest_first(Criterion c) { return info(c).highest_first; }
bool uses_block_stats(Criterion c) { return c != Criterion::Random && c != Criterion::Sensitivity; }

Criterion parse_criterion(const std::string& name) {
  std::string s;
  for (char ch : name) s += ch == '-' || ch == ' ' ? '_' : char(std::tolower(static_cast<unsigned char>(ch)));
  if (s == "gardener" || s == "information_entropy") return Criterion::Entropy;
  if (s == "var") return Criterion::Variance;
  if (s == "standard_deviation") return Criterion::Std;
  if (s == "mutual_information") return Criterion::MutualInformation;
  if (s == "l1_norm") return Criterion::L1;
  if (s == "l2_norm") return Criterion::L2;
  std::string known;
  for (const auto& i : infos()) {
    if (s == i.name) return i.criterion;
    known += (known.empty() ? "" : ", ") + std::string(i.name);
  }
  fail("criterion", "unknown criterion '", name, "'; known: ", known, " (aliases: gardener, var, standard_deviation, ",
       "mutual_information, l1_norm, l2_norm)");
}

double criterion_score(const BlockStats& s, Criterion c) {
  switch (c) {
    case Criterion::Entropy: return s.entropy;
    case Criterion::Mean: return s.mean_abs;
    case Criterion::Variance: return s.var_abs;
    case Criterion::Std: return s.std_abs;
    case Criterion::L1: return s.l1;
    case Criterion::L2: return s.l2;
    case Criterion::Kurtosis: return s.kurtosis;
    case Criterion::MutualInformation: return s.mutual_information;
    case Criterion::Random:
    case Criterion::Sensitivity: break;
  }
  fail("criterion", "'", criterion_name(c), "' is not a block statistic (",
       c == Criterion::Random ? "use random_removal_order with a seed" : "use sensitivity_removal_order with the "
       "measured accuracy drops", ")");
}

std::vector<double> criterion_scores(const std::vector<BlockStats>& stats, Criterion c) {
  std::vector<double> v;
  for (const auto& s : stats) v.push_back(criterion_score(s, c));
  return v;
}

std::vector<int64_t> removal_order(const std::vector<double>& scores, bool highest_first) {
  for (size_t i = 0; i < scores.size(); ++i)
    SHEARS_CHECK(!std::isnan(scores[i]), "removal_order", "the score of block ", i, " is NaN; cannot rank ",
                 scores.size(), " blocks");
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
    return highest_first ? scores[size_t(i)] > scores[size_t(j)] : scores[size_t(i)] < scores[size_t(j)];
  });
  return order;
}

std::vector<int64_t> removal_order(const std::vector<BlockStats>& stats, Criterion c) {
  try {
    return removal_order(criterion_scores(stats, c), removes_highest_first(c));
  } catch (const Error& e) {
    fail("removal_order", criterion_name(c), ": ", e.what());
  }
}

std::vector<int64_t> sensitivity_removal_order(const std::vector<double>& accuracy_drops) {
  return removal_order(accuracy_drops, /*highest_first=*/false);
}

std::vector<int64_t> random_removal_order(int64_t depth, uint64_t seed) {
  SHEARS_CHECK(depth >= 0, "random_removal_order", "depth must be >= 0, got ", depth);
  Generator gen(seed);
  return randperm(depth, &gen).to_vector<int64_t>();
}

std::vector<std::vector<int64_t>> random_removal_orders(int64_t depth, uint64_t first_seed, int64_t draws) {
  SHEARS_CHECK(draws >= 0, "random_removal_orders", "draws must be >= 0, got ", draws);
  std::vector<std::vector<int64_t>> out;
  for (int64_t d = 0; d < draws; ++d) out.push_back(random_removal_order(depth, first_seed + uint64_t(d)));
  return out;
}

std::vector<int64_t> blocks_to_remove(const std::vector<int64_t>& order, int64_t k) {
  SHEARS_CHECK(k >= 0 && k <= int64_t(order.size()), "blocks_to_remove", "k = ", k, " blocks to remove, but the ",
               "ranking has ", order.size(), " blocks");
  std::vector<int64_t> out(order.begin(), order.begin() + k);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> importance_ranks(const std::vector<int64_t>& order) {
  const int64_t L = int64_t(order.size());
  std::vector<int64_t> ranks(size_t(L), 0);
  for (int64_t pos = 0; pos < L; ++pos) {
    const int64_t b = order[size_t(pos)];
    SHEARS_CHECK(b >= 0 && b < L && ranks[size_t(b)] == 0, "importance_ranks", "the order is not a permutation of 0..",
                 L - 1, " (entry ", pos, " is ", b, ")");
    ranks[size_t(b)] = L - pos;
  }
  return ranks;
}

}  // namespace shears::pruning
