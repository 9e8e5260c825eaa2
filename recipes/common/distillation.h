// Recovery of a pruned model by knowledge distillation from the unpruned one (AMP, METHODS.md §5.5):
// loss = w_out·MSE(student logits, teacher logits) + w_feat·MSE(student features, teacher features),
// the teacher run without gradients in eval mode on the same (augmented) batch. Plugs into
// recipes::finetune through FinetuneOptions::loss; the student's features come from its own training
// forward (VisionTransformer::keep_last_features), so no second student forward is needed.
#pragma once
#include <memory>

#include "data/dataset.h"
#include "nn/vision_transformer.h"
#include "common/finetune.h"
#include "train/controller.h"

namespace shears::recipes {

struct DistillationOptions {
  double output_weight = 1.0;   // MSE(student logits, teacher logits), mean over batch and classes
  double feature_weight = 1.0;  // MSE(student pooled features, teacher pooled features), mean over batch and dim
};

// The distillation loss as a train::LossFunction. The student must have keep_last_features on (the
// function throws otherwise, naming it); its last_features must be the (B, dim) features of the
// forward that produced `logits`. The teacher must have the student's feature width and classes.
// The teacher's mode is restored after each call.
train::LossFunction distillation_loss(std::shared_ptr<nn::VisionTransformer> teacher,
                                      const DistillationOptions& options = {});

// The loss on one batch of preprocessed inputs (B, ...), for tests and reporting: runs the student
// (with gradients, in its current mode) and the teacher and returns the scalar loss.
Tensor distillation_loss_on(nn::VisionTransformer& student, nn::VisionTransformer& teacher, const Tensor& inputs,
                            const DistillationOptions& options = {});

// recipes::finetune of `student` with the distillation loss (options.loss is replaced; label smoothing
// and Mixup do not apply: options.mixing must be false). Turns the student's feature cache on for the
// run and off afterwards (also on error). Returns the mean loss of the last epoch.
double distill(nn::VisionTransformer& student, std::shared_ptr<nn::VisionTransformer> teacher,
               std::shared_ptr<const data::Dataset> train, data::Transform transform, FinetuneOptions options,
               const DistillationOptions& distillation = {});

}  // namespace shears::recipes
