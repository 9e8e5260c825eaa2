// Criteria registries: the built-in block criteria give bit-identical scores (and the same
// removal orders) as block_ranking, random:<seed> reproduces random_removal_order, the neuron and
// head magnitudes match a hand computation, unknown names list the known ones, and a criterion
// registered here (max |w|) ranks and drops blocks through the transform API without any edit
// to pruning/ (issue 10, acceptance 4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/block_weights.h"
#include "pruning/criterion.h"
#include "pruning/transform.h"
#include "tensor/kernels.h"

using namespace shears;
using namespace shears::pruning;

namespace {

nn::ModelConfig small_config(int64_t depth = 5) {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.dim = 32;
  c.blocks = nn::uniform_blocks(depth, 2, 16, 64);
  return c;
}

std::vector<double> values(const Tensor& t) { return kernels::to_dtype(t, DType::F64).to_vector<double>(); }

// The test's own block criterion: the largest |w| over the block's four kernel matrices.
class MaxAbsCriterion : public BlockCriterion {
 public:
  std::string name() const override { return "max_abs"; }
  std::vector<double> scores(const nn::VisionTransformer& model, PruneContext&) const override {
    std::vector<double> out;
    for (const auto& block : block_weights(model)) {
      double m = 0;
      for (const Tensor& w : block.matrices)
        for (double v : values(w)) m = std::max(m, std::abs(v));
      out.push_back(m);
    }
    return out;
  }
};

void register_max_abs_once() {
  static const bool done = [] {
    register_block_criterion("max_abs", [] { return std::make_shared<MaxAbsCriterion>(); });
    return true;
  }();
  (void)done;
}

}  // namespace

TEST_CASE("built-in block criteria score bit-identically to block_ranking", "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(), 7);
  PruneContext ctx;
  const std::vector<BlockStats> stats = block_statistics(block_weights(model));
  int checked = 0;
  for (Criterion c : all_criteria()) {
    if (!uses_block_stats(c)) continue;
    INFO(criterion_name(c));
    auto crit = make_block_criterion(criterion_name(c));
    CHECK(crit->name() == criterion_name(c));
    const std::vector<double> got = crit->scores(model, ctx), want = criterion_scores(stats, c);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(std::memcmp(&got[i], &want[i], sizeof(double)) == 0);
    CHECK(crit->removes_highest_first() == removes_highest_first(c));
    CHECK(removal_order(got, crit->removes_highest_first()) == removal_order(stats, c));
    ++checked;
  }
  CHECK(checked == 8);
  CHECK(make_block_criterion("Entropy")->name() == "entropy");  // case-insensitive
}

TEST_CASE("random:<seed> reproduces random_removal_order, plain random uses the context seed",
          "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(6), 1);
  PruneContext ctx;
  for (uint64_t seed : {0u, 3u, 11u}) {
    auto crit = make_block_criterion("random:" + std::to_string(seed));
    CHECK(crit->name() == "random:" + std::to_string(seed));
    CHECK(removal_order(crit->scores(model, ctx), false) == random_removal_order(6, seed));
  }
  ctx.seed = 11;
  CHECK(removal_order(make_block_criterion("random")->scores(model, ctx), false) == random_removal_order(6, 11));
  CHECK(random_removal_order(6, 3) != random_removal_order(6, 11));
}

TEST_CASE("unknown criteria and bad arguments are refused listing what is known", "[pruning][criterion]") {
  CHECK_THROWS_WITH(make_block_criterion("foo"), Catch::Contains("unknown block criterion 'foo'") &&
                                                     Catch::Contains("entropy") && Catch::Contains("kurtosis") &&
                                                     Catch::Contains("random[:<arg>]"));
  CHECK_THROWS_WITH(make_block_criterion("l1:3"), Catch::Contains("'l1' takes no argument"));
  CHECK_THROWS_WITH(make_block_criterion("random:x"), Catch::Contains("non-negative integer"));
  CHECK_THROWS_WITH(make_neuron_criterion("entropy"),
                    Catch::Contains("unknown neuron criterion 'entropy'") && Catch::Contains("magnitude"));
  CHECK_THROWS_WITH(make_head_criterion("l2"), Catch::Contains("unknown head criterion 'l2'"));
  CHECK_THROWS_WITH(register_block_criterion("entropy", [] { return std::make_shared<MaxAbsCriterion>(); }),
                    Catch::Contains("already registered"));
  CHECK_THROWS_WITH(register_block_criterion("Max-Abs", [] { return std::make_shared<MaxAbsCriterion>(); }),
                    Catch::Contains("lower case"));
  const auto names = block_criterion_names();
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::count(names.begin(), names.end(), "mi") == 1);
}

