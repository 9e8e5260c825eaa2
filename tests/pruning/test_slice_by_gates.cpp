// P3B finalize surgery (slice_by_gates): with random hard masks on all six gates -- including
// branches whose out gates are all zero (skipped) and whose in / head-dim / hidden gates are all
// zero (constant, folded into the bias) -- the sliced model gives the gated model's logits, its
// slices replay onto the old tensors, it saves, reloads from the file alone and clones, slicing
// again composes, only hard masks matter, training runs through it, and bad gates are refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "model_outputs.h"
#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/provenance.h"
#include "pruning/surgery.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

using namespace shears;
using test::input_for;
using test::max_abs_diff;
using test::outputs;
using namespace shears::pruning;

namespace {

nn::ModelConfig small_config(const std::string& arch) {
  nn::ModelConfig cfg = arch == "vit" ? nn::vit_tiny_patch4_32(5) : nn::videomae_small_patch4_32(5);
  cfg.image_size = 16;
  if (arch != "vit") cfg.frames = 4;
  cfg.dim = 16;
  cfg.blocks = {{2, 4, 24}, {3, 4, 16}, {2, 6, 20}, {2, 4, 12}};
  return cfg;
}

// Random weights, biases and LayerNorm affines (default init has zero biases: constants would be 0).
void randomize(nn::VisionTransformer& model, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, t] : model.named_parameters()) {
    Tensor* slot = model.find_parameter(name);
    const bool norm_weight = name.find("norm") != std::string::npos && name.find("weight") != std::string::npos;
    *slot = uniform(slot->shape(), norm_weight ? 0.5 : -0.4, norm_weight ? 1.5 : 0.4, DType::F32, &gen)
                .set_requires_grad(true);
  }
}

// Sets a gate to `kept_value` where a random draw keeps it (probability 0.6), else `pruned_value`.
void random_mask(Tensor& gate, Generator& gen, float kept_value = 1.f, float pruned_value = 0.f) {
  const std::vector<float> u = uniform({gate.numel()}, 0.0, 1.0, DType::F32, &gen).to_vector<float>();
  float* p = gate.data<float>();
  for (int64_t i = 0; i < gate.numel(); ++i) p[i] = u[size_t(i)] < 0.6f ? kept_value : pruned_value;
}

void fill(Tensor& gate, float v) { kernels::fill_(gate, v); }

void attach_all(nn::VisionTransformer& model) {
  for (auto& b : model.blocks->items) {
    b->attach_channel_gates();
    b->attn->attach_qkv_gate();
    b->mlp->attach_gate();
  }
}

std::vector<Tensor*> six_gates(nn::Block& b) {
  return {&b.attn_in_gate, &b.attn->qkv_gate, &b.attn_out_gate, &b.mlp_in_gate, &b.mlp->gate, &b.mlp_out_gate};
}

// Random masks everywhere, then: block 1 attention skipped (out all 0), MLP constant (in all 0);
// block 2 attention constant (head dims all 0), MLP constant (hidden all 0); block 3 attention
// constant (in all 0), MLP skipped (out all 0).
void set_masks(nn::VisionTransformer& model, uint64_t seed, float kept_value = 1.f, float pruned_value = 0.f) {
  Generator gen(seed);
  for (auto& b : model.blocks->items)
    for (Tensor* g : six_gates(*b)) random_mask(*g, gen, kept_value, pruned_value);
  auto& blk = model.blocks->items;
  fill(blk[1]->attn_out_gate, pruned_value);
  fill(blk[1]->mlp_in_gate, pruned_value);
  fill(blk[2]->attn->qkv_gate, pruned_value);
  fill(blk[2]->mlp->gate, pruned_value);
  fill(blk[3]->attn_in_gate, pruned_value);
  fill(blk[3]->mlp_out_gate, pruned_value);
  // block 0 keeps entry 0 and prunes entry 1 of every gate (a normal block, every gate active)
  for (Tensor* g : six_gates(*blk[0])) {
    g->data<float>()[0] = kept_value;
    g->data<float>()[1] = pruned_value;
  }
}

std::map<std::string, Tensor> parameters_of(const nn::VisionTransformer& model) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : model.named_parameters()) out[name] = kernels::clone(t);
  return out;
}

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shears_slice_by_gates_" + name)).string();
}

}  // namespace

