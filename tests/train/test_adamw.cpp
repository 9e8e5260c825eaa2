// AdamW against a hand computation of two steps, the decay/no-decay split, coefficients rounded
// once from double (PyTorch's float(1 - beta)), and AdamW/SGD state that follows model surgery
// (moments of surviving entries sliced by name, the next step matching a hand computation, and
// train_state checkpoints of a pruned model).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/linear.h"
#include "nn/vision_transformer.h"
#include "pruning/surgery.h"
#include "tensor/kernels.h"
#include "train/adamw.h"
#include "train/sgd.h"
#include "train/train_state.h"

using namespace shears;

TEST_CASE("two AdamW steps match the formula", "[train][adamw]") {
  Tensor p = from_vector(std::vector<float>{1.0f, -2.0f}).set_requires_grad();
  train::AdamWOptions o;
  o.lr = 0.1;
  o.beta1 = 0.9;
  o.beta2 = 0.99;
  o.eps = 1e-8;
  train::AdamW opt({{{p}, 0.05, 1.0, {"p"}}}, o);
  double w[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    opt.zero_grad();
    backward(sum(p * p * 3.0));  // g = 6 p
    opt.step();
    for (int i = 0; i < 2; ++i) {
      double g = 6 * w[i];
      w[i] *= 1 - 0.1 * 0.05;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.99 * v[i] + 0.01 * g * g;
      double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.99, t));
      w[i] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
    }
    auto got = p.to_vector<float>();
    CHECK(got[0] == Approx(w[0]).epsilon(1e-6));
    CHECK(got[1] == Approx(w[1]).epsilon(1e-6));
  }
}

