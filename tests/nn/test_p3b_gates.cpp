// P3B's six gates on a dense model (Block: attn_in/attn_out/mlp_in/mlp_out channel gates;
// Attention::qkv_gate over the per-head dim; Mlp::gate over hidden neurons): ones change nothing
// bit for bit, a zero entry equals zeroing the matching weights, gradients match finite
// differences (float64); and the sub-block feature tap of VisionTransformer.
#include <catch2/catch.hpp>

#include "model_outputs.h"
#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

using namespace shears;
using test::input_for;
using test::max_abs_diff;
using test::outputs;

namespace {

nn::ModelConfig small_config(const std::string& arch) {
  nn::ModelConfig cfg = arch == "vit" ? nn::vit_tiny_patch4_32(5) : nn::videomae_small_patch4_32(5);
  cfg.image_size = 16;
  cfg.dim = 24;
  cfg.blocks = {{2, 8, 40}, {3, 4, 32}};
  return cfg;
}

void attach_all(nn::VisionTransformer& model, bool requires_grad = false) {
  for (auto& b : model.blocks->items) {
    b->attach_channel_gates(requires_grad);
    b->attn->attach_qkv_gate(requires_grad);
    b->mlp->attach_gate(requires_grad);
  }
}

// Zeroes row r (dim 0) or column c (dim 1) of a 2-D f32 weight, or entry i of a 1-D one.
void zero_along(Tensor& t, int64_t dim, int64_t i) {
  float* p = t.data<float>();
  if (t.dim() == 1) {
    p[i] = 0.f;
    return;
  }
  const int64_t rows = t.size(0), cols = t.size(1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if ((dim == 0 && r == i) || (dim == 1 && c == i)) p[r * cols + c] = 0.f;
}

void to_f64(nn::Module& m) {
  for (auto& [name, t] : m.named_parameters()) {
    Tensor* slot = m.find_parameter(name);
    *slot = kernels::to_dtype(*slot, DType::F64);
  }
}

}  // namespace

TEST_CASE("P3B gates of ones give bitwise the ungated outputs", "[nn][gates][p3b]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 3);
      const Tensor x = input_for(cfg);
      const std::vector<float> plain = outputs(model, x);
      const int64_t params = model.parameter_count();
      const size_t names = model.named_parameters().size();
      attach_all(model);
      const nn::Block& b0 = *model.blocks->items[0];
      CHECK(b0.attn_in_gate.shape() == Shape{24});
      CHECK(b0.attn_out_gate.shape() == Shape{24});
      CHECK(b0.mlp_in_gate.shape() == Shape{24});
      CHECK(b0.mlp_out_gate.shape() == Shape{24});
      CHECK(b0.attn->qkv_gate.shape() == Shape{8});
      CHECK(model.blocks->items[1]->attn->qkv_gate.shape() == Shape{4});
      CHECK_FALSE(b0.attn_in_gate.requires_grad());
      CHECK(outputs(model, x) == plain);
      CHECK(model.parameter_count() == params);  // gates are not parameters
      CHECK(model.named_parameters().size() == names);
      CHECK(model.config().to_json() == cfg.to_json());  // nor part of the config
      for (auto& b : model.blocks->items) {
        b->remove_channel_gates();
        b->attn->remove_qkv_gate();
        b->mlp->remove_gate();
        CHECK_FALSE(b->attn_in_gate.defined());
      }
      CHECK(outputs(model, x) == plain);
    }
  }
}

