// Distillation recovery (recipes/common/distillation.h): the loss equals MSE(logits) + MSE(features)
// computed by hand, is zero for a copy of the teacher, reads the student's features from its training
// forward (same value as a direct computation, error when the cache is off), and distill() pulls an
// MLP-pruned student back towards the teacher on a tiny task, leaving the cache off afterwards.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "common/distillation.h"
#include "data/data_loader.h"
#include "pruning/provenance.h"
#include "pruning/surgery.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

Tensor batch_of(const nn::ModelConfig& cfg, int64_t n, uint64_t seed) {
  auto data = std::make_shared<test::QuadrantDataset>(n, 3, seed);
  data::LoaderOptions o;
  o.batch_size = n;
  o.shuffle = false;
  o.prefetch = 0;
  data::DataLoader loader(data, o, test::normalize_for(cfg));
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  return b.inputs;
}

double mse_by_hand(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = test::ref_values(a), y = test::ref_values(b);
  REQUIRE(x.size() == y.size());
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += (x[i] - y[i]) * (x[i] - y[i]);
  return s / double(x.size());
}

}  // namespace

TEST_CASE("distillation loss is MSE(logits) + MSE(features) and zero for a copy", "[recipes_common][distillation]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  auto teacher = std::make_shared<nn::VisionTransformer>(cfg, 7);
  nn::VisionTransformer student(cfg, 8);
  const Tensor x = batch_of(cfg, 12, 3);
  teacher->eval();
  student.eval();
  const Tensor tf = teacher->forward_features(x), tl = teacher->head->forward(tf);
  const Tensor sf = student.forward_features(x), sl = student.head->forward(sf);
  recipes::DistillationOptions o;
  o.output_weight = 0.5, o.feature_weight = 2.0;
  const double want = 0.5 * mse_by_hand(sl, tl) + 2.0 * mse_by_hand(sf, tf);
  const double got = recipes::distillation_loss_on(student, *teacher, x, o).item<double>();
  CHECK(got == Approx(want).epsilon(1e-5));
  CHECK(want > 0);
  auto copy = pruning::clone_model(*teacher);
  // a copy: zero up to float rounding (the teacher's no-grad forward runs the fused attention kernel,
  // the student's training forward the per-head GEMMs); a different student is far above that
  const double copy_loss = recipes::distillation_loss_on(*copy, *teacher, x).item<double>();
  CHECK(copy_loss < 1e-10);
  CHECK(want > 1e6 * copy_loss);
  CHECK_FALSE(teacher->is_training());  // the teacher's mode is restored (it was eval)
}

TEST_CASE("distillation loss reads the student's features from its training forward", "[recipes_common][distillation]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  auto teacher = std::make_shared<nn::VisionTransformer>(cfg, 7);
  nn::VisionTransformer student(cfg, 8);
  const Tensor x = batch_of(cfg, 8, 4);
  data::Batch batch;
  batch.inputs = x;
  const train::LossFunction loss = recipes::distillation_loss(teacher);
  // the cache is off by default: a clear error, not a silent logits-only loss
  {
    Tensor logits = student.forward(x);
    CHECK_FALSE(student.last_features.defined());
    CHECK_THROWS_WITH(loss(student, batch, logits, 0), Catch::Contains("keep_last_features"));
  }
  student.keep_last_features = true;
  Tensor logits = student.forward(x);
  REQUIRE(student.last_features.defined());
  const double via_cache = loss(student, batch, logits, 0).item<double>();
  const double direct = recipes::distillation_loss_on(student, *teacher, x).item<double>();
  CHECK(via_cache == Approx(direct).epsilon(1e-6));
  // the feature term carries gradient into the blocks through the cached features
  recipes::DistillationOptions features_only;
  features_only.output_weight = 0;
  Tensor l = recipes::distillation_loss(teacher, features_only)(student, batch, student.forward(x), 0);
  backward(l);
  const Tensor* w = student.find_parameter("blocks.0.mlp.fc1.weight");
  REQUIRE(w != nullptr);
  REQUIRE(w->grad().defined());
  double g = 0;
  for (double v : test::ref_values(w->grad())) g += std::fabs(v);
  CHECK(g > 0);
  CHECK_FALSE(teacher->find_parameter("blocks.0.mlp.fc1.weight")->grad().defined());  // no teacher gradients
}

TEST_CASE("distill pulls an MLP-pruned student back towards its teacher", "[recipes_common][distillation]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  auto teacher = std::make_shared<nn::VisionTransformer>(cfg, 7);
  auto train = std::make_shared<test::QuadrantDataset>(64, 3, 1);
  // a trained-ish teacher is not needed: matching any fixed function is the task
  auto student = pruning::clone_model(*teacher);
  pruning::prune_mlp_hidden(*student, 0, {0, 1, 2, 3, 4, 5, 6, 7});  // 32 -> 8 hidden neurons
  const Tensor x = batch_of(cfg, 32, 9);
  double before = 0;
  {
    NoGradGuard ng;
    student->eval();
    before = recipes::distillation_loss_on(*student, *teacher, x).item<double>();
  }
  recipes::FinetuneOptions o;
  o.epochs = 15, o.warmup_epochs = 1, o.lr = 3e-3, o.min_lr = 3e-4, o.batch_size = 16, o.seed = 2;
  const double last = recipes::distill(*student, teacher, train, test::normalize_for(cfg), o);
  double after = 0;
  {
    NoGradGuard ng;
    student->eval();
    after = recipes::distillation_loss_on(*student, *teacher, x).item<double>();
  }
  INFO("held-out distillation loss before " << before << ", after " << after << "; last epoch " << last);
  CHECK(before > 0);
  CHECK(after < 0.5 * before);
  CHECK(std::isfinite(last));
  CHECK_FALSE(student->keep_last_features);
  CHECK_FALSE(student->last_features.defined());
  recipes::FinetuneOptions mixing = o;
  mixing.mixing = true;
  CHECK_THROWS_WITH(recipes::distill(*student, teacher, train, test::normalize_for(cfg), mixing),
                    Catch::Contains("Mixup"));
}
