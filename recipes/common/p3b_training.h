// Transforms that train (P3B's pruning run) on train::Trainer: training_runner() makes the
// PruneContext::train function that runs recipes::finetune with a TrainingHooksController (the
// hooks' extra loss, gradients, steps, and the hooks' extra module trained with its own AdamW), and
// run_p3b() is P3B through that path (constant lr, then the slicing; the step lands in the prune log).
#pragma once
#include <cstdint>
#include <memory>

#include "common/finetune.h"
#include "pruning/p3b_transform.h"
#include "pruning/training_hooks.h"
#include "train/adamw.h"
#include "train/controller.h"

namespace shears::recipes {

// Adapts pruning::TrainingHooks to train::TrainingController. The extra module's AdamW (lr
// hooks.extra_lr, weight decay `extra_weight_decay` on >= 2-d weights) is made at the first step.
class TrainingHooksController : public train::TrainingController {
 public:
  TrainingHooksController(pruning::TrainingHooks& hooks, double label_smoothing, double extra_weight_decay);
  Tensor extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) override;
  void after_backward(nn::VisionTransformer& model, int64_t step) override;
  void after_step(nn::VisionTransformer& model, int64_t step) override;
  double hooks_seconds() const { return hooks_seconds_; }  // wall time in extra_loss and the extra module's steps

 private:
  pruning::TrainingHooks& hooks_;
  double label_smoothing_, extra_weight_decay_;
  std::unique_ptr<train::AdamW> extra_opt_;
  double hooks_seconds_ = 0;
};

// The PruneContext::train of a recipe: trains on `train` (per-sample `transform`) with `options`
// (batch, lr, mixing, seed, ...); hooks.epochs replaces options.epochs, and with hooks.constant_lr
// the lr is held at options.lr (no warm-up, no decay). `hooks_seconds` (optional) accumulates the
// time spent in the hooks' loss and extra module.
std::function<void(nn::VisionTransformer&, pruning::TrainingHooks&)> training_runner(
    std::shared_ptr<const data::Dataset> train, data::Transform transform, FinetuneOptions options,
    double* hooks_seconds = nullptr);

struct P3bRunOptions {
  pruning::P3bTransformOptions p3b;  // ratio, allocation, reactivation, schedule fractions, heads, head lr
  FinetuneOptions train;             // the pruning run: batch, lr (held constant), mixing, seed; epochs = p3b.epochs
};

struct P3bRunResult {
  std::vector<pruning::P3bUpdate> updates;
  std::vector<int64_t> unpruned_params;  // per sub-block
  std::vector<std::string> sub_block_names;
  int64_t reactivated = 0;
  int64_t heads_macs_per_image = 0;
  double seconds = 0, heads_seconds = 0;
  nn::PruneStep step;
};

// P3B on `model` in place through pruning::apply_all (the step is appended to the prune log): the
// pruning run on `train`, then the slicing.
P3bRunResult run_p3b(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                     const P3bRunOptions& options);

}  // namespace shears::recipes
