// AMP (pruning/amp.h): the similarity entropy against closed forms and float64 gradcheck; per-sample
// Taylor scores against central differences of the entropy (and of the cross-entropy) in float64; the
// model left as it was by scoring; the binary search against hand traces (one layer, and the whole
// search on a fake model: E_prev recomputed after a layer with nothing accepted); AmpPruning through
// parse_steps end to end (the pruned model equals the model with the removed neurons zeroed, it saves
// and reloads, the step is logged); the "entropy_taylor" / "ce_taylor" neuron criteria.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <unistd.h>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "pruning/amp.h"
#include "pruning/criterion.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// 8x8 grey images, patch 4 (4 patches + cls), dim 16, 2 blocks of 2 heads x 8, MLP 32, 5 classes.
nn::ModelConfig tiny_config() {
  nn::ModelConfig c;
  c.arch = "vit";
  c.image_size = 8, c.in_chans = 1, c.patch_size = 4, c.dim = 16;
  c.blocks = nn::uniform_blocks(2, 2, 8, 32);
  c.num_classes = 5;
  c.mean = {0.5}, c.std = {0.5};
  return c;
}

void to_f64(nn::Module& m) {
  for (auto& [name, t] : m.named_parameters()) {
    Tensor* slot = m.find_parameter(name);
    *slot = kernels::to_dtype(*slot, DType::F64);
  }
}

// `count` random batches of `size` images with labels in [0, 5).
std::vector<CalibrationBatch> batches(DType dtype, uint64_t seed, int count = 2, int64_t size = 3) {
  Generator gen(seed);
  std::vector<CalibrationBatch> out;
  for (int b = 0; b < count; ++b) {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < size; ++i) labels.push_back(gen.randint(0, 5));
    out.push_back({randn({size, 1, 8, 8}, dtype, &gen), from_vector(labels)});
  }
  return out;
}

double value(const Tensor& t) { return kernels::to_dtype(t, DType::F64).to_vector<double>()[0]; }

std::vector<double> logits_of(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard no_grad;
  const bool training = model.is_training();
  model.eval();
  std::vector<double> out = kernels::to_dtype(model.forward(x), DType::F64).to_vector<double>();
  model.train(training);
  return out;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shears_amp_" + std::to_string(::getpid()) + "_" + name + ".safetensors"))
      .string();
}

}  // namespace

TEST_CASE("similarity entropy: identical features give ln B, orthogonal ones the closed form", "[pruning][amp]") {
  // identical rows: every logit equal, p uniform over the batch
  for (DType dtype : {DType::F64, DType::F32}) {
    Tensor same = kernels::to_dtype(from_vector(std::vector<double>{0.6, -0.8, 0.6, -0.8, 0.6, -0.8, 0.6, -0.8, 0.6,
                                                                    -0.8},
                                                {5, 2}),
                                    dtype);
    CHECK(value(similarity_entropy(same, 15)) == Approx(std::log(5.0)).epsilon(dtype == DType::F64 ? 1e-14 : 1e-6));
  }
  // orthonormal rows: logits t on the diagonal, 0 elsewhere
  const int64_t B = 4;
  Tensor eye = zeros({B, B}, DType::F64);
  for (int64_t i = 0; i < B; ++i) eye.data<double>()[i * B + i] = 1.0;
  for (double t : {1.0, 15.0}) {
    const double z = std::exp(t) + double(B - 1), p = std::exp(t) / z, q = 1.0 / z;
    const double expected = -(p * std::log(p) + double(B - 1) * q * std::log(q));
    CHECK(value(similarity_entropy(eye, t)) == Approx(expected).epsilon(1e-8));  // log(1 + 3e^-t) rounding
  }
  CHECK(value(similarity_entropy(eye, 200.0)) < 1e-80);  // large temp_inv: each row all on itself
  // any features: 0 <= E <= ln B
  Generator gen(3);
  const double e = value(similarity_entropy(l2_normalize_rows(randn({6, 5}, DType::F64, &gen)), 15));
  CHECK(e > 0);
  CHECK(e <= std::log(6.0));
  // bad inputs
  CHECK_THROWS_WITH(similarity_entropy(zeros({3}), 15), Catch::Contains("similarity_entropy") && Catch::Contains("(B, D)"));
  CHECK_THROWS_WITH(similarity_entropy(eye, 0), Catch::Contains("temp_inv"));
}

