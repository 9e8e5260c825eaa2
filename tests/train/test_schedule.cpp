// Cosine schedule values, layer-decay scales and groups, DropPath rates, gradient
// clipping and SGD momentum, each against a hand computation.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "nn/vision_transformer.h"
#include "train/schedule.h"
#include "train/sgd.h"

using namespace shears;

TEST_CASE("cosine schedule matches the formula at warm-up start/end, middle and end", "[train][schedule]") {
  train::CosineSchedule s{1e-3, 1e-6, 1e-5, 10, 110};
  const double pi = std::acos(-1.0);
  CHECK(s.at(0) == Approx(1e-6).epsilon(1e-12));
  CHECK(s.at(5) == Approx(1e-6 + 0.5 * (1e-3 - 1e-6)).epsilon(1e-12));
  CHECK(s.at(10) == Approx(1e-3).epsilon(1e-12));  // warm-up end = base lr
  CHECK(s.at(60) == Approx(0.5 * (1e-3 + 1e-5)).epsilon(1e-12));  // middle of the cosine
  CHECK(s.at(35) == Approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + std::cos(pi * 25.0 / 100.0))).epsilon(1e-12));
  CHECK(s.at(109) == Approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + std::cos(pi * 99.0 / 100.0))).epsilon(1e-12));
  CHECK(s.at(110) == 1e-5);  // end
  CHECK(s.at(500) == 1e-5);  // clamped after the end
  // monotone after the warm-up
  for (int64_t t = 10; t < 110; ++t) CHECK(s.at(t + 1) <= s.at(t));

  train::CosineSchedule no_warm{0.1, 0.0, 0.0, 0, 4};
  CHECK(no_warm.at(0) == Approx(0.1));
  CHECK(no_warm.at(2) == Approx(0.05));

  auto e = train::CosineSchedule::from_epochs(5e-4, 1e-6, 1e-5, 5, 30, 100);
  CHECK(e.warmup_steps == 500);
  CHECK(e.total_steps == 3000);
  CHECK(e.at(500) == Approx(5e-4));
}

TEST_CASE("layer decay scales are decay^(depth+1-i)", "[train][schedule]") {
  auto s = train::layer_decay_scales(12, 0.75);
  REQUIRE(s.size() == 14);
  CHECK(s[0] == Approx(std::pow(0.75, 13)));
  CHECK(s[1] == Approx(std::pow(0.75, 12)));
  CHECK(s[12] == Approx(0.75));
  CHECK(s[13] == 1.0);
}

TEST_CASE("layer_decay_groups assigns layer ids and decay like param_groups_lrd", "[train][schedule]") {
  nn::ModelConfig cfg = nn::vit_tiny_patch4_28(10);
  cfg.blocks.resize(2);
  nn::VisionTransformer model(cfg, 0);
  CHECK(train::vit_layer_id("cls_token", 2) == 0);
  CHECK(train::vit_layer_id("pos_embed", 2) == 0);
  CHECK(train::vit_layer_id("patch_embed.proj.weight", 2) == 0);
  CHECK(train::vit_layer_id("blocks.0.attn.qkv.weight", 2) == 1);
  CHECK(train::vit_layer_id("blocks.1.mlp.fc2.bias", 2) == 2);
  CHECK(train::vit_layer_id("norm.weight", 2) == 3);
  CHECK(train::vit_layer_id("head.bias", 2) == 3);

  const double wd = 0.05, ld = 0.75;
  auto groups = train::layer_decay_groups(model, wd, ld);
  const auto scales = train::layer_decay_scales(2, ld);
  // (layer, decay?) -> expected parameter count; layer order, decay group first
  struct G { int64_t layer; bool decay; size_t n; };
  const std::vector<G> want = {{0, true, 1}, {0, false, 3},  // proj.weight | proj.bias, cls_token, pos_embed
                               {1, true, 4}, {1, false, 8},  // qkv/proj/fc1/fc2 weights | biases + 2 norms
                               {2, true, 4}, {2, false, 8},
                               {3, true, 1}, {3, false, 3}};  // head.weight | head.bias, norm.weight/bias
  REQUIRE(groups.size() == want.size());
  size_t total = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("group " << i);
    CHECK(groups[i].params.size() == want[i].n);
    CHECK(groups[i].weight_decay == (want[i].decay ? wd : 0.0));
    CHECK(groups[i].lr_scale == Approx(scales[size_t(want[i].layer)]));
    total += groups[i].params.size();
  }
  CHECK(total == model.parameters().size());
  // spot checks by identity
  auto has = [](const train::ParamGroup& g, const Tensor& t) {
    for (auto& p : g.params)
      if (p.is_same(t)) return true;
    return false;
  };
  CHECK(has(groups[1], model.cls_token));
  CHECK(has(groups[1], model.pos_embed));
  CHECK(has(groups[0], model.patch_embed->proj->weight));
  CHECK(has(groups[6], model.head->weight));
  CHECK(has(groups[7], model.head->bias));
  CHECK(has(groups[4], model.blocks->items[1]->attn->qkv->weight));
}

