// What a transform that trains (P3B's pruning run) asks of the caller's training loop, without
// pruning/ depending on train/: per-iteration hooks, an extra module trained with its own optimizer,
// and the run's length. PruneContext::train runs such a loop; recipes/common/p3b_training.h wires it
// to train::Trainer.
#pragma once
#include <cstdint>
#include <functional>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace shears::pruning {

struct TrainingHooks {
  int64_t epochs = 1;           // whole epochs of the caller's training data
  bool constant_lr = true;      // no schedule (P3B's pruning run); false = the caller's schedule
  // Once, before the first step: loader iterations per epoch and the data's number of classes.
  std::function<void(int64_t iterations_per_epoch, int64_t num_classes)> on_start;
  // After the model's forward on a batch: a scalar added to the loss (undefined = nothing);
  // `criterion` is the run's loss on logits (B, classes) for this batch.
  std::function<Tensor(const std::function<Tensor(const Tensor& logits)>& criterion)> extra_loss;
  std::function<void()> after_backward;  // gradients visible
  std::function<void()> after_step;      // after the optimizer step (one loader iteration done)
  // A module trained alongside the model with its own AdamW at `extra_lr` (P3B's BPI heads); null = none.
  std::function<nn::Module*()> extra_module;
  double extra_lr = 5e-4;
};

}  // namespace shears::pruning
