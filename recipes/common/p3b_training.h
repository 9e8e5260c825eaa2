// P3B's pruning run on train::Trainer: a TrainingController that adds the BPI heads' loss, feeds the
// gate gradients to pruning::P3bPruner and trains the heads with their own AdamW, and run_p3b(), the
// whole run (constant learning rate as the authors: no schedule while pruning), ending with the
// physical slicing and the "p3b" step appended to the model's prune log.
#pragma once
#include <cstdint>
#include <memory>

#include "common/finetune.h"
#include "pruning/p3b.h"
#include "train/adamw.h"
#include "train/controller.h"

namespace shears::recipes {

class P3bController : public train::TrainingController {
 public:
  // head_lr / head_weight_decay: the heads' AdamW (the authors: 5e-4, the run's weight decay).
  P3bController(std::shared_ptr<pruning::P3bPruner> pruner, double label_smoothing, double head_lr,
                double head_weight_decay);
  Tensor extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) override;
  void after_backward(nn::VisionTransformer& model, int64_t step) override;
  void after_step(nn::VisionTransformer& model, int64_t step) override;
  double heads_seconds() const { return heads_seconds_; }  // wall time spent in the heads (forward + step)

 private:
  std::shared_ptr<pruning::P3bPruner> pruner_;
  double label_smoothing_;
  std::unique_ptr<train::AdamW> heads_opt_;
  double heads_seconds_ = 0;
};

struct P3bRunOptions {
  pruning::P3bOptions p3b;     // start/sparse/finalize in iterations; finalize 0 = the end of the run
  FinetuneOptions train;       // the pruning run: epochs, batch, lr (held constant), mixing, seed
  double head_lr = 5e-4;
  // Pruning phase boundaries as fractions of the run (used when p3b.finalize == 0): the authors'
  // 50-epoch run starts at epoch 10 and is sparse at epoch 25.
  double start_fraction = 0.2, sparse_fraction = 0.5;
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

// Runs P3B on `model` (in place): the pruning run on `train`, then finalize (slicing). The model
// comes back sliced, with the step in its prune log. num_classes: of `train`.
P3bRunResult run_p3b(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                     const P3bRunOptions& options);

}  // namespace shears::recipes
