// Model surgery. Block removal: dropping a block whose residual branches output zero leaves the
// model's outputs unchanged (vit and videomae), the FLOP and parameter counts drop by exactly that
// block's, config() and parameter names describe the shallower model, it saves and reloads from
// the file alone, and bad index lists are refused without touching the model. Neuron/head/head-dim
// surgery: keep-all is bitwise a no-op, pruning units whose outgoing weights are zero leaves the
// outputs unchanged, counts follow the real shapes, slices describe what happened, gates follow,
// requires_grad is kept, bad arguments leave the model untouched, and pruned models reload exactly.
#include <catch2/catch.hpp>

#include <filesystem>

#include "model_outputs.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
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
  cfg.dim = 32;
  cfg.blocks = {{2, 16, 64}, {1, 24, 48}, {2, 8, 96}, {4, 8, 32}};  // uneven widths: order is visible
  return cfg;
}

// Zeroes the residual branches' last layers (attn.proj and mlp.fc2, weights and biases): the
// block then adds exactly zero to its input.
void zero_residual(nn::Block& b) {
  for (Tensor* t : {&b.attn->proj->weight, &b.attn->proj->bias, &b.mlp->fc2->weight, &b.mlp->fc2->bias})
    kernels::fill_(*t, 0.0);
}

}  // namespace

TEST_CASE("dropping a zero-residual block leaves the outputs unchanged", "[pruning][drop_blocks]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      const Tensor x = input_for(cfg);
      zero_residual(*model.blocks->items[1]);
      zero_residual(*model.blocks->items[3]);
      const std::vector<float> before = outputs(model, x);
      drop_blocks(model, {3, 1});
      CHECK(model.blocks->size() == 2);
      CHECK(outputs(model, x) == before);
    }
  }
}

TEST_CASE("dropping a non-trivial block changes the outputs", "[pruning][drop_blocks]") {
  const nn::ModelConfig cfg = small_config("vit");
  nn::VisionTransformer model(cfg, 4);
  const Tensor x = input_for(cfg);
  const std::vector<float> before = outputs(model, x);
  drop_blocks(model, {0});
  CHECK(outputs(model, x) != before);
}

TEST_CASE("config, names, FLOPs and parameters describe the shallower model", "[pruning][drop_blocks]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      const nn::FlopReport flops = nn::count_flops(cfg);
      const int64_t params = model.parameter_count();
      REQUIRE(params == nn::count_parameters(cfg));
      const Tensor fc1_of_2 = model.blocks->items[2]->mlp->fc1->weight;
      drop_blocks(model, {1});
      const nn::ModelConfig after = model.config();
      CHECK(after.depth() == 3);
      CHECK(after.blocks[0].mlp_hidden == 64);
      CHECK(after.blocks[1].mlp_hidden == 96);  // old block 2 is now block 1
      CHECK(after.blocks[2].mlp_hidden == 32);
      CHECK(nn::count_flops(after).total == Approx(flops.total - flops.per_block[1]).epsilon(1e-15));
      CHECK(nn::count_parameters(after) == params - nn::count_block_parameters(cfg, cfg.blocks[1]));
      CHECK(model.parameter_count() == params - nn::count_block_parameters(cfg, cfg.blocks[1]));
      Tensor* renamed = model.find_parameter("blocks.1.mlp.fc1.weight");
      REQUIRE(renamed != nullptr);
      CHECK(renamed->is_same(fc1_of_2));
      CHECK(model.find_parameter("blocks.3.mlp.fc1.weight") == nullptr);
    }
  }
}

TEST_CASE("a model with dropped blocks saves and reloads with its new depth", "[pruning][drop_blocks]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 5);
      drop_blocks(model, {0, 2});
      const auto path = (std::filesystem::temp_directory_path() / ("shears_test_drop_" + arch + ".safetensors")).string();
      nn::save_model(path, model);
      CHECK(nn::read_model_config(path).depth() == 2);
      auto loaded = nn::load_model(path);
      CHECK(loaded->config().arch == arch);
      CHECK(loaded->config().to_json() == model.config().to_json());
      CHECK(loaded->blocks->size() == 2);
      const Tensor x = input_for(cfg);
      CHECK(outputs(*loaded, x) == outputs(model, x));
      std::filesystem::remove(path);
    }
  }
}

