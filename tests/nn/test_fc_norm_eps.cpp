// The VideoMAE classifier's fc_norm eps: a separate config field (default ln_eps, so configs and
// checkpoints without the key load unchanged), used by the model, kept by config() / save_model,
// and set to Hugging Face's 1e-5 when an HF VideoMAE classification file is loaded. Also the
// per-block attn_scale key (written only when set).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"

using namespace shears;
using Catch::Contains;

namespace {

nn::ModelConfig small_video() {
  nn::ModelConfig cfg = nn::videomae_small_patch4_32(5);
  cfg.dim = 32;
  cfg.blocks = nn::uniform_blocks(1, 2, 16, 64);
  return cfg;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shears_test_" + name + ".safetensors")).string();
}

// fc_norm of the mean of small tokens (variance ~1e-6, so eps matters) against a hand LayerNorm
// in double with weight 1, bias 0 (the initialization).
void check_pool_uses_eps(nn::VisionTransformer& model, double eps) {
  Generator gen(5);
  const Tensor tokens = randn({1, 3, 32}, DType::F32, &gen) * 1e-3;
  NoGradGuard ng;
  const std::vector<float> got = model.pool(tokens).to_vector<float>();
  const std::vector<float> t = tokens.to_vector<float>();
  std::vector<double> mean(32, 0.0);
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t d = 0; d < 32; ++d) mean[size_t(d)] += t[size_t(n * 32 + d)] / 3.0;
  double mu = 0, var = 0;
  for (double v : mean) mu += v / 32;
  for (double v : mean) var += (v - mu) * (v - mu) / 32;
  for (int64_t d = 0; d < 32; ++d)
    CHECK(got[size_t(d)] == Approx((mean[size_t(d)] - mu) / std::sqrt(var + eps)).epsilon(1e-4));
}

}  // namespace

TEST_CASE("fc_norm_eps defaults to ln_eps and round-trips through JSON", "[nn][config][fc_norm]") {
  nn::ModelConfig cfg = small_video();
  CHECK(cfg.fc_norm_eps == 0.0);
  CHECK(cfg.resolved_fc_norm_eps() == cfg.ln_eps);
  const std::string old_json = cfg.to_json();
  CHECK(old_json.find("fc_norm_eps") == std::string::npos);  // unchanged files for unchanged configs
  CHECK(nn::ModelConfig::from_json(old_json).resolved_fc_norm_eps() == 1e-6);
  cfg.fc_norm_eps = 1e-5;
  const nn::ModelConfig back = nn::ModelConfig::from_json(cfg.to_json());
  CHECK(back.fc_norm_eps == 1e-5);
  CHECK(back.resolved_fc_norm_eps() == 1e-5);
  CHECK(back.ln_eps == 1e-6);
  cfg.fc_norm_eps = -1;
  CHECK_THROWS_WITH(cfg.validate(), Contains("fc_norm_eps"));
}

TEST_CASE("attn_scale is written only when set and validated", "[nn][config]") {
  nn::ModelConfig cfg = small_video();
  CHECK(cfg.to_json().find("attn_scale") == std::string::npos);
  cfg.blocks[0].attn_scale = 0.3;
  const nn::ModelConfig back = nn::ModelConfig::from_json(cfg.to_json());
  CHECK(back.blocks[0].attn_scale == 0.3);
  nn::VisionTransformer model(back, 1);
  CHECK(model.blocks->items[0]->attn->scale == 0.3);
  CHECK(model.config().blocks[0].attn_scale == 0.3);
  nn::VisionTransformer plain(small_video(), 1);
  CHECK(plain.blocks->items[0]->attn->scale == 1.0 / std::sqrt(16.0));
  CHECK(plain.config().blocks[0].attn_scale == 0.0);
  cfg.blocks[0].attn_scale = -0.5;
  CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[0].attn_scale"));
}

TEST_CASE("the model builds fc_norm with fc_norm_eps and saves it", "[nn][fc_norm]") {
  nn::ModelConfig cfg = small_video();
  nn::VisionTransformer dflt(cfg, 2);
  CHECK(dflt.fc_norm->eps == 1e-6);
  check_pool_uses_eps(dflt, 1e-6);
  cfg.fc_norm_eps = 1e-5;
  nn::VisionTransformer model(cfg, 2);
  CHECK(model.fc_norm->eps == 1e-5);
  CHECK(model.blocks->items[0]->norm1->eps == 1e-6);
  check_pool_uses_eps(model, 1e-5);
  const std::string path = temp_path("fc_norm_eps");
  nn::save_model(path, model);
  auto loaded = nn::load_model(path);
  CHECK(loaded->fc_norm->eps == 1e-5);
  CHECK(loaded->config().to_json() == model.config().to_json());
  std::filesystem::remove(path);
}

TEST_CASE("loading a Hugging Face VideoMAE classifier sets fc_norm eps 1e-5", "[nn][fc_norm][io]") {
  const nn::ModelConfig cfg = small_video();
  nn::VisionTransformer source(cfg, 3);
  const std::string hf = temp_path("hf_fc_norm"), ours = temp_path("hf_fc_norm_resaved");
  nn::write_safetensors(hf, nn::shears_to_hf_videomae(nn::state_dict(source)), {{"format", "pt"}});
  nn::VisionTransformer model(cfg, 4);
  REQUIRE(nn::load_safetensors(model, hf).ok());
  CHECK(model.fc_norm->eps == nn::kHfVideoMAEFcNormEps);
  CHECK(model.blocks->items[0]->norm1->eps == 1e-6);
  check_pool_uses_eps(model, 1e-5);
  CHECK(model.config().fc_norm_eps == 1e-5);
  // a shears checkpoint written from it keeps HF's eps
  nn::save_model(ours, model);
  CHECK(nn::read_model_config(ours).fc_norm_eps == 1e-5);
  CHECK(nn::load_model(ours)->fc_norm->eps == 1e-5);
  // shears' own files (no HF names) leave the eps alone
  nn::VisionTransformer plain(cfg, 5);
  nn::save_model(ours, source);
  nn::load_safetensors(plain, ours);
  CHECK(plain.fc_norm->eps == 1e-6);
  std::filesystem::remove(hf);
  std::filesystem::remove(ours);
}
