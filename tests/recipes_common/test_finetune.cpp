// recipes::finetune on a tiny learnable task: it learns (held-out accuracy far above chance, the
// last epoch's loss well below the start), is deterministic for a seed, refuses a data set
// smaller than one batch naming both sizes, and hands controllers and a custom loss to the
// Trainer. FinetuneOptions keeps the defaults the recipes were tuned with.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "autograd/ops.h"
#include "common/evaluate.h"
#include "common/finetune.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

recipes::FinetuneOptions tiny_finetune() {
  recipes::FinetuneOptions o;
  o.epochs = 20, o.warmup_epochs = 1, o.lr = 5e-3, o.min_lr = 5e-4, o.batch_size = 16, o.seed = 4;
  o.label_smoothing = 0.0;
  return o;
}

std::map<std::string, std::vector<double>> weights_of(const nn::VisionTransformer& model) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, p] : model.named_parameters()) out[name] = test::ref_values(p);
  return out;
}

}  // namespace

TEST_CASE("finetune learns a tiny task", "[recipes_common][finetune]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 7);
  auto train = std::make_shared<test::QuadrantDataset>(96, 3, 1);
  auto held_out = std::make_shared<test::QuadrantDataset>(60, 3, 2);
  const double before = recipes::evaluate_accuracy(model, held_out, test::normalize_for(cfg)).top1;
  const double loss = recipes::finetune(model, train, test::normalize_for(cfg), tiny_finetune());
  const double after = recipes::evaluate_accuracy(model, held_out, test::normalize_for(cfg)).top1;
  INFO("held-out top-1 before " << before << ", after " << after << "; last epoch loss " << loss);
  CHECK(std::isfinite(loss));
  CHECK(loss < 0.5 * std::log(3.0));  // chance-level cross-entropy is log 3
  CHECK(after > 0.9);
  CHECK(after > before);
}

TEST_CASE("finetune is deterministic for a seed", "[recipes_common][finetune]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  auto train = std::make_shared<test::QuadrantDataset>(48, 3, 1);
  recipes::FinetuneOptions o = tiny_finetune();
  o.epochs = 2;
  auto run = [&](uint64_t seed, double* loss) {
    nn::VisionTransformer model(cfg, 7);
    recipes::FinetuneOptions oo = o;
    oo.seed = seed;
    *loss = recipes::finetune(model, train, test::normalize_for(cfg), oo);
    return weights_of(model);
  };
  double l1 = 0, l2 = 0, l3 = 0;
  const auto a = run(11, &l1), b = run(11, &l2), c = run(12, &l3);
  CHECK(l1 == l2);
  CHECK(a == b);
  CHECK(a != c);  // another shuffle order
}

TEST_CASE("finetune refuses a data set smaller than one batch, naming the sizes", "[recipes_common][finetune]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 7);
  recipes::FinetuneOptions o = tiny_finetune();
  o.batch_size = 8;
  CHECK_THROWS_WITH(recipes::finetune(model, std::make_shared<test::QuadrantDataset>(5, 3), test::normalize_for(cfg), o),
                    Catch::Contains("finetune") && Catch::Contains("(5 samples)") &&
                        Catch::Contains("one batch of 8"));
  o.epochs = 0;
  CHECK_THROWS_WITH(recipes::finetune(model, std::make_shared<test::QuadrantDataset>(50, 3), test::normalize_for(cfg), o),
                    Catch::Contains("epochs >= 1"));
}

TEST_CASE("finetune hands its controllers and custom loss to the Trainer", "[recipes_common][finetune]") {
  struct CountSteps : train::TrainingController {
    std::vector<int64_t> steps;
    void after_step(nn::VisionTransformer&, int64_t step) override { steps.push_back(step); }
  };
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 7);
  auto counter = std::make_shared<CountSteps>();
  int64_t loss_calls = 0;
  recipes::FinetuneOptions o = tiny_finetune();
  o.epochs = 2, o.batch_size = 16;
  o.controllers = {counter};
  o.loss = [&](nn::VisionTransformer&, const data::Batch& batch, const Tensor& logits, int64_t) {
    ++loss_calls;
    return cross_entropy(logits, batch.labels, 0.0);
  };
  recipes::finetune(model, std::make_shared<test::QuadrantDataset>(50, 3), test::normalize_for(cfg), o);
  // 50 samples in batches of 16 with drop_last: 3 steps per epoch
  CHECK(counter->steps == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(loss_calls == 6);
}

TEST_CASE("FinetuneOptions keeps the fine-tune defaults the recipes rely on", "[recipes_common][finetune]") {
  const recipes::FinetuneOptions o;
  CHECK(o.epochs == 1);
  CHECK(o.warmup_epochs == 0.1);
  CHECK(o.lr == 1e-4);
  CHECK(o.warmup_lr == 1e-6);
  CHECK(o.min_lr == 1e-6);
  CHECK(o.weight_decay == 0.05);
  CHECK(o.label_smoothing == 0.1);
  CHECK(o.batch_size == 64);
  CHECK(o.log_every == 0);
  CHECK(o.clip_grad == 0.0);
  CHECK_FALSE(o.mixing);
  CHECK(o.controllers.empty());
  CHECK_FALSE(o.loss);
}