TEST_CASE("bad block index lists are refused and leave the model untouched", "[pruning][drop_blocks]") {
  const nn::ModelConfig cfg = small_config("vit");
  nn::VisionTransformer model(cfg, 4);
  REQUIRE_THROWS_WITH(drop_blocks(model, {4}), Catch::Contains("block index 4 is out of range") &&
                                                   Catch::Contains("depth 4") && Catch::Contains("0..3"));
  REQUIRE_THROWS_WITH(drop_blocks(model, {1, -1}), Catch::Contains("block index -1 is out of range"));
  REQUIRE_THROWS_WITH(drop_blocks(model, {2, 0, 2}), Catch::Contains("block index 2 is listed twice"));
  REQUIRE_THROWS_WITH(drop_blocks(model, {0, 1, 2, 3}), Catch::Contains("would leave none") && Catch::Contains("4 blocks"));
  CHECK(model.blocks->size() == 4);
  CHECK(model.config().to_json() == cfg.to_json());
  drop_blocks(model, {});
  CHECK(model.blocks->size() == 4);
  CHECK(kept_blocks(6, {5, 0, 3}) == std::vector<int64_t>{1, 2, 4});
}

// ---------------------------------------------------------------- neurons, heads, head dims

namespace {

// Zeroes columns `cols` of a (rows, cols) weight.
void zero_columns(Tensor& w, const std::vector<int64_t>& cols) {
  float* p = w.data<float>();
  for (int64_t r = 0; r < w.size(0); ++r)
    for (int64_t c : cols) p[r * w.size(1) + c] = 0.f;
}

// Zeroes rows `rows` of a (rows, cols) weight or entries of a (n,) vector.
void zero_rows(Tensor& w, const std::vector<int64_t>& rows) {
  float* p = w.data<float>();
  const int64_t cols = w.dim() == 2 ? w.size(1) : 1;
  for (int64_t r : rows)
    for (int64_t c = 0; c < cols; ++c) p[r * cols + c] = 0.f;
}

std::vector<int64_t> complement(const std::vector<int64_t>& keep, int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i)
    if (std::find(keep.begin(), keep.end(), i) == keep.end()) out.push_back(i);
  return out;
}

std::vector<int64_t> all_of(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

// Gives every q_bias/v_bias a non-zero value (VideoMAE initializes them to zero, hiding errors).
void randomize_qv_bias(nn::VisionTransformer& model) {
  Generator gen(3);
  for (auto& b : model.blocks->items)
    for (Tensor* t : {&b->attn->q_bias, &b->attn->v_bias})
      if (t->defined()) kernels::copy_(*t, randn(t->shape(), DType::F32, &gen));
}

}  // namespace

TEST_CASE("keeping every unit is bitwise a no-op", "[pruning][surgery]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      randomize_qv_bias(model);
      const Tensor x = input_for(cfg);
      const std::vector<float> before = outputs(model, x);
      prune_mlp_hidden(model, 0, all_of(64));
      prune_attention_heads(model, 1, all_of(1));
      prune_attention_dims(model, 2, all_of(8));
      CHECK(outputs(model, x) == before);
      CHECK(model.config().to_json() == cfg.to_json());  // attn_scale stays implicit
    }
  }
}

TEST_CASE("pruning MLP neurons whose fc2 columns are zero leaves the outputs unchanged", "[pruning][surgery]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      const Tensor x = input_for(cfg);
      const std::vector<int64_t> keep = {0, 3, 4, 10, 20, 47};
      zero_columns(model.blocks->items[1]->mlp->fc2->weight, complement(keep, 48));
      const std::vector<float> before = outputs(model, x);
      const Tensor fc2_bias = model.blocks->items[1]->mlp->fc2->bias;
      const auto slices = prune_mlp_hidden(model, 1, keep);
      CHECK(max_abs_diff(outputs(model, x), before) < 1e-5f);
      CHECK(model.config().blocks[1].mlp_hidden == 6);
      CHECK(model.blocks->items[1]->mlp->fc1->weight.shape() == Shape{6, 32});
      CHECK(model.blocks->items[1]->mlp->fc1->bias.shape() == Shape{6});
      CHECK(model.blocks->items[1]->mlp->fc2->weight.shape() == Shape{32, 6});
      CHECK(model.blocks->items[1]->mlp->fc2->bias.is_same(fc2_bias));
      REQUIRE(slices.size() == 3);
      CHECK(slices[0].old_name == "blocks.1.mlp.fc1.weight");
      CHECK(slices[0].new_name == "blocks.1.mlp.fc1.weight");
      CHECK(slices[0].dim == 0);
      CHECK(slices[0].kept == keep);
      CHECK(slices[1].old_name == "blocks.1.mlp.fc1.bias");
      CHECK(slices[2].old_name == "blocks.1.mlp.fc2.weight");
      CHECK(slices[2].dim == 1);
      for (const auto& s : slices) CHECK(model.find_parameter(s.new_name) != nullptr);
    }
  }
}