TEST_CASE("similarity entropy of normalised features passes float64 gradcheck", "[pruning][amp]") {
  Generator gen(9);
  const Tensor x = randn({5, 4}, DType::F64, &gen);
  const GradcheckResult raw = gradcheck([](const TensorList& in) { return similarity_entropy(in[0], 2.0); },
                                        {l2_normalize_rows(x)});
  INFO(raw.report);
  CHECK(raw.ok);
  const GradcheckResult normalised = gradcheck(
      [](const TensorList& in) { return similarity_entropy(l2_normalize_rows(in[0]), 15.0); }, {x});
  INFO(normalised.report);
  CHECK(normalised.ok);
}

TEST_CASE("AMP Taylor scores equal float64 central differences per sample", "[pruning][amp]") {
  nn::VisionTransformer model(tiny_config(), 5);
  to_f64(model);
  const auto data = batches(DType::F64, 11);
  const int64_t B = 3, H = 32;
  // d/dm of the loss when neuron j's activation in sample b only is scaled by m (the MLP gate's
  // broadcast shape (B, 1, H) does that), central differences at m = 1
  auto derivative = [&](nn::Mlp& mlp, const CalibrationBatch& batch, int64_t b, int64_t j, bool entropy) {
    const double h = 1e-5;
    double at[2];
    for (int side = 0; side < 2; ++side) {
      Tensor g = ones({B, 1, H}, DType::F64);
      g.data<double>()[b * H + j] = side == 0 ? 1 + h : 1 - h;
      mlp.gate = g;
      NoGradGuard no_grad;
      model.eval();
      at[side] = entropy ? value(similarity_entropy(l2_normalize_rows(model.forward_features(batch.inputs)), 15))
                         : value(cross_entropy(model.forward(batch.inputs), batch.labels));
    }
    mlp.gate = Tensor();
    return (at[0] - at[1]) / (2 * h);
  };
  for (TaylorLoss loss : {TaylorLoss::Entropy, TaylorLoss::CrossEntropy}) {
    const bool entropy = loss == TaylorLoss::Entropy;
    TaylorScoreOptions abs_options, signed_options;
    abs_options.loss = signed_options.loss = loss;
    signed_options.use_abs = false;
    const auto scores = amp_taylor_scores(model, data, abs_options);
    const auto signed_scores = amp_taylor_scores(model, data, signed_options);
    REQUIRE(scores.size() == 2);
    double largest = 0;
    for (int64_t l = 0; l < 2; ++l) {
      REQUIRE(scores[size_t(l)].size() == size_t(H));
      nn::Mlp& mlp = *model.blocks->items[size_t(l)]->mlp;
      for (int64_t j : {0, 5, 17, 31}) {
        double expected_abs = 0, expected_signed = 0;
        for (const auto& batch : data)
          for (int64_t b = 0; b < B; ++b) {
            const double d = derivative(mlp, batch, b, j, entropy);
            expected_abs += std::abs(d) / double(B) / double(data.size());
            expected_signed += d / double(B) / double(data.size());
          }
        INFO((entropy ? "entropy" : "cross-entropy") << " block " << l << " neuron " << j << ": taylor "
                                                     << scores[size_t(l)][size_t(j)] << ", central " << expected_abs);
        CHECK(scores[size_t(l)][size_t(j)] == Approx(expected_abs).epsilon(1e-6).margin(1e-10));
        CHECK(signed_scores[size_t(l)][size_t(j)] == Approx(expected_signed).epsilon(1e-6).margin(1e-10));
        largest = std::max(largest, expected_abs);
      }
    }
    CHECK(largest > 1e-4);  // not a comparison of zeros
  }
}

