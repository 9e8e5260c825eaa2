// AdamW follows P3B's finalize surgery (pruning::slice_by_gates): the slices (two per parameter
// sliced along two dims, zero-size tensors of skipped/constant branches) rebind every parameter,
// keep the moments of surviving entries, and training steps on afterwards.
#include <catch2/catch.hpp>

#include <map>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "pruning/surgery.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "train/adamw.h"

using namespace shears;

namespace {

void step(nn::VisionTransformer& model, train::AdamW& opt, uint64_t seed) {
  Generator gen(seed);
  const Tensor x = randn({2, 1, 8, 8}, DType::F32, &gen);
  opt.zero_grad();
  backward(cross_entropy(model.forward(x), from_vector(std::vector<int64_t>{0, 2})));
  opt.step();
}

}  // namespace

TEST_CASE("AdamW moments follow slice_by_gates", "[train][adamw][p3b]") {
  nn::ModelConfig cfg = nn::vit_tiny_patch4_28(3);
  cfg.image_size = 8;
  cfg.dim = 8;
  cfg.blocks = {{2, 2, 12}, {2, 2, 12}};
  nn::VisionTransformer model(cfg, 5);
  train::AdamWOptions o;
  o.lr = 1e-2;
  train::AdamW opt(train::decay_groups(model, 0.05), o);
  for (uint64_t s = 0; s < 2; ++s) step(model, opt, s);
  std::map<std::string, Tensor> m_before;
  {
    const TensorList st = opt.state();  // m then v per parameter, in group order
    size_t k = 0;
    for (const auto& g : opt.groups())
      for (size_t i = 0; i < g.params.size(); ++i, k += 2) m_before[g.names[i]] = kernels::clone(st[k]);
  }

  for (auto& b : model.blocks->items) {
    b->attach_channel_gates();
    b->attn->attach_qkv_gate();
    b->mlp->attach_gate();
  }
  nn::Block& b0 = *model.blocks->items[0];
  b0.attn_in_gate.data<float>()[3] = 0.f;       // qkv.weight loses column 3
  b0.attn->qkv_gate.data<float>()[1] = 0.f;     // qkv.weight loses rows of dim 1 in every head
  b0.mlp_out_gate.data<float>()[5] = 0.f;       // fc2 loses row 5
  kernels::fill_(model.blocks->items[1]->attn_out_gate, 0.0);  // skipped attention: zero-size tensors
  kernels::fill_(model.blocks->items[1]->mlp->gate, 0.0);      // constant MLP
  const auto slices = pruning::slice_by_gates(model);
  opt.apply_slices(model, slices);
  CHECK(opt.steps() == 2);

  const TensorList st = opt.state();
  size_t k = 0;
  std::map<std::string, Tensor> m_after;
  for (const auto& g : opt.groups())
    for (size_t i = 0; i < g.params.size(); ++i, k += 2) {
      CHECK(g.params[i].is_same(*model.find_parameter(g.names[i])));
      CHECK(st[k].shape() == g.params[i].shape());
      m_after[g.names[i]] = st[k];
    }
  CHECK(m_after.size() == model.named_parameters().size());
  // qkv.weight (12, 8) -> rows {0, 2, 4, 6, 8, 10} (dim 0 of each head in q, k, v), columns without 3
  const std::vector<float> old_m = m_before.at("blocks.0.attn.qkv.weight").to_vector<float>();
  std::vector<float> want;
  for (int64_t r : {0, 2, 4, 6, 8, 10})
    for (int64_t c = 0; c < 8; ++c)
      if (c != 3) want.push_back(old_m[size_t(r * 8 + c)]);
  CHECK(m_after.at("blocks.0.attn.qkv.weight").to_vector<float>() == want);
  CHECK(m_after.at("blocks.1.attn.qkv.weight").numel() == 0);
  CHECK(m_after.at("blocks.1.mlp.fc2.weight").shape() == Shape{8, 0});

  for (uint64_t s = 2; s < 4; ++s) step(model, opt, s);  // training goes on
  CHECK(opt.steps() == 4);
}