TEST_CASE("pruning attention heads whose proj columns are zero leaves the outputs unchanged", "[pruning][surgery]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);  // block 3: 4 heads of 8
      nn::VisionTransformer model(cfg, 4);
      randomize_qv_bias(model);
      const Tensor x = input_for(cfg);
      nn::Attention& attn = *model.blocks->items[3]->attn;
      const std::vector<int64_t> keep = {1, 3};
      zero_columns(attn.proj->weight, {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23});
      const std::vector<float> before = outputs(model, x);
      const Tensor kept_q = kernels::clone(kernels::narrow(attn.qkv->weight, 0, 8, 8));    // head 1 of q
      const Tensor kept_v = kernels::clone(kernels::narrow(attn.qkv->weight, 0, 64 + 24, 8));  // head 3 of v
      const auto slices = prune_attention_heads(model, 3, keep);
      CHECK(max_abs_diff(outputs(model, x), before) < 1e-5f);
      CHECK(attn.heads == 2);
      CHECK(attn.head_dim == 8);
      CHECK(attn.scale == 1.0 / std::sqrt(8.0));
      CHECK(attn.qkv->weight.shape() == Shape{48, 32});
      CHECK(attn.proj->weight.shape() == Shape{32, 16});
      CHECK(kernels::narrow(attn.qkv->weight, 0, 0, 8).to_vector<float>() == kept_q.to_vector<float>());
      CHECK(kernels::narrow(attn.qkv->weight, 0, 32 + 8, 8).to_vector<float>() == kept_v.to_vector<float>());
      const nn::BlockConfig bc = model.config().blocks[3];
      CHECK(bc.heads == 2);
      CHECK(bc.head_dim == 8);
      CHECK(bc.attn_scale == 0.0);
      CHECK(slices.front().old_name == "blocks.3.attn.qkv.weight");
      CHECK(slices.front().kept.size() == 48);
      CHECK(slices.back().old_name == "blocks.3.attn.proj.weight");
      CHECK(slices.back().kept == std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
      if (arch == "videomae") {
        CHECK(attn.q_bias.shape() == Shape{16});
        CHECK(attn.v_bias.shape() == Shape{16});
        CHECK(model.find_parameter("blocks.3.attn.qkv.bias") == nullptr);
      } else {
        CHECK(attn.qkv->bias.shape() == Shape{48});
      }
    }
  }
}

TEST_CASE("pruning head dims keeps the original attention scale", "[pruning][surgery]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);  // block 0: 2 heads of 16
      nn::VisionTransformer model(cfg, 4);
      randomize_qv_bias(model);
      const Tensor x = input_for(cfg);
      nn::Attention& attn = *model.blocks->items[0]->attn;
      const std::vector<int64_t> keep = {0, 2, 5, 6, 15};
      const std::vector<int64_t> dropped = complement(keep, 16);
      // removed dims contribute nothing: zero q rows (scores), v rows and proj columns (output)
      std::vector<int64_t> q_rows, v_rows, cols;
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t d : dropped) {
          q_rows.push_back(h * 16 + d);
          v_rows.push_back(64 + h * 16 + d);
          cols.push_back(h * 16 + d);
        }
      zero_rows(attn.qkv->weight, q_rows);
      zero_rows(attn.qkv->weight, v_rows);
      if (attn.qkv->bias.defined()) {
        zero_rows(attn.qkv->bias, q_rows);
        zero_rows(attn.qkv->bias, v_rows);
      }
      if (attn.q_bias.defined()) {
        zero_rows(attn.q_bias, cols);
        zero_rows(attn.v_bias, cols);
      }
      zero_columns(attn.proj->weight, cols);
      const std::vector<float> before = outputs(model, x);
      prune_attention_dims(model, 0, keep);
      CHECK(max_abs_diff(outputs(model, x), before) < 1e-5f);
      CHECK(attn.heads == 2);
      CHECK(attn.head_dim == 5);
      CHECK(attn.scale == 1.0 / std::sqrt(16.0));
      CHECK(model.config().blocks[0].attn_scale == 1.0 / std::sqrt(16.0));
      CHECK(model.config().blocks[0].attn_width() == 10);
      // a model built from the pruned config has the same scale, so save + load reproduces the logits
      const auto path = (std::filesystem::temp_directory_path() / ("shears_test_dims_" + arch + ".safetensors")).string();
      nn::save_model(path, model);
      auto loaded = nn::load_model(path);
      CHECK(loaded->blocks->items[0]->attn->scale == 1.0 / std::sqrt(16.0));
      CHECK(outputs(*loaded, x) == outputs(model, x));
      std::filesystem::remove(path);
    }
  }
}

