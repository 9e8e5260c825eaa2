// Taylor criteria (pruning/taylor_criteria.cpp): on a float64 model the neuron and head scores equal
// central differences of the cross-entropy with respect to a scale on the unit's output, averaged
// over the calibration batches as |dL/dm|; the model is left bitwise as it was (weights, logits, no
// gates, no grads, requires_grad, per-module train/eval mode, a gate the user attached); no
// calibration is an error; and "mlp:taylor:keep=0.5" / "heads:taylor:keep=1" keep the top scores.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "pruning/criterion.h"
#include "pruning/transform.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// patch 4 on 28x28 (49 patches), dim 16, 2 blocks of 2 heads x 8, MLP 32, 10 classes.
nn::ModelConfig tiny_config() {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.dim = 16;
  c.blocks = nn::uniform_blocks(2, 2, 8, 32);
  return c;
}

// Every parameter of the model converted to float64 in place.
void to_f64(nn::Module& m) {
  for (auto& [name, t] : m.named_parameters()) {
    Tensor* slot = m.find_parameter(name);
    *slot = kernels::to_dtype(*slot, DType::F64);
  }
}

// Two random batches of 3 images with labels in [0, 10).
std::vector<CalibrationBatch> calibration(DType dtype, uint64_t seed = 11) {
  Generator gen(seed);
  std::vector<CalibrationBatch> out;
  for (int b = 0; b < 2; ++b) {
    std::vector<int64_t> labels;
    for (int i = 0; i < 3; ++i) labels.push_back(gen.randint(0, 10));
    out.push_back({randn({3, 1, 28, 28}, dtype, &gen), from_vector(labels)});
  }
  return out;
}

double loss_of(nn::VisionTransformer& model, const CalibrationBatch& batch) {
  NoGradGuard ng;
  return kernels::to_dtype(cross_entropy(model.forward(batch.inputs), batch.labels), DType::F64)
      .to_vector<double>()[0];
}

// mean over batches of |dL/dm| at m = 1, where m scales gate entries [first, first + count) of `gate`
// (an Mlp or Attention gate of `width`), by central differences of the loss in eval mode.
double finite_difference_score(nn::VisionTransformer& model, const std::vector<CalibrationBatch>& batches,
                               Tensor& gate, int64_t width, int64_t first, int64_t count) {
  const double h = 1e-5;
  model.eval();
  double score = 0;
  for (const auto& batch : batches) {
    double at[2];
    for (int side = 0; side < 2; ++side) {
      Tensor g = ones({width}, DType::F64);
      for (int64_t e = first; e < first + count; ++e) g.data<double>()[e] = side == 0 ? 1 + h : 1 - h;
      gate = g;
      at[side] = loss_of(model, batch);
    }
    gate = Tensor();
    score += std::abs((at[0] - at[1]) / (2 * h)) / double(batches.size());
  }
  model.train();
  return score;
}

bool close(double analytic, double numeric) {
  return std::abs(analytic - numeric) <= 1e-6 * std::max(std::abs(analytic), std::abs(numeric)) + 1e-10;
}

std::vector<float> logits_of(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard ng;
  const bool training = model.is_training();
  model.eval();
  std::vector<float> out = model.forward(x).to_vector<float>();
  model.train(training);
  return out;
}

// Indices of the n highest scores, ties to the lower index, sorted ascending.
std::vector<int64_t> top(const std::vector<double>& s, int64_t n) {
  std::vector<int64_t> idx(s.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] > s[size_t(b)]; });
  idx.resize(size_t(n));
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

TEST_CASE("taylor neuron scores equal float64 central differences of the loss", "[pruning][taylor]") {
  nn::VisionTransformer model(tiny_config(), 5);
  to_f64(model);
  PruneContext ctx;
  ctx.calibration = calibration(DType::F64);
  const auto scores = make_neuron_criterion("taylor")->scores(model, ctx);
  REQUIRE(scores.size() == 2);
  REQUIRE(scores[0].size() == 32);
  REQUIRE(scores[1].size() == 32);
  double largest = 0;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t j : {0, 7, 19, 31}) {
      nn::Mlp& mlp = *model.blocks->items[size_t(b)]->mlp;
      const double numeric = finite_difference_score(model, ctx.calibration, mlp.gate, 32, j, 1);
      INFO("block " << b << " neuron " << j << ": taylor " << scores[size_t(b)][size_t(j)] << ", central difference "
                    << numeric);
      CHECK(close(scores[size_t(b)][size_t(j)], numeric));
      largest = std::max(largest, numeric);
    }
  }
  CHECK(largest > 1e-6);  // the comparison is not between zeros
}

TEST_CASE("taylor head scores equal float64 central differences of the loss", "[pruning][taylor]") {
  nn::VisionTransformer model(tiny_config(), 6);
  to_f64(model);
  PruneContext ctx;
  ctx.calibration = calibration(DType::F64, 12);
  const auto scores = make_head_criterion("taylor")->scores(model, ctx);
  REQUIRE(scores.size() == 2);
  for (int64_t b = 0; b < 2; ++b) {
    REQUIRE(scores[size_t(b)].size() == 2);
    for (int64_t h = 0; h < 2; ++h) {
      nn::Attention& attn = *model.blocks->items[size_t(b)]->attn;
      const double numeric = finite_difference_score(model, ctx.calibration, attn.gate, 16, h * 8, 8);
      INFO("block " << b << " head " << h << ": taylor " << scores[size_t(b)][size_t(h)] << ", central difference "
                    << numeric);
      CHECK(close(scores[size_t(b)][size_t(h)], numeric));
      CHECK(numeric > 1e-6);
    }
  }
}