TEST_CASE("AMP scoring leaves the model as it was", "[pruning][amp]") {
  nn::VisionTransformer model(tiny_config(), 7);
  const auto data = batches(DType::F32, 12);
  const Tensor x = data[0].inputs;
  model.train();
  model.blocks->items[0]->eval();
  model.head->weight.set_requires_grad(false);
  Tensor user_gate = ones({32});
  user_gate.data<float>()[3] = 0.f;
  model.blocks->items[1]->mlp->set_gate(user_gate);
  const std::vector<double> before = logits_of(model, x);
  std::vector<std::vector<float>> weights;
  std::vector<bool> requires_grad;
  for (auto& [name, p] : model.named_parameters()) {
    weights.push_back(p.to_vector<float>());
    requires_grad.push_back(p.requires_grad());
  }
  std::vector<bool> modes;
  for (auto& [name, m] : model.named_modules()) modes.push_back(m->is_training());

  std::vector<std::vector<double>> scores;
  double e = 0;
  {
    NoGradGuard caller_has_grad_off;
    scores = amp_taylor_scores(model, data, {});
    TaylorScoreOptions ce;
    ce.loss = TaylorLoss::CrossEntropy;
    amp_taylor_scores(model, data, ce);
    e = validation_entropy(model, data, 15);
    CHECK_FALSE(grad_mode_enabled());
  }
  CHECK(e > 0);
  CHECK(e <= std::log(3.0));
  CHECK(scores[1][3] == 0.0);  // the user's gate switched neuron 3 off
  CHECK(scores[1][4] > 0.0);
  CHECK(logits_of(model, x) == before);
  size_t i = 0;
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    CHECK(p.to_vector<float>() == weights[i]);
    CHECK(p.requires_grad() == requires_grad[i]);
    CHECK_FALSE(p.grad().defined());
    ++i;
  }
  i = 0;
  for (auto& [name, m] : model.named_modules()) CHECK(m->is_training() == modes[i++]);
  CHECK_FALSE(model.blocks->items[0]->mlp->gate.defined());
  CHECK(model.blocks->items[1]->mlp->gate.to_vector<float>() == user_gate.to_vector<float>());
  CHECK_THROWS_WITH(amp_taylor_scores(model, {}, {}), Catch::Contains("no scoring batches"));
  CHECK_THROWS_WITH(validation_entropy(model, {}, 15), Catch::Contains("no validation batches"));
}

TEST_CASE("AMP layer search follows the hand trace", "[pruning][amp]") {
  int calls = 0;
  // E = 2 below width 50, 1.01 from 50 on; E_prev 1, delta 0.05: widths >= 50 are accepted
  auto step_at_50 = [&](int64_t w) {
    ++calls;
    return w < 50 ? 2.0 : 1.01;
  };
  AmpLayerTrace t = amp_search_layer(64, 1.0, 0.05, 6, step_at_50);
  // 32 no (left 32), 48 no (left 48), 56 yes (right 56), 52 yes, 50 yes, 49 no
  const std::vector<std::pair<int64_t, double>> expected = {{32, 2.0}, {48, 2.0}, {56, 1.01},
                                                            {52, 1.01}, {50, 1.01}, {49, 2.0}};
  CHECK(t.tried == expected);
  CHECK(calls == 6);
  CHECK(t.kept == 50);
  CHECK(t.e_accepted == 1.01);
  CHECK(t.e_prev == 1.0);
  CHECK(t.hidden == 64);

  // nothing accepted: width H, E_accepted = E_prev
  t = amp_search_layer(64, 1.0, 0.05, 6, [](int64_t) { return 5.0; });
  CHECK(t.kept == 64);
  CHECK(t.e_accepted == 1.0);
  const std::vector<std::pair<int64_t, double>> all_rejected = {{32, 5.0}, {48, 5.0}, {56, 5.0},
                                                                {60, 5.0}, {62, 5.0}, {63, 5.0}};
  CHECK(t.tried == all_rejected);

  // a narrow layer (H < 2^steps): width 0 is never tried, a rejected width is not tried twice
  t = amp_search_layer(8, 1.0, 0.05, 6, [](int64_t) { return 1.0; });
  CHECK(t.kept == 1);
  CHECK(t.tried.size() == 3);  // 4, 2, 1
  t = amp_search_layer(8, 1.0, 0.05, 6, [](int64_t) { return 9.0; });
  CHECK(t.kept == 8);
  CHECK(t.tried.size() == 3);  // 4, 6, 7 (then 7 again: its rejection stands)
  // the accept test is E_mid - E_prev <= delta, inclusive
  t = amp_search_layer(64, 1.0, 0.5, 1, [](int64_t) { return 1.5; });
  CHECK(t.kept == 32);
}