TEST_CASE("a zero P3B gate entry equals zeroing that channel's weights", "[nn][gates][p3b]") {
  const nn::ModelConfig cfg = small_config("vit");
  const Tensor x = input_for(cfg);
  nn::VisionTransformer plain(cfg, 3);
  const std::vector<float> dense = outputs(plain, x);
  // block 1: heads 3, head_dim 4 (width 12), hidden 32
  SECTION("attn_in: a qkv input column") {
    nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
    gated.blocks->items[1]->attach_channel_gates();
    gated.blocks->items[1]->attn_in_gate.data<float>()[7] = 0.f;
    zero_along(cut.blocks->items[1]->attn->qkv->weight, 1, 7);
    CHECK(max_abs_diff(outputs(gated, x), outputs(cut, x)) < 1e-6f);
    CHECK(max_abs_diff(outputs(gated, x), dense) > 1e-5f);
  }
  SECTION("attn_out: a proj output row and its bias") {
    nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
    gated.blocks->items[1]->attach_channel_gates();
    gated.blocks->items[1]->attn_out_gate.data<float>()[3] = 0.f;
    cut.blocks->items[1]->attn->proj->bias.data<float>()[3] = 0.5f;  // bias must be cut as well
    gated.blocks->items[1]->attn->proj->bias.data<float>()[3] = 0.5f;
    zero_along(cut.blocks->items[1]->attn->proj->weight, 0, 3);
    zero_along(cut.blocks->items[1]->attn->proj->bias, 0, 3);
    CHECK(max_abs_diff(outputs(gated, x), outputs(cut, x)) < 1e-6f);
    CHECK(max_abs_diff(outputs(gated, x), dense) > 1e-5f);
  }
  SECTION("attn_qkv: dim d of q, k and v in every head") {
    nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
    gated.blocks->items[1]->attn->attach_qkv_gate();
    gated.blocks->items[1]->attn->qkv_gate.data<float>()[2] = 0.f;
    nn::Attention& a = *cut.blocks->items[1]->attn;
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t h = 0; h < 3; ++h) {
        const int64_t row = part * 12 + h * 4 + 2;
        a.qkv->bias.data<float>()[row] = 0.f;
        zero_along(a.qkv->weight, 0, row);
      }
    CHECK(max_abs_diff(outputs(gated, x), outputs(cut, x)) < 1e-6f);
    CHECK(max_abs_diff(outputs(gated, x), dense) > 1e-5f);
  }
  SECTION("mlp_in: an fc1 input column") {
    nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
    gated.blocks->items[0]->attach_channel_gates();
    gated.blocks->items[0]->mlp_in_gate.data<float>()[11] = 0.f;
    zero_along(cut.blocks->items[0]->mlp->fc1->weight, 1, 11);
    CHECK(max_abs_diff(outputs(gated, x), outputs(cut, x)) < 1e-6f);
    CHECK(max_abs_diff(outputs(gated, x), dense) > 1e-5f);
  }
  SECTION("mlp_out: an fc2 output row and its bias") {
    nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
    gated.blocks->items[0]->attach_channel_gates();
    gated.blocks->items[0]->mlp_out_gate.data<float>()[0] = 0.f;
    zero_along(cut.blocks->items[0]->mlp->fc2->weight, 0, 0);
    zero_along(cut.blocks->items[0]->mlp->fc2->bias, 0, 0);
    CHECK(max_abs_diff(outputs(gated, x), outputs(cut, x)) < 1e-6f);
    CHECK(max_abs_diff(outputs(gated, x), dense) > 1e-5f);
  }
}

