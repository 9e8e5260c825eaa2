// Built-in block criteria: Gardener's data-free block statistics (block_stats.h, ranked exactly as
// block_ranking.h ranks them), seeded random removal and one-shot sensitivity (see criterion.h).
#include <algorithm>
#include <cstdlib>
#include <optional>

#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/block_weights.h"
#include "pruning/builtin_criteria.h"
#include "pruning/transform.h"

namespace shears::pruning {

namespace {

// One statistic of block_statistics(block_weights(model)): the same numbers block_ranking uses.
class StatisticCriterion : public BlockCriterion {
 public:
  explicit StatisticCriterion(Criterion c) : c_(c) {}
  std::string name() const override { return criterion_name(c_); }
  std::vector<double> scores(const nn::VisionTransformer& model, PruneContext&) const override {
    return criterion_scores(block_statistics(block_weights(model)), c_);
  }
  bool removes_highest_first() const override { return pruning::removes_highest_first(c_); }

 private:
  Criterion c_;
};

// Scores that make removal_order(scores, false) equal random_removal_order(depth, seed): the
// block at position p of the permutation scores p.
class RandomBlockCriterion : public BlockCriterion {
 public:
  explicit RandomBlockCriterion(std::optional<uint64_t> seed) : seed_(seed) {}
  std::string name() const override { return seed_ ? "random:" + std::to_string(*seed_) : "random"; }
  std::vector<double> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    const int64_t depth = static_cast<int64_t>(model.blocks->size());
    const std::vector<int64_t> order = random_removal_order(depth, seed_.value_or(ctx.seed));
    std::vector<double> s(size_t(depth), 0.0);
    for (int64_t pos = 0; pos < depth; ++pos) s[size_t(order[size_t(pos)])] = double(pos);
    return s;
  }

 private:
  std::optional<uint64_t> seed_;
};

// An explicit removal order "order:<i;j;...>" (0-based block indices, first removed first; blocks not
// listed are never removed before listed ones): removes exactly chosen blocks through the transform
// API (a measured oracle ranking, a single-block drop, a user's choice). Every index must be a block.
class OrderBlockCriterion : public BlockCriterion {
 public:
  explicit OrderBlockCriterion(std::vector<int64_t> order) : order_(std::move(order)) {}
  std::string name() const override {
    std::string s = "order:";
    for (size_t i = 0; i < order_.size(); ++i) s += (i ? ";" : "") + std::to_string(order_[i]);
    return s;
  }
  std::vector<double> scores(const nn::VisionTransformer& model, PruneContext&) const override {
    const int64_t depth = static_cast<int64_t>(model.blocks->size());
    std::vector<double> s(static_cast<size_t>(depth), static_cast<double>(depth));  // unlisted: after the listed
    for (size_t pos = 0; pos < order_.size(); ++pos) {
      SHEARS_CHECK(order_[pos] < depth, "order", "block ", order_[pos], " is not a block of this ", depth,
                   "-block model");
      s[size_t(order_[pos])] = double(pos);
    }
    return s;
  }

 private:
  std::vector<int64_t> order_;
};

std::vector<int64_t> parse_block_order(const std::string& argument) {
  SHEARS_CHECK(!argument.empty(), "order", "expected order:<i;j;...> (0-based block indices, first removed first)");
  std::vector<int64_t> order;
  size_t start = 0;
  while (start <= argument.size()) {
    const size_t end = std::min(argument.find(';', start), argument.size());
    const std::string item = argument.substr(start, end - start);
    char* stop = nullptr;
    const long long v = std::strtoll(item.c_str(), &stop, 10);
    SHEARS_CHECK(!item.empty() && stop && *stop == '\0' && v >= 0, "order", "'", item,
                 "' is not a block index (expected order:<i;j;...>, 0-based)");
    SHEARS_CHECK(std::find(order.begin(), order.end(), int64_t(v)) == order.end(), "order", "block ", v,
                 " is listed twice");
    order.push_back(int64_t(v));
    start = end + 1;
  }
  return order;
}

// One-shot sensitivity: score_i = evaluate(model) - evaluate(model without block i), measured with
// PruneContext::evaluate (no fine-tuning); the smallest drop is removed first, as
// sensitivity_removal_order ranks. The model is restored after each measurement (same Block objects).
class SensitivityCriterion : public BlockCriterion {
 public:
  std::string name() const override { return "sensitivity"; }
  std::vector<double> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    SHEARS_CHECK(static_cast<bool>(ctx.evaluate), "sensitivity",
                 "the sensitivity criterion measures accuracy drops and needs PruneContext::evaluate");
    // blocks are removed and put back; the model is the same afterwards, hence the const_cast
    auto& m = const_cast<nn::VisionTransformer&>(model);
    const std::vector<std::shared_ptr<nn::Block>> all = m.blocks->items;
    struct Restore {
      nn::VisionTransformer& m;
      const std::vector<std::shared_ptr<nn::Block>>& all;
      ~Restore() { m.blocks->assign(all); }
    } restore{m, all};
    const double base = ctx.evaluate(m);
    std::vector<double> drops;
    for (size_t i = 0; i < all.size(); ++i) {
      std::vector<std::shared_ptr<nn::Block>> without = all;
      without.erase(without.begin() + std::ptrdiff_t(i));
      m.blocks->assign(without);
      drops.push_back(base - ctx.evaluate(m));
    }
    return drops;
  }
};

}  // namespace

namespace detail {

std::vector<BuiltinCriterion<BlockCriterionFactoryWithArgument>> builtin_block_criteria() {
  std::vector<BuiltinCriterion<BlockCriterionFactoryWithArgument>> out;
  for (Criterion c : all_criteria()) {
    if (!uses_block_stats(c)) continue;
    out.push_back({criterion_name(c), false,
                   [c](const std::string&) { return std::make_shared<StatisticCriterion>(c); }});
  }
  out.push_back({"sensitivity", false, [](const std::string&) { return std::make_shared<SensitivityCriterion>(); }});
  out.push_back({"order", true, [](const std::string& argument) {
                   return std::make_shared<OrderBlockCriterion>(parse_block_order(argument));
                 }});
  out.push_back({"random", true, [](const std::string& argument) {
                   return std::make_shared<RandomBlockCriterion>(parse_criterion_seed("random", argument));
                 }});
  return out;
}

}  // namespace detail

}  // namespace shears::pruning