TEST_CASE("AMP search over blocks on a fake model: last block first, E_prev recomputed after a rejected layer",
          "[pruning][amp]") {
  // 3 blocks of 64; block b is good from width threshold[b] on (block 1 never below 64). E = 1 + number of
  // blocks below their threshold (+ 0.001 per entropy() call, so recomputations are visible).
  const std::vector<int64_t> hidden = {64, 64, 64}, threshold = {20, 64, 50};
  std::vector<int64_t> widths = hidden;
  int entropy_calls = 0;
  std::vector<std::pair<int64_t, std::vector<int64_t>>> applied;
  // scores rise with the index: the top w neurons are the last w
  std::vector<std::vector<double>> scores(3, std::vector<double>(64));
  for (auto& s : scores) std::iota(s.begin(), s.end(), 0.0);
  auto top_set = [](int64_t w) {
    std::vector<int64_t> keep = std::vector<int64_t>(size_t(w));
    std::iota(keep.begin(), keep.end(), 64 - w);
    return keep;
  };
  auto base = [&](const std::vector<int64_t>& w) {
    double e = 1;
    for (size_t b = 0; b < 3; ++b) e += w[b] < threshold[b] ? 1 : 0;
    return e;
  };
  AmpSearchModel fake;
  fake.entropy = [&] { return base(widths) + 0.001 * entropy_calls++; };
  fake.trial_entropy = [&](int64_t block, const std::vector<int64_t>& keep) {
    CHECK(keep == top_set(int64_t(keep.size())));
    std::vector<int64_t> w = widths;
    w[size_t(block)] = int64_t(keep.size());
    return base(w);
  };
  fake.apply = [&](int64_t block, const std::vector<int64_t>& keep) {
    applied.emplace_back(block, keep);
    widths[size_t(block)] = int64_t(keep.size());
  };
  AmpOptions options;
  options.delta = 0.05;
  const AmpResult r = amp_search_with(hidden, scores, options, fake);

  CHECK(r.widths == std::vector<int64_t>{20, 64, 50});
  REQUIRE(r.layers.size() == 3);
  CHECK(r.layers[0].block == 2);
  CHECK(r.layers[1].block == 1);
  CHECK(r.layers[2].block == 0);
  CHECK(r.e_dense == 1.0);  // call 0
  // block 2: E_prev = E_dense; accepted 50 at E 1
  CHECK(r.layers[0].e_prev == 1.0);
  CHECK(r.layers[0].kept == 50);
  CHECK(r.layers[0].e_accepted == 1.0);
  // block 1: E_prev carried on; nothing accepted
  CHECK(r.layers[1].e_prev == 1.0);
  CHECK(r.layers[1].kept == 64);
  CHECK(r.layers[1].tried.size() == 6);
  // block 0: E_prev recomputed (call 1); 32 yes, 16 no, 24 yes, 20 yes, 18 no, 19 no
  CHECK(r.layers[2].e_prev == 1.001);
  CHECK(r.layers[2].kept == 20);
  const std::vector<std::pair<int64_t, double>> trace0 = {{32, 1.0}, {16, 2.0}, {24, 1.0},
                                                          {20, 1.0}, {18, 2.0}, {19, 2.0}};
  CHECK(r.layers[2].tried == trace0);
  CHECK(r.e_final == 1.002);  // call 2
  CHECK(entropy_calls == 3);
  REQUIRE(applied.size() == 2);
  CHECK(applied[0] == std::make_pair(int64_t(2), top_set(50)));
  CHECK(applied[1] == std::make_pair(int64_t(0), top_set(20)));
  CHECK(r.kept[2] == top_set(50));
  CHECK(r.kept[1] == top_set(64));
  CHECK(r.kept[0] == top_set(20));

  scores[1][3] = std::nan("");
  CHECK_THROWS_WITH(amp_search_with(hidden, scores, options, fake), Catch::Contains("NaN"));
  scores.pop_back();
  CHECK_THROWS_WITH(amp_search_with(hidden, scores, options, fake), Catch::Contains("scores for 2 blocks"));
}