TEST_CASE("drop_path_rates is a linspace and apply_drop_path sets the blocks", "[train][schedule]") {
  auto r = train::drop_path_rates(5, 0.2);
  REQUIRE(r.size() == 5);
  CHECK(r[0] == 0.0);
  CHECK(r[2] == Approx(0.1));
  CHECK(r[4] == Approx(0.2));
  CHECK(train::drop_path_rates(1, 0.3) == std::vector<double>{0.0});  // torch.linspace(0, x, 1) = [0]
  nn::ModelConfig cfg = nn::vit_tiny_patch4_28(10);
  cfg.blocks.resize(3);
  nn::VisionTransformer model(cfg, 0);
  Generator gen(5, 2);
  train::apply_drop_path(model, 0.1, &gen);
  CHECK(model.blocks->items[0]->drop_path == 0.0);
  CHECK(model.blocks->items[1]->drop_path == Approx(0.05));
  CHECK(model.blocks->items[2]->drop_path == Approx(0.1));
  CHECK(model.blocks->items[2]->drop_path_gen == &gen);
}

TEST_CASE("clip_grad_norm scales by max_norm / (norm + 1e-6) and returns the norm", "[train][schedule]") {
  Tensor a = zeros({2}).set_requires_grad(), b = zeros({1}).set_requires_grad(), c = zeros({3}).set_requires_grad();
  a.set_grad(from_vector(std::vector<float>{3.0f, 4.0f}));
  b.set_grad(from_vector(std::vector<float>{12.0f}));  // c has no gradient: skipped
  double n = train::clip_grad_norm({a, b, c}, 100.0);
  CHECK(n == Approx(13.0));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{3.0f, 4.0f});  // below max: untouched
  n = train::clip_grad_norm({a, b, c}, 6.5);
  CHECK(n == Approx(13.0));
  const double coef = 6.5 / (13.0 + 1e-6);
  CHECK(a.grad().to_vector<float>()[0] == Approx(3.0 * coef).epsilon(1e-6));
  CHECK(a.grad().to_vector<float>()[1] == Approx(4.0 * coef).epsilon(1e-6));
  CHECK(b.grad().to_vector<float>()[0] == Approx(12.0 * coef).epsilon(1e-6));
  CHECK(train::clip_grad_norm({a, b, c}, 100.0) == Approx(6.5).epsilon(1e-6));
  // a non-finite norm is returned and nothing is scaled
  b.set_grad(from_vector(std::vector<float>{INFINITY}));
  CHECK(std::isinf(train::clip_grad_norm({a, b}, 1.0)));
  CHECK(a.grad().to_vector<float>()[0] == Approx(3.0 * coef).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm over many elements matches a double sum", "[train][schedule]") {
  Tensor p = zeros({300000}).set_requires_grad();
  Tensor g = randn({300000}, DType::F32, nullptr);
  p.set_grad(g);
  double ref = 0.0;
  for (float v : g.to_vector<float>()) ref += double(v) * double(v);
  CHECK(train::clip_grad_norm({p}, 1e9) == Approx(std::sqrt(ref)).epsilon(1e-12));
}

TEST_CASE("two SGD momentum steps match PyTorch's update", "[train][sgd]") {
  for (bool nesterov : {false, true}) {
    INFO("nesterov " << nesterov);
    Tensor p = from_vector(std::vector<float>{1.0f, -2.0f}).set_requires_grad();
    train::SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.nesterov = nesterov;
    train::SGD opt({{{p}, 0.01, 0.5}}, o);  // wd 0.01, lr scale 0.5
    double w[2] = {1.0, -2.0}, buf[2] = {0, 0};
    for (int t = 1; t <= 2; ++t) {
      opt.zero_grad();
      backward(sum(p * p * 3.0));  // g = 6 p
      opt.step();
      for (int i = 0; i < 2; ++i) {
        double d = 6 * w[i] + 0.01 * w[i];
        buf[i] = 0.9 * buf[i] + d;  // step 1: buf = d
        double upd = nesterov ? d + 0.9 * buf[i] : buf[i];
        w[i] -= 0.1 * 0.5 * upd;
      }
      auto got = p.to_vector<float>();
      CHECK(got[0] == Approx(w[0]).epsilon(1e-6));
      CHECK(got[1] == Approx(w[1]).epsilon(1e-6));
      auto st = opt.state();
      REQUIRE(st.size() == 1);
      CHECK(st[0].to_vector<float>()[1] == Approx(buf[1]).epsilon(1e-6));
    }
    CHECK(opt.steps() == 2);
  }
}

TEST_CASE("plain SGD (no momentum) has no state", "[train][sgd]") {
  Tensor p = from_vector(std::vector<float>{1.0f}).set_requires_grad();
  train::SGDOptions o;
  o.lr = 0.5;
  o.momentum = 0.0;
  train::SGD opt({{{p}, 0.0, 1.0}}, o);
  backward(sum(p * p));  // g = 2
  opt.step();
  CHECK(p.to_vector<float>()[0] == Approx(0.0));
  CHECK(opt.state().empty());
  o.nesterov = true;
  CHECK_THROWS(train::SGD({{{p}, 0.0, 1.0}}, o));
}