TEST_CASE("gradients of every P3B gate match finite differences", "[nn][gates][p3b]") {
  Generator gen(5);
  nn::BlockConfig bc{2, 3, 7};
  nn::Block block(8, bc, nn::QkvBias::Full, 1e-6, 0.0, gen);
  to_f64(block);
  block.eval();
  const Tensor x = uniform({2, 4, 8}, -1.0, 1.0, DType::F64, &gen);
  auto gate = [&](int64_t n) { return uniform({n}, 0.5, 1.5, DType::F64, &gen); };
  struct Case {
    const char* name;
    Tensor value;
    std::function<void(const Tensor&)> set;
  };
  const std::vector<Case> cases = {
      {"attn_in", gate(8), [&](const Tensor& g) { block.attn_in_gate = g; }},
      {"attn_qkv", gate(3), [&](const Tensor& g) { block.attn->set_qkv_gate(g); }},
      {"attn_out", gate(8), [&](const Tensor& g) { block.attn_out_gate = g; }},
      {"mlp_in", gate(8), [&](const Tensor& g) { block.mlp_in_gate = g; }},
      {"mlp_hid", gate(7), [&](const Tensor& g) { block.mlp->set_gate(g); }},
      {"mlp_out", gate(8), [&](const Tensor& g) { block.mlp_out_gate = g; }},
  };
  // all six gates at once (each at a non-trivial value) while one of them is checked
  for (const Case& c : cases) c.set(c.value);
  for (const Case& c : cases) {
    INFO(c.name);
    GradcheckResult r = gradcheck(
        [&](const TensorList& in) {
          c.set(in[1]);
          return block.forward(in[0]);
        },
        {x, c.value});
    INFO(r.report);
    CHECK(r.ok);
    c.set(c.value);
  }
  // attach_*(true) makes leaves whose grad a backward pass fills (the P3B score reads m * dL/dm)
  block.attach_channel_gates(true);
  block.attn->attach_qkv_gate(true);
  for (Tensor* g : {&block.attn_in_gate, &block.attn_out_gate, &block.mlp_in_gate, &block.mlp_out_gate,
                    &block.attn->qkv_gate})
    *g = kernels::to_dtype(*g, DType::F64).set_requires_grad(true);
  backward(sum(block.forward(x) * block.forward(x)));
  for (Tensor* g : {&block.attn_in_gate, &block.attn_out_gate, &block.mlp_in_gate, &block.mlp_out_gate,
                    &block.attn->qkv_gate}) {
    REQUIRE(g->grad().defined());
    double norm = 0;
    for (double v : g->grad().to_vector<double>()) norm += std::fabs(v);
    CHECK(norm > 0);
  }
}

TEST_CASE("P3B gate shapes follow the block and are validated", "[nn][gates][p3b]") {
  Generator gen(1);
  nn::Attention attn(16, 2, 4, nn::QkvBias::Full, gen);
  CHECK_THROWS_WITH(attn.set_qkv_gate(ones({8})), Catch::Contains("attention.set_qkv_gate") && Catch::Contains("(4,)"));
  CHECK_THROWS_WITH(attn.set_qkv_gate(Tensor()), Catch::Contains("remove_gate"));
  attn.set_qkv_gate(ones({4}));
  CHECK(attn.qkv_gate.defined());
  attn.remove_qkv_gate();
  CHECK_FALSE(attn.qkv_gate.defined());
}

TEST_CASE("the sub-block feature tap stores the residual stream around every sub-block", "[nn][p3b]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      model.eval();
      const Tensor x = input_for(cfg);
      const Tensor logits_off = model.forward(x);
      CHECK(model.sub_block_features.empty());  // off by default
      model.keep_sub_block_features = true;
      const Tensor logits_on = model.forward(x);
      CHECK(logits_on.to_vector<float>() == logits_off.to_vector<float>());
      const auto& f = model.sub_block_features;
      REQUIRE(f.size() == 2 * cfg.blocks.size() + 1);
      const int64_t n = cfg.num_tokens();
      for (const Tensor& t : f) CHECK(t.shape() == Shape{2, n, 24});
      CHECK(f[0].to_vector<float>() == model.embed(x).to_vector<float>());
      for (size_t i = 0; i < cfg.blocks.size(); ++i) {
        const nn::Block& b = *model.blocks->items[i];
        const Tensor mid = f[2 * i] + b.attn->forward(b.norm1->forward(f[2 * i]));
        const Tensor out = f[2 * i + 1] + b.mlp->forward(b.norm2->forward(f[2 * i + 1]));
        CHECK(max_abs_diff(mid.to_vector<float>(), f[2 * i + 1].to_vector<float>()) < 1e-6f);
        CHECK(max_abs_diff(out.to_vector<float>(), f[2 * i + 2].to_vector<float>()) < 1e-6f);
      }
      CHECK(model.pool(f.back()).to_vector<float>() == model.forward_features(x).to_vector<float>());
      // the features carry their graph: a loss on one reaches the earlier blocks' weights
      model.forward(x);
      backward(sum(model.sub_block_features[2]));
      CHECK(model.blocks->items[0]->attn->qkv->weight.grad().defined());
      CHECK_FALSE(model.blocks->items[1]->attn->qkv->weight.grad().defined());
      model.keep_sub_block_features = false;
      model.forward(x);
      CHECK(model.sub_block_features.empty());
    }
  }
}
