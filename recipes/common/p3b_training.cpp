// P3B pruning run on the Trainer (see p3b_training.h).
#include "common/p3b_training.h"

#include <algorithm>
#include <cmath>

#include "train/progress.h"
#include "train/trainer.h"

namespace shears::recipes {

P3bController::P3bController(std::shared_ptr<pruning::P3bPruner> pruner, double label_smoothing, double head_lr,
                             double head_weight_decay)
    : pruner_(std::move(pruner)), label_smoothing_(label_smoothing) {
  train::AdamWOptions o;
  o.lr = head_lr;
  heads_opt_ = std::make_unique<train::AdamW>(train::decay_groups(pruner_->heads(), head_weight_decay), o);
}

Tensor P3bController::extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) {
  const double t0 = train::now_s();
  const double ls = label_smoothing_;
  Tensor loss = pruner_->heads_loss(
      [&batch, ls](const Tensor& logits) { return train::classification_loss(logits, batch, ls); });
  heads_seconds_ += train::now_s() - t0;
  return loss;
}

void P3bController::after_backward(nn::VisionTransformer& model, int64_t step) { pruner_->after_backward(); }

void P3bController::after_step(nn::VisionTransformer& model, int64_t step) {
  const double t0 = train::now_s();
  heads_opt_->step();
  heads_opt_->zero_grad();
  heads_seconds_ += train::now_s() - t0;
  pruner_->after_iteration();
}

P3bRunResult run_p3b(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                     const P3bRunOptions& options) {
  SHEARS_CHECK(options.train.batch_size >= 2 && options.train.epochs >= 1, "p3b",
               "the pruning run needs epochs >= 1 and batch >= 2");
  const int64_t per_epoch = train->size() / options.train.batch_size;
  SHEARS_CHECK(per_epoch >= 1, "p3b", "the training set (", train->size(), " samples) is smaller than one batch of ",
               options.train.batch_size);
  pruning::P3bOptions p = options.p3b;
  if (p.finalize == 0) {
    p.finalize = per_epoch * options.train.epochs;
    p.start = static_cast<int64_t>(std::llround(options.start_fraction * double(p.finalize)));
    p.sparse = static_cast<int64_t>(std::llround(options.sparse_fraction * double(p.finalize)));
  }
  SHEARS_CHECK(p.finalize <= per_epoch * options.train.epochs, "p3b", "finalize iteration ", p.finalize,
               " is beyond the run's ", per_epoch * options.train.epochs, " iterations");
  auto pruner = std::make_shared<pruning::P3bPruner>(model, train->num_classes(), p);
  P3bRunResult result;
  result.unpruned_params = pruner->unpruned_params();
  for (int64_t j = 0; j < pruner->sub_blocks(); ++j) result.sub_block_names.push_back(pruner->sub_block_name(j));
  result.heads_macs_per_image = pruner->heads().macs_per_image();
  FinetuneOptions ft = options.train;
  ft.warmup_epochs = 0;  // no schedule during the pruning run (the authors)
  ft.min_lr = ft.lr;
  ft.warmup_lr = ft.lr;
  auto controller = std::make_shared<P3bController>(pruner, ft.mixing ? ft.mix.label_smoothing : ft.label_smoothing,
                                                    options.head_lr, ft.weight_decay);
  ft.controllers.push_back(controller);
  const double t0 = train::now_s();
  finetune(model, std::move(train), std::move(transform), ft);
  pruner->finalize();
  result.seconds = train::now_s() - t0;
  result.heads_seconds = controller->heads_seconds();
  result.updates = pruner->updates();
  result.reactivated = pruner->total_reactivated();
  result.step = pruner->step();
  model.prune_log.push_back(result.step);
  return result;
}

}  // namespace shears::recipes
