// Checkpoints: a model with blocks removed and narrower MLPs/attention reloads from the
// file alone with identical outputs; a file without a config is refused clearly.
#include <catch2/catch.hpp>

#include <filesystem>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"

using namespace shears;

TEST_CASE("a pruned model saves and reloads from the file alone", "[nn][checkpoint]") {
  nn::ModelConfig cfg = nn::vit_tiny_patch4_32(7);
  cfg.blocks = {{3, 64, 768}, {2, 48, 300}, {1, 64, 96}};  // 3 of 12 blocks left, uneven widths
  cfg.mean = {0.5, 0.4, 0.3};
  nn::VisionTransformer model(cfg, 42);
  model.eval();
  auto path = (std::filesystem::temp_directory_path() / "shears_test_pruned.safetensors").string();
  nn::save_model(path, model);
  auto loaded = nn::load_model(path);
  loaded->eval();
  CHECK(loaded->config().to_json() == model.config().to_json());
  CHECK(loaded->parameter_count() == model.parameter_count());
  Generator gen(3);
  Tensor x = randn({2, 3, 32, 32}, DType::F32, &gen);
  NoGradGuard ng;
  std::vector<float> a = model.forward(x).to_vector<float>(), b = loaded->forward(x).to_vector<float>();
  CHECK(a == b);
  CHECK(loaded->config().mean == std::vector<double>{0.5, 0.4, 0.3});
  std::filesystem::remove(path);
}

TEST_CASE("a safetensors file without a shears config is refused with a hint", "[nn][checkpoint]") {
  auto path = (std::filesystem::temp_directory_path() / "shears_test_noconfig.safetensors").string();
  nn::write_safetensors(path, {{"w", zeros({2})}}, {});
  REQUIRE_THROWS_WITH(nn::load_model(path), Catch::Contains("shears_test_noconfig") && Catch::Contains("no 'shears.config'"));
  std::filesystem::remove(path);
}