TEST_CASE("AdamW's one loop over all parameters: chunks across tensors and groups, each element's update",
          "[train][adamw]") {
  // 10000 + 30000 + 7 elements in two groups: 16384-element chunks start and end inside tensors,
  // and one chunk covers the end of a tensor and the start of the next (and of the next group).
  std::vector<Tensor> params;
  for (int64_t n : {10000, 30000, 7}) {
    std::vector<float> init(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) init[size_t(i)] = std::sin(0.37f * float(i) + float(n));
    params.push_back(from_vector(init).set_requires_grad());
  }
  train::AdamWOptions o;
  o.lr = 0.01;
  train::AdamW opt({{{params[0], params[1]}, 0.05, 1.0, {"a", "b"}}, {{params[2]}, 0.0, 0.5, {"c"}}}, o);
  // The update of each element in float, in the kernel's order of operations.
  std::vector<std::vector<float>> w, m, v;
  for (auto& p : params) {
    w.push_back(p.to_vector<float>());
    m.emplace_back(size_t(p.numel()), 0.f);
    v.emplace_back(size_t(p.numel()), 0.f);
  }
  for (int t = 1; t <= 2; ++t) {
    opt.zero_grad();
    Tensor loss = sum(params[0] * params[0]) + sum(params[1] * params[1] * 0.5) + sum(params[2] * 3.0);
    backward(loss);
    std::vector<std::vector<float>> grads;
    for (auto& p : params) grads.push_back(p.grad().to_vector<float>());
    opt.step();
    for (size_t k = 0; k < params.size(); ++k) {
      const double lr_scale = k == 2 ? 0.5 : 1.0, wd = k == 2 ? 0.0 : 0.05;
      const double bc1 = 1.0 - std::pow(o.beta1, double(t)), bc2 = 1.0 - std::pow(o.beta2, double(t));
      const float decay = float(1.0 - o.lr * lr_scale * wd), step = float(o.lr * lr_scale / bc1);
      const float isb2 = float(1.0 / std::sqrt(bc2)), b1 = float(o.beta1), b2 = float(o.beta2);
      const float omb1 = float(1.0 - o.beta1), omb2 = float(1.0 - o.beta2), eps = float(o.eps);
      const std::vector<float> got = params[k].to_vector<float>();
      int mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const float g = grads[k][i];
        m[k][i] = b1 * m[k][i] + omb1 * g;
        v[k][i] = b2 * v[k][i] + omb2 * g * g;
        w[k][i] = w[k][i] * decay - step * m[k][i] / (std::sqrt(v[k][i]) * isb2 + eps);
        // (a tolerance, not bits: builds may contract the multiply-adds differently in test and kernel)
        mismatches += std::fabs(got[i] - w[k][i]) > 1e-6f * std::max(1.0f, std::fabs(w[k][i]));
      }
      INFO("tensor " << k << ", step " << t);
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("decay_groups puts biases and 1-d params in the no-decay group", "[train][adamw]") {
  Generator gen(0);
  nn::Linear lin(3, 2, true, gen);
  auto groups = train::decay_groups(lin, 0.05);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 1);  // weight
  CHECK(groups[0].weight_decay == 0.05);
  CHECK(groups[1].params.size() == 1);  // bias
  CHECK(groups[1].weight_decay == 0.0);
}

TEST_CASE("AdamW rounds 1 - beta from double, as PyTorch's float(1 - beta)", "[train][adamw]") {
  Tensor p = from_vector(std::vector<float>{0.5f}).set_requires_grad();
  train::AdamWOptions o;  // beta1 0.9, beta2 0.999
  train::AdamW opt({{{p}, 0.0, 1.0, {"p"}}}, o);
  const train::AdamW::Coefficients c = opt.coefficients(opt.groups()[0], 1);
  const float want2 = float(1.0 - 0.999), want1 = float(1.0 - 0.9);
  CHECK(c.one_minus_beta2 == want2);
  CHECK(c.one_minus_beta1 == want1);
  CHECK(want2 != 1.0f - float(0.999));  // 0.001 vs 0.00099998713: the old, wrong coefficient
  CHECK(want1 != 1.0f - float(0.9));    // 0.1 vs 0.10000002
  // and the step uses them: after one step with gradient 3, m = float(1 - b1) * 3, v = float(1 - b2) * 9
  backward(sum(p * 3.0));
  opt.step();
  const TensorList st = opt.state();
  CHECK(st[0].item<float>() == want1 * 3.0f);
  CHECK(st[1].item<float>() == want2 * 3.0f * 3.0f);
}

TEST_CASE("decay_groups and layer_decay_groups fill parameter names", "[train][adamw]") {
  Generator gen(0);
  nn::Linear lin(3, 2, true, gen);
  auto groups = train::decay_groups(lin, 0.05);
  CHECK(groups[0].names == std::vector<std::string>{"weight"});
  CHECK(groups[1].names == std::vector<std::string>{"bias"});
}

// ---------------------------------------------------------------- optimizer state after surgery

namespace {

nn::ModelConfig surgery_config() {
  nn::ModelConfig cfg = nn::vit_tiny_patch4_32(4);
  cfg.image_size = 16;
  cfg.dim = 16;
  cfg.blocks = {{2, 8, 24}, {2, 8, 32}, {2, 4, 20}};
  return cfg;
}

struct Batch {
  Tensor x, y;
};
Batch surgery_batch(uint64_t seed) {
  Generator gen(seed);
  return {randn({3, 3, 16, 16}, DType::F32, &gen), from_vector(std::vector<int64_t>{0, 3, 1})};
}

void train_step(nn::VisionTransformer& model, train::AdamW& opt, const Batch& b) {
  opt.zero_grad();
  backward(cross_entropy(model.forward(b.x), b.y));
  opt.step();
}

// name -> (m, v) copies, from the optimizer's groups and state() order.
std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> moments_by_name(const train::AdamW& opt) {
  std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> out;
  const TensorList st = opt.state();
  size_t k = 0;
  for (const auto& g : opt.groups())
    for (const auto& name : g.names) {
      out[name] = {st[k].to_vector<float>(), st[k + 1].to_vector<float>()};
      k += 2;
    }
  return out;
}

// Rows `rows` of a row-major (R, C) matrix or entries of a vector, by hand.
std::vector<float> take_rows(const std::vector<float>& a, int64_t cols, const std::vector<int64_t>& rows) {
  std::vector<float> out;
  for (int64_t r : rows)
    for (int64_t c = 0; c < cols; ++c) out.push_back(a[size_t(r * cols + c)]);
  return out;
}
std::vector<float> take_cols(const std::vector<float>& a, int64_t rows, int64_t cols, const std::vector<int64_t>& keep) {
  std::vector<float> out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c : keep) out.push_back(a[size_t(r * cols + c)]);
  return out;
}

}  // namespace

