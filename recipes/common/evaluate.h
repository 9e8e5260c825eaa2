// Held-out accuracy of a model for recipes: top-1 (WAR) and UAR over a whole data set in order,
// eval mode, no gradients. The evaluation every table row of a recipe quotes.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"

namespace shears::recipes {

struct Accuracy {
  double top1 = 0, uar = 0;  // fractions in [0, 1]; uar = unweighted mean of per-class recall
};

// Top-1 / UAR of `model` on every sample of `test` (per-sample `transform`, batches of
// `batch_size`, no shuffling). Leaves the model in train mode. Throws on an empty data set.
Accuracy evaluate_accuracy(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                           data::Transform transform, int64_t batch_size = 64);

// The same on fixed preprocessed batches (e.g. the validation batches of a study), `num_classes` classes.
Accuracy evaluate_accuracy(nn::VisionTransformer& model, const std::vector<pruning::CalibrationBatch>& batches,
                           int64_t num_classes);

}  // namespace shears::recipes
