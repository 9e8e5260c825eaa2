// Built-in block criteria: Gardener's data-free block statistics (block_stats.h, ranked exactly as
// block_ranking.h ranks them), seeded random removal and one-shot sensitivity (see criterion.h).
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
  out.push_back({"random", true, [](const std::string& argument) {
                   return std::make_shared<RandomBlockCriterion>(parse_criterion_seed("random", argument));
                 }});
  return out;
}

}  // namespace detail

}  // namespace shears::pruning
