// Pruning transforms on a model that lives on the GPU: Gardener's data-free block removal (weight
// entropy), magnitude MLP-neuron and head pruning (surgery slices the parameters on the device) and
// EViT token pruning, stacked with apply_all, choose the same blocks, neurons, heads and tokens as on
// the host, and the pruned model's logits match the host's.
#include <catch2/catch.hpp>

#include "autograd/ops.h"
#include "cuda_test_util.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"

using namespace shears;
using shears::test::gpu;
using shears::test::host_randn;

TEST_CASE("a transform stack on a GPU model makes the host's choices and the host's logits", "[cuda]") {
  nn::VisionTransformer host(test::small_vit(4), 13), dev(test::small_vit(4), 13);
  dev.to(gpu());
  const std::string steps = "blocks:entropy:k=1,mlp:magnitude:keep=0.5,heads:magnitude:keep=2,tokens:evit@0.7";
  pruning::PruneContext ch, cd;
  const auto log_h = pruning::apply_all(host, pruning::parse_steps(steps), ch);
  const auto log_d = pruning::apply_all(dev, pruning::parse_steps(steps), cd);
  REQUIRE(log_h.size() == 4);
  REQUIRE(log_d.size() == log_h.size());
  for (size_t i = 0; i < log_h.size(); ++i) {
    INFO("step " << log_h[i].method);
    CHECK(log_d[i].kept == log_h[i].kept);
  }
  for (auto& [name, p] : dev.named_parameters()) {
    INFO(name);
    CHECK(p.device() == gpu());
  }
  CHECK(dev.blocks->size() == 3);
  host.eval();
  dev.eval();
  NoGradGuard no_grad;
  Tensor x = host_randn({4, 3, 32, 32}, 41);
  shears::test::require_close(dev.forward(x.to(gpu())), host.forward(x), 1e-4, 1e-5, "pruned logits");
}