TEST_CASE("neuron and head magnitudes equal a hand computation", "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(2), 4);
  PruneContext ctx;
  const auto neuron = make_neuron_criterion("magnitude")->scores(model, ctx);
  const auto head = make_head_criterion("magnitude")->scores(model, ctx);
  REQUIRE(neuron.size() == 2);
  REQUIRE(head.size() == 2);
  for (int64_t b = 0; b < 2; ++b) {
    const nn::Block& block = *model.blocks->items[size_t(b)];
    const std::vector<double> w1 = values(block.mlp->fc1->weight), w2 = values(block.mlp->fc2->weight);
    REQUIRE(neuron[size_t(b)].size() == 64);
    for (int64_t j : {0, 17, 63}) {
      double s = 0;
      for (int64_t k = 0; k < 32; ++k) s += w1[size_t(j * 32 + k)] * w1[size_t(j * 32 + k)];
      for (int64_t i = 0; i < 32; ++i) s += w2[size_t(i * 64 + j)] * w2[size_t(i * 64 + j)];
      CHECK(neuron[size_t(b)][size_t(j)] == Approx(std::sqrt(s)).epsilon(1e-12));
    }
    // head 1 of 2 (head_dim 16, width 32): q rows 16..31, k rows 48..63, v rows 80..95, proj cols 16..31
    const std::vector<double> qkv = values(block.attn->qkv->weight), proj = values(block.attn->proj->weight);
    double s = 0;
    for (int64_t r = 0; r < 96; ++r)
      if ((r % 32) >= 16)
        for (int64_t k = 0; k < 32; ++k) s += qkv[size_t(r * 32 + k)] * qkv[size_t(r * 32 + k)];
    for (int64_t i = 0; i < 32; ++i)
      for (int64_t c = 16; c < 32; ++c) s += proj[size_t(i * 32 + c)] * proj[size_t(i * 32 + c)];
    REQUIRE(head[size_t(b)].size() == 2);
    CHECK(head[size_t(b)][1] == Approx(std::sqrt(s)).epsilon(1e-12));
  }
}

TEST_CASE("random neuron and head scores are seeded and reproducible", "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(2), 4);
  PruneContext ctx;
  const auto a = make_neuron_criterion("random:5")->scores(model, ctx);
  CHECK(a == make_neuron_criterion("random:5")->scores(model, ctx));
  CHECK(a != make_neuron_criterion("random:6")->scores(model, ctx));
  ctx.seed = 5;
  CHECK(a == make_neuron_criterion("random")->scores(model, ctx));
  CHECK(a[0] != a[1]);  // blocks draw different streams
  const auto h = make_head_criterion("random:5")->scores(model, ctx);
  REQUIRE(h.size() == 2);
  CHECK(h[0].size() == 2);
}