TEST_CASE("taylor criteria leave the model as it was", "[pruning][taylor]") {
  nn::VisionTransformer model(tiny_config(), 7);
  PruneContext ctx;
  ctx.calibration = calibration(DType::F32);
  const Tensor x = ctx.calibration[0].inputs;
  // mixed modes, one frozen parameter, a user gate on block 1's MLP with neuron 3 switched off
  model.train();
  model.blocks->items[0]->eval();
  model.blocks->items[1]->mlp->train();
  model.head->weight.set_requires_grad(false);
  Tensor user_gate = ones({32});
  user_gate.data<float>()[3] = 0.f;
  model.blocks->items[1]->mlp->set_gate(user_gate);

  const std::vector<float> before = logits_of(model, x);
  std::vector<std::pair<std::string, std::vector<float>>> weights;
  std::vector<bool> requires_grad;
  for (auto& [name, p] : model.named_parameters()) {
    weights.emplace_back(name, p.to_vector<float>());
    requires_grad.push_back(p.requires_grad());
  }
  std::vector<bool> modes;
  for (auto& [name, m] : model.named_modules()) modes.push_back(m->is_training());
  REQUIRE(grad_mode_enabled());

  std::vector<std::vector<double>> neuron_scores;
  {
    NoGradGuard caller_has_grad_off;  // the criterion turns it on for itself and back off
    neuron_scores = make_neuron_criterion("taylor")->scores(model, ctx);
    make_head_criterion("taylor")->scores(model, ctx);
    CHECK_FALSE(grad_mode_enabled());
  }
  CHECK(grad_mode_enabled());
  CHECK(neuron_scores[1][3] == 0.0);  // the user's gate is part of the model: a switched-off neuron scores 0
  CHECK(neuron_scores[1][4] > 0.0);

  CHECK(logits_of(model, x) == before);
  size_t i = 0;
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    CHECK(name == weights[i].first);
    CHECK(p.to_vector<float>() == weights[i].second);
    CHECK(p.requires_grad() == requires_grad[i]);
    CHECK_FALSE(p.grad().defined());
    ++i;
  }
  i = 0;
  for (auto& [name, m] : model.named_modules()) {
    INFO(name);
    CHECK(m->is_training() == modes[i++]);
  }
  CHECK_FALSE(model.blocks->items[0]->mlp->gate.defined());
  CHECK_FALSE(model.blocks->items[0]->attn->gate.defined());
  CHECK_FALSE(model.blocks->items[1]->attn->gate.defined());
  const Tensor& kept = model.blocks->items[1]->mlp->gate;
  CHECK(kept.raw_data() == user_gate.raw_data());  // the very tensor the user set
  CHECK_FALSE(kept.requires_grad());
  CHECK_FALSE(kept.grad().defined());
  CHECK(kept.to_vector<float>() == user_gate.to_vector<float>());
}

TEST_CASE("taylor criteria need calibration batches", "[pruning][taylor]") {
  nn::VisionTransformer model(tiny_config(), 8);
  PruneContext ctx;
  CHECK_THROWS_WITH(make_neuron_criterion("taylor")->scores(model, ctx),
                    Catch::Contains("neuron criterion 'taylor' needs calibration batches (PruneContext::calibration)"));
  CHECK_THROWS_WITH(make_head_criterion("taylor")->scores(model, ctx),
                    Catch::Contains("head criterion 'taylor' needs calibration batches (PruneContext::calibration)"));
  CHECK_THROWS_WITH(apply_all(model, parse_steps("mlp:taylor:keep=0.5"), ctx),
                    Catch::Contains("step 1 'mlp:taylor:keep=0.5'") && Catch::Contains("needs calibration batches"));
  CHECK(model.blocks->items[0]->mlp->hidden() == 32);
  CHECK(model.prune_log.empty());
  CHECK_THROWS_WITH(make_neuron_criterion("taylor:3"), Catch::Contains("takes no argument"));
}

TEST_CASE("mlp:taylor and heads:taylor steps keep the top-scoring units", "[pruning][taylor]") {
  PruneContext ctx;
  ctx.calibration = calibration(DType::F32);
  for (const std::string step : {"mlp:taylor:keep=0.5", "heads:taylor:keep=1"}) {
    SECTION(step) {
      nn::VisionTransformer model(tiny_config(), 9);
      const bool mlp = step[0] == 'm';
      const auto scores = mlp ? make_neuron_criterion("taylor")->scores(model, ctx)
                              : make_head_criterion("taylor")->scores(model, ctx);
      const auto steps = apply_all(model, parse_steps(step), ctx);
      REQUIRE(steps.size() == 1);
      CHECK(steps[0].method == step);
      CHECK(model.prune_log.size() == 1);
      for (int64_t b = 0; b < 2; ++b) {
        const std::string key = "blocks." + std::to_string(b) + (mlp ? ".mlp" : ".attn.heads");
        CHECK(steps[0].kept.at(key) == top(scores[size_t(b)], mlp ? 16 : 1));
        CHECK(scores[size_t(b)][0] != scores[size_t(b)][1]);  // the choice is not a tie-break
        if (mlp) CHECK(model.blocks->items[size_t(b)]->mlp->hidden() == 16);
        else CHECK(model.blocks->items[size_t(b)]->attn->heads == 1);
        CHECK_FALSE(model.blocks->items[size_t(b)]->mlp->gate.defined());
        CHECK_FALSE(model.blocks->items[size_t(b)]->attn->gate.defined());
      }
    }
  }
}
