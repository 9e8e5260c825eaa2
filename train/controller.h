// Training-time controllers: the hooks a method plugs into train::Trainer instead of copying its
// loop (an extra loss term before backward, the gradients after backward, the model after each
// optimizer step), and LossFunction, a custom loss that replaces the built-in cross-entropy
// (distillation: the function may run a teacher on the batch). Absent hooks cost nothing.
#pragma once
#include <cstdint>
#include <functional>

#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::train {

// Every hook gets `step`, the global index of the optimizer step in progress (0-based, the index
// the learning-rate schedule uses); all hooks of one step see the same number.
class TrainingController {
 public:
  virtual ~TrainingController() = default;
  // A scalar added to the loss before backward (undefined Tensor = nothing to add). Runs after the
  // model's forward on `batch` (inputs (B, ...), labels (B,), targets (B, classes) or undefined).
  virtual Tensor extra_loss(nn::VisionTransformer& model, const data::Batch& batch, int64_t step) { return {}; }
  // After backward, before gradient clipping and the optimizer step: gradients are visible and
  // may be edited (masking) or read (Taylor / sensitivity scores).
  virtual void after_backward(nn::VisionTransformer& model, int64_t step) {}
  // After the optimizer step (weights updated).
  virtual void after_step(nn::VisionTransformer& model, int64_t step) {}
};

// A custom training loss: a scalar from the model, the batch and the model's logits (B, classes)
// on batch.inputs. Replaces the built-in loss (train::classification_loss) when set.
using LossFunction = std::function<Tensor(nn::VisionTransformer& model, const data::Batch& batch,
                                          const Tensor& logits, int64_t step)>;

}  // namespace shears::train
