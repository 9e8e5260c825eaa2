// Block removal: dropping a block whose residual branches output zero leaves the model's
// outputs unchanged (vit and videomae), the FLOP and parameter counts drop by exactly that
// block's, config() and parameter names describe the shallower model, it saves and reloads from
// the file alone, and bad index lists are refused without touching the model.
#include <catch2/catch.hpp>

#include <filesystem>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/drop_blocks.h"
#include "tensor/creation.h"

using namespace shears;
using namespace shears::pruning;

namespace {

nn::ModelConfig small_config(const std::string& arch) {
  nn::ModelConfig cfg = arch == "vit" ? nn::vit_tiny_patch4_32(5) : nn::videomae_small_patch4_32(5);
  cfg.dim = 32;
  cfg.blocks = {{2, 16, 64}, {1, 24, 48}, {2, 8, 96}, {4, 8, 32}};  // uneven widths: order is visible
  return cfg;
}

Tensor input_for(const nn::ModelConfig& cfg) {
  Generator gen(9);
  if (cfg.arch == "vit") return randn({2, cfg.in_chans, cfg.image_size, cfg.image_size}, DType::F32, &gen);
  return randn({2, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}, DType::F32, &gen);
}

// Zeroes the residual branches' last layers (attn.proj and mlp.fc2, weights and biases): the
// block then adds exactly zero to its input.
void zero_residual(nn::Block& b) {
  for (Tensor* t : {&b.attn->proj->weight, &b.attn->proj->bias, &b.mlp->fc2->weight, &b.mlp->fc2->bias})
    kernels::fill_(*t, 0.0);
}

std::vector<float> outputs(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard ng;
  model.eval();
  return model.forward(x).to_vector<float>();
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
