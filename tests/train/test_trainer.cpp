// train::Trainer with training-time controllers and a custom loss, on a tiny ViT and a tiny
// synthetic task: an extra loss term changes the gradients by exactly its own gradient, hooks
// see gradients / updated weights once per step in order, a custom loss equal to the built-in
// cross-entropy reproduces the built-in run bit for bit, and a distillation loss trains;
// DropPath masks keyed by (seed, step) make a resume in a fresh trainer bit-identical; a
// non-finite loss or weight stops with NonFiniteError naming the step.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <limits>
#include <map>

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "test_util.h"
#include "tiny_vit_task.h"
#include "train/train_state.h"
#include "train/trainer.h"

using namespace shears;

namespace {

using ParamValues = std::map<std::string, std::vector<double>>;

ParamValues values_of(const nn::VisionTransformer& model) {
  ParamValues out;
  for (const auto& [name, p] : model.named_parameters()) out[name] = test::ref_values(p);
  return out;
}

ParamValues grads_of(const nn::VisionTransformer& model) {
  ParamValues out;
  for (const auto& [name, p] : model.named_parameters())
    if (p.grad().defined()) out[name] = test::ref_values(p.grad());
  return out;
}

// Records what every hook saw; optionally adds coefficient * sum(head.weight^2) as the extra loss.
class RecordingController : public train::TrainingController {
 public:
  explicit RecordingController(double coefficient = 0.0) : coefficient_(coefficient) {}
  Tensor extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) override {
    events.push_back("extra_loss " + std::to_string(step));
    batch_sizes.push_back(batch.size());
    if (coefficient_ == 0.0) return {};
    return mul_scalar(sum(mul(model.head->weight, model.head->weight)), coefficient_);
  }
  void after_backward(nn::VisionTransformer& model, int64_t step) override {
    events.push_back("after_backward " + std::to_string(step));
    if (step == 0) grads_at_first_step = grads_of(model), weights_before_first_step = values_of(model);
  }
  void after_step(nn::VisionTransformer& model, int64_t step) override {
    events.push_back("after_step " + std::to_string(step));
    if (step == 0) weights_after_first_step = values_of(model);
  }
  std::vector<std::string> events;
  std::vector<int64_t> batch_sizes;
  ParamValues grads_at_first_step, weights_before_first_step, weights_after_first_step;

 private:
  double coefficient_;
};

train::TrainerOptions tiny_options(int64_t epochs) {
  train::TrainerOptions o;
  o.epochs = epochs;
  o.lr = 3e-3, o.warmup_lr = 3e-3, o.min_lr = 3e-3, o.warmup_epochs = 0.0;
  o.log_every = 0, o.quiet = true;
  return o;
}

struct Run {
  std::vector<double> epoch_losses;
  ParamValues weights;
};

// Trains a fresh tiny model (seed 7) on 48 quadrant samples in batches of 8 for `epochs` epochs.
Run train_tiny(int64_t epochs, const std::function<void(train::Trainer&, nn::VisionTransformer&)>& setup,
               train::TrainerOptions options, std::shared_ptr<nn::VisionTransformer>* model_out = nullptr) {
  const nn::ModelConfig cfg = test::tiny_vit_config();
  auto model = std::make_shared<nn::VisionTransformer>(cfg, 7);
  data::LoaderOptions lo;
  lo.batch_size = 8, lo.seed = 3;
  data::DataLoader loader(std::make_shared<test::QuadrantDataset>(48), lo, test::normalize_for(cfg));
  options.epochs = epochs;
  train::Trainer trainer(*model, options, loader.batches_per_epoch());
  if (setup) setup(trainer, *model);
  Run run;
  for (int64_t e = 0; e < epochs; ++e) {
    loader.start_epoch(e);
    run.epoch_losses.push_back(trainer.train_epoch(loader, e));
  }
  run.weights = values_of(*model);
  if (model_out) *model_out = model;
  return run;
}

}  // namespace

