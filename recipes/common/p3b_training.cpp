// Training runs for transforms and P3B on the Trainer (see p3b_training.h).
#include "common/p3b_training.h"

#include "train/progress.h"
#include "train/trainer.h"

namespace shears::recipes {

TrainingHooksController::TrainingHooksController(pruning::TrainingHooks& hooks, double label_smoothing,
                                                 double extra_weight_decay)
    : hooks_(hooks), label_smoothing_(label_smoothing), extra_weight_decay_(extra_weight_decay) {}

Tensor TrainingHooksController::extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) {
  if (!hooks_.extra_loss) return {};
  const double t0 = train::now_s();
  if (!extra_opt_ && hooks_.extra_module) {
    nn::Module* m = hooks_.extra_module();
    if (m != nullptr) {
      train::AdamWOptions o;
      o.lr = hooks_.extra_lr;
      extra_opt_ = std::make_unique<train::AdamW>(train::decay_groups(*m, extra_weight_decay_), o);
    }
  }
  const double ls = label_smoothing_;
  Tensor loss =
      hooks_.extra_loss([&batch, ls](const Tensor& logits) { return train::classification_loss(logits, batch, ls); });
  hooks_seconds_ += train::now_s() - t0;
  return loss;
}

void TrainingHooksController::after_backward(nn::VisionTransformer& model, int64_t step) {
  if (hooks_.after_backward) hooks_.after_backward();
}

void TrainingHooksController::after_step(nn::VisionTransformer& model, int64_t step) {
  if (extra_opt_) {
    const double t0 = train::now_s();
    extra_opt_->step();
    extra_opt_->zero_grad();
    hooks_seconds_ += train::now_s() - t0;
  }
  if (hooks_.after_step) hooks_.after_step();
}

std::function<void(nn::VisionTransformer&, pruning::TrainingHooks&)> training_runner(
    std::shared_ptr<const data::Dataset> train, data::Transform transform, FinetuneOptions options,
    double* hooks_seconds) {
  return [train, transform, options, hooks_seconds](nn::VisionTransformer& model, pruning::TrainingHooks& hooks) {
    SHEARS_CHECK(hooks.epochs >= 1 && options.batch_size >= 2, "training_runner", "need epochs >= 1 and batch >= 2, got ",
                 hooks.epochs, " and ", options.batch_size);
    const int64_t per_epoch = train->size() / options.batch_size;
    SHEARS_CHECK(per_epoch >= 1, "training_runner", "the training set (", train->size(),
                 " samples) is smaller than one batch of ", options.batch_size);
    if (hooks.on_start) hooks.on_start(per_epoch, train->num_classes());
    FinetuneOptions ft = options;
    ft.epochs = hooks.epochs;
    if (hooks.constant_lr) {
      ft.warmup_epochs = 0;
      ft.min_lr = ft.lr;
      ft.warmup_lr = ft.lr;
    }
    auto controller = std::make_shared<TrainingHooksController>(
        hooks, ft.mixing ? ft.mix.label_smoothing : ft.label_smoothing, ft.weight_decay);
    ft.controllers.push_back(controller);
    finetune(model, train, transform, ft);
    if (hooks_seconds) *hooks_seconds += controller->hooks_seconds();
  };
}

P3bRunResult run_p3b(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                     const P3bRunOptions& options) {
  auto p3b = std::make_shared<pruning::P3bPruning>(options.p3b);
  P3bRunResult result;
  pruning::PruneContext ctx;
  ctx.train = training_runner(std::move(train), std::move(transform), options.train, &result.heads_seconds);
  const double t0 = train::now_s();
  const std::vector<nn::PruneStep> steps = pruning::apply_all(model, {p3b}, ctx);
  result.seconds = train::now_s() - t0;
  result.updates = p3b->updates();
  result.unpruned_params = p3b->unpruned_params();
  result.sub_block_names = p3b->sub_block_names();
  result.reactivated = p3b->reactivated();
  result.heads_macs_per_image = p3b->heads_macs_per_image();
  result.step = steps.at(0);
  return result;
}

}  // namespace shears::recipes