TEST_CASE("AdamW moments follow MLP pruning and block removal", "[train][adamw][surgery]") {
  const nn::ModelConfig cfg = surgery_config();
  for (const bool one_call : {true, false}) {
    SECTION(one_call ? "slices concatenated" : "one apply_slices per surgery") {
      nn::VisionTransformer model(cfg, 7);
      train::AdamWOptions o;
      o.lr = 1e-2;
      train::AdamW opt(train::decay_groups(model, 0.05), o);
      for (uint64_t s = 0; s < 3; ++s) train_step(model, opt, surgery_batch(s));
      const auto before = moments_by_name(opt);

      const std::vector<int64_t> keep = {1, 4, 5, 17, 30};  // of block 1's 32 hidden neurons
      const auto s1 = pruning::prune_mlp_hidden(model, 1, keep);
      if (!one_call) opt.apply_slices(model, s1);
      const auto s2 = pruning::drop_blocks(model, {0});  // old block 1 becomes block 0
      if (one_call) {
        std::vector<nn::ParameterSlice> all = s1;
        all.insert(all.end(), s2.begin(), s2.end());
        opt.apply_slices(model, all);
      } else {
        opt.apply_slices(model, s2);
      }
      CHECK(opt.steps() == 3);

      // every model parameter is held once, bound to the model's current tensor
      const auto after = moments_by_name(opt);
      const auto params = model.named_parameters();
      REQUIRE(after.size() == params.size());
      for (const auto& g : opt.groups())
        for (size_t i = 0; i < g.params.size(); ++i) CHECK(g.params[i].is_same(*model.find_parameter(g.names[i])));

      // moments of surviving entries = the pre-surgery moments sliced by hand
      const auto& fc1w = before.at("blocks.1.mlp.fc1.weight");
      CHECK(after.at("blocks.0.mlp.fc1.weight").first == take_rows(fc1w.first, 16, keep));
      CHECK(after.at("blocks.0.mlp.fc1.weight").second == take_rows(fc1w.second, 16, keep));
      const auto& fc1b = before.at("blocks.1.mlp.fc1.bias");
      CHECK(after.at("blocks.0.mlp.fc1.bias").first == take_rows(fc1b.first, 1, keep));
      CHECK(after.at("blocks.0.mlp.fc1.bias").second == take_rows(fc1b.second, 1, keep));
      const auto& fc2w = before.at("blocks.1.mlp.fc2.weight");
      CHECK(after.at("blocks.0.mlp.fc2.weight").first == take_cols(fc2w.first, 16, 32, keep));
      CHECK(after.at("blocks.0.mlp.fc2.weight").second == take_cols(fc2w.second, 16, 32, keep));
      CHECK(after.at("blocks.0.mlp.fc2.bias") == before.at("blocks.1.mlp.fc2.bias"));
      CHECK(after.at("blocks.0.attn.qkv.weight") == before.at("blocks.1.attn.qkv.weight"));
      CHECK(after.at("blocks.1.norm1.weight") == before.at("blocks.2.norm1.weight"));
      CHECK(after.at("head.weight") == before.at("head.weight"));
      CHECK(after.count("blocks.2.norm1.weight") == 0);

      // the next step matches a hand computation from those moments
      std::map<std::string, std::vector<float>> p0;
      for (const auto& [name, t] : params) p0[name] = t.to_vector<float>();
      opt.zero_grad();
      backward(cross_entropy(model.forward(surgery_batch(9).x), surgery_batch(9).y));
      std::map<std::string, std::vector<float>> grads;
      for (const auto& [name, t] : params) grads[name] = t.grad().to_vector<float>();
      opt.step();
      const auto stepped = moments_by_name(opt);
      for (const auto& g : opt.groups())
        for (size_t i = 0; i < g.params.size(); ++i) {
          const std::string& name = g.names[i];
          const double lr = 1e-2, b1 = 0.9, b2 = 0.999, t = 4;
          const std::vector<float> got = g.params[i].to_vector<float>();
          for (size_t e = 0; e < got.size(); ++e) {
            const double gr = grads[name][e];
            const double m = b1 * after.at(name).first[e] + (1 - b1) * gr;
            const double v = b2 * after.at(name).second[e] + (1 - b2) * gr * gr;
            const double want = p0[name][e] * (1 - lr * g.weight_decay) -
                                lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + 1e-8);
            INFO(name << "[" << e << "]");
            // float rounding of the two terms (they may cancel): a few ulps of the larger one
            const double m_margin = 1e-6 * (std::fabs(b1 * after.at(name).first[e]) + std::fabs((1 - b1) * gr));
            REQUIRE(stepped.at(name).first[e] == Approx(m).epsilon(1e-6).margin(m_margin));
            REQUIRE(got[e] == Approx(want).epsilon(1e-6).margin(1e-7));
          }
        }
    }
  }
}