TEST_CASE("counts follow the real shapes after every surgery", "[pruning][surgery]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer model(cfg, 4);
      auto check_counts = [&] {
        const nn::ModelConfig now = model.config();
        CHECK(nn::count_parameters(now) == model.parameter_count());
        int64_t block_params = 0;
        for (size_t i = 0; i < now.blocks.size(); ++i) block_params += nn::count_block_parameters(now, now.blocks[i]);
        int64_t real_block_params = 0;
        for (auto& b : model.blocks->items) real_block_params += b->parameter_count();
        CHECK(block_params == real_block_params);
        CHECK(nn::count_flops(now).total > 0);
      };
      const double flops_before = nn::count_flops(model.config()).total;
      prune_mlp_hidden(model, 2, {1, 5, 9});
      check_counts();
      prune_attention_heads(model, 0, {1});
      check_counts();
      prune_attention_dims(model, 3, {0, 7});
      check_counts();
      drop_blocks(model, {1});
      check_counts();
      prune_mlp_hidden(model, 1, {0});
      check_counts();
      CHECK(nn::count_flops(model.config()).total < flops_before);
      // and the pruned model saves and reloads bit-identically
      const Tensor x = input_for(cfg);
      const auto path = (std::filesystem::temp_directory_path() / ("shears_test_surgery_" + arch + ".safetensors")).string();
      nn::save_model(path, model);
      auto loaded = nn::load_model(path);
      CHECK(loaded->config().to_json() == model.config().to_json());
      CHECK(outputs(*loaded, x) == outputs(model, x));
      std::filesystem::remove(path);
    }
  }
}

TEST_CASE("surgery keeps requires_grad and slices attached gates", "[pruning][surgery]") {
  nn::VisionTransformer model(small_config("vit"), 4);
  nn::Block& b = *model.blocks->items[3];
  b.mlp->fc1->weight.set_requires_grad(false);  // frozen stays frozen
  b.mlp->attach_gate();
  kernels::copy_(b.mlp->gate, arange(0.0, 32.0, 1.0, DType::F32));
  b.attn->set_gate(arange(0.0, 32.0, 1.0, DType::F32));  // 4 heads x 8
  prune_mlp_hidden(model, 3, {2, 7, 31});
  CHECK_FALSE(b.mlp->fc1->weight.requires_grad());
  CHECK(b.mlp->fc1->bias.requires_grad());
  CHECK(b.mlp->fc2->weight.requires_grad());
  CHECK(b.mlp->gate.to_vector<float>() == std::vector<float>{2, 7, 31});
  CHECK_FALSE(b.mlp->gate.requires_grad());
  prune_attention_heads(model, 3, {0, 2});
  CHECK(b.attn->qkv->weight.requires_grad());
  CHECK(b.attn->gate.to_vector<float>() ==
        std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23});
  prune_attention_dims(model, 3, {1, 6});
  CHECK(b.attn->gate.to_vector<float>() == std::vector<float>{1, 6, 17, 22});
  // a trainable gate stays trainable
  b.mlp->attach_gate(true);
  prune_mlp_hidden(model, 3, {0, 2});
  CHECK(b.mlp->gate.requires_grad());
  CHECK(b.mlp->gate.shape() == Shape{2});
}