TEST_CASE("slice_by_gates gives the gated model's logits with skipped and constant branches", "[pruning][p3b]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      randomize(model, 11);
      const Tensor x = input_for(cfg);
      const std::vector<float> dense = outputs(model, x);
      attach_all(model);
      set_masks(model, 21);
      const std::vector<float> gated = outputs(model, x);
      CHECK(max_abs_diff(gated, dense) > 1e-3f);  // the masks did something
      const auto before = parameters_of(model);

      const std::vector<nn::ParameterSlice> slices = slice_by_gates(model);
      const std::vector<float> sliced = outputs(model, x);
      CHECK(max_abs_diff(sliced, gated) < 1e-5f);

      // the gates are gone, the forms are as planned
      auto& blk = model.blocks->items;
      for (auto& b : blk) {
        CHECK_FALSE(b->attn_in_gate.defined());
        CHECK_FALSE(b->attn->qkv_gate.defined());
        CHECK_FALSE(b->mlp->gate.defined());
        CHECK_FALSE(b->mlp_out_gate.defined());
      }
      CHECK_FALSE(blk[0]->attn_skipped());
      CHECK_FALSE(blk[0]->attn_constant());
      CHECK_FALSE(blk[0]->mlp_constant());
      CHECK(blk[1]->attn_skipped());
      CHECK(blk[1]->mlp_constant());
      CHECK(blk[2]->attn_constant());
      CHECK(blk[2]->mlp_constant());
      CHECK(blk[3]->attn_constant());
      CHECK(blk[3]->mlp_skipped());
      const nn::ModelConfig now = model.config();
      now.validate();
      CHECK(now.blocks[1].heads == 0);
      CHECK(now.blocks[1].attn_out.none());
      CHECK(now.blocks[2].mlp_hidden == 0);
      CHECK(now.blocks[2].mlp_in.none());
      CHECK(now.blocks[0].attn_scale == Approx(0.5));  // 1/sqrt(original head_dim 4)
      CHECK(model.parameter_count() == nn::count_parameters(now));
      CHECK(nn::count_flops(now).per_block[1] < nn::count_flops(cfg).per_block[1] / 2);

      // the slices replay onto the old tensors (except the folded constant biases)
      std::map<std::string, Tensor> replay = before;
      for (const nn::ParameterSlice& s : slices) {
        REQUIRE(replay.count(s.old_name) == 1);
        REQUIRE(s.new_name == s.old_name);
        replay[s.new_name] = kernels::index_select(replay[s.old_name], s.dim, from_vector(s.kept));
      }
      const std::vector<std::string> folded = {"blocks.2.attn.proj.bias", "blocks.3.attn.proj.bias",
                                               "blocks.1.mlp.fc2.bias", "blocks.2.mlp.fc2.bias"};
      for (auto& [name, t] : model.named_parameters()) {
        INFO(name);
        REQUIRE(replay.count(name) == 1);
        CHECK(replay[name].shape() == t.shape());
        CHECK(t.requires_grad());
        if (std::find(folded.begin(), folded.end(), name) == folded.end())
          CHECK(replay[name].to_vector<float>() == t.to_vector<float>());
      }

      // save -> load from the file alone -> same logits; clone too
      const std::string path = temp_file(arch + ".safetensors");
      nn::save_model(path, model);
      auto loaded = nn::load_model(path);
      std::filesystem::remove(path);
      CHECK(loaded->config().to_json() == now.to_json());
      CHECK(outputs(*loaded, x) == sliced);
      auto copy = clone_model(model);
      CHECK(outputs(*copy, x) == sliced);
    }
  }
}

TEST_CASE("slice_by_gates: only hard masks matter, slicing again composes, training runs", "[pruning][p3b]") {
  const nn::ModelConfig cfg = small_config("vit");
  const Tensor x = input_for(cfg);
  nn::VisionTransformer soft(cfg, 4), hard(cfg, 4);
  randomize(soft, 12);
  randomize(hard, 12);
  attach_all(soft);
  attach_all(hard);
  set_masks(soft, 5, 0.8f, 0.3f);  // kept entries 0.8 (>= 0.5), pruned 0.3
  set_masks(hard, 5);
  const std::vector<float> gated_hard = outputs(hard, x);
  slice_by_gates(soft);
  CHECK(max_abs_diff(outputs(soft, x), gated_hard) < 1e-5f);

  // a second round on the sliced model: gates index its current widths
  nn::Block& b0 = *soft.blocks->items[0];
  const int64_t in_width = b0.attn->qkv->in_features();
  b0.attach_channel_gates();
  b0.attn->attach_qkv_gate();
  b0.mlp->attach_gate();
  CHECK(b0.attn_in_gate.numel() == in_width);
  Generator gen(8);
  for (Tensor* g : six_gates(b0)) {
    random_mask(*g, gen);
    g->data<float>()[0] = 1.f;
  }
  const std::vector<float> gated_again = outputs(soft, x);
  const nn::ChannelSubset in_before = b0.attn_in_channels;
  const std::vector<float> in_gate = b0.attn_in_gate.to_vector<float>();
  slice_by_gates(soft);
  CHECK(max_abs_diff(outputs(soft, x), gated_again) < 1e-5f);
  std::vector<int64_t> expect_in;
  for (size_t k = 0; k < in_gate.size(); ++k)
    if (in_gate[k] >= 0.5f) expect_in.push_back(in_before.all ? int64_t(k) : in_before.index[k]);
  CHECK(b0.attn_in_channels.index == expect_in);

  // training mode with DropPath: forward and backward reach the sliced and the folded tensors
  for (auto& b : soft.blocks->items) b->drop_path = 0.3;
  soft.train();
  backward(sum(soft.forward(x) * soft.forward(x)));
  CHECK(soft.blocks->items[0]->attn->qkv->weight.grad().defined());
  CHECK(soft.blocks->items[2]->attn->proj->bias.grad().defined());  // constant branch
  CHECK(soft.blocks->items[1]->mlp->fc2->bias.grad().defined());
}

TEST_CASE("slice_by_gates refuses gates of the wrong shape without touching the model", "[pruning][p3b]") {
  const nn::ModelConfig cfg = small_config("vit");
  nn::VisionTransformer model(cfg, 4);
  attach_all(model);
  fill(model.blocks->items[0]->attn_out_gate, 0.f);
  model.blocks->items[3]->mlp_in_gate = ones({15});
  const std::string json = model.config().to_json();
  CHECK_THROWS_WITH(slice_by_gates(model), Catch::Contains("slice_by_gates") && Catch::Contains("block 3") &&
                                               Catch::Contains("mlp_in_gate") && Catch::Contains("(16,)"));
  CHECK(model.config().to_json() == json);
  CHECK(model.blocks->items[0]->attn_out_gate.defined());

  // no gates at all: nothing changes
  nn::VisionTransformer plain(cfg, 4);
  CHECK(slice_by_gates(plain).empty());
  CHECK(plain.config().to_json() == cfg.to_json());
}
