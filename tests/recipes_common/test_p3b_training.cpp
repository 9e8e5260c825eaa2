// P3B as a composable step through the Trainer (recipes/common/p3b_training.h): "p3b:..." parsed by
// parse_steps runs its pruning run through PruneContext::train = training_runner, slices the model,
// logs the step with its text, and the saved file reloads to the same logits; a context without a
// training run and bad step options are refused naming the step; hooks reach the Trainer in order.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "autograd/node.h"
#include "common/p3b_training.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

// 8x8 images with patch 2: a 4x4 grid + cls, 2 blocks (4 sub-blocks).
nn::ModelConfig grid_config() {
  nn::ModelConfig c = test::tiny_vit_config(3);
  c.patch_size = 2;
  c.blocks = nn::uniform_blocks(2, 2, 8, 32);
  return c;
}

recipes::FinetuneOptions run_options() {
  recipes::FinetuneOptions o;
  o.batch_size = 8, o.lr = 2e-3, o.seed = 3, o.label_smoothing = 0.0;
  return o;
}

std::vector<float> logits(nn::VisionTransformer& m, const Tensor& x) {
  NoGradGuard g;
  m.eval();
  return m.forward(x).to_vector<float>();
}

}  // namespace

TEST_CASE("p3b step runs through training_runner, slices and reloads", "[recipes_common][p3b]") {
  const nn::ModelConfig cfg = grid_config();
  nn::VisionTransformer model(cfg, 5);
  const int64_t dense = model.parameter_count();
  auto data = std::make_shared<test::QuadrantDataset>(64, 3, 1);
  pruning::PruneContext ctx;
  double hooks_seconds = 0;
  ctx.train = recipes::training_runner(data, test::normalize_for(cfg), run_options(), &hooks_seconds);
  int surgeries = 0;
  ctx.on_surgery = [&](nn::VisionTransformer&, const std::vector<nn::ParameterSlice>& s) { surgeries += !s.empty(); };
  const auto steps = pruning::parse_steps("p3b:ratio=0.4:epochs=2:interval=2");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0]->name() == "p3b:ratio=0.4:epochs=2:interval=2");
  pruning::apply_all(model, steps, ctx);
  CHECK(surgeries == 1);
  CHECK(hooks_seconds > 0);
  CHECK(model.parameter_count() < dense);
  REQUIRE(model.prune_log.size() == 1);
  CHECK(model.prune_log[0].kind == "p3b");
  CHECK(model.prune_log[0].method == "p3b:ratio=0.4:epochs=2:interval=2");
  auto* p3b = dynamic_cast<pruning::P3bPruning*>(steps[0].get());
  REQUIRE(p3b != nullptr);
  CHECK(p3b->updates().size() >= 2);  // 16 iterations, start 3, interval 2
  CHECK(p3b->updates().back().final);
  const Tensor x = test::random_tensor({4, 1, 8, 8}, DType::F32, 9, -1.0, 1.0);
  const std::vector<float> before = logits(model, x);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("shears_p3b_step_" + std::to_string(::getpid()) + ".safetensors")).string();
  nn::save_model(path, model);
  auto loaded = pruning::load_model(path);
  std::filesystem::remove(path);
  CHECK(logits(*loaded, x) == before);
}

TEST_CASE("p3b step without a training run or with bad options is refused", "[recipes_common][p3b]") {
  nn::VisionTransformer model(grid_config(), 5);
  pruning::PruneContext ctx;
  CHECK_THROWS_WITH(pruning::apply_all(model, pruning::parse_steps("p3b:ratio=0.5"), ctx),
                    Catch::Contains("step 1 'p3b:ratio=0.5:epochs=1'") && Catch::Contains("PruneContext::train"));
  CHECK_THROWS_WITH(pruning::parse_steps("p3b:epochs=2"), Catch::Contains("missing ratio"));
  CHECK_THROWS_WITH(pruning::parse_steps("p3b:ratio=1"), Catch::Contains("ratio must be in [0, 1)"));
  CHECK_THROWS_WITH(pruning::parse_steps("p3b:ratio=0.5:allocation=even"),
                    Catch::Contains("unknown keep-ratio allocation 'even'"));
  CHECK_THROWS_WITH(pruning::parse_steps("p3b:ratio=0.5:reactivation=2"), Catch::Contains("reactivation must be 0 or 1"));
  CHECK_THROWS_WITH(pruning::parse_steps("p3b:ratio=0.5:speed=9"), Catch::Contains("unknown option 'speed'"));
  CHECK(model.prune_log.empty());
}