TEST_CASE("drop_blocks reports renames and removals", "[pruning][surgery]") {
  nn::VisionTransformer model(small_config("videomae"), 4);
  const int64_t per_block = int64_t(model.blocks->items[0]->named_parameters().size());
  const auto slices = drop_blocks(model, {0, 2});
  REQUIRE(int64_t(slices.size()) == 4 * per_block);
  int64_t removed = 0;
  for (const auto& s : slices) {
    CHECK(s.dim == -1);
    CHECK(s.kept.empty());
    if (s.new_name.empty()) {
      ++removed;
      CHECK((s.old_name.rfind("blocks.0.", 0) == 0 || s.old_name.rfind("blocks.2.", 0) == 0));
    } else {
      CHECK(model.find_parameter(s.new_name) != nullptr);
    }
  }
  CHECK(removed == 2 * per_block);
  auto renamed = [&](const std::string& old_name) {
    for (const auto& s : slices)
      if (s.old_name == old_name) return s.new_name;
    return std::string("<absent>");
  };
  CHECK(renamed("blocks.1.attn.q_bias") == "blocks.0.attn.q_bias");
  CHECK(renamed("blocks.3.mlp.fc2.weight") == "blocks.1.mlp.fc2.weight");
  CHECK(renamed("blocks.2.norm1.weight") == "");
  CHECK(drop_blocks(model, {}).empty());
}

TEST_CASE("bad surgery arguments are refused and leave the model untouched", "[pruning][surgery]") {
  const nn::ModelConfig cfg = small_config("vit");
  nn::VisionTransformer model(cfg, 4);
  using Catch::Contains;
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, 4, {0}), Contains("prune_mlp_hidden") && Contains("block index 4"));
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, -1, {0}), Contains("block index -1"));
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, 0, {}), Contains("keeping no") && Contains("MLP hidden neuron"));
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, 0, {3, 64}), Contains("index 64 is out of range") && Contains("0..63"));
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, 0, {3, 1}), Contains("sorted and unique"));
  REQUIRE_THROWS_WITH(prune_mlp_hidden(model, 0, {1, 1}), Contains("sorted and unique"));
  REQUIRE_THROWS_WITH(prune_attention_heads(model, 0, {2}), Contains("prune_attention_heads") &&
                                                                 Contains("attention head index 2 is out of range"));
  REQUIRE_THROWS_WITH(prune_attention_heads(model, 0, {}), Contains("keeping no"));
  REQUIRE_THROWS_WITH(prune_attention_dims(model, 0, {16}), Contains("prune_attention_dims") &&
                                                                Contains("head dim index 16 is out of range"));
  REQUIRE_THROWS_WITH(prune_attention_dims(model, 0, {-1, 2}), Contains("index -1 is out of range"));
  CHECK(model.config().to_json() == cfg.to_json());
  CHECK(model.parameter_count() == nn::count_parameters(cfg));
}

TEST_CASE("a zero gate entry gives the outputs of pruning that unit", "[pruning][surgery][gates]") {
  for (const std::string arch : {"vit", "videomae"}) {
    SECTION(arch) {
      const nn::ModelConfig cfg = small_config(arch);
      nn::VisionTransformer gated(cfg, 6), pruned(cfg, 6);
      randomize_qv_bias(gated);
      randomize_qv_bias(pruned);
      const Tensor x = input_for(cfg);
      // MLP neurons 3 and 40 of block 2 (96 hidden); head 0 of block 3 (4 heads of 8)
      gated.blocks->items[2]->mlp->attach_gate();
      gated.blocks->items[2]->mlp->gate.data<float>()[3] = 0.f;
      gated.blocks->items[2]->mlp->gate.data<float>()[40] = 0.f;
      gated.blocks->items[3]->attn->attach_gate();
      for (int64_t d = 0; d < 8; ++d) gated.blocks->items[3]->attn->gate.data<float>()[d] = 0.f;
      prune_mlp_hidden(pruned, 2, complement({3, 40}, 96));
      prune_attention_heads(pruned, 3, {1, 2, 3});
      CHECK(max_abs_diff(outputs(gated, x), outputs(pruned, x)) < 1e-5f);
    }
  }
}
