// Provenance: a token-pruned (and block-dropped, fine-tuned) model saved and reloaded with
// pruning::load_model gives bit-identical logits for every policy, with the token pruning
// configuration (current locations, resolved fusion, seed, exact Rényi order) restored; the
// token pruning JSON round-trips and refuses bad input naming the key.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"
#include "pruning/surgery.h"
#include "pruning/token_pruning.h"
#include "tensor/kernels.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

nn::ModelConfig small_config() {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.dim = 32;
  c.blocks = nn::uniform_blocks(5, 2, 16, 64);
  return c;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shears_provenance_" + std::to_string(::getpid()) + "_" + name + ".safetensors"))
      .string();
}

std::vector<float> logits(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  return model.forward(x).to_vector<float>();
}

}  // namespace

TEST_CASE("a token-pruned, block-dropped model reloads bit-identically from the file alone", "[pruning][provenance]") {
  const Tensor x = test::random_tensor({3, 1, 28, 28}, DType::F32, 4, 0.0, 1.0);
  for (const std::string policy : {"evit", "shannon", "renyi:0.37", "renyi:inf", "random"})
    for (bool fuse : {false, true}) {
      INFO(policy << " fuse " << fuse);
      nn::VisionTransformer model(small_config(), 5);
      TokenPruningConfig cfg;
      cfg.policy = parse_token_policy(policy);
      cfg.keep_rate = 0.55;
      cfg.locations = {1, 2, 4};
      cfg.fuse = fuse;
      cfg.seed = 9;
      cfg.head_aggregation = HeadAggregation::EntropyOfHeadMean;
      auto tp = install_token_pruning(model, cfg);
      drop_blocks(model, {2});
      // "fine-tune": move the weights so the file holds more than the initialisation
      for (auto& [name, t] : model.named_parameters()) {
        Tensor* slot = model.find_parameter(name);
        {
          NoGradGuard no_grad;
          *slot = t + test::random_tensor(t.shape(), DType::F32, 77, -0.01, 0.01);
        }
        slot->set_requires_grad(true);
      }
      tp->set_step(0);
      const std::vector<float> want = logits(model, x);

      const std::string path = temp_path("tokens");
      nn::save_model(path, model);
      CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains(path) && Catch::Contains("'token_pruning'") &&
                                                  Catch::Contains("pruning::load_model"));
      auto loaded = pruning::load_model(path);
      std::filesystem::remove(path);
      auto tp2 = find_token_pruning(*loaded);
      REQUIRE(tp2);
      CHECK(tp2->locations() == std::vector<int64_t>{1, 3});
      CHECK(tp2->fuse() == fuse);
      CHECK(tp2->keep_rate() == 0.55);
      CHECK(tp2->config().seed == 9);
      CHECK(tp2->config().policy.renyi_order == cfg.policy.renyi_order);
      CHECK(tp2->config().head_aggregation == HeadAggregation::EntropyOfHeadMean);
      CHECK(logits(*loaded, x) == want);
      CHECK(tp2->last_token_counts() == tp->last_token_counts());
    }
}

TEST_CASE("a model whose pruning blocks were all dropped reloads without token pruning", "[pruning][provenance]") {
  nn::VisionTransformer model(small_config(), 5);
  TokenPruningConfig cfg;
  cfg.policy = parse_token_policy("evit");
  cfg.locations = {2};
  install_token_pruning(model, cfg);
  drop_blocks(model, {2});
  const std::string path = temp_path("gone");
  nn::save_model(path, model);
  auto loaded = pruning::load_model(path);
  std::filesystem::remove(path);
  CHECK(find_token_pruning(*loaded) == nullptr);
  const Tensor x = test::random_tensor({1, 1, 28, 28}, DType::F32, 4, 0.0, 1.0);
  CHECK(logits(*loaded, x) == logits(model, x));
}

TEST_CASE("token pruning configs round-trip through JSON and bad JSON names the key", "[pruning][provenance]") {
  TokenPruningConfig cfg;
  cfg.policy = parse_token_policy("renyi:0.123456789");
  cfg.keep_rate = 0.7;
  cfg.locations = {0, 5};
  cfg.exclude_cls_key = true;
  cfg.seed = 123456789012345ull;
  const TokenPruningConfig back = token_pruning_config_from_json(token_pruning_config_to_json(cfg));
  CHECK(back.policy.kind == TokenPolicyKind::Entropy);
  CHECK(back.policy.renyi_order == 0.123456789);
  CHECK(back.keep_rate == 0.7);
  CHECK(back.locations == cfg.locations);
  CHECK(back.fuse == std::optional<bool>(false));  // resolved: entropy policies do not fuse by default
  CHECK(back.exclude_cls_key);
  CHECK(back.seed == cfg.seed);
  CHECK_THROWS_WITH(token_pruning_config_from_json("{"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(token_pruning_config_from_json(R"({"policy":"evit"})"), Catch::Contains("missing key 'keep_rate'"));
  std::string bad = token_pruning_config_to_json(cfg);
  bad.replace(bad.find("\"fuse\":false"), 12, "\"fuse\":3");
  CHECK_THROWS_WITH(token_pruning_config_from_json(bad), Catch::Contains("'fuse' must be true or false"));
  std::string bad_policy = token_pruning_config_to_json(cfg);
  bad_policy.replace(bad_policy.find("renyi:0.123457"), 14, "nonsense");
  CHECK_THROWS_WITH(token_pruning_config_from_json(bad_policy), Catch::Contains("unknown token policy 'nonsense'"));
  CHECK_THROWS_WITH(restore_extension(*std::make_shared<nn::VisionTransformer>(small_config()), "token_pruning",
                                      R"({"policy":"evit"})"),
                    Catch::Contains("missing key"));
  nn::VisionTransformer m(small_config(), 1);
  CHECK_FALSE(restore_extension(m, "something_else", "{}"));
}

TEST_CASE("clone_model is an independent copy with its log and token pruning", "[pruning][provenance]") {
  nn::VisionTransformer model(small_config(), 6);
  TokenPruningConfig cfg;
  cfg.policy = parse_token_policy("renyi:2");
  cfg.keep_rate = 0.5;
  cfg.locations = {1, 3};
  install_token_pruning(model, cfg);
  drop_blocks(model, {0});
  nn::PruneStep step;
  step.kind = "drop_blocks";
  step.method = "blocks:l1:k=1";
  model.prune_log.push_back(step);
  const Tensor x = test::random_tensor({2, 1, 28, 28}, DType::F32, 8, 0.0, 1.0);
  const std::vector<float> want = logits(model, x);
  auto copy = clone_model(model);
  CHECK(copy->config().to_json() == model.config().to_json());
  CHECK(copy->prune_log.size() == 1);
  REQUIRE(find_token_pruning(*copy));
  CHECK(find_token_pruning(*copy)->locations() == std::vector<int64_t>{0, 2});
  CHECK(logits(*copy, x) == want);
  // independent: changing the copy leaves the original alone
  Tensor* w = copy->find_parameter("head.weight");
  kernels::copy_(*w, zeros(w->shape()));  // in place: would show in the original if storage were shared
  CHECK(logits(*copy, x) != want);
  drop_blocks(*copy, {0});
  CHECK(model.blocks->size() == 4);
  CHECK(logits(model, x) == want);
  CHECK(find_token_pruning(model)->locations() == std::vector<int64_t>{0, 2});
}