TEST_CASE("AMP through parse_steps: prunes, logs, equals the zeroed model, saves and reloads", "[pruning][amp]") {
  const auto steps = parse_steps("mlp:amp:delta=0.0005");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0]->name() == "mlp:amp:delta=0.0005:tau=15");
  CHECK(parse_step("mlp:amp:delta=0.01:tau=20:steps=4")->name() == "mlp:amp:delta=0.01:tau=20:steps=4");
  CHECK_THROWS_WITH(parse_steps("mlp:amp"), Catch::Contains("step 1 'mlp:amp'") && Catch::Contains("missing delta"));
  CHECK_THROWS_WITH(parse_step("mlp:amp:delta=-1"), Catch::Contains("delta must be >= 0"));
  CHECK_THROWS_WITH(parse_step("mlp:amp:delta=1:tau=0"), Catch::Contains("tau (temp_inv) must be > 0"));
  CHECK_THROWS_WITH(parse_step("mlp:amp:delta=1:keep=0.5"), Catch::Contains("unknown option 'keep'"));

  nn::VisionTransformer model(tiny_config(), 21);
  nn::VisionTransformer zeroed(tiny_config(), 21);  // the same weights
  PruneContext ctx;
  ctx.calibration = batches(DType::F32, 31, 2, 4);
  ctx.validation = batches(DType::F32, 32, 2, 6);
  PruneContext missing = ctx;
  missing.validation.clear();
  CHECK_THROWS_WITH(steps[0]->apply(model, missing), Catch::Contains("PruneContext::validation"));
  CHECK(model.blocks->items[0]->mlp->hidden() == 32);  // untouched

  int surgeries = 0;
  ctx.on_surgery = [&](nn::VisionTransformer&, const std::vector<nn::ParameterSlice>& slices) {
    ++surgeries;
    CHECK(slices.size() == 3);  // fc1.weight, fc1.bias, fc2.weight
  };
  const auto log = apply_all(model, steps, ctx);
  REQUIRE(log.size() == 1);
  REQUIRE(model.prune_log.size() == 1);
  const auto& amp = dynamic_cast<const AmpPruning&>(*steps[0]);
  const AmpResult& r = amp.last_result();
  CHECK(log[0].kind == "prune_mlp");
  CHECK(log[0].method == "mlp:amp:delta=0.0005:tau=15");
  int pruned = 0;
  std::ostringstream trace;
  for (const auto& layer : r.layers) {
    trace << "block " << layer.block << " E_prev " << layer.e_prev << ":";
    for (const auto& [w, e] : layer.tried) trace << " (" << w << ", " << e << ")";
    trace << "\n";
  }
  INFO(trace.str());
  for (int64_t b = 0; b < 2; ++b) {
    const auto& kept = log[0].kept.at("blocks." + std::to_string(b) + ".mlp");
    CHECK(int64_t(kept.size()) == r.widths[size_t(b)]);
    CHECK(kept == r.kept[size_t(b)]);
    CHECK(model.blocks->items[size_t(b)]->mlp->hidden() == r.widths[size_t(b)]);
    if (r.widths[size_t(b)] < 32) ++pruned;
    CHECK(r.widths[size_t(b)] > 1);  // a real search: neither all nor (almost) nothing kept
    // zero the removed neurons of the unpruned twin (fc2 columns)
    nn::Mlp& mlp = *zeroed.blocks->items[size_t(b)]->mlp;
    float* w2 = mlp.fc2->weight.data<float>();
    for (int64_t j = 0; j < 32; ++j)
      if (!std::binary_search(kept.begin(), kept.end(), j))
        for (int64_t o = 0; o < 16; ++o) w2[o * 32 + j] = 0.f;
  }
  INFO("widths " << r.widths[0] << ", " << r.widths[1]);
  CHECK(pruned == 2);  // delta 0.0005 cuts both blocks of this model part-way
  CHECK(surgeries == pruned);
  for (const auto& layer : r.layers)
    if (layer.kept < layer.hidden) CHECK(layer.e_accepted - layer.e_prev <= 0.0005);
  CHECK(r.e_final == Approx(validation_entropy(model, ctx.validation, 15)).epsilon(1e-12));
  if (r.layers.back().kept < 32)  // block 0 cut last: the trial through the gate is the cut model
    CHECK(r.e_final == Approx(r.layers.back().e_accepted).epsilon(1e-5));
  CHECK(log[0].params_json.find("\"criterion\":\"amp\"") != std::string::npos);
  CHECK(log[0].params_json.find("\"validation_batch_size\":6") != std::string::npos);

  const Tensor x = ctx.validation[0].inputs;
  const std::vector<double> pruned_logits = logits_of(model, x), zeroed_logits = logits_of(zeroed, x);
  REQUIRE(pruned_logits.size() == zeroed_logits.size());
  for (size_t i = 0; i < pruned_logits.size(); ++i) CHECK(pruned_logits[i] == Approx(zeroed_logits[i]).margin(1e-5));

  const std::string path = temp_path("pruned");
  nn::save_model(path, model);
  auto loaded = pruning::load_model(path);
  std::filesystem::remove(path);
  CHECK(logits_of(*loaded, x) == pruned_logits);
  REQUIRE(loaded->prune_log.size() == 1);
  CHECK(loaded->prune_log[0] == log[0]);
}

