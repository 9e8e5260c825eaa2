// Gates on Attention (per head dim, before proj) and Mlp (per hidden neuron, after GELU): absent
// or all-ones gates leave the forward bitwise unchanged, zeroing a gate entry acts like removing
// the unit's outgoing weights, gates are not parameters, shapes are validated, and gradients with
// respect to a gate are available on request (float64 finite-difference check).
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
  cfg.dim = 32;
  cfg.blocks = {{2, 16, 64}, {4, 8, 32}};
  return cfg;
}

// Converts every parameter of `m` to float64 in place (for finite differences).
void to_f64(nn::Module& m) {
  for (auto& [name, t] : m.named_parameters()) {
    Tensor* slot = m.find_parameter(name);
    *slot = kernels::to_dtype(*slot, DType::F64);
  }
}

}  // namespace

TEST_CASE("gates of ones give bitwise the ungated outputs", "[nn][gates]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 3);
      const Tensor x = input_for(cfg);
      const std::vector<float> plain = outputs(model, x);
      const int64_t params = model.parameter_count();
      const size_t names = model.named_parameters().size();
      for (auto& b : model.blocks->items) {
        b->attn->attach_gate();
        b->mlp->attach_gate();
      }
      CHECK(model.blocks->items[0]->attn->gate.shape() == Shape{32});
      CHECK(model.blocks->items[1]->mlp->gate.shape() == Shape{32});
      CHECK_FALSE(model.blocks->items[0]->mlp->gate.requires_grad());
      CHECK(outputs(model, x) == plain);
      CHECK(model.parameter_count() == params);  // gates are not parameters
      CHECK(model.named_parameters().size() == names);
      for (auto& b : model.blocks->items) {
        b->attn->remove_gate();
        b->mlp->remove_gate();
      }
      CHECK(outputs(model, x) == plain);
    }
  }
}

TEST_CASE("a zero gate entry acts like removing the unit's outgoing weights", "[nn][gates]") {
  const nn::ModelConfig cfg = small_config("vit");
  nn::VisionTransformer gated(cfg, 3), cut(cfg, 3);
  const Tensor x = input_for(cfg);
  // MLP neuron 5 of block 0 and head 2 (dims 16..23) of block 1
  gated.blocks->items[0]->mlp->attach_gate();
  gated.blocks->items[0]->mlp->gate.data<float>()[5] = 0.f;
  Tensor attn_gate = ones({32});
  for (int64_t d = 16; d < 24; ++d) attn_gate.data<float>()[d] = 0.f;
  gated.blocks->items[1]->attn->set_gate(attn_gate);
  {
    Tensor& w = cut.blocks->items[0]->mlp->fc2->weight;  // (32, 64): column 5
    for (int64_t r = 0; r < 32; ++r) w.data<float>()[r * 64 + 5] = 0.f;
    Tensor& p = cut.blocks->items[1]->attn->proj->weight;  // (32, 32): columns 16..23
    for (int64_t r = 0; r < 32; ++r)
      for (int64_t c = 16; c < 24; ++c) p.data<float>()[r * 32 + c] = 0.f;
  }
  const std::vector<float> a = outputs(gated, x), b = outputs(cut, x);
  CHECK(max_abs_diff(a, b) < 1e-6f);
  nn::VisionTransformer plain(cfg, 3);
  CHECK(max_abs_diff(a, outputs(plain, x)) > 1e-4f);  // the gate did something
}

TEST_CASE("gate shapes are validated", "[nn][gates]") {
  Generator gen(1);
  nn::Attention attn(16, 2, 4, nn::QkvBias::Full, gen);
  nn::Mlp mlp(16, 12, gen);
  CHECK_THROWS_WITH(attn.set_gate(ones({9})), Catch::Contains("attention.set_gate") && Catch::Contains("(8,)"));
  CHECK_THROWS_WITH(mlp.set_gate(ones({12, 1})), Catch::Contains("mlp.set_gate") && Catch::Contains("(12,)"));
  CHECK_THROWS_WITH(mlp.set_gate(Tensor()), Catch::Contains("remove_gate"));
  mlp.set_gate(ones({12}));
  CHECK(mlp.gate.defined());
}

TEST_CASE("gradients with respect to gates are available on request", "[nn][gates]") {
  Generator gen(2);
  nn::Attention attn(8, 2, 3, nn::QkvBias::Full, gen);
  nn::Mlp mlp(8, 5, gen);
  to_f64(attn);
  to_f64(mlp);
  const Tensor x = uniform({2, 4, 8}, -1.0, 1.0, DType::F64, &gen);
  const Tensor g_attn = uniform({6}, 0.5, 1.5, DType::F64, &gen);
  const Tensor g_mlp = uniform({5}, 0.5, 1.5, DType::F64, &gen);
  GradcheckResult r_attn = gradcheck(
      [&](const TensorList& in) {
        attn.set_gate(in[1]);
        return attn.forward(in[0]);
      },
      {x, g_attn});
  CHECK(r_attn.ok);
  INFO(r_attn.report);
  GradcheckResult r_mlp = gradcheck(
      [&](const TensorList& in) {
        mlp.set_gate(in[1]);
        return mlp.forward(in[0]);
      },
      {x, g_mlp});
  CHECK(r_mlp.ok);
  INFO(r_mlp.report);

  // attach_gate(true) makes a leaf whose grad the backward pass fills: for L = sum(mlp(x)),
  // dL/dgate_j = sum over tokens of gelu(fc1(x))_j * sum_i fc2.weight[i, j]
  mlp.attach_gate(true);
  mlp.gate = kernels::to_dtype(mlp.gate, DType::F64).set_requires_grad(true);
  backward(sum(mlp.forward(x)));
  REQUIRE(mlp.gate.grad().defined());
  Tensor h = gelu(linear(x, mlp.fc1->weight, mlp.fc1->bias));  // (2, 4, 5)
  const std::vector<double> hv = h.to_vector<double>(), w2 = mlp.fc2->weight.to_vector<double>();
  const std::vector<double> grad = mlp.gate.grad().to_vector<double>();
  for (int64_t j = 0; j < 5; ++j) {
    double col = 0, act = 0;
    for (int64_t i = 0; i < 8; ++i) col += w2[size_t(i * 5 + j)];
    for (int64_t t = 0; t < 8; ++t) act += hv[size_t(t * 5 + j)];
    CHECK(grad[size_t(j)] == Approx(act * col).epsilon(1e-12));
  }
}