TEST_CASE("a pruned model's training state saves and resumes", "[train][adamw][surgery]") {
  nn::VisionTransformer model(surgery_config(), 7);
  train::AdamW opt(train::decay_groups(model, 0.05), {});
  for (uint64_t s = 0; s < 2; ++s) train_step(model, opt, surgery_batch(s));
  opt.apply_slices(model, pruning::prune_attention_heads(model, 2, {1}));
  opt.apply_slices(model, pruning::drop_blocks(model, {1}));
  train_step(model, opt, surgery_batch(5));
  const auto path = (std::filesystem::temp_directory_path() / "shears_test_pruned_train_state.safetensors").string();
  train::save_train_state(path, model, opt, {});
  nn::VisionTransformer resumed(nn::read_model_config(path), 99);
  train::AdamW opt2(train::decay_groups(resumed, 0.05), {});
  train::load_train_state(path, resumed, opt2);
  CHECK(opt2.steps() == 3);
  const TensorList a = opt.state(), b = opt2.state();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_vector<float>() == b[i].to_vector<float>());
  train_step(model, opt, surgery_batch(6));
  train_step(resumed, opt2, surgery_batch(6));
  for (const auto& [name, t] : model.named_parameters())
    CHECK(t.to_vector<float>() == resumed.find_parameter(name)->to_vector<float>());
  std::filesystem::remove(path);
}

TEST_CASE("SGD momentum follows surgery", "[train][sgd][surgery]") {
  nn::VisionTransformer model(surgery_config(), 7);
  train::SGD sgd(train::decay_groups(model, 0.0), train::SGDOptions{});
  sgd.zero_grad();
  backward(cross_entropy(model.forward(surgery_batch(1).x), surgery_batch(1).y));
  sgd.step();
  std::map<std::string, std::vector<float>> before;
  {
    const TensorList st = sgd.state();
    size_t k = 0;
    for (const auto& g : sgd.groups())
      for (const auto& n : g.names) before[n] = st[k++].to_vector<float>();
  }
  sgd.apply_slices(model, pruning::prune_attention_dims(model, 0, {0, 3, 6}));
  std::map<std::string, std::vector<float>> after;
  {
    const TensorList st = sgd.state();
    size_t k = 0;
    for (const auto& g : sgd.groups())
      for (const auto& n : g.names) after[n] = st[k++].to_vector<float>();
  }
  // block 0: 2 heads of 8 -> of 3; width indices h * 8 + d
  const std::vector<int64_t> width = {0, 3, 6, 8, 11, 14};
  std::vector<int64_t> qkv_rows;
  for (int64_t part = 0; part < 3; ++part)
    for (int64_t i : width) qkv_rows.push_back(part * 16 + i);
  CHECK(after.at("blocks.0.attn.qkv.weight") == take_rows(before.at("blocks.0.attn.qkv.weight"), 16, qkv_rows));
  CHECK(after.at("blocks.0.attn.qkv.bias") == take_rows(before.at("blocks.0.attn.qkv.bias"), 1, qkv_rows));
  CHECK(after.at("blocks.0.attn.proj.weight") == take_cols(before.at("blocks.0.attn.proj.weight"), 16, 16, width));
  CHECK(after.at("blocks.1.mlp.fc1.weight") == before.at("blocks.1.mlp.fc1.weight"));
  sgd.zero_grad();
  backward(cross_entropy(model.forward(surgery_batch(2).x), surgery_batch(2).y));
  sgd.step();  // shapes agree
  // plain SGD (no buffers) follows too
  train::SGD plain(train::decay_groups(model, 0.0), train::SGDOptions{0.1, 0.0, false});
  plain.apply_slices(model, pruning::drop_blocks(model, {2}));
  int64_t held = 0;
  for (const auto& g : plain.groups()) held += int64_t(g.params.size());
  CHECK(held == int64_t(model.named_parameters().size()));
}

TEST_CASE("apply_slices refuses what it cannot follow and changes nothing", "[train][adamw][surgery]") {
  using Catch::Contains;
  nn::VisionTransformer model(surgery_config(), 7);
  train::AdamW opt(train::decay_groups(model, 0.05), {});
  const size_t held = opt.state().size();
  pruning::prune_mlp_hidden(model, 0, {0, 1});  // slices not passed on
  CHECK_THROWS_WITH(opt.apply_slices(model, {}), Contains("adamw.apply_slices") &&
                                                     Contains("blocks.0.mlp.fc1.weight") && Contains("shape"));
  CHECK(opt.state().size() == held);
  nn::VisionTransformer other(surgery_config(), 7);
  std::vector<train::ParamGroup> unnamed = {{other.parameters(), 0.0, 1.0, {}}};
  train::AdamW bare(unnamed, {});
  CHECK_THROWS_WITH(bare.apply_slices(other, pruning::drop_blocks(other, {0})), Contains("no names") ||
                                                                                     Contains("names"));
  nn::VisionTransformer third(surgery_config(), 7);
  train::AdamW opt3(train::decay_groups(third, 0.05), {});
  pruning::drop_blocks(third, {2});
  CHECK_THROWS_WITH(opt3.apply_slices(third, {}), Contains("'blocks.2.") && Contains("no slice removes it"));
}