TEST_CASE("entropy_taylor and ce_taylor neuron criteria give AMP's scores", "[pruning][amp]") {
  nn::VisionTransformer model(tiny_config(), 8);
  PruneContext ctx;
  ctx.calibration = batches(DType::F32, 41);
  CHECK(make_neuron_criterion("entropy_taylor")->scores(model, ctx) == amp_taylor_scores(model, ctx.calibration, {}));
  TaylorScoreOptions tau20;
  tau20.temp_inv = 20;
  auto c20 = make_neuron_criterion("entropy_taylor:20");
  CHECK(c20->name() == "entropy_taylor:20");
  CHECK(c20->scores(model, ctx) == amp_taylor_scores(model, ctx.calibration, tau20));
  TaylorScoreOptions ce;
  ce.loss = TaylorLoss::CrossEntropy;
  CHECK(make_neuron_criterion("ce_taylor")->scores(model, ctx) == amp_taylor_scores(model, ctx.calibration, ce));
  CHECK_THROWS_WITH(make_neuron_criterion("entropy_taylor:abc"), Catch::Contains("temp_inv"));
  // matched widths through MlpNeuronPruning
  const auto step = parse_step("mlp:ce_taylor:keep=0.5");
  step->apply(model, ctx);
  CHECK(model.blocks->items[0]->mlp->hidden() == 16);
  PruneContext empty;
  CHECK_THROWS_WITH(make_neuron_criterion("entropy_taylor")->scores(model, empty), Catch::Contains("calibration"));
}