TEST_CASE("an extra loss term changes the gradients by exactly its own gradient", "[train][trainer][controller]") {
  const double c = 0.37;
  auto plain = std::make_shared<RecordingController>(0.0);
  auto with_term = std::make_shared<RecordingController>(c);
  train::TrainerOptions o = tiny_options(1);
  o.stop_at_step = 1;
  train_tiny(1, [&](train::Trainer& t, nn::VisionTransformer&) { t.add_controller(plain); }, o);
  train_tiny(1, [&](train::Trainer& t, nn::VisionTransformer&) { t.add_controller(with_term); }, o);
  REQUIRE(plain->events == std::vector<std::string>{"extra_loss 0", "after_backward 0", "after_step 0"});
  REQUIRE(with_term->events == plain->events);
  // same start (same model seed) and same batch, so only head.weight's gradient differs: by 2 c w
  REQUIRE(plain->weights_before_first_step == with_term->weights_before_first_step);
  const auto& g0 = plain->grads_at_first_step;
  const auto& g1 = with_term->grads_at_first_step;
  REQUIRE(g0.size() == g1.size());
  REQUIRE(g0.count("head.weight") == 1);
  for (const auto& [name, grad] : g0) {
    INFO(name);
    REQUIRE(g1.at(name).size() == grad.size());
    if (name != "head.weight") {
      CHECK(g1.at(name) == grad);
      continue;
    }
    const std::vector<double>& w = plain->weights_before_first_step.at(name);
    double worst = 0;
    for (size_t i = 0; i < grad.size(); ++i) {
      const double want = grad[i] + 2.0 * c * w[i];
      worst = std::max(worst, std::fabs(g1.at(name)[i] - want) / std::max(1e-3, std::fabs(want)));
    }
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("after_backward sees every gradient and after_step the updated weights", "[train][trainer][controller]") {
  auto rec = std::make_shared<RecordingController>();
  train::TrainerOptions o = tiny_options(1);
  o.stop_at_step = 1;
  train_tiny(1, [&](train::Trainer& t, nn::VisionTransformer&) { t.add_controller(rec); }, o);
  const nn::VisionTransformer probe(test::tiny_vit_config(), 7);
  REQUIRE(rec->grads_at_first_step.size() == probe.named_parameters().size());
  for (const auto& [name, grad] : rec->grads_at_first_step) {
    INFO(name);
    double norm = 0;
    for (double g : grad) norm += g * g;
    CHECK(std::isfinite(norm));
  }
  double head_norm = 0;
  for (double g : rec->grads_at_first_step.at("head.weight")) head_norm += g * g;
  CHECK(head_norm > 0);
  CHECK(rec->weights_after_first_step.at("head.weight") != rec->weights_before_first_step.at("head.weight"));
}

TEST_CASE("controllers run once per step, in order, with increasing step numbers", "[train][trainer][controller]") {
  auto first = std::make_shared<RecordingController>();
  auto second = std::make_shared<RecordingController>();
  std::vector<std::string> order;
  struct Tag : train::TrainingController {
    Tag(std::vector<std::string>& out, std::string name) : out_(out), name_(std::move(name)) {}
    void after_step(nn::VisionTransformer&, int64_t step) override { out_.push_back(name_ + std::to_string(step)); }
    std::vector<std::string>& out_;
    std::string name_;
  };
  train_tiny(2, [&](train::Trainer& t, nn::VisionTransformer&) {
    t.add_controller(first);
    t.add_controller(std::make_shared<Tag>(order, "a"));
    t.add_controller(second);
    t.add_controller(std::make_shared<Tag>(order, "b"));
  }, tiny_options(2));
  std::vector<std::string> want;
  for (int64_t s = 0; s < 12; ++s)  // 2 epochs x 6 batches of 8
    for (const char* hook : {"extra_loss ", "after_backward ", "after_step "}) want.push_back(hook + std::to_string(s));
  CHECK(first->events == want);
  CHECK(second->events == want);
  CHECK(first->batch_sizes == std::vector<int64_t>(12, 8));
  std::vector<std::string> want_order;
  for (int64_t s = 0; s < 12; ++s) want_order.push_back("a" + std::to_string(s)), want_order.push_back("b" + std::to_string(s));
  CHECK(order == want_order);
}

TEST_CASE("a custom loss equal to the built-in cross-entropy reproduces the built-in run bitwise",
          "[train][trainer][loss]") {
  train::TrainerOptions o = tiny_options(3);
  o.label_smoothing = 0.1;
  const Run builtin = train_tiny(3, nullptr, o);
  int64_t calls = 0;
  const Run custom = train_tiny(3, [&](train::Trainer& t, nn::VisionTransformer&) {
    t.set_loss([&](nn::VisionTransformer&, const data::Batch& batch, const Tensor& logits, int64_t step) {
      CHECK(step == calls);
      ++calls;
      return cross_entropy(logits, batch.labels, 0.1);
    });
  }, o);
  CHECK(calls == 18);
  CHECK(custom.epoch_losses == builtin.epoch_losses);
  CHECK(custom.weights == builtin.weights);
  // and the run learns: a different loss gives a different run
  const Run other = train_tiny(3, [&](train::Trainer& t, nn::VisionTransformer&) {
    t.set_loss([](nn::VisionTransformer&, const data::Batch& batch, const Tensor& logits, int64_t) {
      return cross_entropy(logits, batch.labels, 0.0);
    });
  }, o);
  CHECK(other.weights != builtin.weights);
  CHECK(builtin.epoch_losses.back() < builtin.epoch_losses.front());
}

TEST_CASE("a distillation loss (MSE to a teacher's logits) trains the student towards the teacher",
          "[train][trainer][loss]") {
  const nn::ModelConfig cfg = test::tiny_vit_config();
  std::shared_ptr<nn::VisionTransformer> teacher;  // trained on the task: class-dependent logits
  train_tiny(8, nullptr, tiny_options(8), &teacher);
  teacher->eval();
  const ParamValues teacher_weights = values_of(*teacher), teacher_grads = grads_of(*teacher);
  auto distill = [teacher](nn::VisionTransformer&, const data::Batch& batch, const Tensor& logits, int64_t) {
    Tensor target;
    {
      NoGradGuard no_grad;
      target = teacher->forward(batch.inputs);
    }
    Tensor d = sub(logits, target);
    return mean(mul(d, d));
  };
  // the MSE to the teacher on the whole data set, before and after
  auto mse_to_teacher = [&](nn::VisionTransformer& student) {
    data::LoaderOptions lo;
    lo.batch_size = 48, lo.shuffle = false, lo.drop_last = false;
    data::DataLoader loader(std::make_shared<test::QuadrantDataset>(48), lo, test::normalize_for(cfg));
    loader.start_epoch(0);
    data::Batch batch;
    REQUIRE(loader.next(batch));
    NoGradGuard no_grad;
    student.eval();
    Tensor d = sub(student.forward(batch.inputs), teacher->forward(batch.inputs));
    return mean(mul(d, d)).item<double>();
  };
  nn::VisionTransformer fresh(cfg, 7);
  const double before = mse_to_teacher(fresh);
  std::shared_ptr<nn::VisionTransformer> student;
  const Run run = train_tiny(8, [&](train::Trainer& t, nn::VisionTransformer&) { t.set_loss(distill); },
                             tiny_options(8), &student);
  const double after = mse_to_teacher(*student);
  INFO("MSE to the teacher before " << before << ", after " << after << "; epoch losses first "
                                    << run.epoch_losses.front() << " last " << run.epoch_losses.back());
  CHECK(after < 0.5 * before);
  CHECK(run.epoch_losses.back() < 0.5 * run.epoch_losses.front());
  // the teacher is untouched: same weights, no new gradients
  CHECK(values_of(*teacher) == teacher_weights);
  CHECK(grads_of(*teacher) == teacher_grads);
}

TEST_CASE("the trainer refuses non-scalar extra and custom losses, naming them", "[train][trainer][controller]") {
  struct VectorTerm : train::TrainingController {
    Tensor extra_loss(nn::VisionTransformer& model, const data::Batch&, int64_t) override { return model.head->bias; }
  };
  train::TrainerOptions o = tiny_options(1);
  o.stop_at_step = 1;
  CHECK_THROWS_WITH(
      train_tiny(1, [](train::Trainer& t, nn::VisionTransformer&) { t.add_controller(std::make_shared<VectorTerm>()); },
                 o),
      Catch::Contains("extra_loss must be a scalar") && Catch::Contains("(3,)"));
  CHECK_THROWS_WITH(
      train_tiny(1, [](train::Trainer& t, nn::VisionTransformer&) {
        t.set_loss([](nn::VisionTransformer&, const data::Batch&, const Tensor& logits, int64_t) { return logits; });
      }, o),
      Catch::Contains("custom loss must return a scalar"));
  CHECK_THROWS_WITH(
      train_tiny(1, [](train::Trainer& t, nn::VisionTransformer&) { t.add_controller(nullptr); }, o),
      Catch::Contains("null controller"));
}

namespace {
// Trains epochs [first, last) of the tiny task with DropPath 0.3; the model, optimizer state
// and step come from `from` when given (a resume), else a fresh model of seed 7.
struct DropPathRun {
  std::shared_ptr<nn::VisionTransformer> model;
  std::unique_ptr<train::Trainer> trainer;
};
DropPathRun drop_path_run(uint64_t noise_seed, int64_t first, int64_t last, const std::string& from = "",
                          const std::string& save_to = "") {
  nn::ModelConfig cfg = test::tiny_vit_config();
  cfg.blocks = nn::uniform_blocks(2, 2, 8, 32);
  cfg.drop_path = 0.3;
  DropPathRun r;
  r.model = std::make_shared<nn::VisionTransformer>(cfg, from.empty() ? 7 : 99);
  data::LoaderOptions lo;
  lo.batch_size = 8, lo.seed = 3;
  data::DataLoader loader(std::make_shared<test::QuadrantDataset>(48), lo, test::normalize_for(cfg));
  train::TrainerOptions o = tiny_options(2);
  o.seed = noise_seed;
  r.trainer = std::make_unique<train::Trainer>(*r.model, o, loader.batches_per_epoch());
  if (!from.empty()) r.trainer->set_step(train::load_train_state(from, *r.model, r.trainer->optimizer()).step);
  for (int64_t e = first; e < last; ++e) {
    loader.start_epoch(e);
    r.trainer->train_epoch(loader, e);
  }
  if (!save_to.empty()) {
    train::TrainState st;
    st.epoch = last;
    st.step = r.trainer->step();
    train::save_train_state(save_to, *r.model, r.trainer->optimizer(), st);
  }
  return r;
}
}  // namespace

TEST_CASE("DropPath masks are keyed by (seed, step): a resume in a fresh trainer is bit-identical",
          "[train][trainer][drop_path]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("shears_trainer_dp_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  const ParamValues full = values_of(*drop_path_run(5, 0, 2).model);
  drop_path_run(5, 0, 1, "", path);
  (void)rand({1000});  // the process-wide generator moves on: the masks must not depend on it
  DropPathRun resumed = drop_path_run(5, 1, 2, path);
  CHECK(values_of(*resumed.model) == full);
  // the draws are real: another seed trains other weights
  CHECK(values_of(*drop_path_run(6, 0, 2).model) != full);
  // the blocks do not keep a pointer into the trainer after the epoch
  for (const auto& block : resumed.model->blocks->items) CHECK(block->drop_path_gen == nullptr);
  std::filesystem::remove(path);
}

TEST_CASE("a non-finite loss or weight stops training with NonFiniteError naming the step", "[train][trainer]") {
  const nn::ModelConfig cfg = test::tiny_vit_config();
  nn::VisionTransformer model(cfg, 7);
  data::LoaderOptions lo;
  lo.batch_size = 8, lo.seed = 3;
  data::DataLoader loader(std::make_shared<test::QuadrantDataset>(48), lo, test::normalize_for(cfg));
  train::Trainer trainer(model, tiny_options(1), loader.batches_per_epoch());

  SECTION("a NaN loss at step 2: the weights of step 2 are not updated") {
    ParamValues before_step2;
    trainer.set_loss([&](nn::VisionTransformer& m, const data::Batch& b, const Tensor& logits, int64_t step) {
      Tensor loss = train::classification_loss(logits, b, 0.1);
      if (step < 2) return loss;
      before_step2 = values_of(m);
      return mul_scalar(loss, std::numeric_limits<double>::quiet_NaN());
    });
    loader.start_epoch(0);
    try {
      trainer.train_epoch(loader, 0);
      FAIL("no error");
    } catch (const train::NonFiniteError& e) {
      CHECK(e.step == 2);
      CHECK(e.epoch == 0);
      CHECK_THAT(std::string(e.what()), Catch::Contains("non-finite loss nan at step 3 (index 2, epoch 1"));
      CHECK_THAT(std::string(e.what()), !Catch::Contains("--clip-grad"));  // no flag the library cannot know
    }
    CHECK(values_of(model) == before_step2);
  }
  SECTION("an update that makes a weight NaN at step 1") {
    class PoisonGradient : public train::TrainingController {
     public:
      void after_backward(nn::VisionTransformer& m, int64_t step) override {
        if (step == 1) m.head->weight.grad().data<float>()[4] = std::numeric_limits<float>::infinity();
      }
    };
    trainer.add_controller(std::make_shared<PoisonGradient>());
    loader.start_epoch(0);
    try {
      trainer.train_epoch(loader, 0);
      FAIL("no error");
    } catch (const train::NonFiniteError& e) {
      CHECK(e.step == 1);
      CHECK_THAT(std::string(e.what()), Catch::Contains("the update of step 2 (index 1") &&
                                            Catch::Contains("made weight 'head.weight' nan at element 4"));
    }
    CHECK(trainer.step() == 1);
  }
}