TEST_CASE("a criterion registered in a test file ranks and drops blocks through the transform API",
          "[pruning][criterion][transform]") {
  register_max_abs_once();
  CHECK(make_block_criterion("max_abs")->name() == "max_abs");
  nn::VisionTransformer model(small_config(5), 9);
  PruneContext ctx;
  // by hand: the two blocks with the smallest max |w|
  std::vector<double> m = MaxAbsCriterion().scores(model, ctx);
  std::vector<int64_t> idx = {0, 1, 2, 3, 4};
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return m[size_t(a)] < m[size_t(b)]; });
  std::vector<int64_t> removed = {idx[0], idx[1]};
  std::sort(removed.begin(), removed.end());
  std::vector<nn::Block*> survivors;
  for (int64_t i = 0; i < 5; ++i)
    if (i != removed[0] && i != removed[1]) survivors.push_back(model.blocks->items[size_t(i)].get());

  const auto steps = apply_all(model, parse_steps("blocks:max_abs:k=2"), ctx);
  REQUIRE(model.blocks->size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(model.blocks->items[i].get() == survivors[i]);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].kind == "drop_blocks");
  CHECK(steps[0].method == "blocks:max_abs:k=2");
  CHECK(steps[0].kept.at("blocks").size() == 3);
  REQUIRE(model.prune_log.size() == 1);
  CHECK(model.prune_log[0] == steps[0]);
}

TEST_CASE("sensitivity scores the accuracy drop of each single-block removal and restores the model",
          "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(4), 3);
  std::vector<nn::Block*> blocks;
  for (auto& b : model.blocks->items) blocks.push_back(b.get());
  // a fake evaluator: "accuracy" = sum of the weights of the blocks present
  const std::vector<double> weight = {0.4, 0.1, 0.3, 0.2};
  PruneContext ctx;
  ctx.evaluate = [&](nn::VisionTransformer& m) {
    double acc = 0;
    for (auto& b : m.blocks->items)
      for (size_t i = 0; i < blocks.size(); ++i)
        if (b.get() == blocks[i]) acc += weight[i];
    return acc;
  };
  auto crit = make_block_criterion("sensitivity");
  const std::vector<double> drops = crit->scores(model, ctx);
  REQUIRE(drops.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(drops[i] == Approx(weight[i]));
  CHECK(removal_order(drops, crit->removes_highest_first()) == sensitivity_removal_order(drops));
  REQUIRE(model.blocks->size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(model.blocks->items[i].get() == blocks[i]);
    CHECK(model.blocks->items[i]->index() == int64_t(i));
  }
  CHECK(model.named_parameters().front().first == "cls_token");
  CHECK(model.find_parameter("blocks.3.mlp.fc1.weight") != nullptr);
  // through the transform API: the least important block (1) goes, and leaves its list (index -1)
  std::shared_ptr<nn::Block> dropped = model.blocks->items[1];
  apply_all(model, parse_steps("blocks:sensitivity:k=1"), ctx);
  CHECK(model.blocks->items[1].get() == blocks[2]);
  CHECK(model.blocks->items[1]->index() == 1);
  CHECK(dropped->index() == -1);
  PruneContext no_eval;
  CHECK_THROWS_WITH(crit->scores(model, no_eval), Catch::Contains("needs PruneContext::evaluate"));
}

TEST_CASE("order:<indices> removes exactly the listed blocks, first listed first", "[pruning][criterion]") {
  nn::VisionTransformer model(small_config(5), 4);
  PruneContext ctx;
  const auto steps = apply_all(model, parse_steps("blocks:order:3;0:k=2"), ctx);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].kept.at("blocks") == std::vector<int64_t>{1, 2, 4});
  nn::VisionTransformer one(small_config(5), 4);
  apply_all(one, parse_steps("blocks:order:3;0:k=1"), ctx);
  CHECK(one.prune_log.back().kept.at("blocks") == std::vector<int64_t>{0, 1, 2, 4});
  CHECK(make_block_criterion("order:2;4")->name() == "order:2;4");
  CHECK_THROWS_WITH(make_block_criterion("order:2;x"), Catch::Contains("'x' is not a block index"));
  CHECK_THROWS_WITH(make_block_criterion("order:2;2"), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(make_block_criterion("order"), Catch::Contains("expected order:<i;j;...>"));
  nn::VisionTransformer small(small_config(3), 4);
  CHECK_THROWS_WITH(apply_all(small, parse_steps("blocks:order:7:k=1"), ctx), Catch::Contains("block 7 is not a block"));
}
